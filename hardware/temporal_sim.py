"""Tick simulator of the temporal (store-and-release) mapping, from the cores' own tables.

Every hardware neuron follows the PAICORE SNN-mode tick (docs/hardware.md §4) with the temporal
registers (hardware.temporal): V += sum_axons x * w; V += leak; spike iff V >= theta_pos; after a
spike V -= theta_pos (linear reset); membranes start at 0. A layer's cores work from their
tick_wait_start to the end of their release window, idle ticks included. Axons: the data axons
carry the spikes the layer below emitted one tick earlier (delay 1; the encoder's burst for the
first layer); each controller group (hardware.temporal.Control) fires in its own ticks.

Layers run one after another, each over its own ticks in order: a layer at tick t needs only
what the layer below emitted at t - 1, so this is the tick-by-tick order of the chip. Within a
core the currents of all store ticks come from one matrix product (a sum of per-tick products,
exact in float32 below 2^24, checked), and the membrane then steps tick by tick. Spikes before
the release window would leave too early; they are counted (`store_spikes`, 0 by construction)
and the comparison fails if any occurs.
"""
import numpy as np

from hardware.partition import control_group
from hardware.temporal import tick_inputs, windows
from hardware.validate import layer_bounds
from layers.base import FLOAT32_EXACT


class TemporalSimulator:
    def __init__(self, net, cores, delay=1):
        self.net, self.cores, self.windows = net, cores, windows(net, delay)
        self.by_layer = [[i for i, c in enumerate(cores) if c.layer == li] for li in range(len(net.layers))]
        for layer in net.layers:
            if layer_bounds(layer)[0] >= FLOAT32_EXACT:
                raise ValueError(f"{layer.name}: membranes beyond 2^24, float32 would round")
        self.core_input_spikes = np.zeros(len(cores), np.int64)
        self.neuron_spikes = [np.zeros(layer.n_out, np.int64) for layer in net.layers]
        self.input_spikes = np.zeros(net.layers[0].n_in, np.int64)
        self.store_spikes = 0
        self.images = 0

    def run(self, encoder_spikes):
        """encoder_spikes (B, L0, H, W, C) 0/1 -> [per layer (B, L, n_out) release spike trains]."""
        x = np.asarray(encoder_spikes, np.float32)
        batch = len(x)
        x = x.reshape(batch, x.shape[1], -1).transpose(1, 0, 2)  # (ticks, B, neurons)
        self.images += batch
        self.input_spikes += x.sum(axis=(0, 1)).astype(np.int64)
        outputs = []
        for li, layer in enumerate(self.net.layers):
            w = self.windows[li]
            out = np.zeros((w.release, batch, layer.n_out), np.float32)
            for ci in self.by_layer[li]:
                core = self.cores[ci]
                out_core = self._core(ci, core, x, w)
                primary = core.copy == 0
                out[:, :, core.neuron_ids[primary]] = out_core[:, :, primary]
            self.neuron_spikes[li] += out.sum(axis=(0, 1)).astype(np.int64)
            outputs.append(out.transpose(1, 0, 2))
            x = out
        return outputs

    def _core(self, ci, core, x, w):
        """Release spikes (L, B, neurons) of one core over its window."""
        src = core.axon_src
        data = src >= 0
        weights = core.weights.astype(np.float32)
        xd = x[:, :, src[data]]  # (store, B, data axons)
        self.core_input_spikes[ci] += int(xd.sum())
        currents = xd @ weights[data]  # (store, B, neurons)
        first = w.tick_wait_start
        ticks = range(first, w.release_start + w.release)
        group = control_group(src)
        controls = self.net.layers[core.layer].controls
        other = tick_inputs(w, core.bias.astype(np.float32),  # the leak and each group, from the tables
                            [(control, weights[group == g].sum(axis=0)) for g, control in enumerate(controls)])
        theta = core.theta.astype(np.float32)
        v = np.zeros(currents.shape[1:], np.float32)
        out = np.zeros((w.release, *v.shape), np.float32)
        for t in ticks:
            v += other[t - first]
            if w.start <= t < w.release_start:
                v += currents[t - w.start]
            fired = v >= theta
            v -= fired * theta
            if t < w.release_start:
                self.store_spikes += int(fired.sum())
            else:
                out[t - w.release_start] = fired
        return out


def simulate_and_compare_temporal(net, cores, images, batch_size=500, delay=1):
    """Temporal core simulation next to the Keras SR SNN: (sim, agreement dict). Compared per
    layer: the spike trains tick by tick (not only the counts)."""
    sim = TemporalSimulator(net, cores, delay)
    n, same_pred = len(images), 0
    mismatched = {layer.name: 0 for layer in net.layers}
    for start in range(0, n, batch_size):
        batch = images[start:start + batch_size]
        keras_out = net.probe.predict(batch, batch_size=len(batch), verbose=0)
        trains = sim.run(keras_out[net.encoder_name])
        for layer, ours in zip(net.layers, trains):
            theirs = np.asarray(keras_out[layer.name]).reshape(ours.shape)
            mismatched[layer.name] += int(np.sum(np.any((theirs != ours).reshape(len(batch), -1), axis=1)))
        last = trains[-1].reshape(len(batch), trains[-1].shape[1], -1)
        logits = np.asarray(net.readout(last))
        same_pred += int(np.sum(np.argmax(logits, 1) == np.argmax(keras_out["logits"], 1)))
    exact = all(v == 0 for v in mismatched.values()) and same_pred == n and sim.store_spikes == 0
    return sim, {"num_images": n, "agreement": same_pred, "images_with_count_mismatch": mismatched,
                 "store_spikes": sim.store_spikes, "bit_exact": exact}
