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

from conversion.thresholds import FLOAT32_EXACT, fold
from layers.preprocessing import CentralCrop, PerImageStandardization
from layers.quantized import QuantActivation, QuantConv2D, QuantDense
from layers.spiking import MultiThresholdNeuron, SpikeEncoding, SpikingConv2D, SpikingDense, SpikingReadout

INTEGER_KERNELS = ("ternary", "binary")  # quantizers whose kernels are small integers


class ConversionError(ValueError):
    """The model cannot be converted; the message names the layers and why."""


@dataclass
class _Converter:
    apply: callable
    check: callable  # (layer, position) -> reason string or None


_REGISTRY = {}


def converts(*types, check=None):
    """Register `fn(layer, state)` as the converter of source layers of exactly these types."""

    def register(fn):
        for t in types:
            _REGISTRY[t] = _Converter(fn, check or (lambda layer, pos: None))
        return fn

    return register


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


@dataclass
class _Position:
    index: int
    is_last: bool
    first_synapse: bool  # the first conv/dense of the model (the encoding layer)


# ----------------------------------------------------------------------------------- public


def convert_sg(model, time_steps=1, return_report=False, calibrate=True):
    """Convert `model` to a scatter-and-gather spiking model (T = `time_steps`, 1 in SG).

    With return_report, also returns {layer: {"thresholds", "corrections", "lattice"}}: how many
    thresholds the float32 calibration moved away from the exact-math value (see thresholds.py).
    calibrate=False keeps the exact-math thresholds (diagnostic only: the SNN may then differ from
    the float32 ANN at near-ties).
    """
    chain = _chain(model)
    _check_all(model, chain)
    state = _State(time_steps=int(time_steps), calibrate=bool(calibrate))
    for layer in chain:
        _REGISTRY[type(layer)].apply(layer, state)
    snn = keras.Model(state.inputs, state.x, name=f"{model.name}_snn")
    return (snn, state.report) if return_report else snn


# ---------------------------------------------------------------------------- structure checks


def _chain(model):
    """The model's layers in order, or ConversionError if it is not a single chain."""
    layers, prev, problems = [], model.inputs[0] if model.inputs else None, []
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ConversionError(f"cannot convert {model.name!r}: it must have one input and one output")
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            layers.append(layer)
            continue
        try:
            ok = layer.input is prev
        except (AttributeError, ValueError):  # a layer used twice has no single input
            ok = False
        if not ok:
            problems.append(f"{layer.name} ({type(layer).__name__}: not part of a simple chain)")
        layers.append(layer)
        prev = layer.output
    if problems:
        raise ConversionError(f"cannot convert {model.name!r}: " + "; ".join(problems))
    if not any(isinstance(layer, keras.layers.InputLayer) for layer in layers):
        layers.insert(0, model.inputs[0]._keras_history[0])
    return layers


def _check_all(model, chain):
    synapse_types = (keras.layers.Conv2D, keras.layers.Dense, QuantConv2D, QuantDense)
    synapses = [i for i, layer in enumerate(chain) if isinstance(layer, synapse_types)]
    problems = []
    for i, layer in enumerate(chain):
        converter = _REGISTRY.get(type(layer))
        if converter is None:
            problems.append(f"{layer.name} ({type(layer).__name__})")
            continue
        pos = _Position(i, i == len(chain) - 1, bool(synapses) and i == synapses[0])
        reason = converter.check(layer, pos)
        if reason:
            problems.append(f"{layer.name} ({type(layer).__name__}: {reason})")
    if problems:
        raise ConversionError(
            f"cannot convert {model.name!r} with method 'sg': {len(problems)} unsupported layer(s): "
            + "; ".join(problems)
        )


def _plain(layer, what):
    """Reasons a keras conv/dense layer is more than a bias-free linear map."""
    config = layer.get_config()
    if config.get("use_bias"):
        return f"{what} with a bias is not supported"
    if config.get("activation", "linear") != "linear":
        return f"{what} with activation {config['activation']!r} is not supported"
    if tuple(config.get("dilation_rate", (1, 1))) != (1, 1) or config.get("groups", 1) != 1:
        return f"{what} with dilation or groups is not supported"
    if config.get("data_format", "channels_last") != "channels_last":
        return f"{what} must be channels_last"
    return None


# --------------------------------------------------------------------------------- converters


@converts(keras.layers.InputLayer)
def _input(layer, state):
    state.inputs = keras.Input(batch_shape=layer.batch_shape, dtype=layer.dtype, name=layer.name)
    state.x = state.inputs


@converts(keras.layers.Rescaling, CentralCrop, PerImageStandardization)
def _preprocessing(layer, state):
    if state.spiking:
        raise ConversionError(f"{layer.name}: preprocessing after the encoding layer is not supported")
    state.x = type(layer).from_config(layer.get_config())(state.x)


def _check_float_conv(layer, pos):
    if not pos.first_synapse:
        return "a float conv can only be the encoding (first) layer; hidden layers need integer weights"
    return _plain(layer, "the encoding conv")


