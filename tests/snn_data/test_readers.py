import gzip
import shutil

import numpy as np
import pytest

from snn_data import DataError, load_arrays
from snn_data.sources import MNIST_FILES



def test_real_mnist(data_dir):
    train_x, train_y = load_arrays("mnist", "train", data_dir)
    test_x, test_y = load_arrays("mnist", "test", data_dir)
    assert train_x.shape == (60000, 28, 28, 1) and train_x.dtype == np.uint8
    assert test_x.shape == (10000, 28, 28, 1)
    assert np.bincount(train_y).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert np.bincount(test_y).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert abs(train_x.mean() / 255 - 0.13066) < 1e-4


def _copy_mnist(data_dir, target):
    (target / "mnist").mkdir()
    for name in MNIST_FILES:
        shutil.copy(data_dir / "mnist" / name, target / "mnist" / name)


def test_missing_file_names_it_and_says_how_to_get_it(tmp_path, data_dir):
    _copy_mnist(data_dir, tmp_path)
    (tmp_path / "mnist" / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError) as info:
        load_arrays("mnist", "test", tmp_path)
    message = str(info.value)
    assert "t10k-labels-idx1-ubyte.gz" in message and "yann.lecun.com" in message
    assert "\n" not in message


def test_corrupt_file_fails_md5_unless_unchecked(tmp_path, data_dir):
    _copy_mnist(data_dir, tmp_path)
    path = tmp_path / "mnist" / "t10k-labels-idx1-ubyte.gz"
    labels = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(labels[:-1] + bytes([(labels[-1] + 1) % 10])))
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte.gz is corrupt"):
        load_arrays("mnist", "test", tmp_path)
    _, y = load_arrays("mnist", "test", tmp_path, verify_md5=False)
    assert len(y) == 10000


def test_truncated_file_is_a_data_error(tmp_path, data_dir):
    _copy_mnist(data_dir, tmp_path)
    path = tmp_path / "mnist" / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(gzip.decompress(path.read_bytes())[:5000]))
    with pytest.raises(DataError, match="truncated"):
        load_arrays("mnist", "test", tmp_path, verify_md5=False)


def test_unofficial_files_are_data_errors_even_unchecked(cifar10_files, tmp_path):
    data, _ = cifar10_files
    (data / "cifar-10-batches-py" / "data_batch_2").write_bytes(b"not a pickle")
    with pytest.raises(DataError, match="data_batch_2"):
        load_arrays("cifar10", "train", data, verify_md5=False)
    (tmp_path / "m" / "mnist").mkdir(parents=True)
    for name in MNIST_FILES:
        (tmp_path / "m" / "mnist" / name).write_bytes(gzip.compress(b"\x00\x00"))
    with pytest.raises(DataError, match="not an IDX file"):
        load_arrays("mnist", "test", tmp_path / "m", verify_md5=False)


def test_env_var_is_the_default_data_dir(monkeypatch, data_dir):
    monkeypatch.setenv("SNN_DATA_DIR", str(data_dir))
    assert load_arrays("mnist", "test")[0].shape == (10000, 28, 28, 1)


def test_synthetic_cifar10_layout(cifar10_files):
    tmp_path, written = cifar10_files
    x, y = load_arrays("cifar10", "train", tmp_path, verify_md5=False)
    assert x.shape == (30, 32, 32, 3) and x.dtype == np.uint8
    np.testing.assert_array_equal(x[:6], written["data_batch_1"][0])
    np.testing.assert_array_equal(y[24:], written["data_batch_5"][1])
    tx, ty = load_arrays("cifar10", "test", tmp_path, verify_md5=False)
    np.testing.assert_array_equal(tx, written["test_batch"][0])


def test_synthetic_cifar_fails_the_official_md5(cifar10_files):
    tmp_path, _ = cifar10_files
    with pytest.raises(DataError, match="data_batch_1 is corrupt or not the official file"):
        load_arrays("cifar10", "train", tmp_path)


def test_synthetic_cifar100(cifar100_files):
    tmp_path, written = cifar100_files
    x, y = load_arrays("cifar100", "test", tmp_path, verify_md5=False)
    np.testing.assert_array_equal(x, written["test"][0])
    np.testing.assert_array_equal(y, written["test"][1])


def test_unknown_dataset_and_split():
    with pytest.raises(ValueError, match="unknown split"):
        load_arrays("mnist", "val", "/nonexistent")
    with pytest.raises(ValueError, match="unknown dataset"):
        load_arrays("svhn", "test", "/nonexistent")
