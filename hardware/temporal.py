"""The temporal (store-and-release) mapping: one hardware neuron per ANN neuron (docs/hardware.md §7).

Reader: a store-and-release SNN (conversion.sr) -> CoreNetwork whose layers have one hardware
neuron per ANN neuron (levels = levels_in = 1: every input neuron is one axon), sign-folded
integer weights (the SG's own where `fit_channels` can undo the SR's scale), and the temporal
NeuronModel (subtractive reset, a store window of L_in ticks, a release window of L ticks).

How the windows are built from what a PAICORE core has (why, in docs/hardware.md §7):
- core registers tick_wait_start / tick_wait_end: a spike carries a relative tick, and a core
  reads it at its own local tick (global tick - tick_wait_start) equal to the sender's plus the
  delay (PAIBox's semantics), so a layer l hop later is one tick later only when its
  tick_wait_start is one above the sender's: tick_wait_start = l + 2 for the l-th hidden layer
  (0-based; not l + 1, so that its timer cores can start one tick earlier: HOST_FIRST_TICK).
  Its cores then idle until the layer below releases, store for L_in ticks, release for L and
  stop (so the count is capped at L): tick_wait_end = the last release tick + 1 -
  tick_wait_start;
- neuron registers: positive threshold = step s (the linear reset subtracts it), a per-neuron
  leak lambda (added in every working tick), membranes from 0;
- controller neurons (timers in controller cores, no input axons: `Timer`) on groups of extra
  axons per core (`Control`), all with negative weights, the cheap sign of two's complement
  (-2 at 2 bits):
  "cancel" axons fire in every working tick except the first release tick with weights summing
  to -lambda, "hold" axons in every working tick before the release (the idle ticks while the
  layers below work, and the store) with weights summing to -h, and "correct<j>" axons in
  release tick j where the channel's thresholds are not evenly spaced. By store tick t every
  burst input has sent at most t spikes, so a partial sum is at most t a (a = the channel's sum
  of positive weights); h = ceil((L_in a - s + 1) / (idle + L_in)) keeps every one below s, the
  idle ticks spreading what a hold in the store ticks alone (h = a) would take (`hold_per_tick`).
  With H = h (idle + L_in) and lambda = s - T_0 + H the membrane rises by lambda in the first
  release tick, which no axon adds: the neuron fires at release tick j iff S >= T_j, exactly the
  SR neuron's burst.
The weights are the SR kernel divided by each channel's scale (the SG's own integer weights,
ternary for k = 1), with the SG thresholds T_j: the corrections replace the weight scaling, so
such a layer keeps 2-bit weights. A channel whose thresholds cannot be met that way (two equal
reachable thresholds: one spike per tick cannot step the count by two) keeps the SR's scaled
weights and evenly spaced thresholds.
Why the rise comes from the leak: between the last store tick and the first release tick the
membrane must rise by more than S_max - T_0 (every partial sum stays below s, then every S >=
T_0 fires) in one tick; a positive axon adds at most 1 at 2 bits, while the cancel axons take
back 2 each in every other tick.
"""
from dataclasses import dataclass

import keras
import numpy as np

from hardware.network import _STRUCTURAL, MAPPINGS, CoreLayer, CoreNetwork, NeuronModel, _same_pads
from hardware.spec import HardwareError
from layers.base import role_of


@dataclass(frozen=True)
class Control:
    """One group of controller axons of a temporal layer: per output channel what its axons add
    together when they fire, and in which ticks of the layer's window (`control_ticks`)."""

    name: str
    total: np.ndarray  # (C',) int64
    phase: str  # "before_release" (every working tick before the release window), "not_release0" (every
    # working tick but the first release tick), "release<j>"

    def timers(self, window):
        """The Timers that fire this group's axons (one timer per axon and multicast cube of each
        Timer), in the layer's local ticks: "release" runs end where the release starts, "end" runs
        where the window ends, "tick<t>" is a single tick whose timer would fire again too soon."""
        local = window.local
        if self.phase == "not_release0":
            release = local(window.release_start)
            before = Timer("release", window, 1, release - 1, run=True)
            after = Timer("end", window, release + 1, window.tick_wait_end, run=True)
            return (before, after) if window.release > 1 else (before,)
        if self.phase == "before_release":
            return (Timer("release", window, 1, local(window.release_start) - 1, run=True),)
        (tick,) = control_ticks(self, window)
        first = local(tick)
        if 2 * first > window.tick_wait_end:  # its second spike would come after the core stops
            return (Timer("end", window, first, window.tick_wait_end, run=False),)
        return (Timer(f"tick{tick}", window, first, first, run=True),)


