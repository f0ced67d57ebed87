"""Spiking layers of the rate-coded SNN (docs/rate.md §3-4): integrate-and-fire neurons with reset
by subtraction, driven by a constant input current, read out by summing the last layer's input.

Tensors between layers carry the time axis, `(batch, T, ...)`. Synapses are stateless and
linear, so every layer is evaluated over all T steps at once (time folded into the batch), and
only the neurons step through time. Each layer's input may arrive `delay` steps late:

    delay 1  synchronous timing (the seed's default): a layer at step t sees what the layer below
             emitted at step t - 1, so a spike reaches the l-th layer at step l
    delay 0  one-step timing (`--one-step`): the whole stack propagates within a step

A delay applied to a synapse's output equals one applied to its input (linear, stateless), so
the neurons, pass-throughs and the readout apply it to the current they receive.

    IFEncoder         the first conv on the image (constant current every step) + IF neurons
    IFNeuron          v += I; spike iff v >= 1; v -= 1 on a spike; no leak, no lower bound
    PassThrough       a conv followed by average pooling: its current goes on unchanged (no neuron)
    SpikingAvgPool2D  average pooling of the spikes (or of a pass-through's current)
    SummingReadout    the classifier's input current summed over the steps so far: (batch, T, classes)
"""
import keras
from keras import ops

from layers.base import SpikingLayer
from layers.quantized import PACKAGE, conv_output_size, pair
from layers.spiking import SpikeDeletion, fold_time, unfold_time

THRESHOLD = 1.0
DELAYS = (0, 1)


def delay_steps(x, delay):
    """Shift (batch, T, ...) by `delay` steps along time: zeros first, the last steps dropped."""
    if delay == 0:
        return x
    time_steps = x.shape[1]
    if delay >= time_steps:
        return ops.zeros_like(x)
    return ops.concatenate([ops.zeros_like(x[:, :delay]), x[:, : time_steps - delay]], axis=1)


def integrate_and_fire(currents, threshold=THRESHOLD, return_potential=False):
    """IF neurons over the time axis of (batch, T, ...) currents; returns float32 0/1 spikes.

    Per step: v += I(t); s = v >= threshold; v -= threshold * s. v starts at 0, has no leak and no
    lower bound, and a neuron spikes at most once per step (the rest stays in v).
    """
    steps = ops.moveaxis(ops.cast(currents, "float32"), 1, 0)
    if return_potential:  # a plain loop that also keeps the potential of every step before its reset
        v, spikes, potentials = ops.zeros_like(steps[0]), [], []
        for t in range(steps.shape[0]):
            v = v + steps[t]
            potentials.append(v)
            spike = ops.cast(v >= threshold, "float32")
            spikes.append(spike)
            v = v - threshold * spike
        return ops.stack(spikes, axis=1), ops.stack(potentials, axis=1)

    def step(v, current):  # keras' scan wants the per-step output shaped like the carry
        v = v + current
        spike = ops.cast(v >= threshold, "float32")
        return v - threshold * spike, spike

    _, spikes = ops.scan(step, ops.zeros_like(steps[0]), steps)
    return ops.moveaxis(spikes, 0, 1)


def _check_delay(delay):
    if delay not in DELAYS:
        raise ValueError(f"delay must be 0 or 1, got {delay!r}")
    return int(delay)


class _Delayed(SpikingLayer):
    def __init__(self, delay=1, **kwargs):
        super().__init__(**kwargs)
        self.delay = _check_delay(delay)

    def get_config(self):
        return {**super().get_config(), "delay": self.delay}


class _UnitSpikes:
    def spike_deletion(self, rate, seed, name):
        """The noise layer that deletes each of this layer's spikes with probability `rate`."""
        return SpikeDeletion(rate, 1, seed=seed, name=name)


