"""ANN -> SNN conversion: threshold folding, one converter per source layer type, counting, noise.

Methods are plugins (conversion.method): `METHODS` holds one registered `Method` per method
(scatter-and-gather, all-integer, rate and store-and-release are registered on import), over one
conversion chain (conversion.chain) and one spiking vocabulary (layers.base).

    snn = convert(model, method="sg")           # spiking keras.Model, same input as the ANN
    report = count_spikes(snn, images)           # spikes, SOPs, MACs per layer (conversion.counting)
    noisy = add_noise(snn, "encoding", 0.1, 0)   # conversion.noise
    rows = verify(model, snn, images)            # per layer: neurons whose counts differ (conversion.verification)
    export_nir(snn, "snn.nir")                   # NIR file (conversion.nir_export; sg exactly, allint refused)

Importing the package loads no Keras: the registry and the command-line names are Keras-free, and
every other name below loads its module (and Keras) when first used.
"""
import importlib

from conversion.choices import NOISE_MODELS
from conversion.method import METHODS, Method, get_method, register_method
import conversion.sg_method  # noqa: E402,F401  (registers "sg")
import conversion.allint_method  # noqa: E402,F401  (registers "allint")
import conversion.rate_method  # noqa: E402,F401  (registers "rate")
import conversion.sr_method  # noqa: E402,F401  (registers "sr")

_LAZY = {  # name -> the module that defines it
    **dict.fromkeys(("UNITS", "LayerCount", "SpikeCounter", "SpikeReport", "count_spikes"), "conversion.counting"),
    "export_snn_saved_model": "conversion.export",
    **dict.fromkeys(("NIR_METHODS", "NirExport", "NirExportError", "export_nir", "nir_graph", "nir_support",
                     "write_nir"), "conversion.nir_export"),
    **dict.fromkeys(("add_noise", "default_noise_model"), "conversion.noise"),
    "convert_allint": "conversion.allint",
    **dict.fromkeys(("ALLINT_UNITS", "SEED_FILES", "AllIntCounter", "AllIntReport", "AllIntVerification",
                     "count_allint", "verify_allint"), "conversion.allint_eval"),
    "ConversionError": "conversion.chain",
    "convert_sg": "conversion.sg",
    "convert_sr": "conversion.sr",
    "ThresholdError": "conversion.thresholds",
    **dict.fromkeys(("LayerAgreement", "Verification", "verify"), "conversion.verification"),
}


def __getattr__(name):
    if name not in _LAZY:
        raise AttributeError(f"module 'conversion' has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value  # once loaded, a plain attribute
    return value


def convert(model, method="sg", **options):
    """Convert a quantized Keras model into a spiking Keras model with `method` (see METHODS)."""
    return get_method(method).convert(model, **options)


__all__ = sorted({*_LAZY, "METHODS", "Method", "NOISE_MODELS", "convert", "get_method", "register_method"})
