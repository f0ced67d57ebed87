"""Rate-coded conversion (docs/rate.md §2-4): a ReLU network without BN or biases -> IF neurons.

    scales = percentile_scales(ann, images, percentile=99.7)   # lambda of every ReLU
    snn = convert_rate(ann, time_steps=80, scales=scales)       # synchronous timing
    snn = convert_rate(ann, time_steps=80, scales=scales, one_step=True)

Weight normalization (the seed's data-based percentile balancing): lambda_l is the p-th
percentile (numpy's linear interpolation) of the l-th ReLU's whole output over the calibration
images, zeros included; synapse l gets W_l * lambda_{l-1} / lambda_l (lambda_{-1} = 1, the input is
not scaled). A conv followed by average pooling takes the lambda of the ReLU after the pool. The
classifier keeps its raw weights (no ReLU follows it; the argmax does not change).

Layer mapping: first conv + its ReLU -> IFEncoder (constant current from the image); hidden
conv/dense -> SpikingConv2D/SpikingDense with float32 kernels, then IFNeuron at its ReLU; a conv
followed by AveragePooling2D -> PassThrough, the pool -> SpikingAvgPool2D, the ReLU after it ->
IFNeuron; Dropout is dropped; the classifier -> SummingReadout (logits per step).
"""
from dataclasses import dataclass, field

import keras
import numpy as np

from conversion.chain import ConversionError, Converter, convert_chain, layer_chain, plain_reason
from conversion.choices import CALIBRATION_DROPOUT
from layers.quantized import QuantConv2D, QuantDense
from layers.rate import IFEncoder, IFNeuron, PassThrough, SpikingAvgPool2D, SummingReadout
from layers.spiking import SpikingConv2D, SpikingDense

SYNAPSES = (keras.layers.Conv2D, keras.layers.Dense, QuantConv2D, QuantDense)


@dataclass
class _State:
    time_steps: int
    delay: int
    scales: dict  # synapse name -> the factor its kernel is multiplied by
    last: object = None
    inputs: object = None
    x: object = None
    spiking: bool = False
    synapse: object = None
    bn: object = None
    skip_relu: bool = False  # the encoder already holds this ReLU's neurons
    report: dict = field(default_factory=dict)


# ------------------------------------------------------------------------------- calibration


def relu_after(model):
    """{synapse name: the name of the ReLU its output reaches (through an average pool)}."""
    chain, mapping, pending = layer_chain(model), {}, None
    for layer in chain:
        if isinstance(layer, SYNAPSES):
            pending = layer.name
        elif isinstance(layer, keras.layers.ReLU) and pending is not None:
            mapping[pending], pending = layer.name, None
    return mapping


def percentile_scales(model, images, percentile=99.7, dropout="off", batch_size=200, seed=0):
    """{ReLU name: lambda}, the `percentile`-th percentile of each ReLU's whole output over `images`.

    dropout="train" runs the calibration pass with dropout active (the seed's behaviour: its model
    is never put in eval mode; the masks are drawn from `seed`), "off" in inference mode.
    """
    if not 0 < percentile <= 100:
        raise ValueError(f"percentile must be in (0, 100], got {percentile}")
    if dropout not in CALIBRATION_DROPOUT:
        raise ValueError(f"dropout must be one of {CALIBRATION_DROPOUT}, got {dropout!r}")
    relus = [layer for layer in model.layers if isinstance(layer, keras.layers.ReLU)]
    if not relus:
        raise ConversionError(f"{model.name}: no ReLU layer to calibrate")
    probe = keras.Model(model.input, [layer.output for layer in relus])
    if dropout == "train":
        keras.utils.set_random_seed(seed)
    outputs = [[] for _ in relus]
    for start in range(0, len(images), batch_size):
        batch = keras.ops.convert_to_tensor(np.asarray(images[start:start + batch_size], np.float32))
        values = probe(batch, training=dropout == "train")
        for collected, value in zip(outputs, values):
            collected.append(np.asarray(value, np.float32).ravel())
    return {layer.name: float(np.percentile(np.concatenate(parts), percentile))
            for layer, parts in zip(relus, outputs)}


def weight_factors(model, lambdas):
    """{synapse name: lambda_{l-1} / lambda_l}; the classifier (no ReLU after it) is not scaled."""
    factors, previous = {}, 1.0
    for synapse, relu in relu_after(model).items():
        value = lambdas[relu]
        if not value > 0:
            raise ConversionError(f"{relu}: the percentile of its output over the calibration images is {value}; "
                                  f"use a higher percentile or more calibration images")
        factors[synapse], previous = previous / value, value
    return factors


# ----------------------------------------------------------------------------------- public


