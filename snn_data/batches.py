"""Input pipeline without TensorFlow: numpy batches served by keras.utils.PyDataset.

The JAX backend trains from these (a machine with JAX but no TensorFlow can train). Images leave
as float32 pixel values in [0, 255], as from the tf.data pipeline; the deterministic preprocessing
is part of the model. An epoch is a function of (seed, epoch), so a resumed or re-run epoch sees
the same batches.

Several devices or processes: `multiple` cuts the epoch's last, partial global batch down to a
multiple of the device count (a batch is split evenly across devices), and `shard=(index, count)`
gives this process its contiguous share of every global batch, so that the shares of all
processes, put together in process order, are the one-process batch.
"""
import math

import keras
import numpy as np

from snn_data.augment import (central_crop, cifar_augment, cifar_parameters, epoch_order, random_shift,
                              seed_style_augment, seed_style_parameters)


def global_batch_sizes(count, batch_size, multiple=1):
    """The size of each global batch of an epoch of `count` images."""
    sizes = [batch_size] * (count // batch_size)
    rest = (count % batch_size) // multiple * multiple
    return sizes + ([rest] if rest else [])


class _Batches(keras.utils.PyDataset):
    def __init__(self, count, batch_size, multiple=1, shard=(0, 1), workers=1):
        super().__init__(workers=workers, use_multiprocessing=False)
        if batch_size % multiple or multiple % shard[1]:
            raise ValueError(f"batch size {batch_size} does not split into {multiple} devices and "
                             f"{shard[1]} processes")
        sizes = global_batch_sizes(count, batch_size, multiple)
        self._starts = np.concatenate([[0], np.cumsum(sizes)]).astype(int)
        self._shard = shard

    def __len__(self):
        return len(self._starts) - 1

    def _positions(self, index):
        """Positions in the epoch of this process's share of global batch `index`."""
        if index >= len(self):
            raise IndexError(index)
        start, stop = self._starts[index], self._starts[index + 1]
        share = (stop - start) // self._shard[1]
        first = start + self._shard[0] * share
        return np.arange(first, first + share)


class TrainBatches(_Batches):
    """One epoch of shuffled, augmented training batches (the tf.data pipeline's, in numpy).

    `seed_style`: CIFAR images keep their 32 x 32 and get the binary-SNN seed's crop-and-flip (the
    rate-coded presets), as `train_dataset(..., seed_style=True)` does."""

    def __init__(self, images, labels, batch_size, dataset, seed, epoch, augment=True, multiple=1,
                 shard=(0, 1), workers=1, seed_style=False):
        super().__init__(len(images), batch_size, multiple, shard, workers)
        self._images, self._labels = images, labels
        self._order, self._seeds = epoch_order(len(images), seed, epoch)
        self._dataset, self._augment, self._seed_style = dataset, augment, seed_style
        self._params = None
        if dataset != "mnist" and augment:
            draw = seed_style_parameters if seed_style else cifar_parameters
            self._params = draw(len(images), seed, epoch)

    def __getitem__(self, index):
        positions = self._positions(index)
        picked = self._order[positions]
        images, labels = self._images[picked], self._labels[picked]
        if self._dataset == "mnist":
            if self._augment:
                images = random_shift(images, self._seeds[positions, 0])
            return images.astype(np.float32), labels
        if not self._augment:
            return (images if self._seed_style else central_crop(images)).astype(np.float32), labels
        params = {key: value[positions] for key, value in self._params.items()}
        return (seed_style_augment if self._seed_style else cifar_augment)(images, params), labels


class EvalBatches(_Batches):
    """Images in file order, no augmentation; the last batch is padded (by repeating the last image)
    to a multiple of `multiple`, and `real` says how many rows of the predictions are real."""

    def __init__(self, images, batch_size, multiple=1, shard=(0, 1)):
        padded = -len(images) % multiple
        self.real = len(images)
        self._images = images if not padded else np.concatenate([images, images[-1:].repeat(padded, 0)])
        super().__init__(len(self._images), batch_size, multiple, shard)

    def __getitem__(self, index):
        return (self._images[self._positions(index)].astype(np.float32),)


class ImageFolderBatches(keras.utils.PyDataset):
    """(float32 images, int64 labels) batches of an ImageFolder split (snn_data/rate_transforms.py),
    decoded when a batch is asked for. Keras fetches batches ahead with `workers` threads; PIL
    releases the GIL while it decodes a JPEG, so the threads decode in parallel. `order` lists the
    sample indices to serve (default: file order); the last batch may be short."""

    def __init__(self, root, split, batch_size, transform=None, order=None, workers=4):
        from snn_data.rate_transforms import calibration_transform, eval_transform, image_folder

        super().__init__(workers=workers, use_multiprocessing=False)
        samples, self.classes = image_folder(root, split)
        self._samples = samples if order is None else [samples[i] for i in order]
        self._transform = transform or (eval_transform if split == "val" else calibration_transform)
        self._batch_size = batch_size

    def __len__(self):
        return math.ceil(len(self._samples) / self._batch_size)

    def __getitem__(self, index):
        from snn_data.rate_transforms import decode_image

        if index >= len(self):
            raise IndexError(index)
        picked = self._samples[index * self._batch_size : (index + 1) * self._batch_size]
        images = np.stack([decode_image(path, self._transform) for path, _ in picked]).astype(np.float32)
        return images, np.array([label for _, label in picked], np.int64)
