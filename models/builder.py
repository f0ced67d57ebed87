"""Build Keras models from the papers' notation.

Layout of every model: preprocessing (inside the model, so it takes raw pixel values 0..255),
then per notation layer `conv{i}`/`pool{i}`/`fc{i}` -> `bn{i}` -> `act{i}`, then a bias-free float
`classifier`. Layer 0 is the float encoding layer.
"""
import keras

from layers import CentralCrop, PerImageStandardization, QuantActivation, QuantConv2D, QuantDense
from layers.noise_training import TrainingSpikeDeletion
from models.notation import parse_architecture
from models.presets import DATASETS, get_preset
from snn_data.sources import CIFAR_CROP

QUANTIZATIONS = ("median", "allint", "float")
RATE_QUANTIZATIONS = ("xnor", "rate_float")  # built by models.rate_builder


def dataset_info(dataset):
    try:
        return DATASETS[dataset]
    except KeyError:
        raise ValueError(f"unknown dataset {dataset!r}; valid: {', '.join(DATASETS)}") from None


def build_preset(name, dataset=None, k=1, B=2, use_ternary=True, train_noise=0.0, synchronized_bn=False):
    """Build a named preset (see models.presets) for `dataset` (default: the preset's own).

    train_noise > 0 inserts a TrainingSpikeDeletion after the encoding layer (noise-aware training;
    identity at inference). synchronized_bn: BN statistics over all replicas of a TensorFlow
    distribution strategy (a TensorFlow-only argument of BatchNormalization)."""
    preset = get_preset(name)
    if preset.quantization in RATE_QUANTIZATIONS:
        from models.rate_builder import build_rate_model

        return build_rate_model(preset.arch, dataset or preset.dataset, binary=preset.quantization == "xnor",
                                padding=preset.padding, name=name)
    return build_model(
        preset.arch,
        dataset=dataset or preset.dataset,
        k=k,
        B=B,
        quantization=preset.quantization,
        padding=preset.padding,
        use_ternary=use_ternary,
        name=name,
        train_noise=train_noise,
        synchronized_bn=synchronized_bn,
    )


def build_model(arch, dataset="mnist", k=1, B=2, quantization="median", padding="valid",
                use_ternary=True, name=None, train_noise=0.0, synchronized_bn=False):
    """Build a model from notation (see models.notation) for `dataset`."""
    if quantization not in QUANTIZATIONS:
        raise ValueError(f"unknown quantization {quantization!r}; valid: {QUANTIZATIONS}")
    input_shape, classes = dataset_info(dataset)
    specs = parse_architecture(arch, default_padding=padding)
    if any(spec.kind in ("avgpool", "dropout") for spec in specs):
        raise ValueError(f"{arch!r}: average pooling and dropout tokens are for the rate-coded models "
                         f"(models.rate_builder), not quantization {quantization!r}")
    inputs = keras.Input(shape=input_shape, name="images")
    x = _preprocess(inputs, dataset)
    for i, spec in enumerate(specs):
        x = _hidden_block(x, i, spec, k, B, quantization, use_ternary, synchronized_bn)
        if i == 0 and train_noise > 0:
            if quantization != "median":
                raise ValueError("noise-aware training applies to median-quantized (scatter-and-gather) models")
            x = TrainingSpikeDeletion(train_noise, k, int(2**k * B), name="enc_noise")(x)
    if len(x.shape) > 2:
        x = keras.layers.Flatten(name="flatten")(x)
    logits = keras.layers.Dense(classes, use_bias=False, name="classifier")(x)
    return keras.Model(inputs, logits, name=name or "qcnn")


def _preprocess(x, dataset):
    if dataset == "mnist":
        # The original divides bytes by 256 (TensorLayer's loader), not 255.
        return keras.layers.Rescaling(1.0 / 256, name="rescale")(x)
    x = CentralCrop(CIFAR_CROP, name="central_crop")(x)
    return PerImageStandardization(name="standardize")(x)


def _hidden_block(x, i, spec, k, B, quantization, use_ternary, synchronized_bn=False):
    if spec.kind == "dense" and len(x.shape) > 2:
        x = keras.layers.Flatten(name=f"flatten{i}")(x)
    x = _synapse(spec, i, quantized_kernel=(i > 0 and quantization != "float" and use_ternary))(x)
    x = keras.layers.BatchNormalization(
        momentum=0.9,
        epsilon=1e-5,
        gamma_initializer=keras.initializers.RandomNormal(1.0, 0.002),
        name=f"bn{i}",
        **({"synchronized": True} if synchronized_bn else {}),  # JAX refuses the argument
    )(x)
    return _activation(i, k, B, quantization)(x)


def _synapse(spec, i, quantized_kernel):
    prefix = {"conv": "conv", "pool": "pool", "dense": "fc"}[spec.kind]
    name = f"{prefix}{i}"
    if spec.kind == "dense":
        if quantized_kernel:
            return QuantDense(spec.units, kernel_quantizer="ternary", name=name)
        return keras.layers.Dense(spec.units, use_bias=False, name=name)
    conv_args = dict(strides=spec.stride, padding=spec.padding, name=name)
    if quantized_kernel:
        return QuantConv2D(spec.units, spec.kernel, kernel_quantizer="ternary", **conv_args)
    return keras.layers.Conv2D(spec.units, spec.kernel, use_bias=False, **conv_args)


def _activation(i, k, B, quantization):
    name = f"act{i}"
    if quantization == "float":
        return keras.layers.ReLU(name=name)
    if quantization == "allint":
        if i == 0:
            return QuantActivation(0, 4, mode="median", name=name)
        return QuantActivation(k, mode="unbounded", name=name)
    return QuantActivation(k, B, mode="median", name=name)