def convert_rate(model, time_steps=80, one_step=False, scales=None, return_report=False):
    """The rate-coded SNN of `model` over `time_steps` steps.

    scales: {ReLU name: lambda} from percentile_scales (None: no normalization, lambda = 1).
    one_step: every layer sees the layer below in the same step (no delay per layer).
    """
    time_steps = int(time_steps)
    if time_steps < 1:
        raise ValueError(f"time_steps must be >= 1, got {time_steps}")
    lambdas = scales if scales is not None else {name: 1.0 for name in relu_after(model).values()}
    missing = set(relu_after(model).values()) - set(lambdas)
    if missing:
        raise ConversionError(f"no calibration scale for {', '.join(sorted(missing))}")
    state = _State(time_steps, 0 if one_step else 1, weight_factors(model, lambdas), last=model.layers[-1])
    convert_chain(model, CONVERTERS, state, "rate")  # checks every layer before any work
    snn = keras.Model(state.inputs, state.x, name=f"{model.name}_rate")
    report = {"timing": "one-step" if one_step else "synchronous", "time_steps": time_steps,
              "lambdas": {k: float(v) for k, v in lambdas.items()},
              "weight_factors": state.scales, "layers": state.report}
    return (snn, report) if return_report else snn


# --------------------------------------------------------------------------------- converters


def _kernel(layer):
    if isinstance(layer, (QuantConv2D, QuantDense)):
        return np.asarray(keras.ops.convert_to_numpy(layer.quantized_kernel()), np.float32)
    return np.asarray(layer.kernel.numpy(), np.float32)


def _check_synapse(layer, pos, options):
    if isinstance(layer, (QuantConv2D, QuantDense)):
        return None
    what = "the classifier" if pos.is_last else "a conv/dense layer"
    if pos.is_last and not isinstance(layer, keras.layers.Dense):
        return "the last layer must be the Dense classifier"
    return plain_reason(layer, what)


def _pool_follows(layer):
    users = [node.operation for node in layer._outbound_nodes]
    return bool(users) and isinstance(users[0], keras.layers.AveragePooling2D)


def _synapse(layer, state):
    kernel = _kernel(layer)
    if layer is state.last:
        if not state.spiking:
            raise ConversionError(f"{layer.name}: the classifier needs spiking input")
        readout = SummingReadout(layer.units, state.delay, name=layer.name)
        state.x = readout(state.x)
        readout.kernel.assign(kernel)  # raw weights: the seed leaves the last layer unscaled
        return
    factor = state.scales[layer.name]
    pooled = _pool_follows(layer)
    if not state.spiking:
        if pooled or kernel.ndim != 4:
            raise ConversionError(f"{layer.name}: the first layer must be a conv followed by its ReLU")
        encoder = IFEncoder(layer.filters, layer.kernel_size, layer.strides, layer.padding, state.time_steps,
                            state.delay, name=layer.name)
        state.x = encoder(state.x)
        encoder.kernel.assign(kernel * factor)
        state.spiking, state.skip_relu = True, True
        state.report[layer.name] = {"kind": "IF encoder", "factor": factor}
        return
    if kernel.ndim == 4:
        synapse = SpikingConv2D(layer.filters, layer.kernel_size, layer.strides, layer.padding,
                                kernel_dtype="float32", name=layer.name)
    else:
        synapse = SpikingDense(layer.units, kernel_dtype="float32", name=layer.name)
    state.x = synapse(state.x)
    synapse.kernel.assign(kernel * factor)
    kind = "synapse"
    if pooled:  # no neurons between a conv and its pool: the current passes on (one step late)
        state.x = PassThrough(state.delay, name=f"{layer.name}_pass")(state.x)
        kind = "synapse + pass-through"
    state.report[layer.name] = {"kind": kind, "factor": factor}


def _check_relu(layer, pos, options):
    config = layer.get_config()
    if config.get("max_value") is not None or config.get("negative_slope", 0) or config.get("threshold", 0):
        return "only a plain ReLU (no max_value, slope or threshold) becomes IF neurons"
    return None


def _relu(layer, state):
    if not state.spiking:
        raise ConversionError(f"{layer.name}: a ReLU must follow a conv/dense layer")
    if state.skip_relu:
        state.skip_relu = False
        return
    state.x = IFNeuron(state.delay, name=layer.name)(state.x)
    state.report[layer.name] = {"kind": "IF neurons"}


def _check_pool(layer, pos, options):
    if layer.get_config().get("padding", "valid") != "valid":
        return "only VALID average pooling is supported"
    return None


def _avg_pool(layer, state):
    if not state.spiking:
        raise ConversionError(f"{layer.name}: average pooling before the first conv is not supported")
    state.x = SpikingAvgPool2D(layer.pool_size, layer.strides, name=layer.name)(state.x)


def _dropout(layer, state):
    return None  # identity at inference


def _no_bn(layer, pos, options):
    return "the rate method converts networks without BatchNormalization (the vgg15ab / lenet_binary presets)"


CONVERTERS = {  # input, Rescaling and Flatten come from conversion.chain
    keras.layers.Conv2D: Converter(_synapse, _check_synapse),
    keras.layers.Dense: Converter(_synapse, _check_synapse),
    QuantConv2D: Converter(_synapse, _check_synapse),
    QuantDense: Converter(_synapse, _check_synapse),
    keras.layers.ReLU: Converter(_relu, _check_relu),
    keras.layers.AveragePooling2D: Converter(_avg_pool, _check_pool),
    keras.layers.Dropout: Converter(_dropout),
    keras.layers.BatchNormalization: Converter(None, _no_bn),
}
