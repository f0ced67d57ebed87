"""`.keras` SNNs written by the code before the spiking layers were merged (commit e113c97,
tests/fixtures/make_legacy_snns.py) still load, and compute what they computed then."""
from pathlib import Path

import keras
import numpy as np
import pytest

import layers  # noqa: F401  (registers the custom layers and the old names)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
NAMES = ("legacy_sg", "legacy_sg_noise", "legacy_allint_int", "legacy_allint_float")


@pytest.fixture(scope="module")
def saved():
    return np.load(FIXTURES / "legacy_snns.npz")


@pytest.mark.parametrize("name", NAMES)
def test_legacy_snn_loads_and_computes_the_same(saved, name):
    snn = keras.saving.load_model(FIXTURES / f"{name}.keras")
    assert len(snn.layers) == len(saved[name + ":classes"])
    logits = np.asarray(snn.predict(saved["images"], verbose=0))
    # The float readout's last bits depend on the CPU's kernels (the fixtures were written on
    # another machine); one spike more or less in a counted layer moves a logit by far more.
    np.testing.assert_allclose(logits, saved[name], rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(np.argmax(logits, axis=-1), np.argmax(saved[name], axis=-1))
