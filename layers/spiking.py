"""Spiking Keras layers for the scatter-and-gather (SG) SNN (docs/conversions.md §1-2).

Every tensor between spiking layers carries an explicit time axis, `(batch, T, ...)`; SG is T = 1.
Values on that axis are *spike counts*: an ANN neuron becomes L stateless sub-neurons with a
ladder of thresholds, and the count of those that fire (0..L) is what the next layer receives.
Synapses fold T into the batch; neurons are stateless, so they act on every step alike.

Exactness: hidden synapses hold int8 ternary weights and receive integer counts, so their membrane
potentials are integers; they are computed in float32, which is exact below 2^24 (the converter
checks the bound). Integer thresholds are stored as int32 and compared in float32: a threshold
beyond 2^24 rounds, but it rounds monotonically and stays beyond every reachable potential, so the
comparison is unchanged.

Layers are pure keras.ops; weights and thresholds are non-trainable weights, so a spiking model
saves as `.keras` and exports as a SavedModel like any other Keras model.
"""
import keras
from keras import ops

from layers.quantized import PACKAGE, _conv_output_size, _pair

# ----------------------------------------------------------------------------- pure functions


def fold_time(x):
    """(batch, T, ...) -> (batch * T, ...), for synapse operations that know no time."""
    return ops.reshape(x, (-1, *ops.shape(x)[2:]))


def unfold_time(x, time_steps):
    """(batch * T, ...) -> (batch, T, ...)."""
    return ops.reshape(x, (-1, time_steps, *ops.shape(x)[1:]))


def threshold_ladder(potential, thresholds, signs):
    """Spike count of a ladder of stateless sub-neurons.

    potential: (..., C) membrane potentials; thresholds: (C, L); signs: (C,) in {+1, -1}.
    Sub-neuron i of channel c fires iff sign_c * V >= sign_c * thresholds[c, i], i.e. V >= t for
    sign +1 and V <= t for sign -1 (a BN with negative gamma). Returns the number that fire,
    as float32 in {0..L}.
    """
    thresholds = ops.cast(thresholds, "float32")
    signs = ops.cast(signs, "float32")
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
    every spike and rate 1 delete every spike exactly.
    """
    kept = ops.zeros_like(counts)
    for i in range(levels):
        u = keras.random.uniform(ops.shape(counts), seed=seed)
        fired = ops.cast(counts > i, "float32")
        kept = kept + fired * ops.cast(u >= rate, "float32")
    return kept


# ------------------------------------------------------------------------------------- layers


class _SpikingLayer(keras.layers.Layer):
    def __init__(self, **kwargs):
        kwargs.setdefault("trainable", False)
        super().__init__(**kwargs)

    def _constant(self, name, shape, dtype):
        return self.add_weight(name=name, shape=shape, dtype=dtype, initializer="zeros", trainable=False)


class _Ladder:
    """Mixin: per-channel threshold ladder (thresholds (C, L) and signs (C,))."""

    def _add_ladder(self, channels, threshold_dtype):
        self.thresholds = self._constant("thresholds", (channels, self.levels), threshold_dtype)
        self.signs = self._constant("signs", (channels,), "float32")


@keras.saving.register_keras_serializable(package=PACKAGE)
class SpikeEncoding(_Ladder, _SpikingLayer):
    """Pixel-to-spike encoding: float conv on `scale * image`, then a float32 threshold ladder.

    Input: analog images (batch, H, W, C_in) after preprocessing. Output: spike counts
    (batch, T, H', W', filters), the same at every step (stateless neurons, constant input).
    `scale` = 2^k of the counts it emits, so V = scale * z with z the ANN's pre-activation.
    """

    def __init__(self, filters, kernel_size, levels, scale, strides=1, padding="valid", time_steps=1,
                 **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.kernel_size = _pair(kernel_size)
        self.strides = _pair(strides)
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

    def call(self, images):
        counts = threshold_ladder(self.potential(images), self.thresholds, self.signs)
        return ops.repeat(ops.expand_dims(counts, 1), self.time_steps, axis=1)

    def compute_output_shape(self, input_shape):
        batch, h, w, _ = input_shape
        hw = _conv_output_size((h, w), self.kernel_size, self.strides, self.padding)
        return (batch, self.time_steps, *hw, self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size,
                "levels": self.levels, "scale": self.scale, "strides": self.strides,
                "padding": self.padding, "time_steps": self.time_steps}


@keras.saving.register_keras_serializable(package=PACKAGE)
class SpikingConv2D(_SpikingLayer):
    """Synapse: 2-D convolution of spike counts with int8 weights; outputs membrane potentials."""

    def __init__(self, filters, kernel_size, strides=1, padding="valid", **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.kernel_size = _pair(kernel_size)
        self.strides = _pair(strides)
        self.padding = padding.lower()

    def build(self, input_shape):
        self.kernel = self._constant("kernel", (*self.kernel_size, input_shape[-1], self.filters), "int8")

    def call(self, spikes):
        kernel = ops.cast(self.kernel, "float32")
        v = ops.conv(fold_time(spikes), kernel, strides=self.strides, padding=self.padding)
        return unfold_time(v, spikes.shape[1])

    def compute_output_shape(self, input_shape):
        batch, t, h, w, _ = input_shape
        hw = _conv_output_size((h, w), self.kernel_size, self.strides, self.padding)
        return (batch, t, *hw, self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size,
                "strides": self.strides, "padding": self.padding}


@keras.saving.register_keras_serializable(package=PACKAGE)
class SpikingDense(_SpikingLayer):
    """Synapse: fully connected layer on spike counts (batch, T, features) with int8 weights."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)

    def build(self, input_shape):
        self.kernel = self._constant("kernel", (input_shape[-1], self.units), "int8")

    def call(self, spikes):
        return ops.matmul(spikes, ops.cast(self.kernel, "float32"))

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self):
        return {**super().get_config(), "units": self.units}


