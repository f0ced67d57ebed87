"""Named architectures of the papers (docs/networks.md).

`quantization` says how a preset is quantized:
  "median"  scatter-and-gather papers: encoding and hidden activations median-quantized (k, B),
            hidden weights ternary
  "allint"  all-integer SNN paper: encoding activation k=0, B=4, hidden activations unbounded
            (level k), hidden weights ternary (or float with use_ternary=False)
  "float"   full-precision baseline of the same topology: ReLU, float weights
  "xnor"    rate-coded binary SNN paper (docs/rate.md): no BN, no biases, average pooling before the
            ReLU, dropout; first conv and classifier float, hidden weights XNOR-binarized
  "rate_float"  the same topology with float hidden weights
"""
from dataclasses import dataclass

DATASETS = {
    # name: (model input shape, classes); CIFAR models take any size >= 24 and crop the centre
    "mnist": ((28, 28, 1), 10),
    "cifar10": ((None, None, 3), 10),
    "cifar100": ((None, None, 3), 100),
    "imagenet": ((224, 224, 3), 1000),
}
# Input sizes of the rate-coded presets (they flatten, so the size is fixed): the seed's own.
RATE_INPUT = {"mnist": (28, 28, 1), "cifar100": (32, 32, 3), "imagenet": (224, 224, 3)}


@dataclass(frozen=True)
class Preset:
    name: str
    arch: str
    padding: str
    dataset: str
    quantization: str
    description: str


# The seeds' code network (Quant_LeNet_MNIST.py): a float SAME 16C5 encoder on the 28x28 image, then
# ternary 16C5 VALID (24x24), P2, 32C5 VALID, P2 and the 256-unit layer as a 4x4 VALID conv.
_LENET = "16C5s-16C5v-P2-32C5v-P2-256C4v"
# The README's formula network "16C5-P2-32C5-P2-256" (its 1,163,264 hidden MACs); no SAME encoder.
_LENET_README = "16C5-P2-32C5-P2-256"
_LENET_ALLINT = "32C5-P2-64C5-P2-1000"
# conv00 (encoding) + conv0, conv1, ..., conv10 (the last 512C3 is VALID: 3x3 -> 1x1).
_VGG = "64C3-64C3*2-P2-128C3*2-P2-256C3*2-P2-512C3-512C3v"
_CNN1 = "96C3-256C3-P2-384C3-P2-384C3-256C3-P2-1024-1024"
# The binary-SNN seed's VGG-15 "avg before relu" (docs/rate.md §1): 13 convs 3x3 SAME, average pools
# between a conv and its ReLU, dropout 0.1 after every ReLU not right after a pool, FC 4096.
_VGG15AB = ("64C3s-D0.1-64C3s-A2-128C3s-D0.1-128C3s-A2-256C3s-D0.1-256C3s-D0.1-256C3s-A2-"
            "512C3s-D0.1-512C3s-D0.1-512C3s-A2-512C3s-D0.1-512C3s-D0.1-512C3s-A2-D0.1-4096-D0.1")
# A small network in the same style that trains on MNIST in minutes (float first and last layers).
_LENET_AVG = "16C3s-D0.1-32C3s-A2-64C3s-A2-512-D0.1"

PRESETS = {
    p.name: p
    for p in (
        Preset("lenet", _LENET, "valid", "mnist", "median",
               "the seeds' code LeNet (MNIST), 26,880 ANN neurons, 4,849,664 hidden MACs"),
        Preset("lenet_fp", _LENET, "valid", "mnist", "float", "full-precision baseline of lenet"),
        Preset("lenet_readme", _LENET_README, "valid", "mnist", "median",
               "the README's formula LeNet (MNIST), 1,163,264 hidden MACs"),
        Preset("lenet_readme_fp", _LENET_README, "valid", "mnist", "float",
               "full-precision baseline of lenet_readme"),
        Preset("lenet_allint", _LENET_ALLINT, "valid", "mnist", "allint",
               "all-integer SNN LeNet (MNIST)"),
        Preset("lenet_allint_fp", _LENET_ALLINT, "valid", "mnist", "float",
               "full-precision baseline of lenet_allint"),
        Preset("vgg", _VGG, "same", "cifar10", "median",
               "scatter-and-gather VGG-Net (CIFAR-10/100, 24x24 crops), 126,222,336 hidden MACs"),
        Preset("vgg_fp", _VGG, "same", "cifar10", "float", "full-precision baseline of vgg"),
        Preset("cnn1", _CNN1, "same", "cifar10", "allint", "all-integer SNN CNN1 (CIFAR-10)"),
        Preset("cnn1_fp", _CNN1, "same", "cifar10", "float", "full-precision baseline of cnn1"),
        Preset("lenet_binary", _LENET_AVG, "same", "mnist", "xnor",
               "rate-coded binary LeNet (MNIST): XNOR hidden weights, avg-pool before ReLU, no BN"),
        Preset("lenet_avg_fp", _LENET_AVG, "same", "mnist", "rate_float", "float twin of lenet_binary"),
        Preset("vgg15ab", _VGG15AB, "same", "cifar100", "xnor",
               "binary-SNN seed's VGG-15, XNOR hidden weights (CIFAR-100, 32x32)"),
        Preset("vgg15ab_fp", _VGG15AB, "same", "cifar100", "rate_float", "float vgg15ab (CIFAR-100, 32x32)"),
        Preset("vgg15ab_imagenet", _VGG15AB, "same", "imagenet", "xnor",
               "binary vgg15ab for ImageNet (224x224, 1000 classes)"),
        Preset("vgg15ab_imagenet_fp", _VGG15AB, "same", "imagenet", "rate_float",
               "float vgg15ab for ImageNet (224x224, 1000 classes)"),
    )
}


def get_preset(name):
    """The preset called `name`; ValueError listing the valid names otherwise."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; valid: {', '.join(PRESETS)}") from None
