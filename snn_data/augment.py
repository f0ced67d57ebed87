"""What every input pipeline shares, in numpy: the per-(seed, epoch) order and the augmentations.

The order and the per-example seeds are one numpy generator's draws, so the tf.data pipeline
(snn_data/pipelines.py) and the TensorFlow-free one (snn_data/batches.py) feed the same images in
the same order. The MNIST shift is a function of those seeds and is bit-identical on both. The
CIFAR augmentation of the TensorFlow-free pipeline draws its parameters (crop corner, flip,
brightness, contrast) from a second generator of (seed, epoch): the same distributions as
tf.image's stateless ops, but not their draws (TensorFlow's Philox streams are not reproduced).
The binary-SNN seed's CIFAR augmentation (crop 32 from the image padded by 4 black pixels, flip)
draws its own parameters from a third generator of (seed, epoch), in the same way.
"""
import numpy as np

from snn_data.sources import CIFAR_CROP

MNIST_SHIFT = 2
CIFAR_SIZE = 32
BRIGHTNESS = 63.0  # +- pixel values
CONTRAST = (0.2, 1.8)
SEED_PADDING = 4  # the binary-SNN seed's RandomCrop(32, padding=4)


def epoch_order(count, seed, epoch):
    """(order, seeds): the epoch's permutation and one (2,) int64 seed per position."""
    rng = np.random.default_rng([seed, epoch])
    order = rng.permutation(count)
    seeds = rng.integers(0, 2**31 - 1, size=(count, 2), dtype=np.int64)
    return order, seeds


def shift_offsets(seeds, max_shift):
    """(rows, cols) offsets into the zero-padded image; the rule the tf.data pipeline uses too."""
    span = 2 * max_shift + 1
    return seeds % span, (seeds // 7) % span


def random_shift(images, seeds, max_shift=MNIST_SHIFT):
    """Translate each image by up to +-max_shift pixels in each direction, zero fill."""
    n, height, width = images.shape[:3]
    pad = ((0, 0), (max_shift, max_shift), (max_shift, max_shift), (0, 0))
    padded = np.pad(images, pad)
    top, left = shift_offsets(seeds, max_shift)
    rows = top[:, None] + np.arange(height)[None, :]
    cols = left[:, None] + np.arange(width)[None, :]
    batch = np.arange(n)[:, None, None]
    return padded[batch, rows[:, :, None], cols[:, None, :]]


def cifar_parameters(count, seed, epoch):
    """Per-position augmentation parameters of one epoch: crop corner, flip, brightness, contrast."""
    rng = np.random.default_rng([seed, epoch, 1])
    corner = rng.integers(0, CIFAR_SIZE - CIFAR_CROP + 1, size=(count, 2))
    flip = rng.random(count) < 0.5
    brightness = rng.uniform(-BRIGHTNESS, BRIGHTNESS, count).astype(np.float32)
    contrast = rng.uniform(*CONTRAST, count).astype(np.float32)
    return {"corner": corner, "flip": flip, "brightness": brightness, "contrast": contrast}


def cifar_augment(images, params):
    """Random 24x24 crop, left-right flip, brightness delta, contrast factor (tf.image's formulas:
    x + delta, then (x - channel mean) * factor + channel mean), float32, no clipping."""
    n = len(images)
    steps = np.arange(CIFAR_CROP)
    rows = params["corner"][:, :1] + steps[None, :]
    cols = np.where(params["flip"][:, None], steps[::-1][None, :], steps[None, :]) + params["corner"][:, 1:]
    batch = np.arange(n)[:, None, None]
    x = images[batch, rows[:, :, None], cols[:, None, :]].astype(np.float32)
    x += params["brightness"][:, None, None, None]
    mean = x.mean(axis=(1, 2), keepdims=True)
    return (x - mean) * params["contrast"][:, None, None, None] + mean


def central_crop(images, size=CIFAR_CROP):
    top = (images.shape[1] - size) // 2
    left = (images.shape[2] - size) // 2
    return images[:, top : top + size, left : left + size]


def seed_style_parameters(count, seed, epoch, padding=SEED_PADDING):
    """Per-position parameters of the seed's RandomCrop(32, padding) + RandomHorizontalFlip: the
    crop corner in the padded image (each of 2 * padding + 1 offsets alike) and the flip."""
    rng = np.random.default_rng([seed, epoch, 2])
    corner = rng.integers(0, 2 * padding + 1, size=(count, 2))
    flip = rng.random(count) < 0.5
    return {"corner": corner, "flip": flip}


def seed_style_augment(images, params, padding=SEED_PADDING):
    """Crop of the original size from the zero-padded image at each corner, flipped left-right
    where `flip`; float32 pixel values (the padding stays 0, as the seed pads before normalizing)."""
    n, height, width = images.shape[:3]
    padded = np.pad(images, ((0, 0), (padding, padding), (padding, padding), (0, 0)))
    rows = params["corner"][:, :1] + np.arange(height)[None, :]
    steps = np.arange(width)
    cols = np.where(params["flip"][:, None], steps[::-1][None, :], steps[None, :]) + params["corner"][:, 1:]
    batch = np.arange(n)[:, None, None]
    return padded[batch, rows[:, :, None], cols[:, None, :]].astype(np.float32)
