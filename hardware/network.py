"""Read a spiking Keras model into plain integer layers for the mapper, one reader per mapping.

Only the spiking model's own weights and thresholds are read (docs/architecture.md §1: the SNN is the
single IR), through the layers' declared roles (layers.base). MAPPINGS holds one reader per
hardware mapping; a new mapping (e.g. temporal store-and-release) is one more reader that fills
each layer's `NeuronModel` with its own reset mode and windows, while partition, place and route
stay as they are.

"spatial" (scatter-and-gather, T = 1): the encoding layer (float) and the readout (float) stay
off-chip; every synapse + stateless threshold-ladder neuron pair in between becomes one
`CoreLayer` with the spatial neuron model (hard reset, one tick to integrate, one to fire).
A dense layer is treated as a 1 x 1 convolution over a 1 x 1 "image" of F input channels.

Hardware neuron of sub-neuron i of channel c: fires iff s * V >= s * t[c, i] (s = sign). With
s = -1 the weights of that channel are negated (ternary stays ternary) and the threshold too,
so every hardware neuron fires iff V' >= t'. Thresholds beyond the reachable membrane range
(including the converter's int32 sentinels for gamma == 0) are clipped to it: t' > v_max never
fires, t' <= -v_max always does, which is exactly what the clipped values do.
"""
from dataclasses import dataclass, field

import keras
import numpy as np

from hardware.spec import HardwareError
from layers.base import role_of
from layers.preprocessing import CentralCrop, PerImageStandardization

# Keras layers that only reshape or preprocess: no neurons, nothing to map.
_STRUCTURAL = (keras.layers.InputLayer, keras.layers.Rescaling, keras.layers.Reshape, CentralCrop,
               PerImageStandardization)
RESETS = ("hard", "subtractive")


@dataclass(frozen=True)
class NeuronModel:
    """How a layer's hardware neurons integrate and fire (PAIBox-style registers, per layer).

    reset: "hard" (to 0 after firing; the spatial mapping's stateless neurons) or "subtractive"
    (subtract the threshold: temporal / rate neurons). integrate_ticks: the ticks a neuron
    accumulates input before it may fire (the store window); fire_ticks: the ticks it may emit
    spikes (the release window). The spatial defaults are what every layer uses today.
    """

    reset: str = "hard"
    integrate_ticks: int = 1
    fire_ticks: int = 1

    def __post_init__(self):
        if self.reset not in RESETS:
            raise ValueError(f"reset must be one of {RESETS}, got {self.reset!r}")
        if self.integrate_ticks < 1 or self.fire_ticks < 1:
            raise ValueError("integrate_ticks and fire_ticks must be >= 1")


SPATIAL = NeuronModel()


@dataclass
class CoreLayer:
    name: str  # the neuron layer (act1, ...): its counts are what we compare
    synapse: str  # the synapse layer (pool1, fc4, ...)
    kind: str  # "conv" or "dense"
    in_shape: tuple  # (H, W, C) of input counts (dense: (1, 1, F))
    out_shape: tuple  # (H', W', C')
    kernel: np.ndarray  # (kh, kw, C, C') int64, sign-folded (negative-sign channels negated)
    strides: tuple
    pads: tuple  # (top, left) zero padding
    levels_in: int  # L of the input counts (axons per input neuron)
    levels: int  # L of this layer (hardware neurons per ANN neuron)
    thresholds: np.ndarray  # (C', L) int64, sign-folded and clipped: fire iff V' >= t'
    v_max: np.ndarray  # (C',) worst-case |V'| = levels_in * sum |w|
    neuron: NeuronModel = field(default=SPATIAL)
    # temporal mapping only (hardware.temporal): per output channel
    steps: np.ndarray = None  # the subtractive reset s (= the positive threshold register)
    leak: np.ndarray = None  # lambda: the leak register, added in every working tick
    controls: tuple = None  # hardware.temporal.Control groups of controller axons
    unscaled_channels: int = 0  # channels whose weights are the SG's own (not the SR's scaled ones)
    idle_ticks: int = 0  # working ticks before its store window, while the layers below work

    @property
    def temporal(self):
        return self.controls is not None

    @property
    def n_in(self):
        return int(np.prod(self.in_shape)) * self.levels_in

    @property
    def n_out(self):
        return int(np.prod(self.out_shape)) * self.levels


@dataclass
class CoreNetwork:
    layers: list  # CoreLayer, in order
    encoder: object  # keras.Model: images -> encoding counts (batch, 1, H, W, C), off-chip
    readout: object  # the SpikingReadout layer (off-chip)
    probe: object  # keras.Model: images -> {layer name: counts} of every spiking layer + logits
    encoder_name: str
    encoder_levels: int


