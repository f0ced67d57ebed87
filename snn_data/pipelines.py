"""tf.data input pipelines. Images leave the pipeline as float32 pixel values in [0, 255]; the
deterministic preprocessing (MNIST /256, CIFAR central crop and per-image standardization) is
part of the model, so an exported model takes images as they come.

Training epochs are deterministic functions of (seed, epoch): the shuffle order and every random
augmentation are drawn from stateless generators, so a resumed run sees the data an uninterrupted
run would have seen.

ImageNet is streamed: the pipeline holds the file list, and each example is read and decoded by
TensorFlow in parallel (num_parallel_calls; the order stays the epoch's).
"""
import math

import numpy as np
import tensorflow as tf

from snn_data.augment import MNIST_SHIFT, epoch_order, shift_offsets
from snn_data.rate_transforms import ATTEMPTS, CROP, RATIO, RESIZE, SCALE, TRAIN_DRAWS
from snn_data.sources import CIFAR_CROP


def train_dataset(images, labels, batch_size, dataset, seed, epoch, augment=True, seed_style=False):
    """One epoch of shuffled, augmented training batches; `seed_style`: CIFAR images keep their 32 x 32
    and get the binary-SNN seed's augmentation (the rate-coded presets)."""
    order, seeds = epoch_order(len(images), seed, epoch)
    ds = tf.data.Dataset.from_tensor_slices((images[order], labels[order], seeds))
    if dataset == "mnist":
        ds = ds.batch(batch_size).map(_mnist_train_batch(augment), num_parallel_calls=tf.data.AUTOTUNE)
    else:
        example = _seed_cifar_train_example if seed_style else _cifar_train_example
        ds = ds.map(example(augment), num_parallel_calls=tf.data.AUTOTUNE)
        ds = ds.batch(batch_size)
    return ds.prefetch(tf.data.AUTOTUNE)


def eval_dataset(images, labels, batch_size):
    """Test batches in file order, no augmentation."""
    ds = tf.data.Dataset.from_tensor_slices((images, labels)).batch(batch_size)
    return ds.map(lambda x, y: (tf.cast(x, tf.float32), y), num_parallel_calls=tf.data.AUTOTUNE).prefetch(
        tf.data.AUTOTUNE
    )


def _mnist_train_batch(augment):
    def transform(images, labels, seeds):
        images = tf.cast(images, tf.float32)
        if augment:
            images = random_shift(images, seeds[:, 0], MNIST_SHIFT)
        return images, labels

    return transform


def random_shift(images, seeds, max_shift):
    """Translate each image by up to +-max_shift pixels in each direction, zero fill (vectorized)."""
    height, width = images.shape[1], images.shape[2]
    padded = tf.pad(images, [[0, 0], [max_shift, max_shift], [max_shift, max_shift], [0, 0]])
    offsets = tf.stack(shift_offsets(seeds, max_shift), axis=1)
    rows = offsets[:, :1] + tf.range(height, dtype=offsets.dtype)[None, :]
    cols = offsets[:, 1:] + tf.range(width, dtype=offsets.dtype)[None, :]
    shifted = tf.gather(padded, rows, axis=1, batch_dims=1)
    return tf.gather(shifted, cols, axis=2, batch_dims=1)


def _cifar_train_example(augment):
    """docs/training.md §1: random 24x24 crop, flip, brightness (+-63), contrast [0.2, 1.8]."""

    def transform(image, label, seed):
        image = tf.cast(image, tf.float32)
        if not augment:
            return tf.image.central_crop(image, CIFAR_CROP / 32), label
        seeds = tf.random.experimental.stateless_split(seed, num=4)
        image = tf.image.stateless_random_crop(image, [CIFAR_CROP, CIFAR_CROP, 3], seed=seeds[0])
        image = tf.image.stateless_random_flip_left_right(image, seed=seeds[1])
        image = tf.image.stateless_random_brightness(image, 63.0, seed=seeds[2])
        image = tf.image.stateless_random_contrast(image, 0.2, 1.8, seed=seeds[3])
        return image, label

    return transform


