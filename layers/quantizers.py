"""Quantizers as pure `keras.ops` functions with straight-through estimators (docs/quantizers.md §1-2).

Every function returns the quantized value *exactly* in the forward pass. The STE is written as
`q + (g - stop_gradient(g))`: the bracket is exactly zero in the forward pass (x - x == 0 in IEEE
arithmetic), so `q` is not perturbed by rounding, while its gradient is the gradient of `g`. The
more common `x + stop_gradient(q - x)` can be off by one ulp, and the scatter-and-gather SNN is
only bit-exact if the ANN's activations are exact multiples of 2^-k.
"""
from keras import ops


def _straight_through(quantized, surrogate):
    """Value of `quantized`, gradient of `surrogate`."""
    return quantized + (surrogate - ops.stop_gradient(surrogate))


def _round_half_up(x):
    """Round half up, exactly.

    Banker's rounding (ops.round) would break the SNN's `V >= theta` comparison at ties, and the
    usual floor(x + 0.5) rounds the float just below a tie up (0.5 - 2^-25 + 0.5 == 1 in float32).
    x - floor(x) is exact, so comparing the fraction with 0.5 is too.
    """
    whole = ops.floor(x)
    return whole + ops.cast(x - whole >= 0.5, x.dtype)


def median_quantize(x, k, B):
    """Median quantizer with level `k` (step 2^-k) and upper bound `B`.

    Forward: clip to [0, B], round half up on the 2^-k grid; levels {0, 2^-k, ..., B}.
    Backward: gradient 1 on (0, B], 0 elsewhere (the ReLU and the clip of the original code).
    """
    scale = float(2**k)
    clipped = ops.clip(x, 0.0, float(B))
    q = _round_half_up(clipped * scale) / scale
    mask = ops.stop_gradient(ops.cast(ops.logical_and(x > 0, x <= B), x.dtype))
    return _straight_through(q, x * mask)


def unbounded_quantize(x, k):
    """The all-integer SNN's quantizer: ReLU then round half up on the 2^-k grid, no upper bound.

    Backward: gradient 1 where x > 0.
    """
    scale = float(2**k)
    q = _round_half_up(ops.relu(x) * scale) / scale
    mask = ops.stop_gradient(ops.cast(x > 0, x.dtype))
    return _straight_through(q, x * mask)


def ternary_threshold(w):
    """TWN threshold of a whole layer: 0.7 * mean(|W|)."""
    return 0.7 * ops.mean(ops.abs(w))


def ternarize(w):
    """Ternary weights in {-1, 0, +1}, no scale: +1 if w >= D, -1 if w <= -D, else 0.

    Written as sign(sign(w + D) + sign(w - D)) like the original, so an all-zero tensor stays zero.
    The STE passes 2x the gradient, as the original's two nested signs do.
    """
    delta = ternary_threshold(w)
    q = ops.sign(ops.sign(w + delta) + ops.sign(w - delta))
    return _straight_through(q, 2.0 * w)


def binarize(w):
    """Binary weights in {-1, +1} (sign with sign(0) = +1), identity STE."""
    q = ops.where(w >= 0, 1.0, -1.0)
    q = ops.cast(q, w.dtype)
    return _straight_through(q, w)


def xnor_binarize(w, reduce_axes):
    """XNOR-Net binary weights: sign(W) * alpha_o, alpha_o = mean |W| per output channel.

    `reduce_axes` are all axes but the output-channel one ((0, 1, 2) for an HWIO kernel, (0,) for a
    dense kernel). The gradient reaches W through alpha as well as through the identity STE.
    """
    alpha = ops.mean(ops.abs(w), axis=reduce_axes, keepdims=True)
    return binarize(w) * alpha


def xnor_net_binarize(w, center_axis, reduce_axes):
    """XNOR-Net as the binary-SNN seed trains it (docs/rate.md §1), per output channel o:

    1. centre: W - mean of W over the input-channel axis `center_axis` (per kernel position),
    2. clamp to [-1, 1],
    3. alpha_o = mean |W_c| over `reduce_axes` (all axes but the output channel),
    4. forward value sign(W_c) * alpha_o, with sign(0) = 0 as torch.sign.

    Gradient: alpha_o times the identity through the clamp (zero where the centred weight is
    outside [-1, 1]) plus the gradient through alpha_o, i.e. XNOR-Net's estimator. The straight
    through term is written `alpha * (c - stop_gradient(c))`, exactly zero in the forward pass, so
    the value is exactly +-alpha_o (or 0).
    """
    centred = ops.clip(w - ops.mean(w, axis=center_axis, keepdims=True), -1.0, 1.0)
    alpha = ops.mean(ops.abs(centred), axis=reduce_axes, keepdims=True)
    sign = ops.stop_gradient(ops.sign(centred))
    return sign * alpha + ops.stop_gradient(alpha) * (centred - ops.stop_gradient(centred))
