"""All-integer conversion: exact convergence to the ANN, int == float, bounds, errors, counting,
noise, `.keras` and SavedModel round trips. Small random models with random BN statistics
(negative gamma, gamma == 0 and large counts included)."""
import subprocess
import sys

import keras
import numpy as np
import pytest

from conversion import (
    SEED_FILES,
    ConversionError,
    add_noise,
    convert,
    count_allint,
    default_noise_model,
    export_snn_saved_model,
    verify_allint,
)
from conversion.allint_constants import hidden_constants
from layers.dynamic import DynamicThresholdNeuron, dynamic_threshold
from models import build_model, build_preset
from tests.conversion.conftest import SMALL_ARCH, random_images

T = 32


def randomize_allint_bn(model, images, rng, gamma_negative=0.3, beta_high=3.5):
    """Random BN statistics for unbounded hidden quantizers (counts up to ~10 and beyond)."""
    for bn in [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]:
        z = keras.Model(model.input, bn.input).predict(images, verbose=0)
        z = z.reshape(-1, z.shape[-1]).astype(np.float64)
        c = z.shape[-1]
        std = z.std(axis=0) + 0.5
        mean = z.mean(axis=0) + rng.normal(0, 0.5, c) * std
        var = (std * rng.uniform(0.3, 1.5, c)) ** 2
        gamma = rng.uniform(0.5, 2.0, c) * np.where(rng.random(c) < gamma_negative, -1, 1)
        gamma[rng.integers(c)] = 0.0
        gamma[rng.integers(c)] = -abs(gamma.max())
        bn.set_weights([gamma, rng.uniform(-0.5, beta_high, c), mean, var])


@pytest.fixture(scope="module")
def allint_models():
    """{(k, seed): (model, images)} built on demand."""
    cache = {}

    def make(k, seed):
        if (k, seed) not in cache:
            keras.utils.set_random_seed(seed)
            rng = np.random.default_rng(seed)
            model = build_model(SMALL_ARCH, dataset="mnist", k=k, B=4, quantization="allint")
            images = random_images(rng, 40)
            randomize_allint_bn(model, images, rng)
            cache[(k, seed)] = model, images
        return cache[(k, seed)]

    return make


@pytest.mark.parametrize("k,seed,steps", [(0, 0, T), (1, 2, 48)])  # k=1: counts up to 44 here
def test_net_counts_converge_to_the_ann_in_both_modes(allint_models, k, seed, steps):
    model, images = allint_models(k, seed)
    spikes = {}
    for use_int in (False, True):
        snn, report = convert(model, "allint", time_steps=steps, use_int=use_int, return_report=True)
        check = verify_allint(model, snn, images)
        # Every neuron's net count after T steps == 2^k * the ANN's quantized activation.
        assert check.differing == 0, [row for row in check.layers if row.differing]
        assert all(row.converged_step is not None for row in check.layers)
        assert check.agreement_per_step[-1] == len(images)
        assert check.stable_from_step is not None and check.first_equal_step <= check.stable_from_step
        assert all(r["exact"] for r in report.values() if r["role"] == "hidden")
        probe = keras.Model(snn.input, [layer.output for layer in snn.layers[2:]])
        spikes[use_int] = [np.asarray(o) for o in probe(images)]  # eager: no second graph build
    # Integer mode takes exactly the float mode's decisions: every spike of every layer and step.
    for f, i in zip(spikes[False], spikes[True]):
        np.testing.assert_array_equal(f, i)


def test_integer_values_stay_within_the_worst_case_bound(allint_models):
    model, images = allint_models(0, 0)
    snn, report = convert(model, "allint", time_steps=T, use_int=True, return_report=True)
    for layer in snn.layers:
        if not isinstance(layer, DynamicThresholdNeuron):
            continue
        assert layer.int_dtype == "int32" and report[layer.name]["worst_abs_value"] < 2**31
        currents = np.asarray(keras.Model(snn.input, layer.input)(images))
        weights = [w.numpy() for w in (layer.theta0, layer.step, layer.bound, layer.gain)]
        _, _, peak = dynamic_threshold(currents.astype(np.int64), *[w.astype(np.int64) for w in weights],
                                       return_state=True)
        assert 0 < int(peak) <= report[layer.name]["worst_abs_value"]


