"""Noise models: 0 changes nothing, 1 deletes every spike, seeded and reproducible."""
import keras
import numpy as np
import pytest

from conversion import NOISE_MODELS, add_noise, convert


@pytest.fixture
def snn_and_images(small_model):
    model, images = small_model(1, 2, seed=4)
    return convert(model), images


@pytest.mark.parametrize("kind", NOISE_MODELS)
def test_zero_noise_changes_nothing(snn_and_images, kind):
    snn, images = snn_and_images
    noisy = add_noise(snn, kind, 0.0, seed=1)
    np.testing.assert_array_equal(noisy.predict(images, verbose=0), snn.predict(images, verbose=0))


def test_full_deletion_removes_every_encoding_spike(snn_and_images):
    snn, images = snn_and_images
    noisy = add_noise(snn, "encoding", 1.0, seed=1)
    kept = keras.Model(noisy.input, noisy.get_layer("act0_deletion").output).predict(images, verbose=0)
    clean = keras.Model(snn.input, snn.get_layer("act0").output).predict(images, verbose=0)
    assert clean.sum() > 0 and kept.sum() == 0


def test_all_layers_deletion_at_one_silences_every_layer(snn_and_images):
    snn, images = snn_and_images
    noisy = add_noise(snn, "all-layers", 1.0, seed=1)
    names = [layer.name for layer in noisy.layers if layer.name.endswith("_deletion")]
    assert names == ["act0_deletion", "act1_deletion", "act2_deletion", "act3_deletion", "act4_deletion"]
    outs = keras.Model(noisy.input, [noisy.get_layer(n).output for n in names]).predict(images, verbose=0)
    assert all(out.sum() == 0 for out in outs)


def test_deletion_is_binomial_and_seeded(snn_and_images):
    snn, images = snn_and_images
    clean = keras.Model(snn.input, snn.get_layer("act0").output).predict(images, verbose=0)

    def kept(seed):
        noisy = add_noise(snn, "encoding", 0.3, seed=seed)
        return keras.Model(noisy.input, noisy.get_layer("act0_deletion").output).predict(images, verbose=0)

    a, b, c = kept(7), kept(7), kept(8)
    np.testing.assert_array_equal(a, b)  # same seed, same noise
    assert not np.array_equal(a, c)
    assert np.all(a <= clean) and np.all(a >= 0)
    # Binomial(n, 0.7): the kept fraction is 0.7 within 5 standard errors.
    fraction = a.sum() / clean.sum()
    assert abs(fraction - 0.7) < 5 * np.sqrt(0.21 / clean.sum())


def test_input_noise_is_multiplicative_and_bounded(snn_and_images):
    snn, images = snn_and_images
    noisy = add_noise(snn, "input", 0.2, seed=3)
    layer = noisy.get_layer("act0_input_noise")
    x = keras.Model(noisy.input, layer.input).predict(images, verbose=0)
    y = keras.Model(noisy.input, layer.output).predict(images, verbose=0)
    ratio = y[x > 0] / x[x > 0]
    assert ratio.min() >= 0.9 - 1e-6 and ratio.max() <= 1.1 + 1e-6 and ratio.std() > 0.03


def test_bad_noise_arguments():
    snn = None
    with pytest.raises(ValueError, match="unknown noise model 'flip'"):
        add_noise(snn, "flip", 0.1)
    with pytest.raises(ValueError, match="noise ratio must be in"):
        add_noise(snn, "encoding", 1.5)


@pytest.mark.parametrize("kind", NOISE_MODELS)
def test_noise_is_the_same_for_a_seed_whatever_the_batch_size(snn_and_images, kind):
    # issue 8 item 7: an image's noise is keyed by (seed, image index), not drawn per batch
    from evaluation.run import evaluate

    snn, images = snn_and_images
    runs = [evaluate(add_noise(snn, kind, 0.3, seed=5), images, np.zeros(len(images), int), batch, progress=False)
            for batch in (len(images), 7)]
    for run in runs[1:]:
        np.testing.assert_array_equal(run["predictions"], runs[0]["predictions"])
        assert run["report"].to_dict()["totals"] == runs[0]["report"].to_dict()["totals"]
    other = evaluate(add_noise(snn, kind, 0.3, seed=6), images, np.zeros(len(images), int), len(images),
                     progress=False)
    assert other["report"].to_dict()["totals"] != runs[0]["report"].to_dict()["totals"]