@dataclass(frozen=True)
class Timer:
    """Registers of the timer neurons that drive one controller axon in a run of ticks: no input
    axons, leak 1, threshold `first`, so the first spike comes in its local tick `first`; reset
    to first - 1 (`run`: it then fires in every tick until its core stops) or to 0 (fires once,
    its next spike would be at 2 x first, after the core's last tick). A timer core starts one
    tick before its layer's cores, so by the relative-tick rule (module docstring) its local tick
    u lands in the layer's local tick u, one global tick later; a timer core starting with its
    layer would send into the tick being computed, and PAIBox then never delivers (tested).
    Cores group timers by `name`."""

    name: str
    window: "Window"
    first: int  # = threshold; the layer's local tick (1 = its tick_wait_start) of the first spike
    last: int  # = the timer core's tick_wait_end: its local ticks run 1..last
    run: bool

    @property
    def tick_wait_start(self):
        return self.window.tick_wait_start - 1

    @property
    def reset_v(self):
        return self.first - 1 if self.run else 0

    def local_ticks(self):
        """The timer's (and its layer's) local ticks it fires in."""
        every = 1 if self.run else self.first
        return range(self.first, self.last + 1, every)


def control_ticks(control, window):
    """The global ticks a controller group fires in."""
    if control.phase == "before_release":
        return range(window.tick_wait_start, window.release_start)
    if control.phase == "not_release0":
        first = window.release_start
        return [t for t in range(window.tick_wait_start, first + window.release) if t != first]
    if control.phase.startswith("release"):
        return (window.release_start + int(control.phase[len("release"):]),)
    raise ValueError(f"unknown controller phase {control.phase!r}")


@dataclass(frozen=True)
class Window:
    start: int  # first tick its input arrives (global ticks)
    store: int  # L_in
    release: int  # L
    tick_wait_start: int  # the cores' register: their local tick 0 (see the module docstring)

    @property
    def release_start(self):
        return self.start + self.store

    @property
    def tick_wait_end(self):  # the cores' register: working ticks, up to the last release tick
        return self.release_start + self.release - self.tick_wait_start

    def local(self, tick):
        """The cores' local tick (1 = their tick_wait_start) of a global tick."""
        return tick - self.tick_wait_start + 1


def extract_temporal(snn):
    """The temporal reading of a store-and-release SNN (HardwareError naming what cannot be mapped)."""
    layers, problems = [], []
    encoder = readout = synapse = None
    for layer in snn.layers:
        role = role_of(layer)
        if role == "encoder":
            encoder = layer
        elif role == "synapse":
            synapse = layer
        elif role == "neuron" and not hasattr(layer, "step"):
            problems.append(f"{layer.name} ({type(layer).__name__}: the temporal mapping needs store-and-release "
                            "neurons, method sr)")
        elif role == "neuron":
            if synapse is None:
                problems.append(f"{layer.name}: no synapse before it")
                continue
            levels_in = layers[-1].neuron.fire_ticks if layers else encoder.levels
            idle = sum(below.neuron.integrate_ticks for below in layers)  # = windows()'s, whatever the delay
            layers.append(_layer(synapse, layer, levels_in, idle))
            synapse = None
        elif role == "readout":
            readout = layer
        elif role is None and isinstance(layer, _STRUCTURAL):
            continue
        else:
            problems.append(f"{layer.name} ({type(layer).__name__})")
    if encoder is None or readout is None or not layers:
        problems.append("needs a BurstEncoding, at least one store-and-release layer and a SpikingReadout")
    if problems:
        raise HardwareError(f"cannot map {snn.name!r} temporally: " + "; ".join(problems))
    enc_model = keras.Model(snn.input, encoder.output, name="offchip_encoder")
    outputs = {encoder.name: encoder.output, **{l.name: snn.get_layer(l.name).output for l in layers},
               "logits": snn.output}
    probe = keras.Model(snn.input, outputs, name="sr_probe")
    return CoreNetwork(layers, enc_model, readout, probe, encoder.name, encoder.levels)


