"""The XNOR-Net quantizer of the rate-coded binary SNN (docs/rate.md §1): values, alpha, gradient."""
import numpy as np
import tensorflow as tf

from layers import QuantConv2D, QuantDense, xnor_net_binarize


def _reference(w, center_axis, reduce_axes):
    centred = np.clip(w - w.mean(axis=center_axis, keepdims=True), -1, 1)
    alpha = np.abs(centred).mean(axis=reduce_axes, keepdims=True)
    return np.sign(centred) * alpha, centred, alpha


def test_values_are_plus_minus_alpha_per_output_channel():
    rng = np.random.default_rng(0)
    w = rng.normal(0, 0.8, size=(3, 3, 4, 5)).astype(np.float32)  # HWIO, some beyond [-1, 1]
    q = np.asarray(xnor_net_binarize(tf.constant(w), 2, (0, 1, 2)))
    expected, _, alpha = _reference(w, 2, (0, 1, 2))
    np.testing.assert_allclose(q, expected, rtol=1e-6)
    for o in range(5):  # each filter takes exactly two values +-alpha_o
        assert set(np.unique(np.abs(q[..., o]))) == {np.float32(alpha[0, 0, 0, o])}


def test_mean_centring_is_over_the_input_channels_and_clamp_to_one():
    w = np.array([[3.0, -1.0], [1.0, 1.0], [-0.5, 0.1]], np.float32)  # dense (in=3, out=2)
    # column 0: mean 7/6 -> centred [1.833, -0.167, -1.667] -> clamped [1, -0.167, -1] -> alpha 0.7222
    q = np.asarray(xnor_net_binarize(tf.constant(w), 0, (0,)))
    alpha0 = (1 + 1 / 6 + 1) / 3
    np.testing.assert_allclose(q[:, 0], [alpha0, -alpha0, -alpha0], rtol=1e-6)
    # column 1: mean 0.0333 -> centred [-1.033, 0.967, 0.067] -> [-1, 0.967, 0.067]
    alpha1 = (1 + 0.9666667 + 0.0666667) / 3
    np.testing.assert_allclose(q[:, 1], [-alpha1, alpha1, alpha1], rtol=1e-5)


def test_gradient_is_the_xnor_net_estimator():
    rng = np.random.default_rng(1)
    w = rng.normal(0, 0.7, size=(6, 3)).astype(np.float32)
    g = rng.normal(size=(6, 3)).astype(np.float32)
    variable = tf.Variable(w)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(xnor_net_binarize(variable, 0, (0,)) * g)
    grad = tape.gradient(loss, variable).numpy()
    _, centred, alpha = _reference(w, 0, (0,))
    n = w.shape[0]
    sign = np.sign(centred)
    # dL/dc = alpha g (straight through) + sign(c) / n * sum(sign * g) (through alpha); zero where clamped
    d_c = alpha * g + sign / n * (sign * g).sum(axis=0, keepdims=True)
    raw = w - w.mean(axis=0, keepdims=True)
    d_c = d_c * (np.abs(raw) <= 1)
    expected = d_c - d_c.mean(axis=0, keepdims=True)  # through the mean centring
    np.testing.assert_allclose(grad, expected, rtol=1e-5, atol=1e-6)


def test_layers_use_it_and_keep_the_latent_weights_clipped():
    conv = QuantConv2D(4, 3, kernel_quantizer="xnor_net")
    conv.build((None, 8, 8, 2))
    q = np.asarray(conv.quantized_kernel())
    expected, _, _ = _reference(conv.kernel.numpy(), 2, (0, 1, 2))
    np.testing.assert_allclose(q, expected, rtol=1e-6)
    dense = QuantDense(3, kernel_quantizer="xnor_net")
    dense.build((None, 5))
    assert dense.kernel.constraint is not None  # latent weights stay in [-1, 1], as the seed clamps them
