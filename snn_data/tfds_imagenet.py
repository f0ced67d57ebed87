"""ImageNet through tensorflow-datasets' `imagenet2012`, built from a manual directory (docs/rate.md §5).

ImageNet cannot be downloaded (it needs a registration), so tfds builds `imagenet2012` from the
archives the user put in a folder: `ILSVRC2012_img_train.tar` and `ILSVRC2012_img_val.tar`. A data
directory that holds those archives instead of `train/` and `val/` folders is read this way; the
first use prepares tfds's TFRecords (hours, in tfds's data directory, `$TFDS_DATA_DIR` or
~/tensorflow_datasets), later uses read them. Nothing is downloaded: the builder's labels ship with
tfds and the images come from the archives.

Labels: tfds numbers the classes by sorted WordNet id, as torchvision's ImageFolder does, so both
sources give the same label to the same image. The images get the seed's transforms
(snn_data/rate_transforms.py): validation as evaluation, train as calibration. The order differs
from a folder tree's (tfds writes its shards in its own order), so `first` calibration images are
not the same images.
"""
from pathlib import Path

import numpy as np

from snn_data.sources import DataError

TARS = {"train": "ILSVRC2012_img_train.tar", "test": "ILSVRC2012_img_val.tar"}
TFDS_SPLITS = {"train": "train", "test": "validation"}


def is_manual_dir(directory):
    """A folder of ImageNet archives (any ILSVRC2012_*.tar) rather than a train/ val/ tree."""
    directory = Path(directory)
    if (directory / "train").is_dir() or (directory / "val").is_dir():
        return False
    return any(directory.glob("ILSVRC2012_*.tar"))


def check_manual_dir(directory):
    """Both archives tfds needs to build imagenet2012 are there (it builds every split at once)."""
    missing = [name for name in TARS.values() if not (Path(directory) / name).is_file()]
    if missing:
        raise DataError(f"{directory} is a tensorflow-datasets manual directory for imagenet2012 but lacks "
                        f"{' and '.join(missing)} (tfds builds imagenet2012 from both archives; or pass an "
                        f"ImageFolder tree with train/ and val/)")


def read_tfds_imagenet(split, manual_dir, limit=None):
    """(uint8 images (N, 224, 224, 3), int64 labels) of one split, with the seed's transforms."""
    check_manual_dir(manual_dir)
    tfds = _import_tfds()
    from PIL import Image

    from snn_data.rate_transforms import calibration_transform, eval_transform

    transform = eval_transform if split == "test" else calibration_transform
    try:
        builder = tfds.builder("imagenet2012")
        config = tfds.download.DownloadConfig(manual_dir=str(manual_dir))
        builder.download_and_prepare(download_config=config)
        ds = builder.as_dataset(split=TFDS_SPLITS[split], shuffle_files=False)
        if limit:
            ds = ds.take(limit)
        images, labels = [], []
        for example in tfds.as_numpy(ds):
            images.append(transform(Image.fromarray(example["image"])))
            labels.append(int(example["label"]))
    except DataError:
        raise
    except Exception as err:  # tfds fails in many ways (a damaged archive, a full disk)
        first = str(err).strip().splitlines()[0] if str(err).strip() else ""
        raise DataError(f"tensorflow-datasets could not build imagenet2012 from {manual_dir}: "
                        f"{type(err).__name__}: {first}") from None
    return np.stack(images).astype(np.uint8), np.asarray(labels, np.int64)


def _import_tfds():
    try:
        import tensorflow_datasets as tfds
    except ImportError as err:
        raise DataError(f"{err}: the ImageNet archives in a manual directory are read through "
                        f"tensorflow-datasets; install it, or pass an ImageFolder tree with train/ and val/") from None
    return tfds
