"""The no-data-directory path: tensorflow-datasets must be usable offline up to the download, and
a failed download must say that it is a download that failed. Nothing here touches the network."""
import pytest

from snn_data import DataError, load_arrays
from snn_data import tfds_fallback


def test_tfds_finds_its_dataset_resources_offline(tmp_path):
    # Before a download tfds reads the dataset's checksum file from its package resources; with the
    # pinned requirements missing importlib_resources this raised ModuleNotFoundError.
    import tensorflow_datasets as tfds

    builder = tfds.builder("mnist", data_dir=str(tmp_path))
    assert any("train-images-idx3-ubyte.gz" in url for url in type(builder).url_infos)


@pytest.fixture
def no_data_dir(monkeypatch):
    monkeypatch.delenv("SNN_DATA_DIR", raising=False)


def _tfds_load_raising(monkeypatch, error):
    import tensorflow_datasets as tfds

    def load(*args, **kwargs):
        raise error

    monkeypatch.setattr(tfds, "load", load)


def test_a_failed_download_says_it_is_a_download_that_failed(monkeypatch, no_data_dir):
    _tfds_load_raising(monkeypatch, ConnectionError("Failed to resolve 'storage.googleapis.com'"))
    with pytest.raises(DataError) as info:
        load_arrays("mnist", "test")
    message = str(info.value)
    assert "downloading mnist through tensorflow-datasets failed" in message
    assert "storage.googleapis.com" in message and "--data-dir" in message and "\n" not in message


def test_a_missing_dependency_of_tfds_is_named(monkeypatch, no_data_dir):
    _tfds_load_raising(monkeypatch, ModuleNotFoundError("No module named 'importlib_resources'",
                                                        name="importlib_resources"))
    with pytest.raises(DataError, match="lacks the module importlib_resources.*pip install -r requirements.txt"):
        tfds_fallback.load_with_tfds("mnist", "test")
