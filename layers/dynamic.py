"""Spiking layers of the all-integer SNN with dynamic threshold adaptation (docs/conversions.md §4).

One neuron per ANN neuron, T time steps, signed spikes (+1 / -1) on the time axis
`(batch, T, ...)`. Layers are evaluated one after the other over all T steps; that equals the
step-by-step evaluation of the seed because synapses are stateless and linear and there is no
inter-layer delay (step t of a layer only needs step t of the layer below).

    BurstEncoding           float conv on the image, then a ladder of L thresholds: a value q
                            (0..L) is sent as a burst of q unit spikes in steps 0..q-1
    SignedConv2D/Dense      synapses: per-step current W * s(t), time folded into the batch;
                            arithmetic "float" (float32) or "int" (int32, int8 kernel)
    DynamicThresholdNeuron  membrane V, positive threshold P, negative threshold N; no leak, no
                            reset; +1 raises P and N by the step d, -1 lowers them; lower bound b
    AccumulatingReadout     the float classifier on the accumulated net spike counts at every
                            step: logits (batch, T, classes)

Float mode keeps V, P, N in float64 (the seed's numpy does the same); integer mode keeps them in
int32 (or int64 where the converter's worst-case bound needs it), scaled by 10^4: no float
anywhere between the encoding layer and the readout. Constants are non-trainable weights, so a
model saves as `.keras` and exports as a SavedModel.
"""
import keras
from keras import ops

from layers.quantized import PACKAGE, _conv_output_size, _pair
from layers.spiking import SpikeDeletion, delete_spikes, fold_time, threshold_ladder, unfold_time

ARITHMETICS = ("float", "int")
INT_SCALE = 10_000  # the seed's integer scale
FLOAT_EPS = 1e-5  # the seed's margin on the negative threshold (float mode only)


# ----------------------------------------------------------------------------- pure functions


def dynamic_threshold(currents, theta0, step, bound, gain, eps=0.0, return_state=False):
    """Run the dynamic-threshold neurons over the time axis; returns signed spikes.

    currents: (batch, T, ..., C) synaptic input per step (W * s_in(t)); theta0, step, bound, gain:
    (C,) per-channel constants in the state dtype (float64 or int32/int64). gain multiplies the
    current (the integer scale 10^4 times the channel's sign: -1 for a BN with negative gamma,
    0 for gamma == 0). Per step: V += gain * I(t); Vb = max(V, b); +1 if Vb > P, -1 if
    Vb < N - eps, else 0; P and N move by `step` times the spike. Init V = 0, P = theta0, N = b.
    Returns spikes in the state dtype, (batch, T, ..., C); with return_state also the final
    (V, P, N) and the largest |V|, |P|, |N| held at any step (for bound checks).
    """
    dtype = theta0.dtype
    time_steps = currents.shape[1]
    first = ops.cast(currents[:, 0], dtype)
    v = ops.zeros_like(first)
    p = v + theta0
    n = v + bound
    out, peak = [], ops.zeros((), dtype)
    for t in range(time_steps):
        v = v + ops.cast(currents[:, t], dtype) * gain
        vb = ops.maximum(v, bound)
        up = ops.cast(vb > p, dtype)
        down = ops.cast(vb < (n - eps if eps else n), dtype)
        spike = up - down
        p = p + spike * step
        n = n + spike * step
        out.append(spike)
        if return_state:
            peak = ops.maximum(peak, ops.max(ops.maximum(ops.maximum(ops.abs(v), ops.abs(p)), ops.abs(n))))
    spikes = ops.stack(out, axis=1)
    return (spikes, (v, p, n), peak) if return_state else spikes


def burst(counts, time_steps, dtype="float32"):
    """(batch, ...) counts q -> (batch, T, ...) unit spikes at steps 0..q-1 (truncated at T)."""
    steps = [ops.cast(counts > t, dtype) for t in range(time_steps)]
    return ops.stack(steps, axis=1)


# ------------------------------------------------------------------------------------- layers


class _Layer(keras.layers.Layer):
    def __init__(self, **kwargs):
        kwargs.setdefault("trainable", False)
        super().__init__(**kwargs)

    def _constant(self, name, shape, dtype):
        return self.add_weight(name=name, shape=shape, dtype=dtype, initializer="zeros", trainable=False,
                               autocast=False)


def _check_arithmetic(arithmetic):
    if arithmetic not in ARITHMETICS:
        raise ValueError(f"arithmetic must be one of {ARITHMETICS}, got {arithmetic!r}")