def _layer(synapse, neuron, levels_in, idle):
    kernel = np.asarray(keras.ops.convert_to_numpy(synapse.kernel)).astype(np.int64)  # scaled, sign-folded
    in_shape = tuple(int(d) for d in synapse.input.shape[2:])
    out_shape = tuple(int(d) for d in synapse.output.shape[2:])
    if synapse.operation == "dense":
        kind, kernel = "dense", kernel[None, None]
        in_shape, out_shape, strides, pads = (1, 1, in_shape[0]), (1, 1, out_shape[0]), (1, 1), (0, 0)
    else:
        kind, strides = "conv", tuple(int(s) for s in synapse.strides)
        pads = ((tuple(_same_pads(n, k, s) for n, k, s in zip(in_shape[:2], kernel.shape[:2], strides)))
                if synapse.padding == "same" else (0, 0))
    theta = np.asarray(keras.ops.convert_to_numpy(neuron.theta)).astype(np.int64)
    step = np.asarray(keras.ops.convert_to_numpy(neuron.step)).astype(np.int64)
    shape = kernel.shape
    flat, thresholds, steps, unscaled = fit_channels(kernel.reshape(-1, shape[-1]), theta, step, levels_in,
                                                     int(neuron.levels))
    kernel = flat.reshape(shape)
    v_max = levels_in * np.abs(flat).sum(axis=0)
    hold = hold_per_tick(np.maximum(flat, 0).sum(axis=0), steps, levels_in, idle)
    leak = steps - thresholds[:, 0] + (idle + levels_in) * hold  # lambda
    controls = [Control("cancel", -leak, "not_release0"), Control("hold", -hold, "before_release")]
    for j in range(1, thresholds.shape[1]):
        correction = steps - (thresholds[:, j] - thresholds[:, j - 1])
        if correction.any():
            controls.append(Control(f"correct{j}", correction, f"release{j}"))
    model = NeuronModel("subtractive", int(levels_in), int(neuron.levels))
    return CoreLayer(neuron.name, synapse.name, kind, in_shape, out_shape, kernel, strides, pads, 1, 1,
                     thresholds, v_max, model, steps=steps, leak=leak, controls=tuple(controls),
                     unscaled_channels=int(unscaled.sum()), idle_ticks=int(idle))


