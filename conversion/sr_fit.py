"""Integer (threshold, step, scale) of store-and-release neurons, exact by construction
(docs/conversions.md §5-6).

A store-and-release neuron integrates its whole input into V and then, for L release ticks,
fires iff V >= theta and subtracts `step` after each spike. Its count is therefore
#{i < L : V >= theta + i * step}: an arithmetic progression of thresholds. The scatter-and-gather
ladder t_0 <= ... <= t_{L-1} of the same channel (calibrated, conversion.thresholds.fold) is the
target: "V >= t_i" for every reachable integer V. In exact math the SG thresholds are evenly
spaced, but their integer ceilings (and the calibrated switch points) need not be, so a
progression with scale 1 may not exist. Multiplying the channel's weights by an integer `scale`
s multiplies V by s; level i is then exact iff

    s * (t_i - 1) < theta + i * step <= s * t_i                 (every integer V in range)

with the open ends: a level that always fires in range (t_i <= -v_max) only needs the upper
bound, one that never fires (t_i > v_max) only the lower. Integers theta and step exist iff for
every pair j < i:  (lo_i - hi_j) / (i - j) <= step <= (hi_i - lo_j) / (i - j)  (the pairwise form of
max_i(lo_i - i step) <= min_j(hi_j - j step)), step >= 1. The fit tries s = 1, 2, ... per channel
and keeps the first s that works, the step nearest to s times the exact spacing.
"""
from dataclasses import dataclass

import numpy as np


class FitError(ValueError):
    """No integer progression within the allowed weight scale."""


@dataclass
class Progression:
    theta: np.ndarray  # (C,) int64: first threshold (on the scaled potential)
    step: np.ndarray  # (C,) int64 >= 1: subtractive reset
    scale: np.ndarray  # (C,) int64 >= 1: the channel's weight multiplier

    @property
    def scaled_channels(self):
        return int(np.sum(self.scale > 1))


def level_bounds(t, v_max, scale):
    """(lo, hi) (C, L) float64: the interval theta + i step must lie in, per level (+-inf = open)."""
    t = np.asarray(t, np.float64)
    v = np.asarray(v_max, np.float64)[:, None]
    s = np.asarray(scale, np.float64)[:, None]
    lo = np.where(t <= -v, -np.inf, s * (t - 1) + 1)
    hi = np.where(t > v, np.inf, s * t)
    return lo, hi


def step_range(lo, hi):
    """(smallest, largest) feasible integer step per channel (float64; empty where smallest > largest)."""
    levels = lo.shape[1]
    step_lo = np.ones(lo.shape[0])
    step_hi = np.full(lo.shape[0], np.inf)
    with np.errstate(invalid="ignore"):
        for i in range(levels):
            for j in range(i):
                gap = i - j
                low = np.ceil((lo[:, i] - hi[:, j]) / gap)  # -inf - inf -> nan: no constraint
                high = np.floor((hi[:, i] - lo[:, j]) / gap)
                step_lo = np.fmax(step_lo, np.nan_to_num(low, nan=-np.inf))
                step_hi = np.fmin(step_hi, np.nan_to_num(high, nan=np.inf))
    return step_lo, step_hi


def fit_progression(t, v_max, spacing, max_scale):
    """Progression per channel for sign-folded, clipped thresholds t (C, L) (fire iff V >= t_i).

    v_max: (C,) bound on |V|; spacing: (C,) the exact-math distance between thresholds (a hint
    for the step, nan where unknown); max_scale: (C,) largest weight multiplier allowed (the
    weight register's range). Raises FitError naming the first channel without a solution.
    """
    t = np.asarray(t, np.int64)
    channels, levels = t.shape
    spacing = np.nan_to_num(np.asarray(spacing, np.float64), nan=1.0, posinf=1.0, neginf=1.0)
    theta = np.zeros(channels, np.int64)
    step = np.ones(channels, np.int64)
    scale = np.zeros(channels, np.int64)
    for s in range(1, int(np.max(max_scale, initial=1)) + 1):
        todo = (scale == 0) & (s <= max_scale)
        if not todo.any():
            break
        lo, hi = level_bounds(t[todo], v_max[todo], np.full(int(todo.sum()), s))
        step_lo, step_hi = step_range(lo, hi)
        ok = step_lo <= step_hi
        if not ok.any():
            continue
        want = np.round(s * np.abs(spacing[todo]))
        d = np.clip(want, step_lo, step_hi)[ok]
        idx = np.arange(levels)[None, :]
        th_lo = np.max(lo[ok] - idx * d[:, None], axis=1)
        th_hi = np.min(hi[ok] - idx * d[:, None], axis=1)
        th = np.where(np.isfinite(th_lo), th_lo, np.where(np.isfinite(th_hi), th_hi, 0.0))
        where = np.flatnonzero(todo)[ok]
        theta[where], step[where], scale[where] = th.astype(np.int64), d.astype(np.int64), s
    if np.any(scale == 0):
        c = int(np.flatnonzero(scale == 0)[0])
        raise FitError(f"channel {c}: no integer threshold and step reproduce the thresholds {t[c].tolist()} "
                       f"with a weight scale up to {int(np.asarray(max_scale)[c])} "
                       f"({int(np.sum(scale == 0))} channel(s) affected)")
    return Progression(theta, step, scale)


def release_counts(v, theta, step, levels):
    """Reference count of the neuron: #{i < levels : v >= theta + i step}, v (N, C) scaled potentials."""
    i = np.arange(levels)
    return np.sum(np.asarray(v)[..., None] >= theta[:, None] + i * step[:, None], axis=-1)
