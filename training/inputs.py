"""The input pipeline of a training process: tf.data on TensorFlow, numpy batches on JAX.

Both feed the same images in the same order per (seed, epoch) (snn_data/augment.py). TensorFlow
keeps its tf.data pipeline and `model.evaluate`, unchanged; on JAX nothing here imports
TensorFlow, and test metrics come from the predicted logits, so that a padded last batch (several
devices need equal shares) counts only its real images.

ImageNet comes as `ImageFiles` (a listed ImageFolder split) and is streamed from its files: for
training, TensorFlow decodes it in its tf.data pipeline and JAX in PyDataset threads; evaluation on
either backend decodes with PIL and the seed's evaluation transform (ImageFolderBatches), the images
evaluate_snn.py reads, so train.py's test accuracy is the one evaluate_snn.py measures for the ANN.
"""
import math
import os

import numpy as np

from snn_data.rate_transforms import ImageFiles

EVAL_BATCH = 1000
IMAGE_EVAL_BATCH = 50  # 224 x 224 float32 images are 0.6 MB each; Keras queues up to 10 batches
IMAGE_WORKERS = max(1, min(16, os.cpu_count() or 1))  # decoding threads of the PyDataset pipelines


def for_placement(placement):
    return TfInputs() if placement.backend == "tensorflow" else NumpyInputs(placement)


class TfInputs:
    def steps_per_epoch(self, count, batch_size):
        return math.ceil(count / batch_size)

    def train(self, images, labels, options, epoch):
        if isinstance(images, ImageFiles):
            from snn_data.pipelines import image_train_dataset

            return image_train_dataset(images, options["batch_size"], options["seed"], epoch, options["augment"])
        from snn_data.pipelines import train_dataset

        return train_dataset(images, labels, options["batch_size"], options["dataset"], options["seed"], epoch,
                             augment=options["augment"], seed_style=seed_style_augmentation(options))

    def evaluate(self, model, images, labels):
        if isinstance(images, ImageFiles):
            loss, accuracy = model.evaluate(image_eval_batches(images), verbose=0)
            return loss, accuracy
        from snn_data.pipelines import eval_dataset

        loss, accuracy = model.evaluate(eval_dataset(images, labels, EVAL_BATCH), verbose=0)
        return loss, accuracy

    def logits(self, model, images):
        if isinstance(images, ImageFiles):
            return model.predict(image_eval_batches(images), verbose=0)
        from snn_data.pipelines import eval_dataset

        return model.predict(eval_dataset(images, np.zeros(len(images), np.int64), EVAL_BATCH), verbose=0)


def seed_style_augmentation(options):
    """The rate-coded presets (vgg15ab on CIFAR-100) take whole 32 x 32 images and train with the
    binary-SNN seed's crop-and-flip (docs/training.md §7)."""
    from models import get_preset

    return options["dataset"] != "mnist" and get_preset(options["model"]).quantization in ("xnor", "rate_float")


class NumpyInputs:
    def __init__(self, placement):
        self.placement = placement

    def steps_per_epoch(self, count, batch_size):
        from snn_data.batches import global_batch_sizes

        return len(global_batch_sizes(count, batch_size, self.placement.devices))

    def train(self, images, labels, options, epoch):
        if isinstance(images, ImageFiles):
            return image_train_batches(images, options, epoch, self.placement)
        from snn_data.batches import TrainBatches

        workers = 1 if options["dataset"] == "mnist" else 4  # CIFAR's per-image work is worth threads
        return TrainBatches(images, labels, options["batch_size"], options["dataset"], options["seed"], epoch,
                            augment=options["augment"], multiple=self.placement.devices,
                            shard=self.placement.shard, workers=workers,
                            seed_style=seed_style_augmentation(options))

    def evaluate(self, model, images, labels):
        logits = self.logits(model, images).astype(np.float64)
        shifted = logits - logits.max(axis=1, keepdims=True)
        log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        loss = float(-log_probs[np.arange(len(labels)), labels].mean())
        return loss, float(np.mean(np.argmax(logits, axis=1) == labels))

    def logits(self, model, images):
        from snn_data.batches import EvalBatches

        devices = self.placement.devices
        if isinstance(images, ImageFiles):
            batch = max(devices, IMAGE_EVAL_BATCH // devices * devices)
            batches = image_eval_batches(images, batch, devices, self.placement.shard)
        else:
            batch = max(devices, EVAL_BATCH // devices * devices)
            batches = EvalBatches(images, batch, multiple=devices, shard=self.placement.shard)
        if self.placement.process_count == 1:
            return np.asarray(model.predict(batches, verbose=0))[: batches.real]
        return np.concatenate([_replicated_logits(model, batches[i][0]) for i in range(len(batches))])[: batches.real]


def image_train_batches(files, options, epoch, placement):
    """JAX's ImageNet epoch: the order and per-image seeds of (seed, epoch), RandomResizedCrop and
    flip drawn from each image's seed (rate_transforms.train_transform); without augmentation the
    evaluation transform."""
    from snn_data.augment import epoch_order
    from snn_data.batches import ImageFolderBatches
    from snn_data.rate_transforms import eval_transform, train_transform

    order, seeds = epoch_order(len(files), options["seed"], epoch)
    augment = options["augment"]
    return ImageFolderBatches(files, options["batch_size"], train_transform if augment else eval_transform, order,
                              seeds if augment else None, IMAGE_WORKERS, placement.devices, placement.shard)


def image_eval_batches(files, batch_size=IMAGE_EVAL_BATCH, multiple=1, shard=(0, 1)):
    """The seed's evaluation transform, file order; padded to `multiple` (its `real` rows count)."""
    from snn_data.batches import ImageFolderBatches
    from snn_data.rate_transforms import eval_transform

    return ImageFolderBatches(files, batch_size, eval_transform, workers=IMAGE_WORKERS, multiple=multiple,
                              shard=shard, pad=True)


def _replicated_logits(model, local_images):
    """Logits of a global batch, given this process's share of it, as a numpy array on every
    process. (Keras' predict concatenates its outputs in numpy, which a batch spread over several
    processes does not allow, so the step is jitted here with replicated outputs.)"""
    import jax
    from jax.sharding import NamedSharding, PartitionSpec

    import keras

    mesh = keras.distribution.distribution().device_mesh.backend_mesh
    if not hasattr(model, "_replicated_predict"):
        def step(trainable, non_trainable, x):
            return model.stateless_call(trainable, non_trainable, x, training=False)[0]

        model._replicated_predict = jax.jit(step, out_shardings=NamedSharding(mesh, PartitionSpec()))
    images = jax.make_array_from_process_local_data(NamedSharding(mesh, PartitionSpec("batch")), local_images)
    logits = model._replicated_predict([v.value for v in model.trainable_variables],
                                       [v.value for v in model.non_trainable_variables], images)
    return np.asarray(logits.addressable_data(0))
