"""Shared fixtures. Real MNIST comes from $SNN_DATA_DIR (CI: ../shared/data); tests that need it
skip with a clear reason when it is absent, and CI always sets it."""
import os
import pickle
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
if os.environ.get("PYTEST_XDIST_WORKER"):
    # Two workers on two cores: TensorFlow's default pools (one thread per core in each worker and in
    # the processes the tests start) spin against each other; one op thread each keeps both cores busy.
    os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")
    os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")

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


# ---- synthetic CIFAR files in the official python-pickle layout


@pytest.fixture
def cifar10_files(tmp_path):
    """(data dir, {file name: (images, labels)}) of a synthetic CIFAR-10 copy."""
    return tmp_path, write_cifar10(tmp_path)


@pytest.fixture
def cifar100_files(tmp_path):
    return tmp_path, write_cifar100(tmp_path)


def write_cifar10(root, per_batch=6, seed=0):
    """cifar-10-batches-py/ with data_batch_1..5, test_batch, batches.meta; returns the images."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    written = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        images = rng.integers(0, 256, size=(per_batch, 32, 32, 3), dtype=np.uint8)
        labels = rng.integers(0, 10, size=per_batch).tolist()
        _dump(folder / name, {b"batch_label": name.encode(), b"labels": labels,
                              b"data": _rows(images), b"filenames": [b"x.png"] * per_batch})
        written[name] = (images, np.array(labels))
    _dump(folder / "batches.meta", {b"label_names": [b"c%d" % i for i in range(10)],
                                    b"num_cases_per_batch": per_batch, b"num_vis": 3072})
    return written


def write_cifar100(root, count=8, seed=0, test_count=None):
    """cifar-100-python/ with train, test and meta (count images each, or test_count in test)."""
    folder = root / "cifar-100-python"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    written = {}
    for name in ("train", "test"):
        if name == "test" and test_count is not None:
            count = test_count
        images = rng.integers(0, 256, size=(count, 32, 32, 3), dtype=np.uint8)
        fine = rng.integers(0, 100, size=count).tolist()
        _dump(folder / name, {b"data": _rows(images), b"fine_labels": fine,
                              b"coarse_labels": [f // 5 for f in fine], b"filenames": [b"x.png"] * count})
        written[name] = (images, np.array(fine))
    _dump(folder / "meta", {b"fine_label_names": [b"f%d" % i for i in range(100)],
                            b"coarse_label_names": [b"c%d" % i for i in range(20)]})
    return written


def _rows(images):
    # Official layout: each row is the red plane, then green, then blue (channel-major).
    return images.transpose(0, 3, 1, 2).reshape(len(images), 3072)


def _dump(path, obj):
    with open(path, "wb") as handle:
        pickle.dump(obj, handle)