def test_the_converter_switches_to_int64_when_the_worst_case_needs_it():
    channels = 3
    consts = hidden_constants("x", None, channels, 0, 1.0, np.full(channels, 3e5), 10, "int", True,
                              ann_counts=lambda v: np.floor(np.maximum(np.asarray(v), 0) + 0.5))
    assert consts.worst > 2**31  # |V| up to 10^4 * 3e5
    keras.utils.set_random_seed(0)
    model = build_model("2C3-4", dataset="mnist", k=0, B=4, quantization="allint")
    bn = model.get_layer("bn1")  # huge fan-in effect: scale the BN so counts stay tiny but V is large
    bn.set_weights([np.full(4, 1e-3), np.zeros(4), np.zeros(4), np.ones(4)])
    snn, report = convert(model, "allint", time_steps=5, use_int=True, return_report=True)
    assert report["act1"]["int_dtype"] in ("int32", "int64")


def test_float_weights_convert_in_float_mode_and_are_refused_in_integer_mode():
    keras.utils.set_random_seed(3)
    model = build_model(SMALL_ARCH, dataset="mnist", k=0, B=4, quantization="allint", use_ternary=False)
    images = random_images(np.random.default_rng(3), 16)
    snn = convert(model, "allint", time_steps=12)
    assert snn.output.shape[1:] == (12, 10)
    assert snn.get_layer("conv2").kernel.dtype == "float32"
    with pytest.raises(ConversionError, match="use_ternary True") as err:
        convert(model, "allint", time_steps=12, use_int=True)
    for name in ("pool1", "conv2", "pool3", "fc4"):
        assert name in str(err.value)
    logits = snn.predict(images, verbose=0)
    assert np.all(np.isfinite(logits))


def test_models_of_the_other_method_are_refused_with_one_clear_error():
    keras.utils.set_random_seed(0)
    sg_model = build_preset("lenet", k=1, B=2)
    with pytest.raises(ConversionError, match="unbounded") as err:
        convert(sg_model, "allint", time_steps=4)
    assert all(f"act{i}" in str(err.value) for i in range(1, 5)) and "act0" not in str(err.value)
    allint_model = build_preset("lenet_allint", k=0)
    with pytest.raises(ConversionError, match="median"):
        convert(allint_model, "sg")
    with pytest.raises(ValueError, match="unknown conversion method"):
        convert(allint_model, "allint2")


def test_unsupported_layers_are_listed():
    inputs = keras.Input((28, 28, 1))
    x = keras.layers.Conv2D(4, 3, use_bias=True, name="biased")(inputs)
    x = keras.layers.MaxPooling2D(name="maxpool")(x)
    x = keras.layers.Flatten()(x)
    model = keras.Model(inputs, keras.layers.Dense(10, use_bias=False)(x))
    with pytest.raises(ConversionError) as err:
        convert(model, "allint")
    message = str(err.value)
    assert "biased" in message and "maxpool" in message and "no QuantActivation" in message


