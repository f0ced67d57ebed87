"""PAIBox's own Simulator as a referee for the spatial mapping (docs/hardware.md §8).

The network is the one the export builds (hardware.paibox_export.build_network, without the
relay): every hidden layer a PAIBox LIF group of C' * L neurons (threshold 1, hard reset to 0,
per-neuron leak 1 - t, working one tick: tick_wait_start = layer index + 1, tick_wait_end = 1),
fed by the off-chip encoder's sub-neuron spikes through an InputProj. PAIBox simulates one image
at a time; its spikes of each layer at the layer's working tick are summed over the L sub-neurons
into per-neuron counts, in our (H', W', C') order, to be compared with hardware.simulate.
"""
import contextlib
import io
import time

import numpy as np


def _paibox_input(counts, levels):
    """(H, W, C) counts -> (C * L, H, W) sub-neuron spikes in PAIBox's channel order c * L + l."""
    spikes = counts[..., None] > np.arange(levels)  # (H, W, C, L)
    h, w, c, _ = spikes.shape
    return spikes.reshape(h, w, c * levels).transpose(2, 0, 1).astype(np.uint8)


def _counts(spikes, layer):
    """PAIBox spikes of one layer ((C' * L, H', W') or (C' * L,)) -> counts (H', W', C') or (C',)."""
    ho, wo, co = layer.out_shape
    s = np.asarray(spikes).reshape(co, layer.levels, ho, wo).sum(axis=1)  # (C', H', W')
    return s.transpose(1, 2, 0) if layer.kind == "conv" else s.reshape(co)


class PaiboxReferee:
    """Builds the PAIBox network once; `run(encoder_counts)` -> per-layer counts like CoreSimulator."""

    def __init__(self, net):
        import paibox as pb

        from hardware.paibox_export import build_network

        self.net = net
        with contextlib.redirect_stdout(io.StringIO()):
            self.network, _ = build_network(net, 0, relay=False)
        self.sim = pb.Simulator(self.network)
        self.probes = [pb.Probe(getattr(self.network, f"n{i}"), "spike") for i in range(len(net.layers))]
        for probe in self.probes:
            self.sim.add_probe(probe)
        self.seconds = 0.0

    def run(self, encoder_counts):
        """encoder_counts (B, 1, H, W, C) -> [counts per layer, (B, H', W', C') or (B, C')]."""
        counts = np.asarray(encoder_counts)[:, 0]
        out = [[] for _ in self.net.layers]
        started = time.perf_counter()
        for image in counts:
            self.network.inp.input = _paibox_input(image.astype(np.int64), self.net.encoder_levels)
            self.sim.reset()
            self.sim.run(len(self.net.layers))
            for i, (layer, probe) in enumerate(zip(self.net.layers, self.probes)):
                out[i].append(_counts(self.sim.data[probe][i], layer))  # layer i works in tick i + 1
        self.seconds += time.perf_counter() - started
        return [np.stack(layer_counts) for layer_counts in out]
