"""Per-channel constants of the dynamic-threshold neurons (docs/conversions.md §4), exact by construction.

Exact math, for a hidden layer whose input counts have scale s_in (2^k of the layer below) and
whose quantizer has level k: V = s_in * z, and the ANN's count reaches i + 1 iff V >= theta_i with

    theta_i = theta_0 + i d,   theta_0 = s_in * ((2^-(k+1) - beta) * sigma / gamma + mu),
    d = s_in * sigma / (gamma * 2^k)

(the seed's formula for s_in = 2^k). A neuron whose membrane stays at V ends with the net count
S = #{i : theta_i < V}. The seed then uses theta_0 and d in float, or round(10^4 theta_0) and
round(10^4 d) in integer mode: both are right up to rounding, which differs from the ANN where a
reachable V lies close to some theta_i (and the seed's strict '>' differs from the ANN's
round-half-up at exact ties).

What this module does instead (calibrate=True): take the ANN's own switch points on the integer
lattice of V (conversion.thresholds.fold asks the float32 BN and quantizer of the ANN, as for
scatter-and-gather), then choose integers Theta_0 and D (the 10^4-scaled constants) with

    10^4 (t_i - 1) < Theta_0 + i D < 10^4 t_i     for every threshold i the neuron can use,

i.e. the integer-mode progression separates the same integer potentials as the ANN, strictly,
with a margin of at least 10^-4 in units of V. Integer mode is then bit-exact with the ANN, and
float mode (theta_0 = Theta_0 / 10^4, d = D / 10^4 in float64, errors ~1e-13) takes the same
decisions, so float and integer mode agree with each other and with the ANN by construction.
The search starts at round(10^4 d) and moves D by as little as possible; `corrections` counts the
channels whose constants differ from plain rounding.

Negative gamma: the neuron integrates -V (gain -10^4) against the mirrored progression; gamma = 0:
no input (gain 0), constants that converge to the ANN's constant count.

Thresholds the neuron can use: S(t) <= t + 1, so only i <= T - 1 is ever compared, and S never
exceeds the count at the largest reachable |V| (fan-in sum |w| times the largest count of the
layer below). Those bounds also give the worst case of every integer-mode value (`worst`).
"""
from dataclasses import dataclass

import numpy as np

from conversion.thresholds import ThresholdError, bn_parameters, constant_counts, fold

INT32_LIMIT = 2**31 - 1
_MAX_D_SHIFT = 64  # candidate D values: round(10^4 d) +- this


@dataclass
class NeuronConstants:
    theta0: np.ndarray  # (C,) float64 or int64 (scaled)
    step: np.ndarray
    bound: np.ndarray
    gain: np.ndarray
    s_max: np.ndarray  # (C,) int64: largest net count a neuron of the channel can reach within T
    worst: int  # largest |value| integer mode can hold (V, P, N, b), whatever the input
    corrections: int  # channels whose integer constants differ from plain rounding of 10^4 x
    inexact: int  # channels where no exact integer progression was found (plain rounding used)


def exact_progression(bn, channels, k_out, scale_in, time_steps):
    """(theta0', d', sign, n_const): the mirrored progression (d' > 0) in V' = sign * V.

    n_const: the constant count of gamma == 0 channels, capped at T + 1 (more is never reached).
    """
    gamma, beta, mean, var, eps = bn_parameters(bn, channels)
    sigma = np.sqrt(var + eps)
    sign = np.sign(gamma)
    with np.errstate(divide="ignore", invalid="ignore"):
        theta0 = scale_in * ((0.5 / 2.0**k_out - beta) * sigma / gamma + mean)
        d = scale_in * sigma / (gamma * 2.0**k_out)
    n_const = constant_counts(beta, k_out, time_steps + 1)
    zero = sign == 0
    with np.errstate(invalid="ignore"):
        theta0 = np.where(zero, 0.5 - n_const, sign * theta0)
        d = np.where(zero, 1.0, np.abs(d))
    return theta0, d, sign, n_const