@keras.saving.register_keras_serializable(package=PACKAGE)
class MultiThresholdNeuron(_Ladder, _SpikingLayer):
    """Stateless multi-threshold neuron: L sub-neurons per channel, output = how many fire.

    `threshold_dtype` is "int32" for integer potentials (hidden layers) or "float32".
    """

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


@keras.saving.register_keras_serializable(package=PACKAGE)
class SpikingReadout(_SpikingLayer):
    """Non-spiking float readout: the classifier on spike counts summed over time.

    Logits = T * 2^k * the ANN's logits (same argmax); "the last layer outputs membrane potential".
    """

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)

    def build(self, input_shape):
        self.kernel = self._constant("kernel", (input_shape[-1], self.units), "float32")

    def call(self, spikes):
        return ops.matmul(ops.sum(spikes, axis=1), self.kernel)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.units)

    def get_config(self):
        return {**super().get_config(), "units": self.units}


# -------------------------------------------------------------------------------------- noise


@keras.saving.register_keras_serializable(package=PACKAGE)
class SpikeDeletion(_SpikingLayer):
    """Noise: each fired sub-neuron's spike is deleted with probability `rate` (see delete_spikes)."""

    def __init__(self, rate, levels, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"noise rate must be in [0, 1], got {rate!r}")
        self.rate = float(rate)
        self.levels = int(levels)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, counts):
        return delete_spikes(counts, self.rate, self.levels, self.seed_generator)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "levels": self.levels, "seed": self.seed}


@keras.saving.register_keras_serializable(package=PACKAGE)
class MultiplicativeInputNoise(_SpikingLayer):
    """Noise of the all-integer paper (docs/noise.md §3): x * (1 + rate * (u - 0.5)), u ~ U[0, 1)."""

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(**kwargs)
        if rate < 0.0:
            raise ValueError(f"noise rate must be >= 0, got {rate!r}")
        self.rate = float(rate)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, x):
        u = keras.random.uniform(ops.shape(x), seed=self.seed_generator)
        return x * (1.0 + self.rate * (u - 0.5))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


SPIKE_EMITTERS = (SpikeEncoding, MultiThresholdNeuron)
