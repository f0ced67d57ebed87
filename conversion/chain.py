"""What every conversion method shares: the chain walk, the check-all-first registry, the
structural converters and the ANN activation probe.

A method supplies only the converters that differ (its synapses, neurons and readout) as a dict
{source layer type: Converter}; `convert_chain` adds the structural ones (input, preprocessing,
Flatten, BatchNormalization), checks every layer before any work (one ConversionError lists every
unsupported layer by name and type) and then applies the converters in order.

A converter is `apply(layer, state)`; its check is `check(layer, pos, options)` and returns a
reason string or None. The state is the method's own object; the structural converters use only
the fields every method has: `inputs`, `x` (the spiking model's tensor so far), `time_steps`,
`spiking` (past the encoder), `synapse` (the source synapse the next activation fires for), `bn`.
"""
from dataclasses import dataclass

import keras
import numpy as np

from layers.preprocessing import CentralCrop, PerImageStandardization
from layers.quantized import QuantActivation, QuantConv2D, QuantDense

INTEGER_KERNELS = ("ternary", "binary")  # quantizers whose kernels are small integers
SOURCE_SYNAPSES = (keras.layers.Conv2D, keras.layers.Dense, QuantConv2D, QuantDense)


class ConversionError(ValueError):
    """The model cannot be converted; the message names the layers and why."""


def _no_check(layer, pos, options):
    return None


@dataclass(frozen=True)
class Converter:
    apply: callable  # (layer, state)
    check: callable = _no_check  # (layer, pos, options) -> reason string or None


@dataclass(frozen=True)
class Position:
    index: int
    is_last: bool
    first_synapse: bool  # the first conv/dense of the model (the encoding layer)
    first_activation: bool  # the first QuantActivation (the encoding neurons)


def convert_chain(model, converters, state, method, options=None, require_activation=False, detail=""):
    """Check every layer of `model` with `converters` (plus STRUCTURAL), then apply them to `state`.

    `options` is passed to the checks; `method` and `detail` name the conversion in the error.
    Returns the state after the last layer.
    """
    registry = {**STRUCTURAL, **converters}
    chain = layer_chain(model)
    check_all(model, chain, registry, options, method, require_activation, detail)
    for layer in chain:
        registry[type(layer)].apply(layer, state)
    return state


def layer_chain(model):
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


def check_all(model, chain, registry, options, method, require_activation=False, detail=""):
    """ConversionError listing every layer that has no converter or whose check fails."""
    synapses = [i for i, layer in enumerate(chain) if isinstance(layer, SOURCE_SYNAPSES)]
    activations = [i for i, layer in enumerate(chain) if isinstance(layer, QuantActivation)]
    problems = []
    for i, layer in enumerate(chain):
        converter = registry.get(type(layer))
        if converter is None:
            problems.append(f"{layer.name} ({type(layer).__name__})")
            continue
        pos = Position(i, i == len(chain) - 1, bool(synapses) and i == synapses[0],
                       bool(activations) and i == activations[0])
        reason = converter.check(layer, pos, options)
        if reason:
            problems.append(f"{layer.name} ({type(layer).__name__}: {reason})")
    if require_activation and not activations:
        problems.append("the model has no QuantActivation (nothing to convert into spiking neurons)")
    if problems:
        raise ConversionError(
            f"cannot convert {model.name!r} with method {method!r}{detail}: {len(problems)} unsupported "
            f"layer(s): " + "; ".join(problems)
        )


# ------------------------------------------------------------------------------ shared checks


def plain_reason(layer, what):
    """Why a keras conv/dense layer is more than a bias-free linear map (None: it is one)."""
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


def integer_kernel(layer, dtype=None):
    """The quantized kernel of an integer-weight layer as numpy; ConversionError if not int8."""
    kernel = np.asarray(keras.ops.convert_to_numpy(layer.quantized_kernel()), dtype)
    if not np.array_equal(kernel, np.round(kernel)) or np.abs(kernel).max(initial=0) > 127:
        raise ConversionError(f"{layer.name}: quantized kernel is not int8-representable")
    return kernel


def ann_counts(bn, activation, scale_in):
    """The source ANN's own spike count (2^k * quantized activation) for potentials V (L, C).

    Asks the ANN's own BN and quantizer layers, so the SNN's thresholds sit at the float32
    ANN's switch points (conversion.thresholds)."""
    scale_out = 2.0**activation.k
    rank = len(activation.input.shape)  # layers check their input rank: probe as (L, 1, .., 1, C)

    def counts(v):
        v = np.asarray(v, np.float64)
        z = (v / scale_in).astype(np.float32).reshape(v.shape[0], *[1] * (rank - 2), v.shape[1])
        y = bn(z, training=False) if bn is not None else z
        return keras.ops.convert_to_numpy(activation(y)).reshape(v.shape) * scale_out

    return counts


# ----------------------------------------------------------------------- structural converters


def _input(layer, state):
    state.inputs = keras.Input(batch_shape=layer.batch_shape, dtype=layer.dtype, name=layer.name)
    state.x = state.inputs


def _preprocessing(layer, state):
    if state.spiking:
        raise ConversionError(f"{layer.name}: preprocessing after the encoding layer is not supported")
    state.x = type(layer).from_config(layer.get_config())(state.x)


def _flatten(layer, state):
    if not state.spiking:
        raise ConversionError(f"{layer.name}: Flatten before the encoding layer is not supported")
    state.x = keras.layers.Reshape((state.time_steps, -1), name=layer.name)(state.x)


def _check_bn(layer, pos, options):
    if layer.axis not in (-1, len(layer.input.shape) - 1):
        return "only channels-last BatchNormalization is supported"
    return None


def _batch_norm(layer, state):
    if state.synapse is None or state.bn is not None:
        raise ConversionError(f"{layer.name}: BatchNormalization must directly follow a conv/dense layer")
    state.bn = layer


STRUCTURAL = {
    keras.layers.InputLayer: Converter(_input),
    keras.layers.Rescaling: Converter(_preprocessing),
    CentralCrop: Converter(_preprocessing),
    PerImageStandardization: Converter(_preprocessing),
    keras.layers.Flatten: Converter(_flatten),
    keras.layers.BatchNormalization: Converter(_batch_norm, _check_bn),
}
