"""The temporal (store-and-release) mapping: one hardware neuron per ANN neuron (docs/hardware.md §7).

Reader: a store-and-release SNN (conversion.sr) -> CoreNetwork whose layers have one hardware
neuron per ANN neuron (levels = levels_in = 1: every input neuron is one axon), the SNN's own
scaled, sign-folded integer weights, and the temporal NeuronModel (subtractive reset, a store
window of L_in ticks, a release window of L ticks).

How the windows are built from what a PAICORE core has (why, in docs/hardware.md §7):
- core registers tick_wait_start / tick_wait_end: a spike carries a relative tick, and a core
  reads it at its own local tick (global tick - tick_wait_start) equal to the sender's plus the
  delay (PAIBox's semantics), so a layer l hop later is one tick later only when its
  tick_wait_start is one above the sender's: tick_wait_start = l + 1 for the l-th hidden layer
  (0-based). Its cores then idle (no input, membrane 0, below the threshold) until the layer
  below releases, store for L_in ticks, release for L and stop (so the count is capped at L):
  tick_wait_end = the last release tick + 1 - tick_wait_start;
- neuron registers: positive threshold = step d (the linear reset subtracts it), leak 0,
  initial membrane 0;
- controller neurons (timers in controller cores, no input axons) on two groups of extra axons
  per core: "hold" axons fire in every store tick with per-neuron weights summing to -a
  (a = the channel's sum of positive weights, so no partial sum can reach the threshold while
  storing: by tick t every burst input has at most t spikes), "lift" axons fire once at the
  first release tick with weights summing to b = d + L_in a - theta. The neuron then fires at
  release tick j iff S >= theta + j d: exactly the SR neuron.
A constant leak cannot replace the controllers: the membrane has to rise by about v_max - theta
between the last store tick and the first release tick, and a leak that large keeps driving the
neuron during the release (it would fire again after it stopped).
"""
from dataclasses import dataclass

import keras
import numpy as np

from hardware.network import _STRUCTURAL, MAPPINGS, CoreLayer, CoreNetwork, NeuronModel, _same_pads
from hardware.spec import HardwareError
from layers.base import role_of


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
            layers.append(_layer(synapse, layer, levels_in))
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


def _layer(synapse, neuron, levels_in):
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
    flat = kernel.reshape(-1, kernel.shape[-1])
    v_max = levels_in * np.abs(flat).sum(axis=0)
    model = NeuronModel("subtractive", int(levels_in), int(neuron.levels))
    hold = np.maximum(flat, 0).sum(axis=0)  # a: per store tick
    lift = step + levels_in * hold - theta  # b: once, at the first release tick
    return CoreLayer(neuron.name, synapse.name, kind, in_shape, out_shape, kernel, strides, pads, 1, 1,
                     theta[:, None], v_max, model, steps=step, hold=hold, lift=lift)


def windows(net, delay=1):
    """Window of every layer: the encoder's spikes leave at ticks 0..L0-1 and arrive `delay` later."""
    out, start, ticks = [], delay, net.encoder_levels
    for index, layer in enumerate(net.layers):
        w = Window(start, ticks, layer.neuron.fire_ticks, delay * (index + 1))
        out.append(w)
        start, ticks = w.release_start + delay, w.release
    return out


def latency_ticks(net, delay=1):
    """Ticks from the first encoder spike to the end of the last release window."""
    last = windows(net, delay)[-1]
    return last.release_start + last.release


def control_axons(layer, width_range):
    """(hold axons, lift axons, weight per hold axon (C', K_h), per lift axon (C', K_l)) for a
    core whose weights span width_range = (lo, hi): each group's per-neuron total split into
    full-magnitude weights and one remainder."""
    lo, hi = width_range
    hold = _split(-layer.hold, lo, hi)
    lift = _split(layer.lift, lo, hi)
    return hold.shape[1], lift.shape[1], hold, lift


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
