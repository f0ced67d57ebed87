"""Fixtures of the conversion tests: small quantized models with random BN statistics."""
import keras
import numpy as np
import pytest

from models import build_model

SMALL_ARCH = "4C5-P2-6C3-P2-12"  # encoding 4C5, ternary pool/conv/pool, ternary dense 12


def _synapse_output(model, bn):
    """The tensor feeding `bn` (the synapse's output)."""
    return keras.Model(model.input, bn.input)


def randomize_bn(model, images, rng, gamma_negative=0.3):
    """Give every BatchNormalization random statistics that make all levels occur.

    Layer by layer (later layers see the earlier ones' new outputs): mean and variance near the
    measured pre-activation statistics, gamma of random sign (one exactly 0, at least one negative), beta spread over
    the quantizer's range. This exercises negative gamma, gamma == 0 and every threshold.
    """
    for bn in [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]:
        z = _synapse_output(model, bn).predict(images, verbose=0)
        z = z.reshape(-1, z.shape[-1]).astype(np.float64)
        channels = z.shape[-1]
        std = z.std(axis=0) + 0.5
        mean = z.mean(axis=0) + rng.normal(0, 0.5, channels) * std
        var = (std * rng.uniform(0.3, 1.5, channels)) ** 2
        gamma = rng.uniform(0.5, 2.0, channels) * np.where(rng.random(channels) < gamma_negative, -1, 1)
        gamma[rng.integers(channels)] = 0.0  # one constant channel per layer
        gamma[rng.integers(channels)] = -abs(gamma.max())  # and at least one negative gamma
        act = model.layers[model.layers.index(bn) + 1]
        beta = rng.uniform(-0.5, act.B + 0.5, channels)
        bn.set_weights([gamma, beta, mean, var])


def random_images(rng, n, shape=(28, 28, 1)):
    """uint8-valued float images: half uniform noise, half sparse (MNIST-like zeros)."""
    dense = rng.integers(0, 256, (n // 2, *shape))
    sparse = rng.integers(0, 256, (n - n // 2, *shape)) * (rng.random((n - n // 2, *shape)) < 0.3)
    return np.concatenate([dense, sparse]).astype(np.float32)


@pytest.fixture
def small_model():
    """factory(k, B, seed) -> (model with random BN statistics, images)."""

    def make(k, B, seed=0, n=48, arch=SMALL_ARCH):
        keras.utils.set_random_seed(seed)
        rng = np.random.default_rng(seed)
        model = build_model(arch, dataset="mnist", k=k, B=B)
        images = random_images(rng, n)
        randomize_bn(model, images, rng)
        return model, images

    return make
