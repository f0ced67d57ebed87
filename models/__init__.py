"""Architectures: the papers' notation, named presets, model building and MAC counts.

The notation parser and the presets are plain Python; the builder and the MAC counter need Keras
and are imported on first use, so command lines can check their arguments before TensorFlow loads.
"""
import importlib

from models.notation import LayerSpec, NotationError, parse_architecture
from models.presets import DATASETS, PRESETS, Preset, get_preset

_LAZY = {
    "build_model": "models.builder",
    "build_preset": "models.builder",
    "dataset_info": "models.builder",
    "hidden_macs": "models.macs",
    "layer_macs": "models.macs",
}

__all__ = ["DATASETS", "PRESETS", "LayerSpec", "NotationError", "Preset", "get_preset", "parse_architecture",
           *_LAZY]


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'models' has no attribute {name!r}")