@keras.saving.register_keras_serializable(package=PACKAGE)
class IFEncoder(_UnitSpikes, _Delayed):
    """The first conv on the analog image (the same current at every step) and its IF neurons:
    (batch, H, W, C) -> spikes (batch, T, H', W', filters)."""

    role, operation, stateless = "encoder", "conv", False
    levels = 1

    def __init__(self, filters, kernel_size, strides=1, padding="same", time_steps=1, delay=1, **kwargs):
        super().__init__(delay, **kwargs)
        self.filters = int(filters)
        self.kernel_size = pair(kernel_size)
        self.strides = pair(strides)
        self.padding = padding.lower()
        self.time_steps = int(time_steps)

    def build(self, input_shape):
        self.kernel = self._constant("kernel", (*self.kernel_size, input_shape[-1], self.filters), "float32")

    def current(self, images):
        return ops.conv(images, self.kernel, strides=self.strides, padding=self.padding)

    def call(self, images):
        current = ops.repeat(ops.expand_dims(self.current(images), 1), self.time_steps, axis=1)
        return integrate_and_fire(delay_steps(current, self.delay))

    def compute_output_shape(self, input_shape):
        batch, h, w, _ = input_shape
        hw = conv_output_size((h, w), self.kernel_size, self.strides, self.padding)
        return (batch, self.time_steps, *hw, self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size,
                "strides": self.strides, "padding": self.padding, "time_steps": self.time_steps}


@keras.saving.register_keras_serializable(package=PACKAGE)
class IFNeuron(_UnitSpikes, _Delayed):
    """Integrate-and-fire neurons (see integrate_and_fire) on the (delayed) synaptic current."""

    role, stateless = "neuron", False
    levels = 1

    def call(self, currents):
        return integrate_and_fire(delay_steps(currents, self.delay))

    def compute_output_shape(self, input_shape):
        return input_shape


@keras.saving.register_keras_serializable(package=PACKAGE)
class PassThrough(_Delayed):
    """A conv followed by average pooling has no neurons: its (delayed) current goes on as it is."""

    role = "synapse"

    def call(self, currents):
        return delay_steps(currents, self.delay)

    def compute_output_shape(self, input_shape):
        return input_shape


@keras.saving.register_keras_serializable(package=PACKAGE)
class SpikingAvgPool2D(SpikingLayer):
    """Average pooling of every step's input, (batch, T, H, W, C) -> (batch, T, H', W', C)."""

    role, operation = "synapse", "pool"

    def __init__(self, pool_size=2, strides=None, **kwargs):
        super().__init__(**kwargs)
        self.pool_size = pair(pool_size)
        self.strides = pair(strides if strides is not None else pool_size)

    def call(self, x):
        pooled = ops.average_pool(fold_time(ops.cast(x, "float32")), self.pool_size, self.strides, "valid")
        return unfold_time(pooled, x.shape[1])

    def compute_output_shape(self, input_shape):
        batch, t, h, w, c = input_shape
        return (batch, t, *conv_output_size((h, w), self.pool_size, self.strides, "valid"), c)

    def get_config(self):
        return {**super().get_config(), "pool_size": self.pool_size, "strides": self.strides}


@keras.saving.register_keras_serializable(package=PACKAGE)
class SummingReadout(_Delayed):
    """The classifier's (delayed) input current, summed over the steps so far: (batch, T, units).

    Step t's argmax is the seed's prediction at step t (it sums W s(tau) for tau <= t)."""

    role, operation = "readout", "dense"
    logits_per_step = True

    def __init__(self, units, delay=1, **kwargs):
        super().__init__(delay, **kwargs)
        self.units = int(units)

    def build(self, input_shape):
        self.kernel = self._constant("kernel", (input_shape[-1], self.units), "float32")

    def call(self, spikes):
        current = ops.matmul(ops.cast(spikes, "float32"), self.kernel)
        return ops.cumsum(delay_steps(current, self.delay), axis=1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self):
        return {**super().get_config(), "units": self.units}
