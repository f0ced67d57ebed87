"""The temporal mapping's PAIBox configuration export, tiled like the spatial one (docs/hardware.md §9).

PAIBox's Mapper turns the referee's network (hardware.paibox_temporal: one LIF group per layer
and step) into core blocks as wide as a layer's whole input, so on the shipped LeNet one of its
routing groups is larger than a chip. As for the spatial export
(hardware.paibox_export.build_tiled_network), the Mapper is given only small merged groups:

- every tile of our temporal partition is its own LIF groups, one per distinct step among its
  channels (PAIBox takes one threshold per group), with the §7 registers: threshold s, linear
  reset, the per-neuron leak, the layer's tick_wait_start / tick_wait_end;
- a first-layer tile is fed by its own input projection (its receptive field, sent by the host);
  a deeper tile by a `FullConn` from every step group of each tile below it reads, with the
  weights of our cores' tables; a tile read by k tiles of the next layer is built k times (one
  copy per reader), so that no group is the source of two readers;
- every tile has timers of its own (hardware.temporal.Timer, one LIF group per controller group
  and run, one neuron per controller axon, the weights of the tile's controller rows) and a silent
  one-neuron input projection with a zero-weight synapse to each of them (PAIBox gives cores only to
  neurons a synapse ends at). Sharing timers or that input between tiles would merge the tiles.

`TiledTemporalReferee` runs the same network in PAIBox's Simulator, so the export is checked
against our tick simulator spike train by spike train.
"""
import contextlib
import io
import time
from pathlib import Path

import numpy as np

from hardware.paibox_export import _BUILDS, compile_and_export, tile_cores, tiles_and_readers
from hardware.paibox_sim import spike_probes
from hardware.paibox_temporal import burst_at, store_and_release, timer_group
from hardware.partition import control_group
from hardware.temporal import windows


def _control_rows(net, cores):
    """Per layer, per tile (in tile order): [(Control, weights (K, tile's primary neurons))]."""
    out = []
    for li, layer_groups in enumerate(tile_cores(net, cores)):
        controls = net.layers[li].controls
        rows = []
        for group in layer_groups:
            groups = control_group(group[0].axon_src)
            rows.append([(control, np.concatenate([c.weights[groups == g][:, c.copy == 0] for c in group], axis=1))
                         for g, control in enumerate(controls)])
        out.append(rows)
    return out


def build_tiled_temporal_network(net, cores, delay=1, source=None):
    """(pb.DynSysGroup, {InputProj name: encoder neuron ids it carries}, per layer [(LIF attribute
    name, our neuron ids of its neurons)] for the first copy of every tile and step group).
    `source(t, ids)`: the encoder spikes of neurons `ids` at PAIBox tick t (a Simulator run); None
    for the export (the host sends them)."""
    import paibox as pb

    tiles, readers = tiles_and_readers(net, cores)
    control = _control_rows(net, cores)
    wins = windows(net, delay)
    tag = f"_tt{next(_BUILDS)}"
    input_map, outputs = {}, [[] for _ in net.layers]

    class TiledTemporalNet(pb.DynSysGroup):
        def __init__(self):
            super().__init__()
            made = {}  # (layer, tile, reader) -> [(LIF group, columns of the tile)]
            for li, (layer, win) in enumerate(zip(net.layers, wins)):
                channels = layer.out_shape[2]
                for t, (in_ids, out_ids, w) in enumerate(tiles[li]):
                    steps = layer.steps[out_ids % channels]
                    groups = [np.flatnonzero(steps == d) for d in np.unique(steps)]
                    copies = []
                    for r in readers[li][t]:
                        made[li, t, r] = []
                        for gi, cols in enumerate(groups):
                            name = f"{layer.name}_tile{t}_s{gi}" + ("" if r is None else f"_for{r}") + tag
                            leak = layer.leak[out_ids[cols] % channels].astype(np.int64)
                            node = pb.LIF((len(cols),), threshold=int(steps[cols[0]]), reset_v=None,
                                          bias=int(leak[0]) if leak.size == 1 else leak,
                                          tick_wait_start=win.tick_wait_start, tick_wait_end=win.tick_wait_end,
                                          name=name)
                            setattr(self, name, node)
                            made[li, t, r].append((node, cols))
                        copies.extend(made[li, t, r])
                    outputs[li].extend((node.name, out_ids[cols]) for node, cols in made[li, t, readers[li][t][0]])
                    self._add_timers(layer, win, t, control[li][t], copies)
                    if li == 0:  # one input projection per tile: its receptive field
                        inp = pb.InputProj(input=None if source is None else _fed(source, in_ids),
                                           shape_out=(len(in_ids),), name=f"input_tile{t}" + tag)
                        setattr(self, inp.name, inp)
                        input_map[inp.name] = in_ids
                        for node, cols in copies:
                            self._add_synapse(inp, node, w[:, cols])
                        continue
                    row = {int(s): i for i, s in enumerate(in_ids)}
                    for s, (_, src_ids, _) in enumerate(tiles[li - 1]):
                        if t not in readers[li - 1][s]:
                            continue
                        for src, src_cols in made[li - 1, s, t]:
                            rows = np.array([row.get(int(i), -1) for i in src_ids[src_cols]])
                            ws = np.where((rows >= 0)[:, None], w[np.maximum(rows, 0)], 0).astype(np.int8)
                            for node, cols in copies:
                                self._add_synapse(src, node, ws[:, cols])

        def _add_synapse(self, src, node, weights):
            name = f"syn_{src.name}_{node.name}"
            setattr(self, name, pb.FullConn(src, node, weights.astype(np.int8), name=name))

        def _add_timers(self, layer, win, t, rows, copies):
            ground = None
            for control, weights in rows:
                if not len(weights):
                    continue
                for ti, timer in enumerate(control.timers(win)):
                    name = f"{control.name}_{layer.name}_tile{t}_{ti}" + tag
                    node = timer_group(pb, timer, len(weights), name)
                    setattr(self, name, node)
                    if ground is None:
                        ground = pb.InputProj(input=np.zeros(1, np.uint8), shape_out=(1,),
                                              name=f"ground_{layer.name}_tile{t}" + tag)
                        setattr(self, ground.name, ground)
                    self._add_synapse(ground, node, np.zeros((1, len(weights))))
                    for target, cols in copies:
                        self._add_synapse(node, target, weights[:, cols])

    return TiledTemporalNet(), input_map, outputs


