"""Spiking Keras layers for the scatter-and-gather (SG) SNN (docs/conversions.md §1-2).

Every tensor between spiking layers carries an explicit time axis, `(batch, T, ...)`; SG is T = 1.
Values on that axis are *spike counts*: an ANN neuron becomes L stateless sub-neurons with a
ladder of thresholds, and the count of those that fire (0..L) is what the next layer receives.
Synapses fold T into the batch; neurons are stateless, so they act on every step alike.

Exactness: hidden synapses hold int8 ternary weights and receive integer counts, so their membrane
potentials are integers; they are computed in float32, which is exact below 2^24 (the converter
checks the bound), or in int32 (`arithmetic="int"`, the all-integer method's integer mode). Integer thresholds are stored as int32 and compared in float32: a threshold
beyond 2^24 rounds, but it rounds monotonically and stays beyond every reachable potential, so the
comparison is unchanged.

Layers are pure keras.ops; weights and thresholds are non-trainable weights, so a spiking model
saves as `.keras` and exports as a SavedModel like any other Keras model.
"""
import keras
from keras import ops

from layers.base import SpikingLayer
from layers.keyed_noise import ImageCounter, keyed_uniform, seed_key
from layers.quantized import PACKAGE, conv_output_size, pair

ARITHMETICS = ("float", "int")

# ----------------------------------------------------------------------------- pure functions


def fold_time(x):
    """(batch, T, ...) -> (batch * T, ...), for synapse operations that know no time."""
    return ops.reshape(x, (-1, *ops.shape(x)[2:]))


def unfold_time(x, time_steps):
    """(batch * T, ...) -> (batch, T, ...)."""
    return ops.reshape(x, (-1, time_steps, *ops.shape(x)[1:]))


def _fused(fn):
    """`fn` compiled by XLA on the TensorFlow backend, else `fn` itself.

    The ladder is a chain of element-wise ops on one large tensor; TensorFlow's graph runs one
    kernel (one pass over memory) per op, XLA fuses them into one loop, about 6x faster on a CPU.
    Fusion cannot change the result here: the ops are comparisons, products with +-1 and sums of
    0/1 values, all exact in float32. (The synapses stay outside XLA: a float conv compiled by
    XLA may round differently from the ANN's and move counts at near-ties.)
    """
    if keras.backend.backend() != "tensorflow":
        return fn  # JAX compiles the whole model anyway
    import tensorflow as tf

    return tf.function(fn, jit_compile=True, autograph=False)


def threshold_ladder(potential, thresholds, signs):
    """Spike count of a ladder of stateless sub-neurons.

    potential: (..., C) membrane potentials; thresholds: (C, L); signs: (C,) in {+1, -1}.
    Sub-neuron i of channel c fires iff sign_c * V >= sign_c * thresholds[c, i], i.e. V >= t for
    sign +1 and V <= t for sign -1 (a BN with negative gamma). Returns the number that fire,
    as float32 in {0..L}.
    """
    return _ladder_count(potential, ops.cast(thresholds, "float32"), ops.cast(signs, "float32"))


@_fused
def _ladder_count(potential, thresholds, signs):
    signed_v = potential * signs
    signed_t = thresholds * signs[:, None]
    count = ops.zeros_like(potential)
    # A loop over the L levels (static, small), not over neurons: every step is one vector op.
    for i in range(thresholds.shape[1]):
        count = count + ops.cast(signed_v >= signed_t[:, i], "float32")
    return count


def delete_spikes(counts, rate, levels, seed):
    """Delete each fired sub-neuron's spike independently with probability `rate`.

    Sub-neurons fire as a thermometer code (the first n of L), so the kept count is
    sum_{i < n} [u_i >= rate], u_i ~ U[0, 1): Binomial(n, 1 - rate). `>=` makes rate 0 keep
    every spike and rate 1 delete every spike exactly. `seed`: a keras seed (SeedGenerator), or
    a function draw(i) -> u_i shaped like counts (layers.keyed_noise, noise per image).
    """
    kept = ops.zeros_like(counts)
    for i in range(levels):
        u = seed(i) if callable(seed) else keras.random.uniform(ops.shape(counts), seed=seed)
        fired = ops.cast(counts > i, "float32")
        kept = kept + fired * ops.cast(u >= rate, "float32")
    return kept


# ------------------------------------------------------------------------------------- layers


