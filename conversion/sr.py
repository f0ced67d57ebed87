"""Store-and-release conversion: quantized ANN -> temporal spiking Keras model (docs/conversions.md §5-6).

The same source models as scatter-and-gather (bounded median quantizers, ternary hidden weights),
converted temporally: one IF neuron per ANN neuron. The encoding layer (BurstEncoding, off-chip
in hardware) sends its count q as q unit spikes in the first q ticks of its window of
L_0 = 2^k B ticks; every hidden layer integrates the window of the layer below and then
releases its own count over the next L ticks (StoreReleaseNeuron); the readout sums the spikes
of the last window. Windows follow each other, so the latency is the sum of the windows and a
pipelined network takes one image per window.

Per channel the SG threshold ladder (conversion.thresholds.fold, calibrated against the float32
ANN) is turned into an integer progression theta + i * step (conversion.sr_fit), the channel's
weights multiplied by the smallest integer scale that makes one exist, and sign-folded (a BN with
negative gamma fires for V <= t: the neuron integrates -V instead). The report says per layer
how many channels needed a scale and the weight width that results.

Layer names carry over as in SG: synapses keep theirs, act0 is the encoder, act1.. the neurons.
"""
from dataclasses import dataclass, field

import keras
import numpy as np

from conversion.chain import (ConversionError, Converter, ann_counts, convert_chain,
                              integer_kernel)
# The encoder, the synapse checks and the readout are scatter-and-gather's: the same ANNs, the same rules.
from conversion.sg import _check_classifier, _check_float_conv, _check_quant_synapse, _classifier, _encoding_conv
from conversion.sr_fit import FitError, fit_progression
from conversion.thresholds import bn_parameters, fold
from layers.base import FLOAT32_EXACT
from layers.dynamic import BurstEncoding
from layers.quantized import QuantActivation, QuantConv2D, QuantDense
from layers.spiking import SpikingConv2D, SpikingDense
from layers.store_release import StoreReleaseNeuron

KERNEL_MAX = 127  # the synapse's int8 kernel: |scale * w| <= 127


@dataclass
class _State:
    time_steps: int = 1  # ticks of the current spiking tensor (its window), for Flatten
    calibrate: bool = True
    inputs: object = None
    x: object = None
    spiking: bool = False
    synapse: object = None  # the source synapse the next activation fires for
    bn: object = None
    kernel: np.ndarray = None  # its integer kernel (ANN's, unscaled)
    scale_in: float = None
    levels_in: int = None
    tick: int = 0  # where the next release window opens
    report: dict = field(default_factory=dict)


def convert_sr(model, return_report=False, calibrate=True):
    """Convert `model` to a store-and-release spiking model.

    With return_report, also returns {layer: {...}}: window (start, ticks), threshold corrections
    of the calibration, channels that needed a weight scale, the largest scale, the weight range
    and its signed bit width; and "latency_ticks".
    """
    state = _State(calibrate=bool(calibrate))
    convert_chain(model, CONVERTERS, state, "sr")
    snn = keras.Model(state.inputs, state.x, name=f"{model.name}_sr")
    state.report["latency_ticks"] = state.tick
    return (snn, state.report) if return_report else snn


# --------------------------------------------------------------------------------- converters


def _hidden_synapse(layer, state):
    if not state.spiking:
        raise ConversionError(f"{layer.name}: a hidden synapse needs spiking input (an encoding layer first)")
    state.kernel = integer_kernel(layer).astype(np.int64)
    if isinstance(layer, QuantConv2D):
        synapse = SpikingConv2D(layer.filters, layer.kernel_size, layer.strides, layer.padding, name=layer.name)
    else:
        synapse = SpikingDense(layer.units, name=layer.name)
    state.x = synapse(state.x)  # its kernel is assigned by the activation (scaled, sign-folded)
    state.synapse, state.bn = synapse, None


def _check_activation(layer, pos, options):
    if layer.mode != "median" or layer.B is None:
        return f"mode {layer.mode!r}: store-and-release needs the bounded median quantizer (mode='median')"
    if layer.levels != 2**layer.k * layer.B:
        return f"2^k * B = {2**layer.k * layer.B} must be an integer number of levels"
    return None


