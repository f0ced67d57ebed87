"""Fold a BatchNormalization + median quantizer into a ladder of thresholds (docs/conversions.md §2).

Exact math. With V = s_in * z the membrane potential (s_in = 2^k of the incoming counts) and
y = gamma * (z - mu) / sigma + beta, sub-neuron i (i = 0..L-1) of a channel fires iff
y >= (i + 1/2) / 2^k_out, i.e.

    theta_i = s_in * [((i + 1/2) / 2^k_out - beta) * sigma / gamma + mu]
    gamma > 0: V >= ceil(theta_i)      gamma < 0: V <= floor(theta_i)      gamma == 0: constant

(for integer potentials; a float32 potential uses the nearest float32 on the same side).

Why a second step. The ANN does not compute that exact math: it evaluates BN in float32
(z * a + (beta - mu * a), a = gamma * rsqrt(var + eps)) and then floor(2^k * y + 0.5) in float32,
and each operation rounds. Where a reachable potential lies within a few ulps of theta_i the
float32 ANN and the exact ladder can disagree, and then "SNN == ANN for every neuron" fails
although both are "right". The ANN's float32 decision is still a monotone function of z (every
rounding step is monotone), so it has exact switch points on the lattice of reachable potentials
(the integers, or the float32 values for the encoding layer). `calibrate` finds them by asking the
ANN's own BN and quantizer layers about the lattice points next to the exact thresholds and walking
to the switch point. The result reproduces the trained model bit for bit; the number of thresholds
that moved is reported (`corrections`), so the effect stays visible.
"""
from dataclasses import dataclass

import numpy as np

INT32_MIN = np.iinfo(np.int32).min
INT32_MAX = np.iinfo(np.int32).max
_MAX_WALK = 40  # galloping steps: 2^40 lattice points either way


class ThresholdError(ValueError):
    """A threshold that the spiking layer cannot represent."""


@dataclass
class Ladder:
    thresholds: np.ndarray  # (C, L) int32 or float32, what the spiking layer stores
    signs: np.ndarray  # (C,) float32: +1 (V >= t), -1 (V <= t)
    exact: np.ndarray  # (C, L) the exact-math thresholds on the same lattice, before calibration
    corrections: int  # thresholds that calibration moved


def bn_parameters(bn, channels):
    """gamma, beta, mean, variance (float64, (C,)) and epsilon of a BatchNormalization (or None)."""
    ones, zeros = np.ones(channels), np.zeros(channels)
    if bn is None:
        return ones, zeros, zeros, ones, 0.0
    if bn.axis not in (-1, len(bn.input.shape) - 1):
        raise ThresholdError(f"{bn.name}: only channels-last BatchNormalization is supported")
    get = lambda var, default: default if var is None else np.asarray(var.numpy(), np.float64)  # noqa: E731
    gamma = get(bn.gamma if bn.scale else None, ones)
    beta = get(bn.beta if bn.center else None, zeros)
    return gamma, beta, get(bn.moving_mean, zeros), get(bn.moving_variance, ones), float(bn.epsilon)


def exact_thresholds(gamma, beta, mean, variance, epsilon, k_out, levels, scale_in):
    """theta (C, L) float64 and direction (C,) in {+1, -1, 0} (0: gamma == 0, constant output)."""
    sigma = np.sqrt(variance + epsilon)
    boundaries = (np.arange(levels) + 0.5) / 2.0**k_out  # (L,)
    with np.errstate(divide="ignore", invalid="ignore"):
        theta = scale_in * ((boundaries[None, :] - beta[:, None]) * (sigma / gamma)[:, None] + mean[:, None])
    return theta, np.sign(gamma)


def constant_counts(beta, k_out, levels):
    """Spike count of gamma == 0 channels: y = beta everywhere."""
    return np.floor(np.clip(beta * 2.0**k_out, 0.0, levels) + 0.5).astype(np.int64)


def integer_ladder(theta, direction, n_const, layer):
    """Round theta onto the integers; error where a threshold leaves the int32 range."""
    with np.errstate(invalid="ignore"):
        t = np.where(direction[:, None] < 0, np.floor(theta), np.ceil(theta))
    t = _constant_channels(t, direction, n_const, INT32_MIN, INT32_MAX)
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(t) | (t < INT32_MIN) | (t > INT32_MAX)
    _raise_if(bad, layer, t, "outside the int32 range of the spiking layer")
    return t.astype(np.int32)


def float_ladder(theta, direction, n_const, layer):
    """Round theta onto float32 (toward the firing side); error where it is not finite."""
    t32 = theta.astype(np.float32)  # round to nearest, then step to the correct side
    with np.errstate(invalid="ignore"):
        up = (direction[:, None] > 0) & (t32.astype(np.float64) < theta)
        down = (direction[:, None] < 0) & (t32.astype(np.float64) > theta)
    t32 = np.where(up, np.nextafter(t32, np.float32(np.inf)), t32)
    t32 = np.where(down, np.nextafter(t32, np.float32(-np.inf)), t32)
    t32 = _constant_channels(t32, direction, n_const, -np.inf, np.inf).astype(np.float32)
    _raise_if((direction[:, None] != 0) & ~np.isfinite(t32), layer, t32, "not a finite float32")
    return t32


def _constant_channels(t, direction, n_const, always, never):
    """gamma == 0: the first n sub-neurons always fire, the others never."""
    levels = t.shape[1]
    const = np.where(np.arange(levels)[None, :] < n_const[:, None], always, never)
    return np.where(direction[:, None] == 0, const, t)


