"""A lower bound on the layer cores of any temporal mapping within our layout rules (docs/hardware.md §7).

**Controller axons.** Take one neuron with the layer's integer weights, a linear membrane (its
negative threshold never acts) and the SR SNN's schedule: silent while it stores, then a burst
from the first release tick r, exact for every count its inputs may send (every reachable sum).
Let O_t be what the leak and the controllers have added by tick t, so that a neuron that has not
fired holds S + O_t. With S_max, T_0 - 1 and T_0 reachable sums:
- at r - 1 every input has arrived and no neuron fires: S_max + O_{r-1} < theta;
- at r the neuron with S = T_0 fires: T_0 + O_r >= theta; so O_r - O_{r-1} >= J = S_max - T_0 + 1;
- at r + 1 the neuron with S = T_0 - 1 still does not fire: O_{r+1} <= theta - T_0 <= O_r.
No data arrives at r or r + 1, and the leak adds the same in every tick, so the controller axons
add at least J more at r than at r + 1. An axon of weight w changes that difference by at most
|w| <= 2^(width-1) (-2 at 2 bits), so a core needs at least ceil(J / 2^(width-1)) controller
axons for each of its neurons, whatever the construction (our hold and correction axons come on
top). It takes two release ticks (L >= 2); a channel whose weights are not ternary (its sums may
skip values), or whose T_0 is outside the reachable sums, gets no claim (0).

**Layout rules** (those of hardware/partition.py): a core holds a rectangle of output positions
(clipped at the map's edges, any size) and some of their channels, and one data axon per real
input of the rectangle's receptive fields (zero weights included); controllers have axons of
their own. A core holding neuron (p, c) then holds at most cap(p, c) neurons: the best over
rectangles containing p, weight widths and LCNs of min(neurons per core, positions x channels),
where the data axons plus ceil(max J of channel c over the rectangle / 2^(width-1)) fit the
fan-in. Each neuron takes at least 1 / cap of a core, so a layer needs at least the sum of
1 / cap over its neurons. What would go lower breaks a rule: cores that leave zero-weight inputs
out, or timers firing into data axons while their sources are silent. A reversed leak (PAICORE's
sign(V) x leak) is not the same in every tick, so the argument does not cover it; the brute-force
search of tests/hardware/test_temporal_bound.py includes it and finds no exact one-axon neuron
where J = 3.
"""
from dataclasses import dataclass
from fractions import Fraction

import numpy as np


@dataclass(frozen=True)
class TemporalBound:
    name: str
    cores: int  # ceil(sum over neurons of 1 / cap)
    cap_min: int  # neurons per core, at the least and the most favourable neuron
    cap_max: int
    control_min: int  # controller axons per core at the narrowest width, over the neurons with a claim
    control_max: int


def jumps(layer):
    """(H', W', C') J = S_max - T_0 + 1 of every neuron (0 where no claim), from the real inputs of its
    receptive field (padding removes taps at the edges)."""
    store = layer.neuron.integrate_ticks
    kernel = layer.kernel
    valid_y = _valid_taps(layer.out_shape[0], kernel.shape[0], layer.strides[0], layer.pads[0], layer.in_shape[0])
    valid_x = _valid_taps(layer.out_shape[1], kernel.shape[1], layer.strides[1], layer.pads[1], layer.in_shape[1])
    pos = np.maximum(kernel, 0).sum(axis=2)  # (kh, kw, C'): positive weight per tap
    neg = np.maximum(-kernel, 0).sum(axis=2)
    s_max = store * np.einsum("yk,xl,klc->yxc", valid_y, valid_x, pos)
    s_min = -store * np.einsum("yk,xl,klc->yxc", valid_y, valid_x, neg)
    t0 = layer.thresholds[:, 0].astype(np.int64)
    ternary = np.abs(kernel.reshape(-1, kernel.shape[-1])).max(axis=0) == 1  # every sum in [s_min, s_max] reachable
    claim = (s_min < t0) & (t0 <= s_max) & ternary & (layer.neuron.fire_ticks >= 2)
    return np.where(claim, s_max - t0 + 1, 0).astype(np.int64)


