"""Spiking layer of the store-and-release (SR) SNN (docs/conversions.md §5).

One integrate-and-fire neuron per ANN neuron. A layer's tensor holds its own release window on
the time axis, (batch, L, ...): unit spikes, a neuron with count n firing in the first n ticks
(burst code, layers.base). Where the windows sit in the network's tick timeline (each layer
releases right after the window it integrated) is the converter's bookkeeping
(`window_start`); inside a layer only the order of the ticks matters.

    store:   V = sum over the input window of the synaptic currents W * s(t)
    release: for each of the L ticks: spike iff V >= theta; after a spike V -= step

Potentials are integers (integer weights, unit spikes) computed in float32, exact below 2^24
(the converter checks the bound, subtractions included).
"""
import keras
from keras import ops

from layers.base import SpikingLayer
from layers.dynamic import BurstDeletion
from layers.quantized import PACKAGE


def store_release(currents, theta, step, levels):
    """(batch, T_in, ..., C) currents -> (batch, levels, ..., C) unit spikes (float32).

    theta, step: (C,) float32. Literal dynamics: integrate all of T_in, then fire-and-subtract."""
    v = ops.sum(ops.cast(currents, "float32"), axis=1)
    spikes = []
    for _ in range(levels):  # the release ticks, in order
        fired = ops.cast(v >= theta, "float32")
        v = v - fired * step
        spikes.append(fired)
    return ops.stack(spikes, axis=1)


@keras.saving.register_keras_serializable(package=PACKAGE)
class StoreReleaseNeuron(SpikingLayer):
    """IF neurons with integer threshold and subtractive reset, releasing over `levels` ticks.

    Weights (C,): theta (first threshold) and step (the subtractive reset), both integers held in
    float32. `window_start`: the tick at which the release window opens (the network's timeline,
    for reports and the hardware mapping; the layer's own output starts at index 0).
    """

    role, stateless, burst_code = "neuron", False, True

    def __init__(self, levels, window_start=0, **kwargs):
        super().__init__(**kwargs)
        self.levels = int(levels)
        self.window_start = int(window_start)

    def build(self, input_shape):
        self.theta = self._constant("theta", (input_shape[-1],), "float32")
        self.step = self._constant("step", (input_shape[-1],), "float32")

    def call(self, currents):
        return store_release(currents, self.theta, self.step, self.levels)

    def spike_deletion(self, rate, seed, name):
        """Noise: each released spike is deleted with probability `rate` (as the encoder's)."""
        return BurstDeletion(rate, seed=seed, name=name)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.levels, *input_shape[2:])

    def get_config(self):
        return {**super().get_config(), "levels": self.levels, "window_start": self.window_start}
