"""Keras models of the rate-coded binary SNN paper (docs/rate.md §1).

Layout, from the notation (models.notation): preprocessing inside the model (raw pixels in), then
per conv/dense token `conv{j}` / `fc{j}` (j counts the synapses), an `A2` token right after a conv
becomes `pool{j}` *before* the ReLU `act{j}`, a `D0.1` token becomes `drop{j}` after the last
ReLU; then the float `classifier`. No BatchNormalization, no biases anywhere. With binary=True
every synapse but the first and the classifier holds an XNOR-Net kernel (kernel_quantizer
"xnor_net"), as the seed binarizes all layers but the first and the last.
"""
import keras

from layers import QuantConv2D, QuantDense
from models.notation import parse_architecture
from models.presets import DATASETS, RATE_INPUT

# The seed's torchvision normalization (per channel, after /255).
NORMALIZATION = {
    "cifar100": ((0.507, 0.487, 0.441), (0.267, 0.256, 0.276)),
    "imagenet": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
}


def build_rate_model(arch, dataset="mnist", binary=True, padding="same", name=None):
    """The model of `arch` for `dataset` (mnist, cifar100 or imagenet)."""
    if dataset not in RATE_INPUT:
        raise ValueError(f"unknown dataset {dataset!r} for a rate-coded model; valid: {', '.join(RATE_INPUT)}")
    classes = DATASETS[dataset][1]
    specs = parse_architecture(arch, default_padding=padding)
    inputs = keras.Input(shape=RATE_INPUT[dataset], name="images")
    x = preprocess(inputs, dataset)
    synapse = -1
    for i, spec in enumerate(specs):
        if spec.kind in ("conv", "dense"):
            synapse += 1
            x = _synapse(x, spec, synapse, quantized=binary and synapse > 0)
            if not (i + 1 < len(specs) and specs[i + 1].kind == "avgpool"):
                x = keras.layers.ReLU(name=f"act{synapse}")(x)
        elif spec.kind == "avgpool":
            x = keras.layers.AveragePooling2D(spec.kernel, spec.stride, "valid", name=f"pool{synapse}")(x)
            x = keras.layers.ReLU(name=f"act{synapse}")(x)
        elif spec.kind == "dropout":
            x = keras.layers.Dropout(spec.rate, name=f"drop{synapse}")(x)
        else:
            raise ValueError(f"{arch!r}: token kind {spec.kind!r} is not used by the rate-coded models")
    if len(x.shape) > 2:
        x = keras.layers.Flatten(name="flatten")(x)
    logits = keras.layers.Dense(classes, use_bias=False, name="classifier")(x)
    return keras.Model(inputs, logits, name=name or "rate_cnn")


def preprocess(x, dataset):
    """MNIST: /256 as the other MNIST presets; CIFAR-100 / ImageNet: the seed's /255 and mean/std."""
    if dataset == "mnist":
        return keras.layers.Rescaling(1.0 / 256, name="rescale")(x)
    mean, std = NORMALIZATION[dataset]
    scale = [1.0 / (255.0 * s) for s in std]
    offset = [-m / s for m, s in zip(mean, std)]
    return keras.layers.Rescaling(scale, offset, name="normalize")(x)


def _synapse(x, spec, j, quantized):
    if spec.kind == "dense":
        if len(x.shape) > 2:
            x = keras.layers.Flatten(name=f"flatten{j}")(x)
        if quantized:
            return QuantDense(spec.units, kernel_quantizer="xnor_net", name=f"fc{j}")(x)
        return keras.layers.Dense(spec.units, use_bias=False, name=f"fc{j}")(x)
    args = dict(strides=spec.stride, padding=spec.padding, name=f"conv{j}")
    if quantized:
        return QuantConv2D(spec.units, spec.kernel, kernel_quantizer="xnor_net", **args)(x)
    return keras.layers.Conv2D(spec.units, spec.kernel, use_bias=False, **args)(x)
