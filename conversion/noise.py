"""Noise models for evaluating a spiking model (docs/noise.md).

    "encoding"    (default, the SG seed) each encoding-layer spike is deleted with probability r:
                  a count n becomes Binomial(n, 1 - r)
    "all-layers"  the same deletion after every spiking layer
    "input"       the all-integer paper: x * (1 + r * (u - 0.5)), u ~ U[0, 1) per input value,
                  on the encoding layer's input (scaling by 2^k commutes with it)

`add_noise` returns a new model made of copies of the clean model's layers (same weights) with
noise layers inserted; the clean model is unchanged, so it is still the one to save and export.
Copies, not shared layers, so that the noisy model's layer outputs belong to its own graph and
can be probed (conversion.counting counts the spikes a deletion layer lets through). Noise
layers draw from a keras SeedGenerator: the same seed and the same batches give the same noise.

All-integer models (conversion.allint): "input" is their paper's noise and the default
(`default_noise_model`); "encoding" deletes each burst spike of the encoding layer with
probability r (one of the seed's commented alternatives); "all-layers" is not defined for signed
spikes and raises.
"""
import keras

from layers.dynamic import BurstDeletion, BurstEncoding, DynamicThresholdNeuron
from layers.spiking import SPIKE_EMITTERS, MultiplicativeInputNoise, SpikeDeletion, SpikeEncoding

NOISE_MODELS = ("encoding", "all-layers", "input")
DEFAULT_NOISE_MODEL = {"sg": "encoding", "allint": "input"}


def default_noise_model(snn):
    """The noise model of the paper `snn` comes from: "input" for all-integer, else "encoding"."""
    return DEFAULT_NOISE_MODEL["allint" if _is_allint(snn) else "sg"]


def _is_allint(snn):
    return any(isinstance(layer, (BurstEncoding, DynamicThresholdNeuron)) for layer in snn.layers)


def add_noise(snn, model="encoding", ratio=0.0, seed=0):
    """`snn` with noise layers of kind `model` and strength `ratio` inserted (seeded)."""
    if model not in NOISE_MODELS:
        raise ValueError(f"unknown noise model {model!r}; valid: {', '.join(NOISE_MODELS)}")
    if not 0.0 <= ratio <= 1.0:
        raise ValueError(f"noise ratio must be in [0, 1], got {ratio!r}")
    if model == "all-layers" and _is_allint(snn):
        raise ValueError("noise model 'all-layers' deletes unsigned spikes; it is not defined for the signed "
                         "spikes of an all-integer model (use 'input', its paper's noise, or 'encoding')")
    inputs = keras.Input(batch_shape=snn.input.shape, dtype=snn.input.dtype, name=snn.input.name)
    x, count = inputs, 0
    for layer in snn.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        if model == "input" and isinstance(layer, (SpikeEncoding, BurstEncoding)):
            x = MultiplicativeInputNoise(ratio, seed=seed, name=f"{layer.name}_input_noise")(x)
        x = _copy(layer)(x)
        deletes = isinstance(layer, SPIKE_EMITTERS) and (
            model == "all-layers" or (model == "encoding" and isinstance(layer, SpikeEncoding)))
        if deletes:
            # Distinct seeds per layer, so that two layers never draw the same numbers.
            x = SpikeDeletion(ratio, layer.levels, seed=seed * 1009 + count, name=f"{layer.name}_deletion")(x)
            count += 1
        if model == "encoding" and isinstance(layer, BurstEncoding):
            # One unit spike per step at most: deletion of each spike with probability r.
            x = BurstDeletion(ratio, seed=seed * 1009 + count, name=f"{layer.name}_deletion")(x)
            count += 1
    return keras.Model(inputs, x, name=f"{snn.name}_{model}_noise")


def _copy(layer):
    """A new layer with `layer`'s configuration and weights."""
    copy = layer.__class__.from_config(layer.get_config())
    copy.build(layer.input.shape)
    copy.set_weights(layer.get_weights())
    return copy
