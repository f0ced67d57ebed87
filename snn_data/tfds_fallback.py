"""Fetch a dataset through tensorflow-datasets when no data directory is given (needs internet)."""
import numpy as np

from snn_data.sources import ENV_VAR, DataError

_TFDS_NAMES = {"mnist": "mnist", "cifar10": "cifar10", "cifar100": "cifar100"}


def load_with_tfds(dataset, split):
    try:
        import tensorflow_datasets as tfds

        images, labels = tfds.as_numpy(
            tfds.load(_TFDS_NAMES[dataset], split=split, as_supervised=True, batch_size=-1)
        )
    except Exception as err:  # tfds raises many kinds of errors when offline
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise DataError(
            f"no data directory given and tensorflow-datasets could not fetch {dataset} "
            f"({first_line}); pass --data-dir DIR or set {ENV_VAR} to a folder with the official files"
        ) from None
    return np.asarray(images, dtype=np.uint8), np.asarray(labels, dtype=np.int64)
