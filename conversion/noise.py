"""Noise models for evaluating a spiking model (ALGORITHMS.md 3.3 and 4.3).

    "encoding"    (default, the SG seed) each encoding-layer spike is deleted with probability r:
                  a count n becomes Binomial(n, 1 - r)
    "all-layers"  the same deletion after every spiking layer
    "input"       the all-integer paper: x * (1 + r * (u - 0.5)), u ~ U[0, 1) per input value,
                  on the encoding layer's input (scaling by 2^k commutes with it)

`add_noise` returns a new model that shares the clean model's layers (and weights) and inserts
noise layers; the clean model is unchanged, so it is still the one to save and export. Noise
layers draw from a keras SeedGenerator: the same seed and the same batches give the same noise.
"""
import keras

from layers.spiking import SPIKE_EMITTERS, MultiplicativeInputNoise, SpikeDeletion, SpikeEncoding

NOISE_MODELS = ("encoding", "all-layers", "input")


def add_noise(snn, model="encoding", ratio=0.0, seed=0):
    """`snn` with noise layers of kind `model` and strength `ratio` inserted (seeded)."""
    if model not in NOISE_MODELS:
        raise ValueError(f"unknown noise model {model!r}; valid: {', '.join(NOISE_MODELS)}")
    if not 0.0 <= ratio <= 1.0:
        raise ValueError(f"noise ratio must be in [0, 1], got {ratio!r}")
    inputs = keras.Input(batch_shape=snn.input.shape, dtype=snn.input.dtype, name=snn.input.name)
    x, count = inputs, 0
    for layer in snn.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        if model == "input" and isinstance(layer, SpikeEncoding):
            x = MultiplicativeInputNoise(ratio, seed=seed, name=f"{layer.name}_input_noise")(x)
        x = layer(x)
        deletes = isinstance(layer, SPIKE_EMITTERS) and (
            model == "all-layers" or (model == "encoding" and isinstance(layer, SpikeEncoding)))
        if deletes:
            # Distinct seeds per layer, so that two layers never draw the same numbers.
            x = SpikeDeletion(ratio, layer.levels, seed=seed * 1009 + count, name=f"{layer.name}_deletion")(x)
            count += 1
    return keras.Model(inputs, x, name=f"{snn.name}_{model}_noise")
