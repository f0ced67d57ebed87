"""All-integer conversion: quantized ANN -> T-step spiking Keras model with dynamic thresholds.

docs/conversions.md §3-4. Same shape as conversion.sg: a registry with one converter per source layer type,
every layer checked before any work (one ConversionError listing every unsupported layer), layer
names carried over (synapses keep theirs; act0 is the BurstEncoding that absorbs conv0 and bn0,
act1.. are DynamicThresholdNeurons that absorb bn1..; the classifier becomes an
AccumulatingReadout with logits per step, (batch, T, classes)).

    snn = convert_allint(model, time_steps=30, use_int=True)

Source models: the `lenet_allint` / `cnn1` presets. The encoding activation is a bounded median
quantizer (k=0, B=4 in the paper); hidden activations are unbounded (mode="unbounded"). Hidden
weights are ternary (integer) or float (use_ternary=False): float weights work in float mode only.
"""
from dataclasses import dataclass, field

import keras
import numpy as np

from conversion.allint_constants import INT32_LIMIT, encoding_levels, hidden_constants
from conversion.sg import INTEGER_KERNELS, ConversionError, _ann_counts, _chain, _plain
from conversion.thresholds import fold
from layers.dynamic import AccumulatingReadout, BurstEncoding, DynamicThresholdNeuron, SignedConv2D, SignedDense
from layers.preprocessing import CentralCrop, PerImageStandardization
from layers.quantized import QuantActivation, QuantConv2D, QuantDense

INT_SCALE = 10_000
_PREPROCESSING = (keras.layers.Rescaling, CentralCrop, PerImageStandardization)
_SYNAPSES = (keras.layers.Conv2D, keras.layers.Dense, QuantConv2D, QuantDense)


@dataclass
class _State:
    time_steps: int
    use_int: bool
    calibrate: bool
    last: object = None  # the model's last layer (the classifier)
    inputs: object = None
    x: object = None
    spiking: bool = False
    synapse: object = None  # the source synapse layer the next activation fires for
    bn: object = None
    integer_weights: bool = True  # the current synapse's weights are integers
    scale_in: float = None  # 2^k of the counts the current synapse receives
    s_in_max: int = None  # largest net count of the layer below
    v_max: np.ndarray = None  # (C,) bound on |V| of the current synapse (input units)
    report: dict = field(default_factory=dict)

    @property
    def arithmetic(self):
        return "int" if self.use_int else "float"

    @property
    def spike_dtype(self):
        return "int32" if self.use_int else "float32"


@dataclass
class _Position:
    index: int
    is_last: bool
    first_synapse: bool
    first_activation: bool


_REGISTRY = {}


def converts(*types, check=None):
    """Register `fn(layer, state)` for source layers of these types; check(layer, pos, use_int)."""

    def register(fn):
        for t in types:
            _REGISTRY[t] = (fn, check or (lambda layer, pos, use_int: None))
        return fn

    return register


# ----------------------------------------------------------------------------------- public


def convert_allint(model, time_steps=30, use_int=False, calibrate=True, return_report=False):
    """Convert `model` to an all-integer spiking model with `time_steps` steps.

    use_int: integer mode (membranes, thresholds, steps scaled by 10^4, int32/int64 arithmetic,
    needs integer hidden weights) instead of float mode (float64 state).
    calibrate: choose the constants so that the converged counts equal the ANN's exactly (see
    conversion.allint_constants); False: the seed's plain constants (float theta_0, d, or
    round(10^4 x)), a diagnostic that may differ from the ANN at near-ties.
    With return_report, also returns {layer: {...}}: per layer its arithmetic, integer dtype,
    worst-case |value| (integer mode), largest count, and how many constants calibration changed.
    """
    time_steps = int(time_steps)
    if time_steps < 1:
        raise ValueError(f"time_steps must be >= 1, got {time_steps}")
    chain = _chain(model)
    _check_all(model, chain, bool(use_int))
    state = _State(time_steps=time_steps, use_int=bool(use_int), calibrate=bool(calibrate), last=chain[-1])
    for layer in chain:
        _REGISTRY[type(layer)][0](layer, state)
    snn = keras.Model(state.inputs, state.x, name=f"{model.name}_allint{'_int' if use_int else ''}")
    return (snn, state.report) if return_report else snn