def _same_pads(size, k, s):
    out = -(-size // s)
    total = max((out - 1) * s + k - size, 0)
    return total // 2


def extract(snn, mapping="spatial"):
    """CoreNetwork of `snn` for `mapping` (a key of MAPPINGS), or HardwareError naming what cannot
    be mapped."""
    if mapping not in MAPPINGS:
        raise HardwareError(f"unknown hardware mapping {mapping!r}; valid: {', '.join(MAPPINGS)}")
    return MAPPINGS[mapping](snn)


def extract_spatial(snn):
    """The spatial (scatter-and-gather, T = 1) reading of a converted SNN."""
    layers, problems = [], []
    encoder = readout = synapse = None
    for layer in snn.layers:
        role = role_of(layer)
        if role == "encoder":
            encoder = layer
        elif role == "synapse":
            synapse = layer
        elif role == "neuron" and (layer.signed or not layer.stateless):
            problems.append(f"{layer.name} ({type(layer).__name__}: the spatial mapping needs stateless "
                            "neurons with unsigned spikes)")
        elif role == "neuron":
            if synapse is None:
                problems.append(f"{layer.name}: no synapse before it")
                continue
            layers.append(_layer(synapse, layer, layers[-1].levels if layers else encoder.levels))
            synapse = None
        elif role == "readout":
            readout = layer
        elif role is None and isinstance(layer, _STRUCTURAL):
            continue
        else:
            problems.append(f"{layer.name} ({type(layer).__name__})")
    if encoder is None or readout is None or not layers:
        problems.append("needs a SpikeEncoding, at least one hidden spiking layer and a SpikingReadout")
    if encoder is not None and encoder.time_steps != 1:
        problems.append(f"time_steps {encoder.time_steps}: the core mapping is for SG with T = 1")
    if problems:
        raise HardwareError(f"cannot map {snn.name!r}: " + "; ".join(problems))
    enc_model = keras.Model(snn.input, encoder.output, name="offchip_encoder")
    outputs = {encoder.name: encoder.output, **{l.name: snn.get_layer(l.name).output for l in layers},
               "logits": snn.output}
    probe = keras.Model(snn.input, outputs, name="sg_probe")
    return CoreNetwork(layers, enc_model, readout, probe, encoder.name, encoder.levels)


def _layer(synapse, neuron, levels_in):
    kernel = np.asarray(keras.ops.convert_to_numpy(synapse.kernel)).astype(np.int64)
    in_shape = tuple(int(d) for d in synapse.input.shape[2:])
    out_shape = tuple(int(d) for d in synapse.output.shape[2:])
    if synapse.operation == "dense":
        kind, kernel = "dense", kernel[None, None]
        in_shape, out_shape, strides, pads = (1, 1, in_shape[0]), (1, 1, out_shape[0]), (1, 1), (0, 0)
    else:
        kind, strides = "conv", tuple(int(s) for s in synapse.strides)
        if synapse.padding == "same":
            pads = tuple(_same_pads(n, k, s) for n, k, s in zip(in_shape[:2], kernel.shape[:2], strides))
        else:
            pads = (0, 0)
    signs = np.asarray(keras.ops.convert_to_numpy(neuron.signs)).astype(np.int64)
    thresholds = np.asarray(keras.ops.convert_to_numpy(neuron.thresholds)).astype(np.int64)
    if not np.all(np.isin(signs, (-1, 1))):
        raise HardwareError(f"{neuron.name}: signs must be +1 or -1")
    kernel = kernel * signs  # broadcast over the output-channel axis
    thresholds = thresholds * signs[:, None]
    v_max = levels_in * np.abs(kernel).reshape(-1, kernel.shape[-1]).sum(axis=0)
    thresholds = np.clip(thresholds, -v_max[:, None], v_max[:, None] + 1)
    return CoreLayer(neuron.name, synapse.name, kind, in_shape, out_shape, kernel, strides, pads,
                     int(levels_in), int(neuron.levels), thresholds, v_max, SPATIAL)


def register_encoding(thresholds):
    """(theta_pos, bias) registers for sign-folded thresholds t: fire iff V + bias >= theta_pos.

    theta_pos is unsigned and >= 1, so t <= 0 moves into the bias (leak) register:
    theta_pos = max(t, 1), bias = theta_pos - t >= 0.
    """
    theta = np.maximum(thresholds, 1)
    return theta, theta - thresholds


MAPPINGS = {"spatial": extract_spatial}  # hardware mapping -> reader; hardware.temporal adds "temporal"