@keras.saving.register_keras_serializable(package=PACKAGE)
class BurstEncoding(_Layer):
    """Encoding neuron: float conv on `scale * image`, a float32 ladder of `levels` thresholds.

    The value q = number of thresholds reached (0..levels) is sent as q unit spikes in steps
    0..q-1, none afterwards: the seed's threshold raised by d0 each step, with the ladder written
    out (exact for any BN, negative gamma included). Output (batch, T, H', W', filters) in
    `spike_dtype` ("float32" for float mode, "int32" for integer mode).
    """

    def __init__(self, filters, kernel_size, levels, scale=1.0, strides=1, padding="valid", time_steps=1,
                 spike_dtype="float32", **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.kernel_size = _pair(kernel_size)
        self.strides = _pair(strides)
        self.padding = padding.lower()
        self.levels = int(levels)
        self.scale = float(scale)
        self.time_steps = int(time_steps)
        self.spike_dtype = spike_dtype

    def build(self, input_shape):
        self.kernel = self._constant("kernel", (*self.kernel_size, input_shape[-1], self.filters), "float32")
        self.thresholds = self._constant("thresholds", (self.filters, self.levels), "float32")
        self.signs = self._constant("signs", (self.filters,), "float32")

    def counts(self, images):
        """The value each neuron sends, (batch, H', W', filters), float32 in 0..levels."""
        v = ops.conv(images * self.scale, self.kernel, strides=self.strides, padding=self.padding)
        return threshold_ladder(v, self.thresholds, self.signs)

    def call(self, images):
        return burst(self.counts(images), self.time_steps, self.spike_dtype)

    def compute_output_shape(self, input_shape):
        batch, h, w, _ = input_shape
        hw = _conv_output_size((h, w), self.kernel_size, self.strides, self.padding)
        return (batch, self.time_steps, *hw, self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size,
                "levels": self.levels, "scale": self.scale, "strides": self.strides, "padding": self.padding,
                "time_steps": self.time_steps, "spike_dtype": self.spike_dtype}


class _Synapse(_Layer):
    """arithmetic "int": int8 kernel, int32 operation; "float": `kernel_dtype` kernel, float32."""

    def __init__(self, arithmetic="float", kernel_dtype="int8", **kwargs):
        super().__init__(**kwargs)
        _check_arithmetic(arithmetic)
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
class SignedConv2D(_Synapse):
    """Synapse: 2-D convolution of the spikes of every step, (batch, T, H, W, C) -> currents."""

    def __init__(self, filters, kernel_size, strides=1, padding="valid", **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.kernel_size = _pair(kernel_size)
        self.strides = _pair(strides)
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
        hw = _conv_output_size((h, w), self.kernel_size, self.strides, self.padding)
        return (batch, t, *hw, self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size,
                "strides": self.strides, "padding": self.padding}


@keras.saving.register_keras_serializable(package=PACKAGE)
class SignedDense(_Synapse):
    """Synapse: fully connected layer on the spikes of every step, (batch, T, features)."""

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
class DynamicThresholdNeuron(_Layer):
    """Dynamic-threshold neurons (see dynamic_threshold), one per ANN neuron.

    arithmetic "float": state and constants float64, the negative threshold has the seed's 1e-5
    margin; input currents float32; spikes out as float32.
    arithmetic "int": state and constants `int_dtype` (int32 or int64), the current is multiplied
    by `gain` (10^4 * sign); input currents int32; spikes out as int32. No float on this path.
    Weights (C,): theta0 (first positive threshold), step (d), bound (b = theta0 - d), gain.
    """

    def __init__(self, arithmetic="float", int_dtype="int32", **kwargs):
        super().__init__(**kwargs)
        _check_arithmetic(arithmetic)
        if int_dtype not in ("int32", "int64"):
            raise ValueError(f"int_dtype must be 'int32' or 'int64', got {int_dtype!r}")
        self.arithmetic = arithmetic
        self.int_dtype = int_dtype

    @property
    def state_dtype(self):
        return self.int_dtype if self.arithmetic == "int" else "float64"

    @property
    def spike_dtype(self):
        return "int32" if self.arithmetic == "int" else "float32"

    def build(self, input_shape):
        channels = input_shape[-1]
        for name in ("theta0", "step", "bound", "gain"):
            setattr(self, name, self._constant(name, (channels,), self.state_dtype))

    def call(self, currents):
        eps = FLOAT_EPS if self.arithmetic == "float" else 0
        spikes = dynamic_threshold(currents, self.theta0, self.step, self.bound, self.gain, eps)
        return ops.cast(spikes, self.spike_dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "arithmetic": self.arithmetic, "int_dtype": self.int_dtype}


@keras.saving.register_keras_serializable(package=PACKAGE)
class AccumulatingReadout(_Layer):
    """Float classifier on the accumulated net spike counts, at every step: (batch, T, units).

    Logits at step t = (sum of the spikes of steps 0..t) @ W; after convergence 2^k times the
    ANN's logits. Integer spikes are summed as integers, then converted (exact below 2^24).
    """

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)

    def build(self, input_shape):
        self.kernel = self._constant("kernel", (input_shape[-1], self.units), "float32")

    def call(self, spikes):
        counts = ops.cumsum(spikes, axis=1)
        return ops.matmul(ops.cast(counts, "float32"), self.kernel)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[1], self.units)

    def get_config(self):
        return {**super().get_config(), "units": self.units}


@keras.saving.register_keras_serializable(package=PACKAGE)
class BurstDeletion(SpikeDeletion):
    """Noise: each encoding burst spike (0/1 per step, float or int) is deleted with probability `rate`."""

    def __init__(self, rate, seed=None, **kwargs):
        kwargs.pop("levels", None)
        super().__init__(rate, 1, seed=seed, **kwargs)

    def call(self, spikes):
        kept = delete_spikes(ops.cast(spikes, "float32"), self.rate, 1, self.seed_generator)
        return ops.cast(kept, spikes.dtype)


ALLINT_EMITTERS = (BurstEncoding, DynamicThresholdNeuron)
ALLINT_SYNAPSES = (SignedConv2D, SignedDense)
