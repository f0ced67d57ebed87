"""Initial weights drawn with numpy from the run's seed, the same on every Keras backend.

Keras draws initial weights with the backend's own generator (TensorFlow's Philox, JAX's
threefry), so one seed gives two different networks on the two backends, and a one-epoch run
differs between them by as much as seed-to-seed noise. train.py redraws every randomly
initialized weight here instead, from the same distributions the layers ask for (Glorot uniform
kernels, N(1, 0.002) BN scales, ...), so that a seed names one network on either backend.
Deterministic initializers (zeros, ones, constants) are left as Keras set them.
"""
import math

import keras
import numpy as np


def draw_initial_weights(model, seed):
    """Replace the random initial weights of `model` by numpy draws from (seed); returns the count."""
    rng = np.random.default_rng([seed, 0x1417])
    replaced = 0
    for layer in model.layers:
        for variable in layer.weights:
            initializer = getattr(layer, f"{variable.name}_initializer", None)
            value = _draw(initializer, tuple(variable.shape), rng)
            if value is not None:
                variable.assign(value.astype(variable.dtype))
                replaced += 1
    return replaced


def _draw(initializer, shape, rng):
    """A numpy sample of `initializer` for `shape`, or None to keep what Keras drew."""
    inits = keras.initializers
    if isinstance(initializer, inits.GlorotUniform):
        fan_in, fan_out = _fans(shape)
        limit = math.sqrt(6.0 / (fan_in + fan_out))
        return rng.uniform(-limit, limit, shape)
    if isinstance(initializer, inits.RandomNormal):
        return rng.normal(initializer.mean, initializer.stddev, shape)
    if isinstance(initializer, inits.RandomUniform):
        return rng.uniform(initializer.minval, initializer.maxval, shape)
    return None


def _fans(shape):
    """Keras' fan-in and fan-out: (in, out) of a dense kernel; a conv kernel's times its window."""
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = math.prod(shape[:-2]) if len(shape) > 2 else 1
    return shape[-2] * receptive, shape[-1] * receptive

