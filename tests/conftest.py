"""Shared fixtures. Real MNIST comes from $SNN_DATA_DIR (CI: ../shared/data); tests that need it
skip with a clear reason when it is absent, and CI always sets it."""
import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

REPO = Path(__file__).resolve().parent.parent


def pytest_collection_modifyitems(config, items):
    if config.getoption("-m"):
        return
    skip_slow = pytest.mark.skip(reason="slow; run with -m slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip_slow)


@pytest.fixture(scope="session")
def data_dir():
    value = os.environ.get("SNN_DATA_DIR")
    if not value or not (Path(value) / "mnist").is_dir():
        pytest.skip("real MNIST not available: set SNN_DATA_DIR to a folder with mnist/")
    return Path(value).resolve()


@pytest.fixture(scope="session")
def mnist_test(data_dir):
    from snn_data import load_arrays

    return load_arrays("mnist", "test", data_dir)
