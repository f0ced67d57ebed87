"""Noise-aware training: the spike deletion of evaluate_snn.py's noise model, seen in training.

The scatter-and-gather SNN's encoding layer emits n = 2^k q spikes per neuron; the seeds' noise
deletes each with probability r. Training with the same deletion (r drawn per batch from
U[0, max_rate], so every noise level up to max_rate is seen) makes the converted SNN robust to it.
The layer is the identity at inference, and train.py saves final models without it.
"""
import keras
from keras import ops

from layers.quantized import PACKAGE
from layers.spiking import delete_spikes


@keras.saving.register_keras_serializable(package=PACKAGE)
class TrainingSpikeDeletion(keras.layers.Layer):
    """Delete each of the 2^k q spikes of a quantized activation q with probability r (training only)."""

    def __init__(self, max_rate, k, levels, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= max_rate <= 1.0:
            raise ValueError(f"noise rate must be in [0, 1], got {max_rate!r}")
        self.max_rate = float(max_rate)
        self.k = int(k)
        self.levels = int(levels)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=False):
        if not training or self.max_rate == 0.0:
            return inputs
        scale = float(2**self.k)
        rate = keras.random.uniform((), maxval=self.max_rate, seed=self.seed_generator)
        kept = delete_spikes(inputs * scale, rate, self.levels, self.seed_generator) / scale
        # Straight through: the deletion is noise, not something to differentiate.
        return kept + (inputs - ops.stop_gradient(inputs))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "max_rate": self.max_rate, "k": self.k, "levels": self.levels,
                "seed": self.seed}
