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
layers key their random numbers by (seed, image index) (layers.keyed_noise, docs/noise.md §5): the
same seed gives the same noise whatever the batch size; evaluate a new noisy model per run, as its
layers number the images they see from 0.

All-integer models (conversion.allint): "input" is their paper's noise and the default
(`default_noise_model`); "encoding" deletes each burst spike of the encoding layer with
probability r (one of the seed's commented alternatives); "all-layers" is not defined for signed
spikes and raises.
"""
import keras

from conversion.choices import NOISE_MODELS
from layers.base import EMITTERS, emitters, role_of
from layers.spiking import MultiplicativeInputNoise


def default_noise_model(snn):
    """The noise model of the paper `snn` comes from: "input" for signed (all-integer) spikes, else
    "encoding". The CLI takes it from the method (conversion.methods); this is for a bare model."""
    return "input" if _signed(snn) else "encoding"


def _signed(snn):
    return any(layer.signed for layer in emitters(snn))


def add_noise(snn, model="encoding", ratio=0.0, seed=0):
    """`snn` with noise layers of kind `model` and strength `ratio` inserted (seeded)."""
    if model not in NOISE_MODELS:
        raise ValueError(f"unknown noise model {model!r}; valid: {', '.join(NOISE_MODELS)}")
    if not 0.0 <= ratio <= 1.0:
        raise ValueError(f"noise ratio must be in [0, 1], got {ratio!r}")
    if model == "all-layers" and _signed(snn):
        raise ValueError("noise model 'all-layers' deletes unsigned spikes; it is not defined for the signed "
                         "spikes of an all-integer model (use 'input', its paper's noise, or 'encoding')")
    inputs = keras.Input(batch_shape=snn.input.shape, dtype=snn.input.dtype, name=snn.input.name)
    x, count = inputs, 0
    for layer in snn.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        role = role_of(layer)
        if model == "input" and role == "encoder":
            x = MultiplicativeInputNoise(ratio, seed=seed, name=f"{layer.name}_input_noise")(x)
        x = _copy(layer)(x)
        if role in EMITTERS and (model == "all-layers" or (model == "encoding" and role == "encoder")):
            # Each emitter knows how its spikes are deleted (a count ladder or unit burst spikes).
            # Distinct seeds per layer, so that two layers never draw the same numbers.
            x = layer.spike_deletion(ratio, seed * 1009 + count, f"{layer.name}_deletion")(x)
            count += 1
    return keras.Model(inputs, x, name=f"{snn.name}_{model}_noise")


def _copy(layer):
    """A new layer with `layer`'s configuration and weights."""
    copy = layer.__class__.from_config(layer.get_config())
    copy.build(layer.input.shape)
    copy.set_weights(layer.get_weights())
    return copy