def _check_all(model, chain, use_int):
    synapses = [i for i, layer in enumerate(chain) if isinstance(layer, _SYNAPSES)]
    activations = [i for i, layer in enumerate(chain) if isinstance(layer, QuantActivation)]
    problems = []
    for i, layer in enumerate(chain):
        entry = _REGISTRY.get(type(layer))
        if entry is None:
            problems.append(f"{layer.name} ({type(layer).__name__})")
            continue
        pos = _Position(i, i == len(chain) - 1, bool(synapses) and i == synapses[0],
                        bool(activations) and i == activations[0])
        reason = entry[1](layer, pos, use_int)
        if reason:
            problems.append(f"{layer.name} ({type(layer).__name__}: {reason})")
    if not activations:
        problems.append("the model has no QuantActivation (nothing to convert into spiking neurons)")
    if problems:
        raise ConversionError(
            f"cannot convert {model.name!r} with method 'allint'{' (use_int=True)' if use_int else ''}: "
            f"{len(problems)} unsupported layer(s): " + "; ".join(problems)
        )


# --------------------------------------------------------------------------------- converters


@converts(keras.layers.InputLayer)
def _input(layer, state):
    state.inputs = keras.Input(batch_shape=layer.batch_shape, dtype=layer.dtype, name=layer.name)
    state.x = state.inputs


@converts(*_PREPROCESSING)
def _preprocessing(layer, state):
    if state.spiking:
        raise ConversionError(f"{layer.name}: preprocessing after the encoding layer is not supported")
    state.x = type(layer).from_config(layer.get_config())(state.x)


def _float_weight_reason(layer, use_int):
    if use_int:
        return ("integer mode (use_int=True) needs integer hidden weights, this layer has float weights "
                "(train with --use_ternary True, or convert with use_int=False)")
    return None


def _check_float_synapse(layer, pos, use_int):
    if pos.is_last:
        if not isinstance(layer, keras.layers.Dense):
            return "the last layer must be the float Dense classifier"
        return _plain(layer, "the classifier")
    if pos.first_synapse:
        if isinstance(layer, keras.layers.Dense):
            return "the encoding (first) layer must be a Conv2D"
        return _plain(layer, "the encoding conv")
    return _plain(layer, "a float hidden layer") or _float_weight_reason(layer, use_int)


@converts(keras.layers.Conv2D, keras.layers.Dense, check=_check_float_synapse)
def _float_synapse(layer, state):
    if layer is state.last:
        if not state.spiking:
            raise ConversionError(f"{layer.name}: the classifier needs spiking input")
        _classifier(layer, state)
        return
    if not state.spiking:  # the encoding conv: absorbed by the encoding neurons
        state.synapse, state.bn = layer, None
        return
    _hidden_synapse(layer, np.asarray(layer.kernel.numpy(), np.float32), state, integer=False)


def _check_quant_synapse(layer, pos, use_int):
    if pos.first_synapse:
        return "the encoding layer must be a float keras Conv2D"
    if layer.kernel_quantizer not in INTEGER_KERNELS:
        return _float_weight_reason(layer, use_int)
    return None


@converts(QuantConv2D, QuantDense, check=_check_quant_synapse)
def _quant_synapse(layer, state):
    kernel = np.asarray(keras.ops.convert_to_numpy(layer.quantized_kernel()), np.float32)
    integer = layer.kernel_quantizer in INTEGER_KERNELS
    if integer and (not np.array_equal(kernel, np.round(kernel)) or np.abs(kernel).max(initial=0) > 127):
        raise ConversionError(f"{layer.name}: quantized kernel is not int8-representable")
    _hidden_synapse(layer, kernel, state, integer)


def _hidden_synapse(layer, kernel, state, integer):
    if not state.spiking:
        raise ConversionError(f"{layer.name}: a hidden synapse needs spiking input (an encoding layer first)")
    kernel_dtype = "int8" if integer else "float32"
    args = dict(arithmetic=state.arithmetic, kernel_dtype=kernel_dtype, name=layer.name)
    if kernel.ndim == 4:
        synapse = SignedConv2D(layer.filters, layer.kernel_size, layer.strides, layer.padding, **args)
    else:
        synapse = SignedDense(layer.units, **args)
    state.x = synapse(state.x)
    synapse.kernel.assign(kernel.astype(kernel_dtype))
    fan_in_abs = np.abs(kernel.astype(np.float64)).reshape(-1, kernel.shape[-1]).sum(axis=0)
    state.v_max = fan_in_abs * state.s_in_max
    state.synapse, state.bn, state.integer_weights = layer, None, integer


