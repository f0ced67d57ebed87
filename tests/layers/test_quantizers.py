import numpy as np
import pytest
import tensorflow as tf

from layers import binarize, median_quantize, ternarize, ternary_threshold, unbounded_quantize, xnor_binarize
from layers import QuantActivation


def _np(x):
    return np.asarray(x)


def _grad(fn, x):
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.reduce_sum(fn(x))
    return tape.gradient(y, x).numpy()


@pytest.mark.parametrize("k,B", [(0, 1), (0, 2), (0, 4), (1, 1), (1, 2), (1, 4), (2, 3)])
def test_median_level_set(k, B):
    x = np.linspace(-2, B + 2, 20001, dtype=np.float32)
    levels = np.unique(_np(median_quantize(x, k, B)))
    expected = np.arange(2**k * B + 1) / 2**k
    np.testing.assert_array_equal(levels, expected.astype(np.float32))


@pytest.mark.parametrize("k,B", [(0, 2), (1, 2), (2, 4)])
def test_median_rounds_ties_half_up(k, B):
    i = np.arange(2**k * B)
    ties = ((i + 0.5) / 2**k).astype(np.float32)  # exactly representable midpoints
    np.testing.assert_array_equal(_np(median_quantize(ties, k, B)), ((i + 1) / 2**k).astype(np.float32))
    below = np.nextafter(ties, np.float32(-1))
    np.testing.assert_array_equal(_np(median_quantize(below, k, B)), (i / 2**k).astype(np.float32))


def test_median_clips_to_bound_and_zero():
    x = np.array([-5.0, -0.1, 0.0, 2.0, 2.3, 100.0], dtype=np.float32)
    np.testing.assert_array_equal(_np(median_quantize(x, 1, 2)), [0, 0, 0, 2, 2, 2])


def test_median_ste_mask_is_open_at_zero_closed_at_bound():
    x = np.array([-1.0, 0.0, 1e-6, 0.3, 1.0, 2.0, 2.0001, 3.0], dtype=np.float32)
    np.testing.assert_array_equal(_grad(lambda v: median_quantize(v, 1, 2), x), [0, 0, 1, 1, 1, 1, 0, 0])


def test_unbounded_levels_and_gradient():
    x = np.array([-3.0, 0.0, 0.49, 0.5, 1.5, 7.2, 100.4], dtype=np.float32)
    np.testing.assert_array_equal(_np(unbounded_quantize(x, 0)), [0, 0, 0, 1, 2, 7, 100])
    np.testing.assert_array_equal(_np(unbounded_quantize(x, 1)), [0, 0, 0.5, 0.5, 1.5, 7.0, 100.5])
    np.testing.assert_array_equal(_grad(lambda v: unbounded_quantize(v, 0), x), [0, 0, 1, 1, 1, 1, 1])


def test_encoding_variant_k0_B4():
    layer = QuantActivation(0, 4)
    x = np.array([-1, 0.49, 0.5, 2.5, 3.49, 3.5, 9], dtype=np.float32)
    np.testing.assert_array_equal(_np(layer(x)), [0, 0, 1, 3, 3, 4, 4])
    assert layer.levels == 4


def test_quantized_values_are_exact_multiples():
    # The SNN is bit-exact only if activations are exact multiples of 2^-k (no STE residue).
    x = np.random.default_rng(0).uniform(-1, 3, 100000).astype(np.float32)
    q = _np(median_quantize(x, 2, 2)) * 4
    np.testing.assert_array_equal(q, np.round(q))


def test_ternary_values_threshold_and_idempotence():
    w = np.random.default_rng(1).normal(size=(5, 5, 16, 32)).astype(np.float32)
    t = _np(ternarize(w))
    assert set(np.unique(t)) == {-1.0, 0.0, 1.0}
    delta = 0.7 * np.mean(np.abs(w))
    np.testing.assert_allclose(float(ternary_threshold(w)), delta, rtol=1e-6)
    expected = np.where(w >= delta, 1.0, np.where(w <= -delta, -1.0, 0.0))
    np.testing.assert_array_equal(t, expected)
    np.testing.assert_array_equal(_np(ternarize(t)), t)


def test_ternary_boundaries_and_zero_tensor():
    w = np.array([1.0, -1.0, 0.0, 0.0], dtype=np.float32)  # delta = 0.35
    np.testing.assert_array_equal(_np(ternarize(w)), [1, -1, 0, 0])
    np.testing.assert_array_equal(_np(ternarize(np.zeros(6, np.float32))), np.zeros(6))


def test_ternary_ste_passes_twice_the_gradient():
    w = np.random.default_rng(2).normal(size=(64,)).astype(np.float32)
    np.testing.assert_allclose(_grad(ternarize, w), 2.0 * np.ones(64))


def test_binary_and_xnor():
    w = np.array([[0.5, -0.2], [0.0, -0.6], [-0.1, 0.9]], dtype=np.float32)
    np.testing.assert_array_equal(_np(binarize(w)), [[1, -1], [1, -1], [-1, 1]])
    alpha = np.mean(np.abs(w), axis=0)
    np.testing.assert_allclose(_np(xnor_binarize(w, (0,))), np.where(w >= 0, 1, -1) * alpha, rtol=1e-6)
    np.testing.assert_array_equal(_grad(binarize, w), np.ones_like(w))


@pytest.mark.parametrize("kwargs", [dict(k=-1, B=2), dict(k=1, B=0), dict(k=1, B=None), dict(k=1, B=2, mode="x")])
def test_quant_activation_rejects_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        QuantActivation(**kwargs)
