"""ImageNet from tensorflow-datasets' imagenet2012 with a manual directory (docs/rate.md §5), offline:
the directory check and the plumbing into tfds (a stand-in module: nothing is built or downloaded)."""
import sys
import types

import numpy as np
import pytest

from snn_data import load_arrays
from snn_data.sources import DataError
from snn_data.tfds_imagenet import TARS, is_manual_dir


def _archives(folder, names):
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_bytes(b"not really a tar")
    return folder


def test_a_folder_of_archives_is_a_manual_dir_and_a_tree_is_not(tmp_path):
    assert is_manual_dir(_archives(tmp_path / "m", [TARS["test"]]))
    tree = _archives(tmp_path / "t", [TARS["test"]])
    (tree / "val").mkdir()
    assert not is_manual_dir(tree) and not is_manual_dir(tmp_path / "t" / "val")


def test_a_manual_dir_without_the_train_archive_is_one_clear_line(tmp_path):
    manual = _archives(tmp_path / "imagenet", [TARS["test"]])
    with pytest.raises(DataError) as info:
        load_arrays("imagenet", "test", tmp_path)
    message = str(info.value)
    assert "ILSVRC2012_img_train.tar" in message and "ILSVRC2012_img_val.tar" not in message.split("lacks")[1].split("(")[0]
    assert str(manual) in message and "\n" not in message


def test_a_folder_with_neither_names_both_sources(tmp_path):
    with pytest.raises(DataError, match="ILSVRC2012_img_train.tar and ILSVRC2012_img_val.tar for tensorflow-datasets"):
        load_arrays("imagenet", "test", tmp_path)


class _FakeTfds(types.ModuleType):
    """Records what the reader asks of tfds and serves two full-size images."""

    def __init__(self):
        super().__init__("tensorflow_datasets")
        self.calls = []
        self.download = types.SimpleNamespace(DownloadConfig=lambda **kw: ("config", kw))
        fake = self

        class Builder:
            def download_and_prepare(self, download_config):
                fake.calls.append(("prepare", download_config))

            def as_dataset(self, split, shuffle_files):
                fake.calls.append(("split", split, shuffle_files))
                rng = np.random.default_rng(0)
                return [{"image": rng.integers(0, 256, (300, 400, 3), dtype=np.uint8), "label": 7},
                        {"image": rng.integers(0, 256, (256, 256, 3), dtype=np.uint8), "label": 3}]

        self.builder = lambda name: (fake.calls.append(("builder", name)), Builder())[1]
        self.as_numpy = lambda ds: ds


def test_the_archives_are_built_by_tfds_with_the_manual_dir(tmp_path, monkeypatch):
    fake = _FakeTfds()
    monkeypatch.setitem(sys.modules, "tensorflow_datasets", fake)
    manual = _archives(tmp_path / "archives", TARS.values())
    images, labels = load_arrays("imagenet", "test", manual)
    assert images.shape == (2, 224, 224, 3) and images.dtype == np.uint8 and list(labels) == [7, 3]
    assert ("builder", "imagenet2012") in fake.calls
    assert ("prepare", ("config", {"manual_dir": str(manual)})) in fake.calls
    assert ("split", "validation", False) in fake.calls
    load_arrays("imagenet", "train", manual)
    assert ("split", "train", False) in fake.calls


def test_without_tfds_the_archives_are_refused_in_one_line(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorflow_datasets", None)  # import fails
    manual = _archives(tmp_path / "archives", TARS.values())
    with pytest.raises(DataError, match="read through tensorflow-datasets; install it, or pass an ImageFolder"):
        load_arrays("imagenet", "test", manual)
