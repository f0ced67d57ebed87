"""Architectures: the papers' notation, named presets, model building and MAC counts."""
from models.builder import DATASETS, build_model, build_preset, dataset_info
from models.macs import hidden_macs, layer_macs
from models.notation import LayerSpec, NotationError, parse_architecture
from models.presets import PRESETS, Preset, get_preset

__all__ = [
    "DATASETS",
    "PRESETS",
    "LayerSpec",
    "NotationError",
    "Preset",
    "build_model",
    "build_preset",
    "dataset_info",
    "get_preset",
    "hidden_macs",
    "layer_macs",
    "parse_architecture",
]
