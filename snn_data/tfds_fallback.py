"""Fetch a dataset through tensorflow-datasets when no data directory is given (needs internet)."""
import contextlib
import logging

import numpy as np

from snn_data.sources import ENV_VAR, DataError

_TFDS_NAMES = {"mnist": "mnist", "cifar10": "cifar10", "cifar100": "cifar100"}
_INSTEAD = f"pass --data-dir DIR or set {ENV_VAR} to a folder with the official files"


def load_with_tfds(dataset, split):
    tfds = _import_tfds()
    try:
        with _quiet_retries():
            images, labels = tfds.as_numpy(
                tfds.load(_TFDS_NAMES[dataset], split=split, as_supervised=True, batch_size=-1)
            )
    except ModuleNotFoundError as err:  # tfds imports parts of itself (and its dependencies) lazily
        raise DataError(f"tensorflow-datasets lacks the module {err.name} ({err}); install the pinned "
                        f"dependencies with pip install -r requirements.txt, or {_INSTEAD}") from None
    except Exception as err:  # offline, a proxy, a server error: tfds raises many kinds
        raise DataError(f"no data directory was given and downloading {dataset} through "
                        f"tensorflow-datasets failed ({_first_line(err)}); {_INSTEAD}") from None
    return np.asarray(images, dtype=np.uint8), np.asarray(labels, dtype=np.int64)


def _import_tfds():
    try:
        import tensorflow_datasets as tfds
    except ImportError as err:
        raise DataError(f"no data directory was given and tensorflow-datasets cannot be imported "
                        f"({err}); pip install -r requirements.txt, or {_INSTEAD}") from None
    return tfds


@contextlib.contextmanager
def _quiet_retries():
    """urllib3 logs a warning per retry of every file; the failure is reported once, by us."""
    logger = logging.getLogger("urllib3")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _first_line(err):
    text = str(err).strip()
    return f"{type(err).__name__}: {text.splitlines()[0]}" if text else type(err).__name__
