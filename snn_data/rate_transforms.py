"""The binary-SNN seed's data handling (docs/rate.md §5): CIFAR-100 augmentation and ImageNet folders.

CIFAR-100: the seed evaluates (and calibrates) on randomly cropped (32, padding 4) and flipped
images; `seed_cifar_augment` does the same in numpy (the padding is black pixels, as torchvision
pads the image before normalizing). The normalization itself is the model's first layer.

ImageNet: an ImageFolder-style tree `<root>/<split>/<wnid>/<file>.JPEG` (classes sorted by name,
files sorted within a class, as torchvision's ImageFolder). Evaluation images are resized to a
256 x 256 square (aspect not kept), calibration images to a shorter side of 256; both are then
centre-cropped to 224 (the seed's two torchvision pipelines, bilinear).
"""
from pathlib import Path

import numpy as np

from snn_data.sources import DataError

IMAGE_SUFFIXES = (".jpeg", ".jpg", ".png")
CROP = 224
RESIZE = 256


def seed_cifar_augment(images, seed=0, padding=4):
    """Random crop of the original size from the zero-padded image, then a horizontal flip with p 0.5."""
    rng = np.random.default_rng(seed)
    n, h, w = images.shape[:3]
    padded = np.pad(images, ((0, 0), (padding, padding), (padding, padding), (0, 0)))
    tops = rng.integers(0, 2 * padding + 1, n)
    lefts = rng.integers(0, 2 * padding + 1, n)
    flips = rng.random(n) < 0.5
    out = np.empty_like(images)
    for i in range(n):
        crop = padded[i, tops[i]:tops[i] + h, lefts[i]:lefts[i] + w]
        out[i] = crop[:, ::-1] if flips[i] else crop
    return out


def eval_transform(image):
    """Resize((256, 256)) then CenterCrop(224): a PIL image -> uint8 (224, 224, 3)."""
    from PIL import Image

    return _center_crop(np.asarray(image.convert("RGB").resize((RESIZE, RESIZE), Image.BILINEAR)))


def calibration_transform(image):
    """Resize(256) (the shorter side) then CenterCrop(224)."""
    from PIL import Image

    image = image.convert("RGB")
    w, h = image.size
    if w <= h:
        size = (RESIZE, int(RESIZE * h / w))
    else:
        size = (int(RESIZE * w / h), RESIZE)
    return _center_crop(np.asarray(image.resize(size, Image.BILINEAR)))


def _center_crop(array, size=CROP):
    h, w = array.shape[:2]
    top, left = int(round((h - size) / 2.0)), int(round((w - size) / 2.0))
    return array[top:top + size, left:left + size]


def image_folder(root, split):
    """[(path, class index)] of `<root>/<split>/<class>/*` and the sorted class names."""
    folder = Path(root) / split
    if not folder.is_dir():
        raise DataError(f"missing ImageNet folder {folder} (expected {folder}/<wnid>/<image>.JPEG, or a folder "
                        f"with ILSVRC2012_img_train.tar and ILSVRC2012_img_val.tar for tensorflow-datasets)")
    classes = sorted(p.name for p in folder.iterdir() if p.is_dir())
    if not classes:
        raise DataError(f"{folder} holds no class folders")
    samples = [(path, index) for index, name in enumerate(classes)
               for path in sorted((folder / name).iterdir()) if path.suffix.lower() in IMAGE_SUFFIXES]
    return samples, classes


def read_image_folder(root, split, transform=None, limit=None, indices=None):
    """(uint8 images (N, 224, 224, 3), int64 labels) of an ImageFolder split; `indices` picks samples
    (e.g. the calibration subset), `limit` keeps the first N."""
    from PIL import Image

    transform = transform or (eval_transform if split == "val" else calibration_transform)
    samples, _ = image_folder(root, split)
    if indices is not None:
        samples = [samples[i] for i in indices]
    if limit:
        samples = samples[:limit]
    images = np.empty((len(samples), CROP, CROP, 3), np.uint8)
    for i, (path, _) in enumerate(samples):
        images[i] = decode_image(path, transform)
    return images, np.array([label for _, label in samples], np.int64)


def decode_image(path, transform):
    """transform(the PIL image at `path`), a uint8 array; DataError if the file is not an image."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            return transform(image)
    except OSError as err:
        raise DataError(f"cannot read image {path}: {err}") from None
