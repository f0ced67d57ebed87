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


def spike_probes(sim, network, outputs):
    """Per layer [(PAIBox spike probe, our neuron ids)] of the groups named in `outputs` (per layer
    [(attribute name of the group in `network`, ids)]), added to `sim`."""
    import paibox as pb

    probes = [[(pb.Probe(getattr(network, name), "spike"), ids) for name, ids in layer] for layer in outputs]
    for layer in probes:
        for probe, _ in layer:
            sim.add_probe(probe)
    return probes


class TiledPaiboxReferee:
    """The export's tiled network (hardware.paibox_export.build_tiled_network) in PAIBox's
    Simulator: every input projection gets its tile's encoder sub-neuron spikes, and each tile's
    spikes at its layer's working tick are put back at their logical sub-neuron ids."""

    def __init__(self, net, cores):
        import paibox as pb

        from hardware.paibox_export import build_tiled_network

        self.net = net
        with contextlib.redirect_stdout(io.StringIO()):
            self.network, self.input_map, self.outputs, _ = build_tiled_network(net, cores)
        self.sim = pb.Simulator(self.network)
        self.probes = spike_probes(self.sim, self.network, self.outputs)

    def run(self, encoder_counts):
        """encoder_counts (B, 1, H, W, C) -> [counts per layer, (B, H', W', C') or (B, C')]."""
        levels = self.net.encoder_levels
        out = [[] for _ in self.net.layers]
        for image in np.asarray(encoder_counts)[:, 0].astype(np.int64):
            spikes = (image.reshape(-1)[:, None] > np.arange(levels)).reshape(-1)  # our sub-neuron order
            for name, ids in self.input_map.items():
                getattr(self.network, name).input = spikes[ids].astype(np.uint8)
            self.sim.reset()
            self.sim.run(len(self.net.layers))
            for i, (layer, probes) in enumerate(zip(self.net.layers, self.probes)):
                sub = np.zeros(layer.n_out, np.int64)
                for probe, ids in probes:
                    sub[ids] = np.asarray(self.sim.data[probe][i]).reshape(-1)  # layer i works in tick i + 1
                counts = sub.reshape(-1, layer.levels).sum(axis=1)
                out[i].append(counts.reshape(layer.out_shape) if layer.kind == "conv" else counts)
        return [np.stack(layer_counts) for layer_counts in out]