def _seed_cifar_train_example(augment):
    """The binary-SNN seed's training augmentation (torchvision RandomCrop(32, padding=4) with black
    padding, RandomHorizontalFlip): docs/training.md §7."""

    def transform(image, label, seed):
        image = tf.cast(image, tf.float32)
        if not augment:
            return image, label
        seeds = tf.random.experimental.stateless_split(seed, num=2)
        padded = tf.pad(image, [[4, 4], [4, 4], [0, 0]])
        image = tf.image.stateless_random_crop(padded, tf.shape(image), seed=seeds[0])
        return tf.image.stateless_random_flip_left_right(image, seed=seeds[1]), label

    return transform


def image_train_dataset(files, batch_size, seed, epoch, augment=True):
    """One epoch of an ImageFolder split (`ImageFiles`) in the order of (seed, epoch), each image
    read from its file, decoded and augmented in parallel: torchvision's RandomResizedCrop(224) and
    RandomHorizontalFlip (snn_data/rate_transforms.py), drawn from the stateless generator of the
    image's seed; without `augment`, the evaluation transform (256 x 256, centre 224). float32
    pixel values rounded to integers in [0, 255], as the uint8 images of the other pipelines."""
    order, seeds = epoch_order(len(files), seed, epoch)
    paths = np.asarray(files.paths)[order]
    ds = tf.data.Dataset.from_tensor_slices((paths, files.labels[order], seeds))
    ds = ds.map(_image_train_example(augment), num_parallel_calls=tf.data.AUTOTUNE)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def _image_train_example(augment):
    def transform(path, label, seed):
        # decode_image, not decode_jpeg: a few ImageNet ".JPEG" files are PNG or CMYK JPEG
        image = tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
        if augment:
            draws = tf.random.stateless_uniform([TRAIN_DRAWS], seed=seed, dtype=tf.float64)
            top, left, height, width = random_resized_box(tf.shape(image)[0], tf.shape(image)[1], draws)
            image = tf.image.resize(image[top:top + height, left:left + width], [CROP, CROP], antialias=True)
            image = tf.cond(draws[-1] < 0.5, lambda: tf.reverse(image, [1]), lambda: image)
        else:
            offset = (RESIZE - CROP) // 2
            image = tf.image.resize(image, [RESIZE, RESIZE], antialias=True)
            image = image[offset:offset + CROP, offset:offset + CROP]
        image = tf.clip_by_value(tf.round(image), 0.0, 255.0)
        return tf.ensure_shape(image, [CROP, CROP, 3]), label

    return transform


def random_resized_box(height, width, draws):
    """rate_transforms.random_resized_box in TensorFlow ops (int32 scalars; float64 draws): the
    same rule, so the same draws give the same box."""
    rows, cols = tf.cast(height, tf.float64), tf.cast(width, tf.float64)
    area = rows * cols * (SCALE[0] + (SCALE[1] - SCALE[0]) * draws[:ATTEMPTS])
    log_low, log_high = math.log(RATIO[0]), math.log(RATIO[1])
    ratio = tf.exp(log_low + (log_high - log_low) * draws[ATTEMPTS:2 * ATTEMPTS])
    w = tf.cast(tf.round(tf.sqrt(area * ratio)), tf.int32)
    h = tf.cast(tf.round(tf.sqrt(area / ratio)), tf.int32)
    fits = (w > 0) & (w <= width) & (h > 0) & (h <= height)
    k = tf.argmax(tf.cast(fits, tf.int32), output_type=tf.int32)
    top = _random_index(draws[2 * ATTEMPTS + k], height - h[k])
    left = _random_index(draws[3 * ATTEMPTS + k], width - w[k])
    # torchvision's fallback: the whole image, its aspect ratio clamped to RATIO, centred
    narrow, wide = cols / rows < RATIO[0], cols / rows > RATIO[1]
    fall_w = tf.where(wide, tf.cast(tf.round(rows * RATIO[1]), tf.int32), width)
    fall_h = tf.where(narrow, tf.cast(tf.round(cols / RATIO[0]), tf.int32), height)
    found = tf.reduce_any(fits)
    return (tf.where(found, top, (height - fall_h) // 2), tf.where(found, left, (width - fall_w) // 2),
            tf.where(found, h[k], fall_h), tf.where(found, w[k], fall_w))


def _random_index(u, largest):
    """floor(u * (largest + 1)) for u in [0, 1), capped at `largest`: numpy's int(u * (n + 1))."""
    index = tf.cast(tf.floor(u * tf.cast(largest + 1, tf.float64)), tf.int32)
    return tf.minimum(index, largest)
