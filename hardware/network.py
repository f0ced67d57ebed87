"""Read the scatter-and-gather spiking Keras model into plain integer layers for the mapper.

Only the spiking model's own weights and thresholds are read (ARCHITECTURE.md: the SNN is the
single IR). The encoding layer (SpikeEncoding, float) and the readout (SpikingReadout, float)
stay off-chip; every synapse + MultiThresholdNeuron pair in between becomes one `SGLayer`.
A dense layer is treated as a 1 x 1 convolution over a 1 x 1 "image" of F input channels.

Hardware neuron of sub-neuron i of channel c: fires iff s * V >= s * t[c, i] (s = sign). With
s = -1 the weights of that channel are negated (ternary stays ternary) and the threshold too,
so every hardware neuron fires iff V' >= t'. Thresholds beyond the reachable membrane range
(including the converter's int32 sentinels for gamma == 0) are clipped to it: t' > v_max never
fires, t' <= -v_max always does, which is exactly what the clipped values do.
"""
from dataclasses import dataclass

import keras
import numpy as np

from hardware.spec import HardwareError
from layers.spiking import (MultiThresholdNeuron, SpikeEncoding, SpikingConv2D, SpikingDense,
                            SpikingReadout)


@dataclass
class SGLayer:
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

    @property
    def n_in(self):
        return int(np.prod(self.in_shape)) * self.levels_in

    @property
    def n_out(self):
        return int(np.prod(self.out_shape)) * self.levels


@dataclass
class SGNetwork:
    layers: list  # SGLayer, in order
    encoder: object  # keras.Model: images -> encoding counts (batch, 1, H, W, C), off-chip
    readout: object  # the SpikingReadout layer (off-chip)
    probe: object  # keras.Model: images -> {layer name: counts} of every spiking layer + logits
    encoder_name: str
    encoder_levels: int


def _same_pads(size, k, s):
    out = -(-size // s)
    total = max((out - 1) * s + k - size, 0)
    return total // 2


def extract(snn):
    """SGNetwork of a converted SG model, or HardwareError naming what cannot be mapped."""
    layers, problems = [], []
    encoder = readout = synapse = None
    for layer in snn.layers:
        if isinstance(layer, SpikeEncoding):
            encoder = layer
        elif isinstance(layer, (SpikingConv2D, SpikingDense)):
            synapse = layer
        elif isinstance(layer, MultiThresholdNeuron):
            if synapse is None:
                problems.append(f"{layer.name}: no synapse before it")
                continue
            layers.append(_layer(synapse, layer, layers[-1].levels if layers else encoder.levels))
            synapse = None
        elif isinstance(layer, SpikingReadout):
            readout = layer
        elif type(layer).__name__ in ("InputLayer", "Rescaling", "Reshape", "CentralCrop",
                                      "PerImageStandardization"):
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
    return SGNetwork(layers, enc_model, readout, probe, encoder.name, encoder.levels)


def _layer(synapse, neuron, levels_in):
    kernel = np.asarray(keras.ops.convert_to_numpy(synapse.kernel)).astype(np.int64)
    in_shape = tuple(int(d) for d in synapse.input.shape[2:])
    out_shape = tuple(int(d) for d in synapse.output.shape[2:])
    if isinstance(synapse, SpikingDense):
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
    return SGLayer(neuron.name, synapse.name, kind, in_shape, out_shape, kernel, strides, pads,
                   int(levels_in), int(neuron.levels), thresholds, v_max)


def register_encoding(thresholds):
    """(theta_pos, bias) registers for sign-folded thresholds t: fire iff V + bias >= theta_pos.

    theta_pos is unsigned and >= 1, so t <= 0 moves into the bias (leak) register:
    theta_pos = max(t, 1), bias = theta_pos - t >= 0.
    """
    theta = np.maximum(thresholds, 1)
    return theta, theta - thresholds
