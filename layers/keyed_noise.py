"""Noise that belongs to the image, not to the batch (docs/noise.md §5).

A keras SeedGenerator draws one stream per batch, so the noise an image gets depended on which
batch it was in: another --batch-size gave other noisy accuracies for the same seed. Here every
random number is a hash of (seed, image index, element, draw): image i of a run gets the same
noise whatever the batch size. The image index is counted by the noise layer itself (the first
batch it sees starts at image 0), so a fresh noisy model evaluated in order numbers the test set.

The hash is lowbias32 (C. Wellons' 32-bit integer mixer, full avalanche), in uint32 keras.ops.
"""
import keras
from keras import ops

_MASK = 0xFFFFFFFF
_MUL1, _MUL2 = 0x7FEB352D, 0x846CA68B
_GOLDEN = 0x9E3779B9  # separates the rounds of the key, so (a, b) and (b, a) differ


def mix32(x):
    """lowbias32 of a Python int (the seed's part of the key, computed once per layer)."""
    x &= _MASK
    x ^= x >> 16
    x = (x * _MUL1) & _MASK
    x ^= x >> 15
    x = (x * _MUL2) & _MASK
    return x ^ (x >> 16)


def seed_key(seed):
    """A 32-bit key for any non-negative seed (the layers' seeds reach beyond 2^32)."""
    seed = int(seed or 0)
    return mix32(mix32(seed & _MASK) ^ ((seed >> 32) + _GOLDEN))


def _u32(value):
    return ops.cast(value, "uint32")


def _mix(x):
    """lowbias32 of a uint32 tensor (wrapping multiplication)."""
    x = ops.bitwise_xor(x, ops.right_shift(x, _u32(16)))
    x = ops.multiply(x, _u32(_MUL1))
    x = ops.bitwise_xor(x, ops.right_shift(x, _u32(15)))
    x = ops.multiply(x, _u32(_MUL2))
    return ops.bitwise_xor(x, ops.right_shift(x, _u32(16)))


def keyed_uniform(like, key, first_image, draw=0):
    """U[0, 1) numbers shaped like `like` (batch first): element e of the image with index
    first_image + b gets hash(key, first_image + b, e, draw), 24 random bits."""
    shape = ops.shape(like)
    per_image = 1
    for size in like.shape[1:]:
        per_image *= int(size)
    images = _u32(first_image) + _u32(ops.arange(shape[0], dtype="int32"))
    image_key = _mix(ops.bitwise_xor(_mix(ops.bitwise_xor(images, _u32(key))), _u32(_GOLDEN + draw)))
    elements = _u32(ops.arange(per_image, dtype="int32"))
    bits = _mix(ops.bitwise_xor(image_key[:, None], _mix(elements + _u32(draw * _GOLDEN & _MASK))))
    u = ops.cast(ops.right_shift(bits, _u32(8)), "float32") * (1.0 / (1 << 24))
    return ops.reshape(u, shape)


class ImageCounter:
    """The index of the next image a noise layer sees, advanced by each batch.

    Held outside Keras's tracking (not a layer weight), so that a model with noise layers saves
    and loads the variables it always had."""

    def __init__(self):
        self.variable = keras.Variable(0, dtype="int64", trainable=False, name="next_image")

    def take(self, batch):
        """The index of the batch's first image; the counter moves past the batch."""
        # `+ 0` reads now: a bare variable would be read lazily, after the update below
        first = ops.add(self.variable.value, ops.zeros((), "int64"))
        self.variable.assign_add(ops.cast(batch, "int64"))
        return first

    def reset(self, value=0):
        self.variable.assign(value)