def test_seed_counts_per_step(allint_models):
    model, images = allint_models(0, 1)
    snn = convert(model, "allint", time_steps=T, use_int=True)
    labels = np.argmax(model.predict(images, verbose=0), axis=1)
    report, lines = count_allint(snn, images, labels, batch_size=20, classifier_sops=True)
    assert len(lines) == 2 and set(lines[0]) == set(SEED_FILES)
    assert all(len(values) == T for values in lines[0].values())
    first = lines[0]
    np.testing.assert_allclose(np.cumsum(first["abs_spike"]), first["spike_num"])
    np.testing.assert_allclose(np.cumsum(first["sum_spike"]), first["spike_collect"])
    assert np.all(np.diff(first["spike_num"]) >= 0) and np.all(np.diff(first["sop_num"]) >= 0)
    assert first["accuracy"][-1] == 20  # labels are the ANN's predictions, the SNN has converged
    # spike_collect at the last step = the ANN's total count over the hidden layers (encoding excluded).
    hidden = [f"act{i}" for i in range(1, 5)]
    ann_counts = keras.Model(model.input, [model.get_layer(n).output for n in hidden]).predict(images[:20], verbose=0)
    assert first["spike_collect"][-1] == sum(float(a.sum()) for a in ann_counts)
    # SOPs of the dense layer fc4 (12 units): each input spike reaches 12 synapses.
    flat = keras.Model(snn.input, snn.get_layer("fc4").input).predict(images, verbose=0)
    fc4 = next(row for row in report.layers if row.name == "act4")
    assert fc4.sops == 12 * int(np.abs(flat).sum())
    summary = report.to_dict()
    assert summary["accuracy_per_step"][-1] == 1.0 and len(summary["layers"]) == 5


def test_noise_defaults_to_the_multiplicative_input_noise(allint_models):
    model, images = allint_models(0, 0)
    snn = convert(model, "allint", time_steps=8, use_int=True)
    assert default_noise_model(snn) == "input" and default_noise_model(convert(build_preset("lenet"))) == "encoding"
    clean = np.asarray(snn(images))
    np.testing.assert_array_equal(np.asarray(add_noise(snn, "input", 0.0, seed=1)(images)), clean)
    noisy = add_noise(snn, "input", 0.5, seed=1)
    assert noisy.get_layer("act0_input_noise") is not None
    assert not np.array_equal(np.asarray(noisy(images)), clean)
    deleted = add_noise(snn, "encoding", 1.0, seed=1)
    kept = np.asarray(keras.Model(deleted.input, deleted.get_layer("act0_deletion").output)(images))
    assert kept.sum() == 0
    with pytest.raises(ValueError, match="signed"):
        add_noise(snn, "all-layers", 0.1)


@pytest.mark.parametrize("use_int", [False, True])
def test_keras_and_saved_model_round_trips(allint_models, use_int, tmp_path):
    model, images = allint_models(0, 0)
    snn = convert(model, "allint", time_steps=6, use_int=use_int)
    x = images[:8]
    expected = np.asarray(snn(x))
    snn.save(tmp_path / "snn.keras")
    loaded = keras.models.load_model(tmp_path / "snn.keras")
    np.testing.assert_array_equal(np.asarray(loaded(x)), expected)
    assert loaded.get_layer("act2").theta0.dtype == ("int32" if use_int else "float64")
    export_snn_saved_model(snn, tmp_path / "snn.export")
    np.save(tmp_path / "images.npy", x.astype(np.uint8))
    script = (
        "import sys, numpy as np, tensorflow as tf\n"
        "m = tf.saved_model.load(sys.argv[1])\n"
        "x = np.load(sys.argv[2])\n"
        "np.save(sys.argv[3], m.logits_per_step(x).numpy())\n"
        "np.save(sys.argv[4], m.serve(x).numpy())\n"
        "np.save(sys.argv[5], m.spike_counts(x)['act2'].numpy())\n"
    )
    out = [tmp_path / f"{n}.npy" for n in ("steps", "serve", "act2")]
    subprocess.run([sys.executable, "-c", script, str(tmp_path / "snn.export"), str(tmp_path / "images.npy"),
                    *map(str, out)], check=True, cwd=tmp_path)
    np.testing.assert_array_equal(np.load(out[0]), expected)
    np.testing.assert_array_equal(np.load(out[1]), expected[:, -1])
    act2 = np.asarray(keras.Model(snn.input, snn.get_layer("act2").output)(x))
    np.testing.assert_array_equal(np.load(out[2]), act2.astype(np.float32))
