"""The binary-SNN seed's data (docs/rate.md §5): ImageNet folders and transforms, CIFAR augmentation,
on tiny synthetic files written here."""
import numpy as np
import pytest
from PIL import Image

from snn_data import load_arrays
from snn_data.rate_transforms import (calibration_transform, eval_transform, image_folder, read_image_folder,
                                      seed_cifar_augment)
from snn_data.sources import DataError

RED, BLUE = (230, 10, 10), (10, 10, 230)


def _quarter_red(width=512, height=256):
    """Left quarter red, the rest blue: the two transforms crop it differently."""
    pixels = np.empty((height, width, 3), np.uint8)
    pixels[:] = BLUE
    pixels[:, : width // 4] = RED
    return Image.fromarray(pixels)


@pytest.fixture
def imagenet_tree(tmp_path):
    root = tmp_path / "imagenet"
    for split, files in (("train", {"n02": 2, "n01": 1}), ("val", {"n01": 1, "n02": 1})):
        for wnid, count in files.items():
            folder = root / split / wnid
            folder.mkdir(parents=True)
            for i in range(count):
                _quarter_red().save(folder / f"{wnid}_{i}.JPEG", quality=95)
    (root / "val" / "n01" / "notes.txt").write_text("not an image")
    return tmp_path


def _is_red(pixel):
    return pixel[0] > 150 and pixel[2] < 100


def test_the_two_transforms():
    image = _quarter_red()
    evaluated, calibrated = eval_transform(image), calibration_transform(image)
    assert evaluated.shape == calibrated.shape == (224, 224, 3)
    # eval: square 256 x 256 (red columns 0..63), centre crop from column 16 -> red up to column ~47
    assert _is_red(evaluated[112, 10]) and not _is_red(evaluated[112, 80])
    # calibration: shorter side 256 keeps 512 x 256, the centre crop starts at column 144 -> all blue
    assert not _is_red(calibrated[112, 10])


def test_image_folder_order_and_labels(imagenet_tree):
    samples, classes = image_folder(imagenet_tree / "imagenet", "train")
    assert classes == ["n01", "n02"]
    assert [(path.name, label) for path, label in samples] == [("n01_0.JPEG", 0), ("n02_0.JPEG", 1), ("n02_1.JPEG", 1)]
    images, labels = read_image_folder(imagenet_tree / "imagenet", "train", indices=[2, 0])
    assert images.shape == (2, 224, 224, 3) and images.dtype == np.uint8 and labels.tolist() == [1, 0]


def test_load_arrays_reads_imagenet_folders(imagenet_tree, monkeypatch):
    images, labels = load_arrays("imagenet", "test", imagenet_tree)  # val/ with the evaluation transform
    assert images.shape == (2, 224, 224, 3) and labels.tolist() == [0, 1]
    assert _is_red(images[0, 112, 10])
    first, _ = load_arrays("imagenet", "train", imagenet_tree / "imagenet", limit=1)
    assert first.shape == (1, 224, 224, 3) and not _is_red(first[0, 112, 10])
    with pytest.raises(DataError, match="missing ImageNet folder"):
        load_arrays("imagenet", "test", imagenet_tree / "nowhere")
    monkeypatch.delenv("SNN_DATA_DIR", raising=False)
    with pytest.raises(DataError, match="ImageFolder"):
        load_arrays("imagenet", "test", None)


def test_seed_cifar_augmentation():
    images = np.random.default_rng(0).integers(1, 256, (400, 32, 32, 3), dtype=np.uint8)
    out = seed_cifar_augment(images, seed=3)
    assert out.shape == images.shape and out.dtype == np.uint8
    np.testing.assert_array_equal(out, seed_cifar_augment(images, seed=3))
    zero_rows = [(out[i] == 0).all(axis=(1, 2)).any() or (out[i] == 0).all(axis=(0, 2)).any() for i in range(400)]
    assert 350 < sum(zero_rows) < 400  # 80 of the 81 offsets reach into the black padding
    assert any(np.array_equal(out[i], images[i, :, ::-1]) for i in range(400))  # flipped, not shifted


def test_seed_style_training_batches_keep_32x32_and_crop_from_black_padding():
    """vgg15ab's CIFAR training augmentation (docs/training.md §7): RandomCrop(32, padding 4) and flips."""
    from snn_data.pipelines import train_dataset

    images = np.full((64, 32, 32, 3), 200, np.uint8)
    batch, _ = next(iter(train_dataset(images, np.zeros(64, np.int64), 64, "cifar100", seed=0, epoch=0,
                                       seed_style=True)))
    batch = batch.numpy()
    assert batch.shape == (64, 32, 32, 3)
    black = (batch == 0).all(axis=3)
    assert black.any() and (batch[~black] == 200).all()  # shifted images, never rescaled
    assert black.reshape(64, -1).sum(axis=1).max() <= 32 * 32 - 24 * 24  # at most 4 rows and 4 columns
    plain, _ = next(iter(train_dataset(images, np.zeros(64, np.int64), 64, "cifar100", seed=0, epoch=0,
                                       augment=False, seed_style=True)))
    assert plain.shape == (64, 32, 32, 3) and (plain.numpy() == 200).all()
