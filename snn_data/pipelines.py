"""tf.data input pipelines. Images leave the pipeline as float32 pixel values in [0, 255]; the
deterministic preprocessing (MNIST /256, CIFAR central crop and per-image standardization) is
part of the model, so an exported model takes images as they come.

Training epochs are deterministic functions of (seed, epoch): the shuffle order and every random
augmentation are drawn from stateless generators, so a resumed run sees the data an uninterrupted
run would have seen.
"""
import tensorflow as tf

from snn_data.augment import MNIST_SHIFT, epoch_order, shift_offsets
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
