"""Where the official dataset files are, and whether they are the official bytes.

A data directory holds each dataset in its own folder (`mnist/`, `cifar-10-batches-py/`,
`cifar-100-python/`); the files may also lie directly in the directory given. The directory comes
from `--data-dir`, else the `SNN_DATA_DIR` environment variable; with neither, the loaders fetch
through tensorflow-datasets (online only).
"""
import hashlib
import os
from pathlib import Path

ENV_VAR = "SNN_DATA_DIR"
CIFAR_CROP = 24  # CIFAR models see 24 x 24 crops: random in training, the centre in evaluation

MNIST_FILES = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
CIFAR10_FILES = {
    "data_batch_1": "c99cafc152244af753f735de768cd75f",
    "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
    "data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
    "data_batch_4": "634d18415352ddfa80567beed471001a",
    "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb",
    "test_batch": "40351d587109b95175f43aff81a1287e",
    "batches.meta": "5ff9c542aee3614f3951f8cda6e48888",
}
CIFAR100_FILES = {
    "train": "16019d7e3df5f24257cddd939b257f8d",
    "test": "f0ef6b0ae62326f3e7ffdfab6717acfc",
    "meta": "7973b15100ade9c7d40fb424638fde48",
}

# dataset: (folder name, official files, where to get them)
SOURCES = {
    "mnist": ("mnist", MNIST_FILES, "the four IDX .gz files from http://yann.lecun.com/exdb/mnist/"),
    "cifar10": ("cifar-10-batches-py", CIFAR10_FILES,
                "cifar-10-python.tar.gz from https://www.cs.toronto.edu/~kriz/cifar.html, extracted"),
    "cifar100": ("cifar-100-python", CIFAR100_FILES,
                 "cifar-100-python.tar.gz from https://www.cs.toronto.edu/~kriz/cifar.html, extracted"),
}


class DataError(Exception):
    """A dataset file that is missing, corrupt or unreadable; the message is one line for the user."""


def resolve_data_dir(data_dir=None):
    """The data directory from the argument, else $SNN_DATA_DIR, else None (use tensorflow-datasets)."""
    chosen = data_dir or os.environ.get(ENV_VAR) or None
    return None if chosen is None else Path(chosen).expanduser()


def dataset_file(dataset, name, data_dir, verify_md5=True):
    """Path of one official file of `dataset` under `data_dir`, checked against its md5."""
    folder, files, how = SOURCES[dataset]
    candidates = [data_dir / folder / name, data_dir / name]
    path = next((p for p in candidates if p.is_file()), None)
    if path is None:
        raise DataError(
            f"missing {dataset} file {name} (looked in {data_dir / folder} and {data_dir}); "
            f"put {how} into {data_dir / folder}"
        )
    if verify_md5:
        actual = md5sum(path)
        if actual != files[name]:
            raise DataError(
                f"{path} is corrupt or not the official file (md5 {actual}, expected {files[name]}); "
                f"download {how} again, or pass --no-md5-check for a copy you trust"
            )
    return path


def md5sum(path):
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
