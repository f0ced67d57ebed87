"""ANN -> SNN conversion: threshold folding, one converter per source layer type, counting, noise.

Methods are plugins (conversion.method): `METHODS` holds one registered `Method` per method
(scatter-and-gather, all-integer and store-and-release are registered on import), over one conversion chain
(conversion.chain) and one spiking vocabulary (layers.base).

    snn = convert(model, method="sg")           # spiking keras.Model, same input as the ANN
    report = count_spikes(snn, images)           # spikes, SOPs, MACs per layer (conversion.counting)
    noisy = add_noise(snn, "encoding", 0.1, 0)   # conversion.noise
    rows = verify(model, snn, images)            # per layer: neurons whose counts differ
    export_nir(snn, "snn.nir")                   # NIR file (conversion.nir_export; sg exactly, allint refused)
"""
from conversion.counting import UNITS, LayerCount, SpikeCounter, SpikeReport, count_spikes
from conversion.export import export_snn_saved_model
from conversion.nir_export import NIR_METHODS, NirExport, NirExportError, export_nir, nir_graph, nir_support, write_nir
from conversion.noise import NOISE_MODELS, add_noise, default_noise_model
from conversion.allint import convert_allint
from conversion.allint_eval import (
    ALLINT_UNITS,
    SEED_FILES,
    AllIntCounter,
    AllIntReport,
    AllIntVerification,
    count_allint,
    verify_allint,
)
from conversion.chain import ConversionError
from conversion.method import METHODS, Method, get_method, register_method
from conversion.sg import convert_sg
from conversion.thresholds import ThresholdError
from conversion.verify import LayerAgreement, Verification, verify
import conversion.sg_method  # noqa: E402,F401  (registers "sg")
import conversion.allint_method  # noqa: E402,F401  (registers "allint")
import conversion.rate_method  # noqa: E402,F401  (registers "rate")
import conversion.sr_method  # noqa: E402,F401  (registers "sr")
from conversion.sr import convert_sr  # noqa: E402


def convert(model, method="sg", **options):
    """Convert a quantized Keras model into a spiking Keras model with `method` (see METHODS)."""
    return get_method(method).convert(model, **options)


__all__ = [
    "ALLINT_UNITS",
    "SEED_FILES",
    "AllIntCounter",
    "AllIntReport",
    "AllIntVerification",
    "convert_allint",
    "count_allint",
    "verify_allint",
    "default_noise_model",
    "METHODS",
    "Method",
    "NOISE_MODELS",
    "convert_sg",
    "convert_sr",
    "get_method",
    "register_method",
    "UNITS",
    "ConversionError",
    "LayerAgreement",
    "LayerCount",
    "SpikeCounter",
    "SpikeReport",
    "ThresholdError",
    "Verification",
    "add_noise",
    "convert",
    "count_spikes",
    "export_snn_saved_model",
    "export_nir",
    "nir_graph",
    "nir_support",
    "write_nir",
    "NIR_METHODS",
    "NirExport",
    "NirExportError",
    "verify",
]
