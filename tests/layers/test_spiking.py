"""Spiking layers: the ladder, the time axis, int8 weights, serialization and export."""
import json
import subprocess
import sys

import keras
import numpy as np
import pytest

from layers.spiking import (
    MultiThresholdNeuron,
    SpikeDeletion,
    SpikeEncoding,
    SpikingConv2D,
    SpikingDense,
    SpikingReadout,
    delete_spikes,
    fold_time,
    threshold_ladder,
    unfold_time,
)


def test_ladder_counts_thresholds_reached_and_reverses_for_negative_sign():
    thresholds = np.array([[1, 3, 5], [4, 2, 0]], np.int32)  # channel 1 has sign -1: V <= t
    signs = np.array([1.0, -1.0], np.float32)
    v = np.array([[0, 0], [1, 2], [3, 4], [5, 5], [6, -1]], np.float32)
    counts = np.asarray(threshold_ladder(v, thresholds, signs))
    # channel 0: V >= 1, 3, 5; channel 1: V <= 4, 2, 0 (ties fire in both directions).
    np.testing.assert_array_equal(counts, [[0, 3], [1, 2], [2, 1], [3, 0], [3, 3]])


def test_time_fold_round_trip():
    x = np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5)
    folded = fold_time(x)
    assert tuple(folded.shape) == (6, 4, 5)
    np.testing.assert_array_equal(unfold_time(folded, 3), x)


def test_synapses_are_int8_and_exact_on_integer_counts():
    conv = SpikingConv2D(3, 2, strides=2)
    dense = SpikingDense(4)
    spikes = np.random.default_rng(0).integers(0, 5, (2, 1, 4, 4, 2)).astype(np.float32)
    v = np.asarray(conv(spikes))
    rng = np.random.default_rng(1)
    kernel = rng.integers(-1, 2, (2, 2, 2, 3)).astype(np.int8)
    conv.kernel.assign(kernel)
    v = np.asarray(conv(spikes))
    expected = np.einsum("nhpwqc,pqcf->nhwf",
                         spikes[:, 0].reshape(2, 2, 2, 2, 2, 2).astype(np.int64), kernel.astype(np.int64))
    np.testing.assert_array_equal(v[:, 0], expected)
    assert conv.kernel.dtype == "int8" and not conv.trainable_weights
    flat = spikes.reshape(2, 1, -1)
    dense(flat)
    assert dense.kernel.dtype == "int8" and dense.kernel.shape == (32, 4)


def test_encoding_repeats_counts_over_time():
    enc = SpikeEncoding(2, 1, levels=2, scale=2.0, time_steps=3)
    x = np.array([0.0, 0.3, 0.6, 1.2], np.float32).reshape(1, 2, 2, 1)
    enc(x)
    enc.kernel.assign(np.ones((1, 1, 1, 2), np.float32))
    enc.thresholds.assign(np.array([[1.0, 2.0], [0.5, 1.0]], np.float32))
    enc.signs.assign(np.ones(2, np.float32))
    out = np.asarray(enc(x))  # V = 2x = 0, .6, 1.2, 2.4
    assert out.shape == (1, 3, 2, 2, 2)
    np.testing.assert_array_equal(out[0, 0, ..., 0].ravel(), [0, 0, 1, 2])
    np.testing.assert_array_equal(out[0, 0, ..., 1].ravel(), [0, 1, 2, 2])
    np.testing.assert_array_equal(out[0, 2], out[0, 0])


def test_readout_sums_time():
    readout = SpikingReadout(2)
    x = np.ones((1, 3, 4), np.float32)
    readout(x)
    readout.kernel.assign(np.arange(8, dtype=np.float32).reshape(4, 2))
    np.testing.assert_array_equal(np.asarray(readout(x)), [[3 * 12, 3 * 16]])


def test_delete_spikes_extremes():
    counts = np.array([[0, 1, 2, 4]], np.float32)
    gen = keras.random.SeedGenerator(0)
    np.testing.assert_array_equal(np.asarray(delete_spikes(counts, 0.0, 4, gen)), counts)
    np.testing.assert_array_equal(np.asarray(delete_spikes(counts, 1.0, 4, gen)), np.zeros_like(counts))
    with pytest.raises(ValueError, match="noise rate"):
        SpikeDeletion(1.5, 4)


@pytest.mark.parametrize("layer", [
    SpikeEncoding(4, (3, 3), levels=4, scale=2.0, strides=1, padding="same", time_steps=1, name="e"),
    SpikingConv2D(4, 3, strides=2, padding="same", name="c"),
    SpikingDense(5, name="d"),
    MultiThresholdNeuron(4, "float32", name="n"),
    SpikingReadout(10, name="r"),
    SpikeDeletion(0.2, 4, seed=3, name="s"),
])
def test_config_round_trip(layer):
    clone = keras.layers.deserialize(json.loads(json.dumps(keras.layers.serialize(layer))))
    assert type(clone) is type(layer) and clone.get_config() == layer.get_config()


# ------------------------------------------------------------------------ model round trips


@pytest.fixture(scope="module")
def converted():
    from conversion import convert
    from models import build_preset

    keras.utils.set_random_seed(2)
    model = build_preset("lenet", k=1, B=2)
    images = np.random.default_rng(2).integers(0, 256, (8, 28, 28, 1)).astype(np.uint8)
    return convert(model), images


def test_keras_file_round_trip(converted, tmp_path):
    snn, images = converted
    snn.save(tmp_path / "snn.keras")
    loaded = keras.models.load_model(tmp_path / "snn.keras")
    assert loaded.get_layer("conv3").kernel.dtype == "int8"
    x = images.astype(np.float32)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), snn.predict(x, verbose=0))


def test_saved_model_round_trip_in_plain_tensorflow(converted, tmp_path):
    from conversion import export_snn_saved_model

    snn, images = converted
    export_snn_saved_model(snn, tmp_path / "snn.export")
    np.save(tmp_path / "images.npy", images)
    # A separate process that imports only TensorFlow: no project code, no custom objects.
    script = (
        "import sys, numpy as np, tensorflow as tf\n"
        "m = tf.saved_model.load(sys.argv[1])\n"
        "x = np.load(sys.argv[2])\n"
        "np.save(sys.argv[3], m.serve(x).numpy())\n"
        "np.save(sys.argv[4], m.spike_counts(x)['act2'].numpy())\n"
    )
    out = [tmp_path / "logits.npy", tmp_path / "act2.npy"]
    subprocess.run([sys.executable, "-c", script, str(tmp_path / "snn.export"), str(tmp_path / "images.npy"),
                    *map(str, out)], check=True, cwd=tmp_path)
    x = images.astype(np.float32)
    np.testing.assert_array_equal(np.load(out[0]), snn.predict(x, verbose=0))
    act2 = keras.Model(snn.input, snn.get_layer("act2").output).predict(x, verbose=0)
    np.testing.assert_array_equal(np.load(out[1]), act2)