class _Ladder:
    """Mixin: per-channel threshold ladder (thresholds (C, L) and signs (C,))."""

    def spike_deletion(self, rate, seed, name):
        """The noise layer that deletes this layer's spikes: each sub-neuron's, with probability rate."""
        return SpikeDeletion(rate, self.levels, seed=seed, name=name)

    def _add_ladder(self, channels, threshold_dtype):
        self.thresholds = self._constant("thresholds", (channels, self.levels), threshold_dtype)
        self.signs = self._constant("signs", (channels,), "float32")


class ConvEncoder(_Ladder, SpikingLayer):
    """Pixel-to-spike encoding: float conv on `scale * image`, then a float32 threshold ladder.

    Input: analog images (batch, H, W, C_in) after preprocessing. `scale` = 2^k of the counts it
    emits, so V = scale * z with z the ANN's pre-activation; the count q (0..levels) of thresholds
    reached is what each neuron sends. Subclasses say how q is spread over the T steps.
    """

    role, operation = "encoder", "conv"

    def __init__(self, filters, kernel_size, levels, scale, strides=1, padding="valid", time_steps=1,
                 **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.kernel_size = pair(kernel_size)
        self.strides = pair(strides)
        self.padding = padding.lower()
        self.levels = int(levels)
        self.scale = float(scale)
        self.time_steps = int(time_steps)

    def build(self, input_shape):
        self.kernel = self._constant("kernel", (*self.kernel_size, input_shape[-1], self.filters), "float32")
        self._add_ladder(self.filters, "float32")

    def potential(self, images):
        """Membrane potential V = conv(scale * x, W), (batch, H', W', filters)."""
        return ops.conv(images * self.scale, self.kernel, strides=self.strides, padding=self.padding)

    def counts(self, images):
        """The value each neuron sends, (batch, H', W', filters), float32 in 0..levels."""
        return threshold_ladder(self.potential(images), self.thresholds, self.signs)

    def compute_output_shape(self, input_shape):
        batch, h, w, _ = input_shape
        hw = conv_output_size((h, w), self.kernel_size, self.strides, self.padding)
        return (batch, self.time_steps, *hw, self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size,
                "levels": self.levels, "scale": self.scale, "strides": self.strides,
                "padding": self.padding, "time_steps": self.time_steps}


@keras.saving.register_keras_serializable(package=PACKAGE)
class SpikeEncoding(ConvEncoder):
    """Scatter-and-gather encoding: the count q, the same at every step, (batch, T, H', W', filters)
    (stateless neurons, constant input)."""

    def call(self, images):
        counts = ops.expand_dims(self.counts(images), 1)
        return counts if self.time_steps == 1 else ops.repeat(counts, self.time_steps, axis=1)


class _Synapse(SpikingLayer):
    """Synapse: spikes (batch, T, ...) -> membrane currents, time folded into the batch.

    arithmetic "float": the kernel (`kernel_dtype` int8 or float32) and the spikes in float32;
    "int": int8 kernel, int32 operation (no float on the path). Scatter-and-gather uses "float"
    with int8 kernels; the all-integer method uses both.
    """

    role = "synapse"

    def __init__(self, arithmetic="float", kernel_dtype="int8", **kwargs):
        super().__init__(**kwargs)
        if arithmetic not in ARITHMETICS:
            raise ValueError(f"arithmetic must be one of {ARITHMETICS}, got {arithmetic!r}")
        if kernel_dtype not in ("int8", "float32"):
            raise ValueError(f"kernel_dtype must be 'int8' or 'float32', got {kernel_dtype!r}")
        if arithmetic == "int" and kernel_dtype != "int8":
            raise ValueError("integer arithmetic needs an int8 kernel")
        self.arithmetic = arithmetic
        self.kernel_dtype = kernel_dtype

    @property
    def compute_type(self):
        return "int32" if self.arithmetic == "int" else "float32"

    def get_config(self):
        return {**super().get_config(), "arithmetic": self.arithmetic, "kernel_dtype": self.kernel_dtype}


@keras.saving.register_keras_serializable(package=PACKAGE)
class SpikingConv2D(_Synapse):
    """Synapse: 2-D convolution of the spikes of every step, (batch, T, H, W, C) -> currents."""

    operation = "conv"

    def __init__(self, filters, kernel_size, strides=1, padding="valid", **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.kernel_size = pair(kernel_size)
        self.strides = pair(strides)
        self.padding = padding.lower()

    def build(self, input_shape):
        self.kernel = self._constant("kernel", (*self.kernel_size, input_shape[-1], self.filters),
                                     self.kernel_dtype)

    def call(self, spikes):
        dtype = self.compute_type
        x = ops.cast(fold_time(spikes), dtype)
        v = ops.conv(x, ops.cast(self.kernel, dtype), strides=self.strides, padding=self.padding)
        return unfold_time(v, spikes.shape[1])

    def compute_output_shape(self, input_shape):
        batch, t, h, w, _ = input_shape
        hw = conv_output_size((h, w), self.kernel_size, self.strides, self.padding)
        return (batch, t, *hw, self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size,
                "strides": self.strides, "padding": self.padding}


@keras.saving.register_keras_serializable(package=PACKAGE)
class SpikingDense(_Synapse):
    """Synapse: fully connected layer on the spikes of every step, (batch, T, features)."""

    operation = "dense"

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)

    def build(self, input_shape):
        self.kernel = self._constant("kernel", (input_shape[-1], self.units), self.kernel_dtype)

    def call(self, spikes):
        dtype = self.compute_type
        return ops.matmul(ops.cast(spikes, dtype), ops.cast(self.kernel, dtype))

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self):
        return {**super().get_config(), "units": self.units}


