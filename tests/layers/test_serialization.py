"""Every custom layer round-trips through `.keras` and through a SavedModel with identical outputs."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from layers import CentralCrop, PerImageStandardization, QuantActivation, QuantConv2D, QuantDense

CASES = {
    "median": (lambda: QuantActivation(1, 2), (6, 6, 3)),
    "unbounded": (lambda: QuantActivation(0, mode="unbounded"), (6, 6, 3)),
    "conv_ternary": (lambda: QuantConv2D(4, 3, strides=2, padding="same"), (8, 8, 3)),
    "conv_binary": (lambda: QuantConv2D(4, (2, 3), kernel_quantizer="binary"), (8, 8, 3)),
    "conv_xnor": (lambda: QuantConv2D(4, 3, kernel_quantizer="xnor"), (8, 8, 3)),
    "dense_ternary": (lambda: QuantDense(5), (12,)),
    "dense_float": (lambda: QuantDense(5, kernel_quantizer=None), (12,)),
    "central_crop": (lambda: CentralCrop(4), (8, 8, 3)),
    "standardize": (lambda: PerImageStandardization(), (6, 6, 3)),
}


def _model(case):
    make_layer, shape = CASES[case]
    inputs = keras.Input(shape)
    layer = make_layer()
    return keras.Model(inputs, layer(inputs)), layer, shape


def _inputs(shape):
    return np.random.default_rng(0).normal(1.0, 1.5, size=(4, *shape)).astype(np.float32)


@pytest.mark.parametrize("case", sorted(CASES))
def test_keras_round_trip(case, tmp_path):
    model, layer, shape = _model(case)
    x = _inputs(shape)
    path = tmp_path / "m.keras"
    model.save(path)
    restored = keras.models.load_model(path)
    np.testing.assert_array_equal(restored.predict(x, verbose=0), model.predict(x, verbose=0))
    restored_layer = restored.layers[-1]
    assert type(restored_layer) is type(layer)
    assert restored_layer.get_config() == layer.get_config()


@pytest.mark.parametrize("case", sorted(CASES))
def test_saved_model_round_trip(case, tmp_path):
    model, _, shape = _model(case)
    x = _inputs(shape)
    model.export(str(tmp_path / "export"), verbose=False)
    restored = tf.saved_model.load(str(tmp_path / "export"))
    np.testing.assert_array_equal(restored.serve(tf.constant(x)).numpy(), model.predict(x, verbose=0))


def test_quantized_kernel_is_used_in_forward_pass():
    layer = QuantDense(3)
    x = np.eye(4, dtype=np.float32)
    out = np.asarray(layer(x))
    np.testing.assert_array_equal(out, np.asarray(layer.quantized_kernel()))
    assert set(np.unique(out)) <= {-1.0, 0.0, 1.0}


def test_central_crop_takes_the_middle_and_keeps_matching_sizes():
    x = np.arange(2 * 6 * 6 * 1, dtype=np.float32).reshape(2, 6, 6, 1)
    np.testing.assert_array_equal(np.asarray(CentralCrop(2)(x)), x[:, 2:4, 2:4, :])
    np.testing.assert_array_equal(np.asarray(CentralCrop(6)(x)), x)


def test_standardization_matches_tensorflow():
    x = _inputs((5, 5, 3)) * 40
    np.testing.assert_allclose(
        np.asarray(PerImageStandardization()(x)), tf.image.per_image_standardization(x).numpy(), atol=1e-5
    )