def paibox_temporal_export(net, cores, out_dir, delay=1):
    """Compile the tiled temporal network with PAIBox's Mapper and export its configuration to
    out_dir/paibox (input_map.npz: per input projection, the encoder neuron ids it carries)."""
    out = Path(out_dir) / "paibox"
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    with contextlib.redirect_stdout(io.StringIO()):  # PAIBox prints its build steps
        network, input_map, _ = build_tiled_temporal_network(net, cores, delay)
        result = compile_and_export(network, input_map, net, out, t0)
    return {**result, "construction": "tiled temporal, timers per tile"}


class TiledTemporalReferee:
    """The tiled temporal network in PAIBox's Simulator; `run(encoder_spikes)` -> per-layer release
    spike trains (B, L, n_out), as hardware.temporal_sim.TemporalSimulator.run."""

    def __init__(self, net, cores, delay=1):
        import paibox as pb

        self.net, self.windows = net, windows(net, delay)
        self._image = None  # (L0, our encoder neuron ids) of the image being simulated
        with contextlib.redirect_stdout(io.StringIO()):
            self.network, self.input_map, self.outputs = build_tiled_temporal_network(net, cores, delay, self._at)
        self.sim = pb.Simulator(self.network)
        self.probes = spike_probes(self.sim, self.network, self.outputs)
        self.store_spikes = 0

    def run(self, encoder_spikes):
        spikes = np.asarray(encoder_spikes).astype(np.uint8)
        ticks = self.windows[-1].release_start + self.windows[-1].release - 1
        out = [[] for _ in self.net.layers]
        for image in spikes:
            self._image = image.reshape(len(image), -1)
            self.sim.reset()
            self.sim.run(ticks)
            for li, (layer, win) in enumerate(zip(self.net.layers, self.windows)):
                trains = np.zeros((win.release, layer.n_out), np.int64)
                for probe, ids in self.probes[li]:
                    early, trains[:, ids] = store_and_release(np.asarray(self.sim.data[probe]).reshape(ticks, -1), win)
                    self.store_spikes += early
                out[li].append(trains)
        return [np.stack(trains) for trains in out]

    def _at(self, t, ids):
        spikes = burst_at(self._image, self.windows[0], t)
        return np.zeros(len(ids), np.uint8) if spikes is None else spikes[ids]


def _fed(source, ids):
    def fire(t):
        return source(t, ids)
    return fire