@keras.saving.register_keras_serializable(package=PACKAGE)
class MultiThresholdNeuron(_Ladder, SpikingLayer):
    """Stateless multi-threshold neuron: L sub-neurons per channel, output = how many fire.

    `threshold_dtype` is "int32" for integer potentials (hidden layers) or "float32".
    """

    role = "neuron"

    def __init__(self, levels, threshold_dtype="int32", **kwargs):
        super().__init__(**kwargs)
        if threshold_dtype not in ("int32", "float32"):
            raise ValueError(f"threshold_dtype must be 'int32' or 'float32', got {threshold_dtype!r}")
        self.levels = int(levels)
        self.threshold_dtype = threshold_dtype

    def build(self, input_shape):
        self._add_ladder(input_shape[-1], self.threshold_dtype)

    def call(self, potential):
        return threshold_ladder(potential, self.thresholds, self.signs)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "levels": self.levels, "threshold_dtype": self.threshold_dtype}


class Readout(SpikingLayer):
    """Non-spiking float readout: a float32 kernel (inputs, units) on spike counts; subclasses say
    how the counts are summed over time."""

    role, operation = "readout", "dense"

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)

    def build(self, input_shape):
        self.kernel = self._constant("kernel", (input_shape[-1], self.units), "float32")

    def get_config(self):
        return {**super().get_config(), "units": self.units}


@keras.saving.register_keras_serializable(package=PACKAGE)
class SpikingReadout(Readout):
    """The classifier on spike counts summed over time: logits (batch, units).

    Logits = T * 2^k * the ANN's logits (same argmax); "the last layer outputs membrane potential".
    """

    def call(self, spikes):
        return ops.matmul(ops.sum(spikes, axis=1), self.kernel)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.units)


# -------------------------------------------------------------------------------------- noise


@keras.saving.register_keras_serializable(package=PACKAGE)
class SpikeDeletion(SpikingLayer):
    """Noise: each fired sub-neuron's spike is deleted with probability `rate` (see delete_spikes).

    The random numbers are keyed by (seed, image index): an image gets the same deletions
    whatever batch it is evaluated in (layers.keyed_noise); images are numbered from 0 in the
    order the layer sees them (`restart()` numbers them from 0 again)."""

    role = "noise"

    def __init__(self, rate, levels, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"noise rate must be in [0, 1], got {rate!r}")
        self.rate = float(rate)
        self.levels = int(levels)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)  # kept: saved models hold its state
        self.images = ImageCounter()

    def restart(self):
        self.images.reset()

    def draws(self, counts):
        """draw(i) -> the uniforms of the batch's i-th deletion pass, keyed by image index."""
        first, key = self.images.take(ops.shape(counts)[0]), seed_key(self.seed)
        return lambda i: keyed_uniform(counts, key, first, i)

    def call(self, counts):
        return delete_spikes(counts, self.rate, self.levels, self.draws(counts))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "levels": self.levels, "seed": self.seed}


@keras.saving.register_keras_serializable(package=PACKAGE)
class MultiplicativeInputNoise(SpikingLayer):
    """Noise of the all-integer paper (docs/noise.md §3): x * (1 + rate * (u - 0.5)), u ~ U[0, 1),
    keyed by (seed, image index) like SpikeDeletion's."""

    role = "noise"

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(**kwargs)
        if rate < 0.0:
            raise ValueError(f"noise rate must be >= 0, got {rate!r}")
        self.rate = float(rate)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)  # kept: saved models hold its state
        self.images = ImageCounter()

    def restart(self):
        self.images.reset()

    def call(self, x):
        u = keyed_uniform(x, seed_key(self.seed), self.images.take(ops.shape(x)[0]))
        return x * (1.0 + self.rate * (u - 0.5))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}

