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


class ImageFolderBatches(_Batches):
    """(float32 images, int64 labels) batches of an ImageFolder split (`ImageFiles`, from
    snn_data/rate_transforms.py), decoded when a batch is asked for; nothing is loaded ahead. Keras
    fetches batches ahead with `workers` threads; PIL releases the GIL while it decodes a JPEG, so
    the threads decode in parallel.

    `order` lists the sample indices to serve (default: file order). With `seeds` (one (2,) seed
    per position, snn_data.augment.epoch_order) the transform is called as transform(image, seed):
    the training augmentation. `multiple` and `shard` as for TrainBatches; `pad` repeats the last
    sample up to a multiple of `multiple` instead of cutting the last batch (evaluation), and
    `real` says how many samples are real. The last batch may be short."""

    def __init__(self, files, batch_size, transform=None, order=None, seeds=None, workers=4, multiple=1,
                 shard=(0, 1), pad=False):
        from snn_data.rate_transforms import calibration_transform, eval_transform

        self._files = files
        self._order = np.arange(len(files)) if order is None else np.asarray(order)
        self.real = len(self._order)
        count = self.real + (-self.real % multiple if pad else 0)
        super().__init__(count, batch_size, multiple, shard, workers)
        self._seeds = seeds
        self._transform = transform or (eval_transform if files.split == "val" else calibration_transform)
        self.classes = files.classes

    def __getitem__(self, index):
        from snn_data.rate_transforms import decode_image

        positions = self._positions(index)
        picked = self._order[np.minimum(positions, self.real - 1)]
        if self._seeds is None:
            images = [decode_image(self._files.paths[i], self._transform) for i in picked]
        else:
            images = [decode_image(self._files.paths[i], lambda image, seed=seed: self._transform(image, seed))
                      for i, seed in zip(picked, self._seeds[positions])]
        return np.stack(images).astype(np.float32), self._files.labels[picked]