def hold_per_tick(positive, steps, store, idle):
    """(C',) h: what the hold axons take in each of the `idle + store` working ticks before the
    release, so that no partial sum of store tick t <= store (at most t * positive) reaches the
    step s: t a - h (idle + t) <= s - 1 is tightest at t = store (its left side grows with t)."""
    need = store * np.asarray(positive, np.int64) - steps + 1
    return np.maximum(-(-need // (idle + store)), 0)


def fit_channels(flat, theta, step, store, release):
    """Per output channel of an SR layer ((F, C') scaled kernel, first threshold theta, step):
    (kernel, thresholds (C', L), steps, unscaled (C',) bool). A channel's column is divided by its
    scale where its thresholds can then be met with corrections (`_fit`), else kept as it is."""
    flat = flat.copy()
    thresholds = np.zeros((flat.shape[1], release), np.int64)
    steps = step.copy()
    unscaled = np.zeros(flat.shape[1], bool)
    ticks = np.arange(release)
    for c in range(flat.shape[1]):
        column = flat[:, c]
        scale = max(int(np.gcd.reduce(np.abs(column))), 1)
        if scale > 1:
            fit = _fit(column // scale, -(-(theta[c] + ticks * step[c]) // scale), store, max(step[c] // scale, 1))
            if fit is not None:
                flat[:, c] = column // scale
                thresholds[c], steps[c] = fit
                unscaled[c] = True
                continue
        thresholds[c], steps[c] = _fit(column, theta[c] + ticks * step[c], store, step[c])
        unscaled[c] = scale == 1
    return flat, thresholds, steps, unscaled


def _fit(column, raw, store, default_step):
    """(thresholds, step s) equivalent to `raw` over the reachable sums S of `column` (inputs of
    0..store spikes) with every gap at least s >= 1, so that a neuron that stopped firing never
    fires again (docs/hardware.md §7); None where two reachable thresholds are equal."""
    s_min = -store * int(np.maximum(-column, 0).sum())
    s_max = store * int(np.maximum(column, 0).sum())
    t = np.clip(raw, s_min, s_max + 1).astype(np.int64)  # <= s_min: always fires, > s_max: never
    middle = np.flatnonzero((t > s_min) & (t <= s_max))
    gaps = np.diff(t[middle])
    s = int(gaps.min()) if len(gaps) else max(int(default_step), 1)
    if s < 1:
        return None
    first = middle[0] if len(middle) else int(np.searchsorted(t, s_max + 1))
    for j in range(first - 1, -1, -1):  # spread the always-firing ones below, s apart
        t[j] = min(s_min, t[j + 1] - s) if j + 1 < len(t) else s_min
    for j in range(first + len(middle), len(t)):  # and the never-firing ones above
        t[j] = max(s_max + 1, t[j - 1] + s) if j else s_max + 1
    return t, s


def tick_inputs(window, leak, groups):
    """(working ticks of `window`, neurons): what the leak and the controller groups add to the
    membrane in each working tick; groups: [(Control, per-neuron total)]."""
    first = window.tick_wait_start
    per_tick = np.tile(leak, (window.release_start + window.release - first, 1))
    for control, total in groups:
        for t in control_ticks(control, window):
            per_tick[t - first] += total
    return per_tick


def offsets(layer):
    """(ticks, C') cumulative leak + controller input of a temporal layer's neurons over its window
    (its idle ticks, store and release: what the membrane holds besides its data input)."""
    window = Window(1 + layer.idle_ticks, layer.neuron.integrate_ticks, layer.neuron.fire_ticks, 1)
    groups = [(control, control.total) for control in layer.controls]
    return np.cumsum(tick_inputs(window, layer.leak.astype(np.int64), groups), axis=0)


# The host sends the encoder's burst from this tick on. Not 0: a layer's timer cores start one tick
# before it (Timer), and a core whose tick_wait_start is 0 never works, so the first hidden layer
# starts at tick 2.
HOST_FIRST_TICK = 1


def windows(net, delay=1):
    """Window of every layer: the encoder's spikes leave at ticks HOST_FIRST_TICK.. (L0 of them)
    and arrive `delay` later."""
    out, start, ticks = [], HOST_FIRST_TICK + delay, net.encoder_levels
    for index, layer in enumerate(net.layers):
        w = Window(start, ticks, layer.neuron.fire_ticks, HOST_FIRST_TICK + delay * (index + 1))
        out.append(w)
        start, ticks = w.release_start + delay, w.release
    return out


def latency_ticks(net, delay=1):
    """Ticks from the first encoder spike to the end of the last release window."""
    last = windows(net, delay)[-1]
    return last.release_start + last.release - HOST_FIRST_TICK


def control_axons(layer, width_range):
    """[(Control, weights (C', K))] of a temporal layer for a core whose weights span width_range =
    (lo, hi): each group's per-channel total split into full-magnitude weights and one remainder."""
    lo, hi = width_range
    return [(control, _split(control.total, lo, hi)) for control in layer.controls]


def _split(total, lo, hi):
    """(C, K) weights in [lo, hi] whose rows sum to `total` (C,), K as small as possible."""
    total = np.asarray(total, np.int64)
    pos_k = int(-(-total.clip(min=0).max(initial=0) // hi)) if hi > 0 else 0
    neg_k = int(-(-(-total).clip(min=0).max(initial=0) // -lo)) if lo < 0 else 0
    k = max(pos_k, neg_k)
    if (total > 0).any() and hi <= 0 or (total < 0).any() and lo >= 0:
        raise HardwareError("controller weights need both signs")
    idx = np.arange(k)[None, :]
    pos = np.clip(total[:, None] - idx * hi, 0, hi)
    neg = np.clip(total[:, None] - idx * lo, lo, 0)
    return np.where(total[:, None] >= 0, pos, neg).astype(np.int64)


def check_windows(net, spec, delay=1):
    """Problems of the windows: tick_wait_start / tick_wait_end against their register limits."""
    problems = []
    start_max, end_max = spec.core.tick_wait_max
    for layer, w in zip(net.layers, windows(net, delay)):
        if w.tick_wait_start > start_max:
            problems.append(f"layer {layer.name}: tick_wait_start: needs {w.tick_wait_start}, limit {start_max}")
        if w.tick_wait_end > end_max:
            problems.append(f"layer {layer.name}: tick_wait_end: needs {w.tick_wait_end} (from tick "
                            f"{w.tick_wait_start}: {w.start - w.tick_wait_start} idle, store {w.store} + release "
                            f"{w.release} ticks), limit {end_max}")
    return problems


MAPPINGS["temporal"] = extract_temporal