def _activation(layer, state):
    if state.synapse is None:
        raise ConversionError(f"{layer.name}: a QuantActivation must follow a conv/dense (+ BatchNormalization)")
    if state.spiking:
        _hidden_neuron(layer, state)
    else:
        _encoding(layer, state)
    state.spiking, state.synapse, state.bn = True, None, None
    state.scale_in, state.levels_in = 2.0**layer.k, layer.levels
    state.time_steps = layer.levels
    state.tick += layer.levels


def _encoding(layer, state):
    conv, scale = state.synapse, 2.0**layer.k
    neuron = BurstEncoding(conv.filters, conv.kernel_size, layer.levels, scale, conv.strides, conv.padding,
                           layer.levels, name=layer.name)
    state.x = neuron(state.x)
    neuron.kernel.assign(conv.kernel.numpy())
    ladder = fold(layer.name, state.bn, conv.filters, layer.k, layer.levels, scale,
                  ann_counts(state.bn, layer, scale), "float32", calibrated=state.calibrate)
    neuron.thresholds.assign(ladder.thresholds)
    neuron.signs.assign(ladder.signs)
    state.report[layer.name] = {"role": "encoding", "window": [state.tick, layer.levels],
                                "corrections": ladder.corrections}


def _hidden_neuron(layer, state):
    kernel, channels = state.kernel, state.kernel.shape[-1]
    fan_in_abs = np.abs(kernel).reshape(-1, channels).sum(axis=0)
    v_max = state.levels_in * fan_in_abs  # |V| over any input window (noise only lowers counts)
    ladder = fold(layer.name, state.bn, channels, layer.k, layer.levels, state.scale_in,
                  ann_counts(state.bn, layer, state.scale_in), "int", float(v_max.max(initial=0)),
                  calibrated=state.calibrate)
    signs = ladder.signs.astype(np.int64)
    t = np.clip(ladder.thresholds.astype(np.int64) * signs[:, None], -v_max[:, None], v_max[:, None] + 1)
    w_max = np.abs(kernel).reshape(-1, channels).max(axis=0)
    try:
        prog = fit_progression(t, v_max, _spacing(state.bn, channels, layer.k, state.scale_in),
                               KERNEL_MAX // np.maximum(w_max, 1))
    except FitError as err:
        raise ConversionError(f"{layer.name}: {err}") from None
    worst = int(np.max(prog.scale * v_max + layer.levels * prog.step + np.abs(prog.theta), initial=0))
    if worst >= FLOAT32_EXACT:
        raise ConversionError(f"{layer.name}: scaled membrane potentials up to {worst} exceed 2^24, "
                              "where float32 stops being exact")
    scaled = kernel * (prog.scale * signs)  # over the output-channel axis
    state.synapse.kernel.assign(scaled.astype(np.int8))
    neuron = StoreReleaseNeuron(layer.levels, window_start=state.tick, name=layer.name)
    state.x = neuron(state.x)
    neuron.theta.assign(prog.theta.astype(np.float32))
    neuron.step.assign(prog.step.astype(np.float32))
    lo, hi = int(scaled.min(initial=0)), int(scaled.max(initial=0))
    state.report[layer.name] = {
        "role": "hidden", "window": [state.tick, layer.levels], "corrections": ladder.corrections,
        "channels": int(channels), "scaled_channels": prog.scaled_channels, "max_scale": int(prog.scale.max()),
        "weight_range": [lo, hi], "weight_bits": signed_bits(lo, hi), "worst_membrane": worst,
    }


def _spacing(bn, channels, k_out, scale_in):
    """Exact-math distance between consecutive SG thresholds, s_in sigma / (|gamma| 2^k)."""
    gamma, _, _, var, eps = bn_parameters(bn, channels)
    with np.errstate(divide="ignore"):
        return scale_in * np.sqrt(var + eps) / (np.abs(gamma) * 2.0**k_out)


def signed_bits(lo, hi):
    """Bits of the two's-complement integer holding lo..hi."""
    return max((-int(lo) - 1).bit_length() if lo < 0 else 0, max(int(hi), 0).bit_length()) + 1


CONVERTERS = {  # the structural ones (input, preprocessing, Flatten, BN) come from conversion.chain
    keras.layers.Conv2D: Converter(_encoding_conv, _check_float_conv),
    QuantConv2D: Converter(_hidden_synapse, _check_quant_synapse),
    QuantDense: Converter(_hidden_synapse, _check_quant_synapse),
    QuantActivation: Converter(_activation, _check_activation),
    keras.layers.Dense: Converter(_classifier, _check_classifier),
}
