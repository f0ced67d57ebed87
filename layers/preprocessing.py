"""Deterministic preprocessing that lives inside the model, so exported models take raw images."""
import keras
from keras import ops

from layers.quantized import PACKAGE


@keras.saving.register_keras_serializable(package=PACKAGE)
class CentralCrop(keras.layers.Layer):
    """Crop the central `size x size` window (identity when the input already has that size).

    Training pipelines feed random crops of the final size; test images come whole and are
    cropped here, as the original CIFAR test pipeline does.
    """

    def __init__(self, size, **kwargs):
        super().__init__(**kwargs)
        self.size = int(size)

    def call(self, inputs):
        h, w = ops.shape(inputs)[1], ops.shape(inputs)[2]
        top = (h - self.size) // 2
        left = (w - self.size) // 2
        return ops.slice(
            inputs,
            (0, top, left, 0),
            (ops.shape(inputs)[0], self.size, self.size, ops.shape(inputs)[3]),
        )

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.size, self.size, input_shape[3])

    def get_config(self):
        return {**super().get_config(), "size": self.size}


@keras.saving.register_keras_serializable(package=PACKAGE)
class PerImageStandardization(keras.layers.Layer):
    """(x - mean) / max(std, 1 / sqrt(N)) per image, as tf.image.per_image_standardization."""

    def call(self, inputs):
        axes = (1, 2, 3)
        n = ops.cast(ops.prod(ops.shape(inputs)[1:]), inputs.dtype)
        mean = ops.mean(inputs, axis=axes, keepdims=True)
        std = ops.std(inputs, axis=axes, keepdims=True)
        return (inputs - mean) / ops.maximum(std, ops.rsqrt(n))

    def compute_output_shape(self, input_shape):
        return input_shape
