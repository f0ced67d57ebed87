"""Fixtures of the hardware tests: small converted SG and SR models and tiny cores."""
import keras
import numpy as np
import pytest

from conversion import convert
from models import build_model
from tests.conversion.conftest import SMALL_ARCH, randomize_bn, random_images


def _small(method, seed, n_images):
    """(spiking model of a small LeNet-like net, k=1, B=2, with random BN statistics, images)."""
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    model = build_model(SMALL_ARCH, dataset="mnist", k=1, B=2)
    images = random_images(rng, n_images)
    randomize_bn(model, images, rng)
    return convert(model, method=method), images


@pytest.fixture(scope="module")
def small_snn():
    """The small net converted with scatter-and-gather."""
    return _small("sg", 3, 32)


@pytest.fixture(scope="module")
def small_sr():
    """The small net converted with store-and-release (another seed)."""
    return _small("sr", 5, 24)
