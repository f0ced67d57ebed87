"""The binary-SNN seed's data handling (docs/rate.md §5): CIFAR-100 augmentation and ImageNet folders.

CIFAR-100: the seed evaluates (and calibrates) on randomly cropped (32, padding 4) and flipped
images; `seed_cifar_augment` does the same in numpy (the padding is black pixels, as torchvision
pads the image before normalizing). The normalization itself is the model's first layer.

ImageNet: an ImageFolder-style tree `<root>/<split>/<wnid>/<file>.JPEG` (classes sorted by name,
files sorted within a class, as torchvision's ImageFolder). Evaluation images are resized to a
256 x 256 square (aspect not kept), calibration images to a shorter side of 256; both are then
centre-cropped to 224 (the seed's two torchvision pipelines, bilinear). Training images get
torchvision's RandomResizedCrop(224) (scale (0.08, 1), ratio (3/4, 4/3), bilinear) and
RandomHorizontalFlip, the PyTorch ImageNet recipe the seed says it trained with; the crop box of
`random_resized_box` is torchvision's rule, drawn from 41 uniforms per image (`TRAIN_DRAWS`), so
the tf.data pipeline (snn_data/pipelines.py) applies the same rule to its own draws.

A split is listed (`image_files`), never loaded whole: training and train.py's evaluation decode
each batch from its files.
"""
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from snn_data.sources import DataError

IMAGE_SUFFIXES = (".jpeg", ".jpg", ".png")
CROP = 224
RESIZE = 256
SCALE = (0.08, 1.0)  # RandomResizedCrop's defaults: the crop's share of the image area ...
RATIO = (3 / 4, 4 / 3)  # ... and its aspect ratio (width / height), drawn log-uniformly
ATTEMPTS = 10  # torchvision tries 10 boxes before its centre-crop fallback
TRAIN_DRAWS = 4 * ATTEMPTS + 1  # per attempt: area, ratio, top, left; then the flip


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
    if not samples:
        raise DataError(f"{folder} holds no images ({', '.join(IMAGE_SUFFIXES)} files) in its class folders")
    return samples, classes


def check_image_folder(root, split):
    """The DataError image_folder would raise, found without listing the whole split (a check
    before anything loads): stops at the first image."""
    folder = Path(root) / split
    if not folder.is_dir():
        image_folder(root, split)  # raises the missing-folder message
    classes = [p for p in sorted(folder.iterdir()) if p.is_dir()]
    if not classes:
        raise DataError(f"{folder} holds no class folders")
    for class_folder in classes:
        if any(path.suffix.lower() in IMAGE_SUFFIXES for path in class_folder.iterdir()):
            return
    raise DataError(f"{folder} holds no images ({', '.join(IMAGE_SUFFIXES)} files) in its class folders")


@dataclass(frozen=True)
class ImageFiles:
    """An ImageFolder split, listed but not loaded: file paths and labels in folder order. Slices
    (the first N, for --limit-train / --limit-test) are ImageFiles too."""

    paths: list
    labels: np.ndarray
    classes: list
    split: str

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, index):
        if not isinstance(index, slice):
            raise TypeError("ImageFiles takes slices; decode a file with decode_image")
        return ImageFiles(self.paths[index], self.labels[index], self.classes, self.split)


def image_files(root, split):
    samples, classes = image_folder(root, split)
    return ImageFiles([str(path) for path, _ in samples], np.array([label for _, label in samples], np.int64),
                      classes, split)


def random_resized_box(height, width, draws):
    """(top, left, crop height, crop width) of RandomResizedCrop for an image of that size, from
    TRAIN_DRAWS uniforms in [0, 1): the first of ATTEMPTS candidate boxes that fits, else
    torchvision's fallback (the centred box of the whole image clamped to RATIO)."""
    draws = np.asarray(draws, np.float64)
    area = height * width * (SCALE[0] + (SCALE[1] - SCALE[0]) * draws[:ATTEMPTS])
    log_low, log_high = math.log(RATIO[0]), math.log(RATIO[1])
    ratio = np.exp(log_low + (log_high - log_low) * draws[ATTEMPTS:2 * ATTEMPTS])
    w = np.round(np.sqrt(area * ratio)).astype(np.int64)
    h = np.round(np.sqrt(area / ratio)).astype(np.int64)
    fits = (w > 0) & (w <= width) & (h > 0) & (h <= height)
    if fits.any():
        k = int(np.argmax(fits))
        top = min(int(draws[2 * ATTEMPTS + k] * (height - h[k] + 1)), height - h[k])
        left = min(int(draws[3 * ATTEMPTS + k] * (width - w[k] + 1)), width - w[k])
        return top, left, int(h[k]), int(w[k])
    if width / height < RATIO[0]:
        w, h = width, int(round(width / RATIO[0]))
    elif width / height > RATIO[1]:
        w, h = int(round(height * RATIO[1])), height
    else:
        w, h = width, height
    return (height - h) // 2, (width - w) // 2, h, w


def train_transform(image, seed):
    """RandomResizedCrop(224) then RandomHorizontalFlip, drawn from numpy's generator of `seed` (the
    per-position seed of snn_data.augment.epoch_order): a PIL image -> uint8 (224, 224, 3)."""
    from PIL import Image

    draws = np.random.default_rng(np.asarray(seed, np.int64)).random(TRAIN_DRAWS)
    image = image.convert("RGB")
    top, left, h, w = random_resized_box(image.height, image.width, draws)
    # crop, then resize (as torchvision's resized_crop): PIL's resize(box=) would filter across the box edges
    array = np.asarray(image.crop((left, top, left + w, top + h)).resize((CROP, CROP), Image.BILINEAR))
    return array[:, ::-1] if draws[-1] < 0.5 else array


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