@converts(keras.layers.Flatten)
def _flatten(layer, state):
    if not state.spiking:
        raise ConversionError(f"{layer.name}: Flatten before the encoding layer is not supported")
    state.x = keras.layers.Reshape((state.time_steps, -1), name=layer.name)(state.x)


def _check_bn(layer, pos, use_int):
    if layer.axis not in (-1, len(layer.input.shape) - 1):
        return "only channels-last BatchNormalization is supported"
    return None


@converts(keras.layers.BatchNormalization, check=_check_bn)
def _batch_norm(layer, state):
    if state.synapse is None or state.bn is not None:
        raise ConversionError(f"{layer.name}: BatchNormalization must directly follow a conv/dense layer")
    state.bn = layer


def _check_activation(layer, pos, use_int):
    if pos.first_activation:
        if layer.mode != "median" or layer.B is None:
            return "the encoding activation must be the bounded median quantizer (k=0, B=4 in the paper)"
        if layer.levels != 2**layer.k * layer.B:
            return f"2^k * B = {2**layer.k * layer.B} must be an integer number of levels"
        return None
    if layer.mode != "unbounded":
        return (f"hidden activation is bounded (mode={layer.mode!r}, B={layer.B}): the all-integer SNN needs "
                "unbounded hidden quantizers (mode='unbounded', the lenet_allint / cnn1 presets); "
                "convert bounded models with method='sg'")
    return None


@converts(QuantActivation, check=_check_activation)
def _activation(layer, state):
    if state.synapse is None:
        raise ConversionError(f"{layer.name}: a QuantActivation must follow a conv/dense (+ BatchNormalization)")
    if not state.spiking:
        _encoding(layer, state)
    else:
        _hidden_neuron(layer, state)
    state.spiking, state.synapse, state.bn = True, None, None


def _encoding(layer, state):
    conv, channels = state.synapse, int(layer.input.shape[-1])
    levels, scale = encoding_levels(layer), 2.0**layer.k
    neuron = BurstEncoding(conv.filters, conv.kernel_size, levels, scale, conv.strides, conv.padding,
                           state.time_steps, state.spike_dtype, name=layer.name)
    state.x = neuron(state.x)
    neuron.kernel.assign(conv.kernel.numpy())
    ladder = fold(layer.name, state.bn, channels, layer.k, levels, scale, _ann_counts(state.bn, layer, scale),
                  "float32", calibrated=state.calibrate)
    neuron.thresholds.assign(ladder.thresholds)
    neuron.signs.assign(ladder.signs)
    state.report[layer.name] = {"role": "encoding", "levels": levels, "corrections": ladder.corrections}
    state.scale_in, state.s_in_max = scale, min(levels, state.time_steps)


def _hidden_neuron(layer, state):
    channels = int(layer.input.shape[-1])
    consts = hidden_constants(
        layer.name, state.bn, channels, layer.k, state.scale_in, state.v_max, state.time_steps, state.arithmetic,
        state.integer_weights, _ann_counts(state.bn, layer, state.scale_in), state.calibrate, INT_SCALE)
    int_dtype = "int32" if consts.worst <= INT32_LIMIT else "int64"
    neuron = DynamicThresholdNeuron(state.arithmetic, int_dtype, name=layer.name)
    state.x = neuron(state.x)
    dtype = neuron.state_dtype
    for name in ("theta0", "step", "bound", "gain"):
        getattr(neuron, name).assign(np.asarray(getattr(consts, name)).astype(dtype))
    state.report[layer.name] = {
        "role": "hidden", "arithmetic": state.arithmetic, "int_dtype": int_dtype if state.use_int else None,
        "worst_abs_value": consts.worst, "max_count": int(consts.s_max.max(initial=0)),
        "corrections": consts.corrections, "inexact_channels": consts.inexact,
        "exact": bool(state.integer_weights and state.calibrate and consts.inexact == 0),
    }
    state.scale_in, state.s_in_max = 2.0**layer.k, int(consts.s_max.max(initial=0))


def _classifier(layer, state):
    readout = AccumulatingReadout(layer.units, name=layer.name)
    state.x = readout(state.x)
    readout.kernel.assign(layer.kernel.numpy())