def hidden_constants(name, bn, channels, k_out, scale_in, v_max, time_steps, arithmetic, integer_potentials,
                     ann_counts=None, calibrate=True, scale=10_000):
    """NeuronConstants of one hidden layer.

    v_max: (C,) bound on |V| (integer potentials) per channel; arithmetic "float" or "int";
    integer_potentials: V is an integer (integer weights), so the lattice calibration applies;
    ann_counts: the ANN's count for potentials (L, C), see conversion.sg._ann_counts.
    """
    theta0, d, sign, n_const = exact_progression(bn, channels, k_out, scale_in, time_steps)
    v_max = np.asarray(v_max, np.float64)
    zero = sign == 0
    # Thresholds at or below v_max can be crossed; the count can never pass their number.
    with np.errstate(invalid="ignore", over="ignore"):
        reachable = np.floor((v_max - theta0) / d) + 1
    reachable = np.where(zero, n_const, np.clip(np.nan_to_num(reachable, nan=0.0), 0, time_steps))
    levels = int(min(time_steps, reachable.max(initial=0) + 1)) + 1
    if not integer_potentials or not calibrate:
        th_int, d_int = np.round(scale * theta0), np.round(scale * d)
        corrections = inexact = 0
    else:
        ladder = fold(name, bn, channels, k_out, levels, scale_in, ann_counts, "int", float(v_max.max(initial=0)))
        t = sign[:, None] * ladder.thresholds.astype(np.int64)  # V' >= t_i fires i + 1
        th_int, d_int, inexact = _integer_progression(t, theta0, d, v_max, time_steps, scale, ~zero)
        plain = (th_int == np.round(scale * theta0)) & (d_int == np.round(scale * d))
        corrections = int(np.sum(~plain & ~zero))
        th_int = np.where(zero, scale * (0.5 - n_const), th_int)
        d_int = np.where(zero, scale, d_int)
    # Largest count: thresholds of the (possibly rounded) progression at or below v_max.
    with np.errstate(invalid="ignore"):
        s_max = np.floor((scale * v_max - th_int) / d_int) + 1
    s_max = np.where(zero, np.minimum(n_const, time_steps), np.clip(s_max, 0, time_steps)).astype(np.int64)
    worst = _worst(th_int, d_int, s_max, scale * v_max)
    if arithmetic == "int":
        values = (th_int, d_int, th_int - d_int, sign * scale)
        if not integer_potentials:
            raise ThresholdError(f"{name}: integer mode needs integer potentials (integer weights)")
        return NeuronConstants(*[np.asarray(v, np.int64) for v in values], s_max, worst, corrections, inexact)
    if integer_potentials and calibrate:
        theta0, d = th_int / scale, d_int / scale
    return NeuronConstants(theta0, d, theta0 - d, sign.astype(np.float64), s_max, worst, corrections, inexact)


def _integer_progression(t, theta0, d, v_max, time_steps, scale, active):
    """Integers (Theta_0, D) per channel with scale*(t_i - 1) < Theta_0 + i D < scale*t_i for used i."""
    channels, levels = t.shape
    idx = np.arange(levels)[None, :]
    # Used thresholds: i <= T - 1, and up to the first one beyond v_max (it must stay beyond).
    beyond = t > v_max[:, None]
    first_beyond = np.where(beyond.any(axis=1), beyond.argmax(axis=1), levels - 1)
    used = (idx <= np.minimum(time_steps - 1, first_beyond)[:, None]) & active[:, None]
    lo_i = np.where(used, scale * (t - 1) + 1, -np.inf)
    hi_i = np.where(used, scale * t - 1, np.inf)
    d0 = np.round(scale * d)
    shifts = np.concatenate([[0], np.stack([np.arange(1, _MAX_D_SHIFT + 1), -np.arange(1, _MAX_D_SHIFT + 1)],
                                           axis=1).ravel()])
    best_th = np.round(scale * theta0)
    best_d = d0.copy()
    found = ~active.copy()
    for shift in shifts:  # nearest D first; stop once every channel has a solution
        cand = np.maximum(d0 + shift, 1)
        lo = np.max(lo_i - idx * cand[:, None], axis=1)
        hi = np.min(hi_i - idx * cand[:, None], axis=1)
        ok = ~found & (np.ceil(lo) <= np.floor(hi))
        best_th = np.where(ok, np.clip(np.round(scale * theta0), np.ceil(lo), np.floor(hi)), best_th)
        best_d = np.where(ok, cand, best_d)
        found |= ok
        if found.all():
            break
    return best_th, best_d, int(np.sum(~found))


def _worst(th, d, s_max, v_scaled):
    """Largest |V|, |P|, |N|, |b| integer mode can hold: V in +-v_scaled, P = Theta_0 + S D, S in [0, s_max]."""
    zero_like = np.zeros_like(th)
    values = [v_scaled, np.abs(th - d), np.abs(th + (s_max + 1) * d), np.abs(th), zero_like]
    return int(np.max(np.stack(values)))


def encoding_levels(activation):
    """Levels L = 2^k * B of the encoding quantizer."""
    return int(round(2**activation.k * activation.B))
