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
from conversion.chain import (INTEGER_KERNELS, ConversionError, Converter, ann_counts, convert_chain,
                              integer_kernel, plain_reason)
from conversion.thresholds import fold
from layers.dynamic import INT_SCALE, AccumulatingReadout, BurstEncoding, DynamicThresholdNeuron
from layers.quantized import QuantActivation, QuantConv2D, QuantDense
from layers.spiking import SpikingConv2D, SpikingDense


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
    use_int = bool(use_int)
    state = _State(time_steps=time_steps, use_int=use_int, calibrate=bool(calibrate), last=model.layers[-1])
    convert_chain(model, CONVERTERS, state, "allint", options=use_int, require_activation=True,
                  detail=" (use_int=True)" if use_int else "")
    snn = keras.Model(state.inputs, state.x, name=f"{model.name}_allint{'_int' if use_int else ''}")
    return (snn, state.report) if return_report else snn


# --------------------------------------------------------------------------------- converters
# Checks receive use_int as their options.


def _float_weight_reason(layer, use_int):
    if use_int:
        return ("integer mode (use_int=True) needs integer hidden weights, this layer has float weights "
                "(train with --use_ternary True, or convert with use_int=False)")
    return None


def _check_float_synapse(layer, pos, use_int):
    if pos.is_last:
        if not isinstance(layer, keras.layers.Dense):
            return "the last layer must be the float Dense classifier"
        return plain_reason(layer, "the classifier")
    if pos.first_synapse:
        if isinstance(layer, keras.layers.Dense):
            return "the encoding (first) layer must be a Conv2D"
        return plain_reason(layer, "the encoding conv")
    return plain_reason(layer, "a float hidden layer") or _float_weight_reason(layer, use_int)


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


def _quant_synapse(layer, state):
    integer = layer.kernel_quantizer in INTEGER_KERNELS
    if integer:
        kernel = integer_kernel(layer, np.float32)
    else:
        kernel = np.asarray(keras.ops.convert_to_numpy(layer.quantized_kernel()), np.float32)
    _hidden_synapse(layer, kernel, state, integer)


def _hidden_synapse(layer, kernel, state, integer):
    if not state.spiking:
        raise ConversionError(f"{layer.name}: a hidden synapse needs spiking input (an encoding layer first)")
    kernel_dtype = "int8" if integer else "float32"
    args = dict(arithmetic=state.arithmetic, kernel_dtype=kernel_dtype, name=layer.name)
    if kernel.ndim == 4:
        synapse = SpikingConv2D(layer.filters, layer.kernel_size, layer.strides, layer.padding, **args)
    else:
        synapse = SpikingDense(layer.units, **args)
    state.x = synapse(state.x)
    synapse.kernel.assign(kernel.astype(kernel_dtype))
    fan_in_abs = np.abs(kernel.astype(np.float64)).reshape(-1, kernel.shape[-1]).sum(axis=0)
    state.v_max = fan_in_abs * state.s_in_max
    state.synapse, state.bn, state.integer_weights = layer, None, integer


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
    ladder = fold(layer.name, state.bn, channels, layer.k, levels, scale, ann_counts(state.bn, layer, scale),
                  "float32", calibrated=state.calibrate)
    neuron.thresholds.assign(ladder.thresholds)
    neuron.signs.assign(ladder.signs)
    state.report[layer.name] = {"role": "encoding", "levels": levels, "corrections": ladder.corrections}
    state.scale_in, state.s_in_max = scale, min(levels, state.time_steps)


def _hidden_neuron(layer, state):
    channels = int(layer.input.shape[-1])
    consts = hidden_constants(
        layer.name, state.bn, channels, layer.k, state.scale_in, state.v_max, state.time_steps, state.arithmetic,
        state.integer_weights, ann_counts(state.bn, layer, state.scale_in), state.calibrate, INT_SCALE)
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


CONVERTERS = {  # the structural ones (input, preprocessing, Flatten, BN) come from conversion.chain
    keras.layers.Conv2D: Converter(_float_synapse, _check_float_synapse),
    keras.layers.Dense: Converter(_float_synapse, _check_float_synapse),
    QuantConv2D: Converter(_quant_synapse, _check_quant_synapse),
    QuantDense: Converter(_quant_synapse, _check_quant_synapse),
    QuantActivation: Converter(_activation, _check_activation),
}
