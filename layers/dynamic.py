"""Spiking layers of the all-integer SNN with dynamic threshold adaptation (docs/conversions.md §4).

One neuron per ANN neuron, T time steps, signed spikes (+1 / -1) on the time axis
`(batch, T, ...)`. Layers are evaluated one after the other over all T steps; that equals the
step-by-step evaluation of the seed because synapses are stateless and linear and there is no
inter-layer delay (step t of a layer only needs step t of the layer below).

    BurstEncoding           float conv on the image, then a ladder of L thresholds: a value q
                            (0..L) is sent as a burst of q unit spikes in steps 0..q-1
    SpikingConv2D/Dense     synapses (layers.spiking, shared with scatter-and-gather): per-step
                            current W * s(t), time folded into the batch; arithmetic "float"
                            (float32) or "int" (int32, int8 kernel). `SignedConv2D/Dense`, their
                            names before the merge, still load from old `.keras` files
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

from layers.base import SpikingLayer
from layers.quantized import PACKAGE
from layers.spiking import (ARITHMETICS, ConvEncoder, Readout, SpikeDeletion, SpikingConv2D, SpikingDense,
                            delete_spikes)

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


def _check_arithmetic(arithmetic):
    if arithmetic not in ARITHMETICS:
        raise ValueError(f"arithmetic must be one of {ARITHMETICS}, got {arithmetic!r}")


@keras.saving.register_keras_serializable(package=PACKAGE)
class BurstEncoding(ConvEncoder):
    """Encoding neuron: float conv on `scale * image`, a float32 ladder of `levels` thresholds.

    The value q = number of thresholds reached (0..levels) is sent as q unit spikes in steps
    0..q-1, none afterwards: the seed's threshold raised by d0 each step, with the ladder written
    out (exact for any BN, negative gamma included). Output (batch, T, H', W', filters) in
    `spike_dtype` ("float32" for float mode, "int32" for integer mode).
    """

    burst_code = True

    def __init__(self, filters, kernel_size, levels, scale=1.0, strides=1, padding="valid", time_steps=1,
                 spike_dtype="float32", **kwargs):
        super().__init__(filters, kernel_size, levels, scale, strides, padding, time_steps, **kwargs)
        self.spike_dtype = spike_dtype

    def spike_deletion(self, rate, seed, name):
        """The noise layer that deletes this layer's burst spikes, each with probability rate."""
        return BurstDeletion(rate, seed=seed, name=name)

    def call(self, images):
        return burst(self.counts(images), self.time_steps, self.spike_dtype)

    def get_config(self):
        return {**super().get_config(), "spike_dtype": self.spike_dtype}


# The all-integer synapses are the shared SpikingConv2D / SpikingDense. Their names before the merge
# stay as subclasses that add nothing: `.keras` files store a layer's weights under a path made from
# its class name, so an old file loads only into a class of the old name.


@keras.saving.register_keras_serializable(package=PACKAGE)
class SignedConv2D(SpikingConv2D):
    """Old name of SpikingConv2D (all-integer SNNs saved before the merge)."""


@keras.saving.register_keras_serializable(package=PACKAGE)
class SignedDense(SpikingDense):
    """Old name of SpikingDense (all-integer SNNs saved before the merge)."""


@keras.saving.register_keras_serializable(package=PACKAGE)
class DynamicThresholdNeuron(SpikingLayer):
    """Dynamic-threshold neurons (see dynamic_threshold), one per ANN neuron.

    arithmetic "float": state and constants float64, the negative threshold has the seed's 1e-5
    margin; input currents float32; spikes out as float32.
    arithmetic "int": state and constants `int_dtype` (int32 or int64), the current is multiplied
    by `gain` (10^4 * sign); input currents int32; spikes out as int32. No float on this path.
    Weights (C,): theta0 (first positive threshold), step (d), bound (b = theta0 - d), gain.
    """

    role, signed, stateless = "neuron", True, False

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
class AccumulatingReadout(Readout):
    """Float classifier on the accumulated net spike counts, at every step: (batch, T, units).

    Logits at step t = (sum of the spikes of steps 0..t) @ W; after convergence 2^k times the
    ANN's logits. Integer spikes are summed as integers, then converted (exact below 2^24).
    """

    logits_per_step = True

    def call(self, spikes):
        counts = ops.cumsum(spikes, axis=1)
        return ops.matmul(ops.cast(counts, "float32"), self.kernel)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[1], self.units)


@keras.saving.register_keras_serializable(package=PACKAGE)
class BurstDeletion(SpikeDeletion):
    """Noise: each encoding burst spike (0/1 per step, float or int) is deleted with probability `rate`."""

    def __init__(self, rate, seed=None, **kwargs):
        kwargs.pop("levels", None)
        super().__init__(rate, 1, seed=seed, **kwargs)

    def call(self, spikes):
        counts = ops.cast(spikes, "float32")
        kept = delete_spikes(counts, self.rate, 1, self.draws(counts))  # keyed by image, as SpikeDeletion
        return ops.cast(kept, spikes.dtype)