def _raise_if(bad, layer, values, why):
    if np.any(bad):
        c, i = np.argwhere(bad)[0]
        raise ThresholdError(
            f"layer {layer!r}, channel {c}, threshold {i}: {values[c, i]!r} is {why} "
            f"({int(np.sum(bad))} threshold(s) affected); the BatchNormalization statistics of this "
            "channel (gamma near 0 or a huge variance) cannot be folded into a threshold ladder"
        )


def calibrate(t, direction, ann_counts, lattice, active):
    """Move thresholds to the switch points of the ANN's own float32 decision function.

    t: (C, L) thresholds on `lattice` ("int" or "float32"); direction: (C,) +1 / -1;
    ann_counts(v): the ANN's spike count for potentials v (L, C) (its BN and quantizer, float32);
    active: (C, L) which thresholds to calibrate (reachable, non-constant).

    Sub-neuron i must fire iff the ANN's count is >= i + 1. Along u = direction * key(V), where
    key() numbers the lattice points in order, "fires" is monotone: false, then true. Starting from
    the exact threshold, a galloping search brackets the switch point and a bisection finds it. A
    float32 threshold can lie many ulps from the exact one (near V = 0 the ulps are tiny while the
    ANN's rounding error is not), so a step-by-step walk would not do. Vectorized over all
    (channel, level) pairs: about 2 * 32 calls of ann_counts at most.
    """
    need = (np.arange(t.shape[1]) + 1)[None, :]
    sign = np.where(direction < 0, -1, 1).astype(np.int64)[:, None]
    to_key, from_key, limit = _lattice(lattice)

    def fires(u):
        return ann_counts(from_key(np.clip(sign * u, -limit, limit)).T).T >= need

    u0 = sign * to_key(t)
    start = fires(u0)
    # Bracket: lo does not fire, hi fires. Gallop away from u0 in the needed direction.
    lo, hi = np.where(start, u0 - 1, u0), np.where(start, u0, u0 + 1)
    for step in range(_MAX_WALK):
        lo_fires, hi_fires = fires(lo), fires(hi)
        grow_down, grow_up = active & lo_fires, active & ~hi_fires
        if not (grow_down.any() or grow_up.any()):
            break
        width = np.int64(2) ** (step + 1)
        hi = np.where(grow_down, lo, np.where(grow_up, hi + width, hi))
        lo = np.where(grow_down, lo - width, np.where(grow_up, hi - width, lo))
        lo, hi = np.clip(lo, -limit, limit), np.clip(hi, -limit, limit)
    else:
        raise RuntimeError("threshold calibration: no switch point of the ANN's decision found")
    while True:  # bisection: invariant lo does not fire, hi fires (for active entries)
        open_ = active & (hi - lo > 1)
        if not open_.any():
            break
        mid = lo + (hi - lo) // 2
        mid_fires = fires(mid)
        hi = np.where(open_ & mid_fires, mid, hi)
        lo = np.where(open_ & ~mid_fires, mid, lo)
    return np.where(active, from_key(sign * hi), t)


def _lattice(lattice):
    """(to_key, from_key, largest key) of the integers or of the finite float32 values."""
    if lattice == "int":
        return (lambda v: np.asarray(v, np.int64)), (lambda k: k), np.int64(2**40)
    # Order-preserving numbering of float32: non-negative floats by their bits, negatives mirrored.
    def to_key(v):
        bits = np.asarray(v, np.float32).view(np.int32).astype(np.int64)
        return np.where(bits < 0, -(bits & 0x7FFFFFFF), bits)

    def from_key(k):
        bits = np.where(k < 0, (-k) | 0x80000000, k).astype(np.uint32)
        return bits.view(np.float32)

    return to_key, from_key, np.int64(0x7F7FFFFF)  # the largest finite float32


def fold(layer, bn, channels, k_out, levels, scale_in, ann_counts, lattice, v_max=None, calibrated=True):
    """The calibrated Ladder of one spiking layer.

    layer: name for errors; bn: the source BatchNormalization (or None); k_out, levels: of the
    quantizer; scale_in: 2^k of the incoming counts (for the encoding: its input scale);
    ann_counts: see calibrate; lattice: "int" (hidden) or "float32" (encoding);
    v_max: bound on |V| for integer potentials; thresholds beyond it can never be crossed, and
    are not calibrated (their probes would not even be exact in float32).
    calibrated=False keeps the exact-math thresholds (a diagnostic: how much does float32 matter?).
    """
    gamma, beta, mean, var, eps = bn_parameters(bn, channels)
    theta, direction = exact_thresholds(gamma, beta, mean, var, eps, k_out, levels, scale_in)
    n_const = constant_counts(beta, k_out, levels)
    if lattice == "int":
        exact = integer_ladder(theta, direction, n_const, layer)
        work = exact.astype(np.int64)
        active = np.abs(work) <= v_max + 1
    else:
        exact = float_ladder(theta, direction, n_const, layer)
        work = exact
        active = np.isfinite(work)
    active = active & (direction[:, None] != 0) & calibrated
    calibrated = calibrate(work, direction, ann_counts, lattice, active).astype(exact.dtype)
    signs = np.where(direction < 0, -1.0, 1.0).astype(np.float32)
    return Ladder(calibrated, signs, exact, int(np.sum(calibrated != exact)))
