"""Scatter-and-gather conversion: quantized ANN -> one-step spiking Keras model (docs/conversions.md §1-2).

A registry holds one small converter per source layer type. The model must be a simple chain
(what models.build_model produces). Everything is checked before any work: an unsupported model
fails with one ConversionError that lists every offending layer by name and type.

Layer names carry over, so the spiking model can be compared with the ANN by name: synapses keep
their names (conv1, pool1, fc4, flatten4, classifier), and the layer that emits a spiking layer's
counts is named after the ANN activation it replaces (act0 is the encoding layer, which absorbs
conv0 and bn0; act1.. are MultiThresholdNeurons, which absorb bn1..).
"""
from dataclasses import dataclass, field

import keras
import numpy as np

from conversion.chain import (INTEGER_KERNELS, ConversionError, Converter, ann_counts, convert_chain,
                              integer_kernel, plain_reason)
from conversion.thresholds import fold
from layers.base import FLOAT32_EXACT
from layers.quantized import QuantActivation, QuantConv2D, QuantDense
from layers.spiking import MultiThresholdNeuron, SpikeEncoding, SpikingConv2D, SpikingDense, SpikingReadout


@dataclass
class _State:
    time_steps: int
    calibrate: bool = True
    inputs: object = None  # the spiking model's input
    x: object = None  # the spiking model's tensor so far
    spiking: bool = False  # False while the tensor is still analog (preprocessing)
    synapse: object = None  # the source synapse the next activation fires for
    bn: object = None  # its BatchNormalization, if any
    scale_in: float = None  # 2^k of the counts the current synapse receives
    levels_in: int = None  # L of those counts
    v_max: float = None  # bound on |V| of the current synapse
    report: dict = field(default_factory=dict)


# ----------------------------------------------------------------------------------- public


def convert_sg(model, time_steps=1, return_report=False, calibrate=True):
    """Convert `model` to a scatter-and-gather spiking model (T = `time_steps`, 1 in SG).

    With return_report, also returns {layer: {"thresholds", "corrections", "lattice"}}: how many
    thresholds the float32 calibration moved away from the exact-math value (see thresholds.py).
    calibrate=False keeps the exact-math thresholds (diagnostic only: the SNN may then differ from
    the float32 ANN at near-ties).
    """
    state = _State(time_steps=int(time_steps), calibrate=bool(calibrate))
    convert_chain(model, CONVERTERS, state, "sg")
    snn = keras.Model(state.inputs, state.x, name=f"{model.name}_snn")
    return (snn, state.report) if return_report else snn


# --------------------------------------------------------------------------------- converters


def _check_float_conv(layer, pos, options):
    if not pos.first_synapse:
        return "a float conv can only be the encoding (first) layer; hidden layers need integer weights"
    return plain_reason(layer, "the encoding conv")


def _encoding_conv(layer, state):
    state.synapse, state.bn = layer, None


def _check_quant_synapse(layer, pos, options):
    if pos.first_synapse:
        return "the encoding layer must be a float keras Conv2D"
    if layer.kernel_quantizer not in INTEGER_KERNELS:
        return f"kernel_quantizer {layer.kernel_quantizer!r} has no integer weights; needs one of {INTEGER_KERNELS}"
    return None


def _hidden_synapse(layer, state):
    if not state.spiking:
        raise ConversionError(f"{layer.name}: a hidden synapse needs spiking input (an encoding layer first)")
    kernel = integer_kernel(layer)
    # |V| <= L_in * sum |w| over one output neuron's fan-in; float32 must hold it exactly.
    fan_in_abs = np.abs(kernel).reshape(-1, kernel.shape[-1]).sum(axis=0)
    state.v_max = float(state.levels_in * fan_in_abs.max(initial=0))
    if state.v_max >= FLOAT32_EXACT:
        raise ConversionError(f"{layer.name}: membrane potentials up to {state.v_max:.0f} exceed 2^24, "
                              "where float32 stops being exact")
    if isinstance(layer, QuantConv2D):
        synapse = SpikingConv2D(layer.filters, layer.kernel_size, layer.strides, layer.padding, name=layer.name)
    else:
        synapse = SpikingDense(layer.units, name=layer.name)
    state.x = synapse(state.x)
    synapse.kernel.assign(kernel.astype(np.int8))
    state.synapse, state.bn = layer, None


def _check_activation(layer, pos, options):
    if layer.mode != "median" or layer.B is None:
        return f"mode {layer.mode!r}: scatter-and-gather needs the bounded median quantizer (mode='median')"
    if layer.levels != 2**layer.k * layer.B:
        return f"2^k * B = {2**layer.k * layer.B} must be an integer number of levels"
    return None


def _activation(layer, state):
    if state.synapse is None:
        raise ConversionError(f"{layer.name}: a QuantActivation must follow a conv/dense (+ BatchNormalization)")
    encoding = not state.spiking
    scale_in = 2.0**layer.k if encoding else state.scale_in
    channels = int(layer.input.shape[-1])
    counts = ann_counts(state.bn, layer, scale_in)
    if encoding:
        conv = state.synapse
        neuron = SpikeEncoding(conv.filters, conv.kernel_size, layer.levels, scale_in, conv.strides,
                               conv.padding, state.time_steps, name=layer.name)
        state.x = neuron(state.x)
        neuron.kernel.assign(conv.kernel.numpy())
        ladder = fold(layer.name, state.bn, channels, layer.k, layer.levels, scale_in, counts, "float32",
                      calibrated=state.calibrate)
    else:
        neuron = MultiThresholdNeuron(layer.levels, "int32", name=layer.name)
        state.x = neuron(state.x)
        ladder = fold(layer.name, state.bn, channels, layer.k, layer.levels, scale_in, counts, "int",
                      state.v_max, calibrated=state.calibrate)
    neuron.thresholds.assign(ladder.thresholds)
    neuron.signs.assign(ladder.signs)
    state.report[layer.name] = {"thresholds": int(ladder.thresholds.size), "corrections": ladder.corrections,
                                "lattice": "float32" if encoding else "int32"}
    state.spiking, state.synapse, state.bn = True, None, None
    state.scale_in, state.levels_in = 2.0**layer.k, layer.levels


def _check_classifier(layer, pos, options):
    if not pos.is_last:
        return "a float Dense can only be the classifier (last layer); hidden layers need integer weights"
    return plain_reason(layer, "the classifier")


def _classifier(layer, state):
    if not state.spiking:
        raise ConversionError(f"{layer.name}: the classifier needs spiking input")
    readout = SpikingReadout(layer.units, name=layer.name)
    state.x = readout(state.x)
    readout.kernel.assign(layer.kernel.numpy())


CONVERTERS = {  # the structural ones (input, preprocessing, Flatten, BN) come from conversion.chain
    keras.layers.Conv2D: Converter(_encoding_conv, _check_float_conv),
    QuantConv2D: Converter(_hidden_synapse, _check_quant_synapse),
    QuantDense: Converter(_hidden_synapse, _check_quant_synapse),
    QuantActivation: Converter(_activation, _check_activation),
    keras.layers.Dense: Converter(_classifier, _check_classifier),
}