def _valid_taps(n_out, k, stride, pad, n_in):
    """(n_out, k) 1 where output row o's tap reads a real input row."""
    rows = np.arange(n_out)[:, None] * stride - pad + np.arange(k)[None, :]
    return ((rows >= 0) & (rows < n_in)).astype(np.int64)


def _input_span(start, size, k, stride, pad, n_in):
    """Real input rows read by output rows start .. start + size - 1."""
    first = np.maximum(start * stride - pad, 0)
    last = np.minimum((start + size - 1) * stride - pad + k - 1, n_in - 1)
    return np.maximum(last - first + 1, 0)


def layer_temporal_bound(layer, core):
    """TemporalBound of one temporal CoreLayer on `core` (hardware.spec.CoreSpec)."""
    h_out, w_out, channels = layer.out_shape
    kh, kw, c_in, _ = layer.kernel.shape
    jump = jumps(layer)
    narrowest = core.narrowest_width(min(int(layer.kernel.min()), 0), max(int(layer.kernel.max()), 0))
    widths = [w for w in core.weight_widths if w >= narrowest]
    most = core.neurons_per_core(0, narrowest)
    area_max = -(-most // channels)  # larger rectangles cannot hold more neurons
    cap = np.zeros((h_out, w_out, channels), np.int64)
    for h in range(1, min(h_out, area_max) + 1):
        for w in range(1, min(w_out, area_max // h) + 1):
            ys, xs = np.arange(h_out - h + 1), np.arange(w_out - w + 1)
            data = (_input_span(ys, h, kh, layer.strides[0], layer.pads[0], layer.in_shape[0])[:, None]
                    * _input_span(xs, w, kw, layer.strides[1], layer.pads[1], layer.in_shape[1])[None, :]) * c_in
            worst = _window_max(jump, h, w)  # (ys, xs, C'): the rectangle's largest J per channel
            best = np.zeros(worst.shape, np.int64)
            for width in widths:
                lo, hi = core.weight_range(width)
                control = -(-worst // max(-lo, hi))
                for lcn in range(core.max_lcn + 1):
                    fits = data[:, :, None] + control <= core.fan_in(lcn)
                    held = min(core.neurons_per_core(lcn, width), h * w * channels)
                    best = np.maximum(best, np.where(fits, held, 0))
            for dy in range(h):  # every position of the rectangle may sit in such a core
                for dx in range(w):
                    view = cap[dy:dy + len(ys), dx:dx + len(xs)]
                    np.maximum(view, best, out=view)
    if (cap == 0).any():
        return None  # some neuron fits no core at all: the mapping's validator names the resource
    values, counts = np.unique(cap, return_counts=True)
    share = sum(Fraction(int(n), int(v)) for v, n in zip(values, counts))
    lo, hi = core.weight_range(narrowest)
    control = -(-jump[jump > 0] // max(-lo, hi))
    control = control if control.size else np.zeros(1, np.int64)
    return TemporalBound(layer.name, int(-(-share.numerator // share.denominator)), int(cap.min()), int(cap.max()),
                         int(control.min()), int(control.max()))


def _window_max(values, h, w):
    """Max over every h x w window (valid positions) of a (H, W, C) array."""
    out = values[: values.shape[0] - h + 1, : values.shape[1] - w + 1].copy()
    for dy in range(h):
        for dx in range(w):
            np.maximum(out, values[dy:dy + out.shape[0], dx:dx + out.shape[1]], out=out)
    return out


def temporal_bound(net, spec):
    """[TemporalBound] of every layer of a temporal CoreNetwork, and their total (None if a layer fits no core)."""
    bounds = [layer_temporal_bound(layer, spec.core) for layer in net.layers]
    total = None if any(b is None for b in bounds) else sum(b.cores for b in bounds)
    return bounds, total


__all__ = ["TemporalBound", "jumps", "layer_temporal_bound", "temporal_bound"]
