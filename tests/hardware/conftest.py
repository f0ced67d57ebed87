"""Fixtures of the hardware tests: small converted SG and SR models and tiny cores."""
import keras
import numpy as np
import pytest

from conversion import convert
from models import build_model
from tests.conversion.conftest import SMALL_ARCH, randomize_bn, random_images


@pytest.fixture(scope="module")
def small_snn():
    """(SG spiking model with random BN statistics, images) of a small LeNet-like net, k=1, B=2."""
    keras.utils.set_random_seed(3)
    rng = np.random.default_rng(3)
    model = build_model(SMALL_ARCH, dataset="mnist", k=1, B=2)
    images = random_images(rng, 32)
    randomize_bn(model, images, rng)
    return convert(model, method="sg"), images


@pytest.fixture(scope="module")
def small_sr():
    """(SR spiking model with random BN statistics, images) of the same small net, k=1, B=2."""
    keras.utils.set_random_seed(5)
    rng = np.random.default_rng(5)
    model = build_model(SMALL_ARCH, dataset="mnist", k=1, B=2)
    images = random_images(rng, 24)
    randomize_bn(model, images, rng)
    return convert(model, method="sr"), images
