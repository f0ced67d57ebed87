"""Keras 3 layers: quantizers (pure keras.ops functions with STE) and quantized layers.

Importing this package registers every layer for `.keras` deserialization.
"""
from layers.quantizers import (
    binarize,
    median_quantize,
    ternarize,
    ternary_threshold,
    unbounded_quantize,
    xnor_binarize,
    xnor_net_binarize,
)
from layers.quantized import QuantActivation, QuantConv2D, QuantDense
from layers.preprocessing import CentralCrop, PerImageStandardization
from layers.dynamic import (  # noqa: F401
    AccumulatingReadout,
    BurstEncoding,
    DynamicThresholdNeuron,
    SignedConv2D,
    SignedDense,
)
from layers.spiking import MultiThresholdNeuron, SpikeEncoding, SpikingConv2D, SpikingDense, SpikingReadout  # noqa: F401
from layers.store_release import StoreReleaseNeuron  # noqa: F401
from layers.noise_training import TrainingSpikeDeletion  # noqa: F401
from layers.rate import IFEncoder, IFNeuron, PassThrough, SpikingAvgPool2D, SummingReadout  # noqa: F401

__all__ = [
    "binarize",
    "median_quantize",
    "ternarize",
    "ternary_threshold",
    "unbounded_quantize",
    "xnor_binarize",
    "QuantActivation",
    "QuantConv2D",
    "QuantDense",
    "CentralCrop",
    "PerImageStandardization",
]