@converts(keras.layers.Conv2D, check=_check_float_conv)
def _encoding_conv(layer, state):
    state.synapse, state.bn = layer, None


def _check_quant_synapse(layer, pos):
    if pos.first_synapse:
        return "the encoding layer must be a float keras Conv2D"
    if layer.kernel_quantizer not in INTEGER_KERNELS:
        return f"kernel_quantizer {layer.kernel_quantizer!r} has no integer weights; needs one of {INTEGER_KERNELS}"
    return None


@converts(QuantConv2D, QuantDense, check=_check_quant_synapse)
def _hidden_synapse(layer, state):
    if not state.spiking:
        raise ConversionError(f"{layer.name}: a hidden synapse needs spiking input (an encoding layer first)")
    kernel = np.asarray(keras.ops.convert_to_numpy(layer.quantized_kernel()))
    if not np.array_equal(kernel, np.round(kernel)) or np.abs(kernel).max(initial=0) > 127:
        raise ConversionError(f"{layer.name}: quantized kernel is not int8-representable")
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


@converts(keras.layers.Flatten)
def _flatten(layer, state):
    if not state.spiking:
        raise ConversionError(f"{layer.name}: Flatten before the encoding layer is not supported")
    state.x = keras.layers.Reshape((state.time_steps, -1), name=layer.name)(state.x)


def _check_bn(layer, pos):
    if layer.axis not in (-1, len(layer.input.shape) - 1):
        return "only channels-last BatchNormalization is supported"
    return None


@converts(keras.layers.BatchNormalization, check=_check_bn)
def _batch_norm(layer, state):
    if state.synapse is None or state.bn is not None:
        raise ConversionError(f"{layer.name}: BatchNormalization must directly follow a conv/dense layer")
    state.bn = layer


def _check_activation(layer, pos):
    if layer.mode != "median" or layer.B is None:
        return f"mode {layer.mode!r}: scatter-and-gather needs the bounded median quantizer (mode='median')"
    if layer.levels != 2**layer.k * layer.B:
        return f"2^k * B = {2**layer.k * layer.B} must be an integer number of levels"
    return None


@converts(QuantActivation, check=_check_activation)
def _activation(layer, state):
    if state.synapse is None:
        raise ConversionError(f"{layer.name}: a QuantActivation must follow a conv/dense (+ BatchNormalization)")
    encoding = not state.spiking
    scale_in = 2.0**layer.k if encoding else state.scale_in
    channels = int(layer.input.shape[-1])
    ann_counts = _ann_counts(state.bn, layer, scale_in)
    if encoding:
        conv = state.synapse
        neuron = SpikeEncoding(conv.filters, conv.kernel_size, layer.levels, scale_in, conv.strides,
                               conv.padding, state.time_steps, name=layer.name)
        state.x = neuron(state.x)
        neuron.kernel.assign(conv.kernel.numpy())
        ladder = fold(layer.name, state.bn, channels, layer.k, layer.levels, scale_in, ann_counts, "float32",
                      calibrated=state.calibrate)
    else:
        neuron = MultiThresholdNeuron(layer.levels, "int32", name=layer.name)
        state.x = neuron(state.x)
        ladder = fold(layer.name, state.bn, channels, layer.k, layer.levels, scale_in, ann_counts, "int",
                      state.v_max, calibrated=state.calibrate)
    neuron.thresholds.assign(ladder.thresholds)
    neuron.signs.assign(ladder.signs)
    state.report[layer.name] = {"thresholds": int(ladder.thresholds.size), "corrections": ladder.corrections,
                                "lattice": "float32" if encoding else "int32"}
    state.spiking, state.synapse, state.bn = True, None, None
    state.scale_in, state.levels_in = 2.0**layer.k, layer.levels


def _ann_counts(bn, activation, scale_in):
    """The source ANN's own spike count (2^k * quantized activation) for potentials V (L, C)."""
    scale_out = 2.0**activation.k
    rank = len(activation.input.shape)  # layers check their input rank: probe as (L, 1, .., 1, C)

    def counts(v):
        v = np.asarray(v, np.float64)
        z = (v / scale_in).astype(np.float32).reshape(v.shape[0], *[1] * (rank - 2), v.shape[1])
        y = bn(z, training=False) if bn is not None else z
        return keras.ops.convert_to_numpy(activation(y)).reshape(v.shape) * scale_out

    return counts


def _check_classifier(layer, pos):
    if not pos.is_last:
        return "a float Dense can only be the classifier (last layer); hidden layers need integer weights"
    return _plain(layer, "the classifier")


@converts(keras.layers.Dense, check=_check_classifier)
def _classifier(layer, state):
    if not state.spiking:
        raise ConversionError(f"{layer.name}: the classifier needs spiking input")
    readout = SpikingReadout(layer.units, name=layer.name)
    state.x = readout(state.x)
    readout.kernel.assign(layer.kernel.numpy())
