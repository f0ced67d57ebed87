"""Readers of the official file formats into numpy arrays (images uint8 NHWC, labels int64)."""
import gzip
import pickle
import struct

import numpy as np

from snn_data.sources import DataError, dataset_file, resolve_data_dir

SPLITS = ("train", "test")
_MNIST_NAMES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
_CIFAR10_NAMES = {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]}


def load_arrays(dataset, split, data_dir=None, verify_md5=True, limit=None):
    """(images, labels) of one split, from the data directory or, without one, tensorflow-datasets.

    `limit` reads only the first N images where the format allows it (ImageNet folders)."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; valid: {SPLITS}")
    directory = resolve_data_dir(data_dir)
    if directory is None and dataset == "imagenet":
        raise DataError("ImageNet is read from an ImageFolder tree (train/<wnid>/*.JPEG, val/<wnid>/*.JPEG): "
                        "pass --data-dir (or the seed's --data)")
    if directory is None:
        from snn_data.tfds_fallback import load_with_tfds

        return load_with_tfds(dataset, split)
    if dataset == "mnist":
        return read_mnist(split, directory, verify_md5)
    if dataset == "cifar10":
        return read_cifar10(split, directory, verify_md5)
    if dataset == "cifar100":
        return read_cifar100(split, directory, verify_md5)
    if dataset == "imagenet":
        return read_imagenet(split, directory, limit)
    raise ValueError(f"unknown dataset {dataset!r}; valid: mnist, cifar10, cifar100, imagenet")


def imagenet_root(directory):
    """`<dir>/imagenet` if it holds the split folders, else `<dir>` itself."""
    nested = directory / "imagenet"
    return nested if (nested / "val").is_dir() or (nested / "train").is_dir() else directory


def read_imagenet(split, directory, limit=None):
    """ImageNet from an ImageFolder tree: test = val/ with the seed's evaluation transform, train =
    train/ with its calibration transform (snn_data.rate_transforms); or, from a folder of the
    ILSVRC2012 archives, through tensorflow-datasets (snn_data.tfds_imagenet)."""
    from snn_data.rate_transforms import read_image_folder
    from snn_data.tfds_imagenet import read_tfds_imagenet

    archives = imagenet_archives(directory)
    if archives is not None:
        return read_tfds_imagenet(split, archives, limit)
    return read_image_folder(imagenet_root(directory), "val" if split == "test" else "train", limit=limit)


def imagenet_archives(directory):
    """The folder of ILSVRC2012 archives (tensorflow-datasets' manual directory) under `directory`, or None."""
    from snn_data.tfds_imagenet import is_manual_dir

    for candidate in (directory / "imagenet", directory):
        if candidate.is_dir() and is_manual_dir(candidate):
            return candidate
    return None


def imagenet_files(split, data_dir=None):
    """The ImageFiles of one split of an ImageFolder tree (test = val/), listed and not loaded:
    train.py streams them (snn_data.pipelines.image_train_dataset, snn_data.batches.ImageFolderBatches)."""
    from snn_data.rate_transforms import image_files

    directory = _imagenet_dir(data_dir)
    if imagenet_archives(directory) is not None:
        raise DataError(f"{directory} holds the ILSVRC2012 archives: train.py streams ImageNet from an ImageFolder "
                        f"tree (train/<wnid>/*.JPEG, val/<wnid>/*.JPEG), which it cannot read from tensorflow-datasets' "
                        f"records; extract the archives into such a tree (evaluate_snn.py reads the archives)")
    return image_files(imagenet_root(directory), "val" if split == "test" else "train")


def check_imagenet_folders(data_dir=None):
    """Both splits of the ImageFolder tree exist and hold images (a quick check before Keras loads)."""
    from snn_data.rate_transforms import check_image_folder

    directory = _imagenet_dir(data_dir)
    if imagenet_archives(directory) is not None:
        imagenet_files("train", directory)  # raises the archives message
    for split in ("train", "val"):
        check_image_folder(imagenet_root(directory), split)


def check_same_classes(train, test, classes):
    """The two splits number the same class folders (a label means one class in both), at most `classes`."""
    if train.classes != test.classes:
        only = sorted(set(train.classes) ^ set(test.classes))
        raise DataError(f"the ImageNet train/ and val/ folders hold different classes ({len(train.classes)} and "
                        f"{len(test.classes)}; e.g. {', '.join(only[:3])} only in one), so their labels disagree")
    if len(train.classes) > classes:
        raise DataError(f"the ImageNet folders hold {len(train.classes)} classes; the model has {classes} outputs")


def _imagenet_dir(data_dir):
    directory = resolve_data_dir(data_dir)
    if directory is None:
        raise DataError("ImageNet is read from an ImageFolder tree (train/<wnid>/*.JPEG, val/<wnid>/*.JPEG): "
                        "pass --data-dir (or the seed's --data)")
    return directory


def read_mnist(split, directory, verify_md5=True):
    image_name, label_name = _MNIST_NAMES[split]
    images = _read_idx(dataset_file("mnist", image_name, directory, verify_md5), expected_magic=2051)
    labels = _read_idx(dataset_file("mnist", label_name, directory, verify_md5), expected_magic=2049)
    if len(images) != len(labels):
        raise DataError(f"MNIST {split}: {len(images)} images but {len(labels)} labels")
    return images[..., None], labels.astype(np.int64)


def _read_idx(path, expected_magic):
    try:
        with gzip.open(path, "rb") as handle:
            data = handle.read()
    except (OSError, EOFError) as err:
        raise DataError(f"cannot read {path}: {err}") from None
    if len(data) < 4 or struct.unpack(">I", data[:4])[0] != expected_magic:
        raise DataError(f"{path}: not an IDX file of the expected kind")
    ndim = expected_magic & 0xFF
    if len(data) < 4 + 4 * ndim:
        raise DataError(f"{path}: truncated header")
    shape = struct.unpack(f">{ndim}I", data[4 : 4 + 4 * ndim])
    array = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if array.size != int(np.prod(shape)):
        raise DataError(f"{path}: truncated ({array.size} values for shape {shape})")
    return array.reshape(shape)


def read_cifar10(split, directory, verify_md5=True):
    images, labels = [], []
    for name in _CIFAR10_NAMES[split]:
        batch_images, batch_labels = _cifar_fields(dataset_file("cifar10", name, directory, verify_md5), b"labels")
        images.append(batch_images)
        labels.append(batch_labels)
    return np.concatenate(images), np.concatenate(labels)


def read_cifar100(split, directory, verify_md5=True):
    return _cifar_fields(dataset_file("cifar100", split, directory, verify_md5), b"fine_labels")


def _unpickle(path):
    try:
        with open(path, "rb") as handle:
            return pickle.load(handle, encoding="bytes")
    except (OSError, pickle.UnpicklingError, EOFError, ValueError) as err:
        raise DataError(f"cannot read {path}: {err}") from None


def _cifar_images(batch):
    # Official layout: rows of 3072 bytes, channel-major (1024 R, 1024 G, 1024 B), 32x32 each.
    data = np.asarray(batch[b"data"], dtype=np.uint8)
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)


def _cifar_fields(path, label_key):
    """(images, labels) of one pickle, or a DataError naming what is wrong with it."""
    batch = _unpickle(path)
    try:
        images, labels = _cifar_images(batch), np.asarray(batch[label_key], dtype=np.int64)
    except (KeyError, TypeError, ValueError) as err:
        raise DataError(f"{path}: not a CIFAR batch in the official layout ({type(err).__name__}: {err})") from None
    if len(images) != len(labels):
        raise DataError(f"{path}: {len(images)} images but {len(labels)} labels")
    return images, labels
