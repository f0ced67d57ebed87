"""Export: the same SG network built in PAIBox, compiled with its Mapper (phase 5 of 5).

Hidden neurons are PAIBox `LIF` neurons; in `build_network` every hidden layer is one group of
C' * L neurons in (C', H, W) order
(channel c' = c * L + l), SNN mode, hard reset to 0, threshold 1 and the per-neuron leak
`1 - t` (PAIBox takes one threshold per group; V + 1 - t >= 1 <=> V >= t), fed by a `Conv2d`
whose kernel repeats every weight over the L input and L output sub-neurons (`FullConn` for
dense layers, rows permuted from Keras' (H, W, C) flatten order to PAIBox's (C, H, W)).

Two builds of that network:

- `build_network` (one group per layer, a `Conv2d` per conv): what PAIBox's core count
  (`paibox_count`) and its Simulator (hardware.paibox_sim) get. PAIBox 1.3's Mapper does not
  tile a conv fed directly by an `InputProj`: its core block takes the whole input as axons, so
  the count relays the input through a `BypassNeuron` layer (reported separately), which is
  itself too large to place.
- `build_tiled_network` (one group per tile of our partition, and per tile reading it): what
  the configuration export (`paibox_export_tiled`) compiles, every on-chip layer included. The
  neurons keep the registers above, in our sub-neuron order, and every edge is a `FullConn`
  holding the tile's weights read off our cores' tables; why this construction places where the
  other does not is written above `build_tiled_network`.

'same' padding with an odd total (asymmetric) has no PAIBox `Conv2d` equivalent (symmetric only);
the tiled build takes its weights from our cores' tables and does not meet that limit.
"""
import itertools
import time
from collections import Counter
from pathlib import Path

import numpy as np


_BUILDS = itertools.count()  # PAIBox node names are global: every build gets its own suffix


def _kernel_oihw(layer):
    k = np.transpose(layer.kernel, (3, 2, 0, 1))  # (C', C, kh, kw)
    return np.repeat(np.repeat(k, layer.levels, axis=0), layer.levels_in, axis=1).astype(np.int8)


def _dense_weights(layer, prev_shape):
    """(n_in sub-neurons in PAIBox order, n_out) for a dense layer."""
    k = layer.kernel[0, 0]  # (F, units), F in Keras (H, W, C) order
    h, w, c = prev_shape
    k = k.reshape(h, w, c, -1).transpose(2, 0, 1, 3)  # (C, H, W, units)
    k = np.repeat(k, layer.levels_in, axis=0).reshape(c * layer.levels_in * h * w, -1)
    return np.repeat(k, layer.levels, axis=1).astype(np.int8)


def build_network(net, start=0, relay=True):
    """A pb.DynSysGroup for layers[start:]; returns (network, {paibox node name: our layer name})."""
    import paibox as pb

    layers = net.layers[start:]
    first = layers[0]
    h, w, c = first.in_shape
    names = {}
    tag = f"_b{next(_BUILDS)}"

    class SGNet(pb.DynSysGroup):
        def __init__(self):
            super().__init__()
            tick = 1
            self.inp = pb.InputProj(input=None, shape_out=(c * first.levels_in, h, w), name="offchip_input" + tag)
            src = self.inp
            if relay:
                self.relay = pb.BypassNeuron((c * first.levels_in, h, w), tick_wait_start=tick, name="relay" + tag)
                self.relay_syn = pb.FullConn(self.inp, self.relay, 1, conn_type=pb.SynConnType.One2One,
                                             name="relay_syn" + tag)
                names["relay_syn" + tag] = "relay (PAIBox only)"
                src, tick = self.relay, tick + 1
            prev_shape = first.in_shape
            for i, layer in enumerate(layers):
                ho, wo, co = layer.out_shape
                shape = (co * layer.levels, ho, wo) if layer.kind == "conv" else (co * layer.levels,)
                t = layer.thresholds.reshape(-1)  # (C' * L,) sign-folded
                leak = np.repeat(1 - t, ho * wo).astype(np.int32)
                neuron = pb.LIF(shape, threshold=1, reset_v=0, leak_v=leak, tick_wait_start=tick + i,
                                tick_wait_end=1, name=layer.name + tag)
                if layer.kind == "conv":
                    syn = pb.Conv2d(src, neuron, _kernel_oihw(layer), stride=layer.strides,
                                    padding=layer.pads, name=layer.synapse + tag)
                else:
                    syn = pb.FullConn(src, neuron, _dense_weights(layer, prev_shape), name=layer.synapse + tag)
                setattr(self, f"n{i}", neuron)
                setattr(self, f"s{i}", syn)
                names[layer.synapse + tag] = layer.name
                src, prev_shape = neuron, layer.out_shape

    return SGNet(), names


def paibox_count(net, relay=True):
    """PAIBox's n_core_required for the whole network (core estimate only) and per layer."""
    import paibox as pb

    t0 = time.time()
    network, names = build_network(net, 0, relay)
    mapper = pb.Mapper()
    mapper.build(network)
    info = mapper.compile(core_estimate_only=True)
    per = Counter()
    for rg in getattr(mapper, "core_blocks", []):
        for edge in rg.obj:
            per[names.get(_edge_name(edge), _edge_name(edge))] += rg.n_core_required
            break
    return {"n_core_required": int(info["n_core_required"]), "per_layer": dict(per),
            "relay": relay, "seconds": round(time.time() - t0, 1)}


def _edge_name(edge):
    target = getattr(edge, "target", None)
    return getattr(target, "name", None) or getattr(edge, "name", "?")


# ---------------------------------------------------------------------------------------------
# Every on-chip layer, first included: one PAIBox node per tile (and per reading tile)
# ---------------------------------------------------------------------------------------------
#
# PAIBox 1.3's Mapper puts all the edges into the targets of one "merged group" into one core
# block whose axons are all of their sources' neurons (backend/routing.py, build_elements); it
# splits a layer only for a Conv2d fed by a neuron group (conv2d_optimize), never one fed by an
# InputProj, and a merged group is every target that shares a source with another. So the
# first layer, and any layer whose sources are shared, is one core block as wide as its whole
# input. The construction below gives the Mapper only small merged groups: every tile of our
# partition (docs/hardware.md §5) is its own LIF group, fed by its own InputProj (layer 1: the
# host sends each tile its receptive field, as it does for our cores) or by FullConn edges from
# the tiles below; a tile read by several tiles of the next layer is built once per reader (the
# same weights, registers and inputs, so the copies fire together), so that no source node is
# shared between two readers and each merged group is one tile's copies with its receptive
# field as axons.


def tile_cores(net, cores):
    """Per layer, per tile (in tile order): the list of its cores."""
    tiles = [dict() for _ in net.layers]
    for core in cores:
        tiles[core.layer].setdefault(core.index[:2], []).append(core)
    return [[by_tile[key] for key in sorted(by_tile)] for by_tile in tiles]


def _tiles(net, cores):
    """Per layer, [(in_ids, out_ids, W (in, out))] of every tile: primary neurons, axon order."""
    out = []
    for li, layer_groups in enumerate(tile_cores(net, cores)):
        layer_tiles = []
        for group in layer_groups:
            used = group[0].axon_src >= 0
            if any(not np.array_equal(c.axon_src, group[0].axon_src) for c in group):
                raise ValueError(f"{net.layers[li].name}: the cores of one tile must share their axons")
            ids = np.concatenate([c.neuron_ids[c.copy == 0] for c in group])
            w = np.concatenate([c.weights[used][:, c.copy == 0] for c in group], axis=1)
            layer_tiles.append((group[0].axon_src[used], ids, w.astype(np.int8)))
        out.append(layer_tiles)
    return out


def _readers(lower, upper, n):
    """For each tile of `lower`: the tiles of `upper` reading any of its neurons."""
    owner = np.full(n, -1, np.int64)
    for t, (_, ids, _) in enumerate(lower):
        owner[ids] = t
    readers = [[] for _ in lower]
    for u, (in_ids, _, _) in enumerate(upper):
        for t in np.unique(owner[in_ids]):
            readers[t].append(u)
    return readers


def tiles_and_readers(net, cores):
    """(per layer the _tiles, per layer and tile the tiles of the next layer reading it; None for
    the last layer's, read by the off-chip readout)."""
    tiles = _tiles(net, cores)
    readers = [_readers(tiles[li], tiles[li + 1], net.layers[li].n_out) for li in range(len(net.layers) - 1)]
    readers.append([[None] for _ in tiles[-1]])
    return tiles, readers


def build_tiled_network(net, cores):
    """A pb.DynSysGroup with every hidden layer, one LIF group per (tile, reading tile); returns
    (network, {InputProj name: encoder sub-neuron ids it carries}, per layer [(LIF attribute
    name, the logical sub-neuron ids of its neurons)], one entry per tile: its first copy), LIF
    groups per layer (copies included)."""
    import paibox as pb

    tiles, readers = tiles_and_readers(net, cores)
    tag = f"_t{next(_BUILDS)}"
    input_map, outputs = {}, [[] for _ in net.layers]

    class TiledNet(pb.DynSysGroup):
        def __init__(self):
            super().__init__()
            made = {}  # (layer, tile, reader) -> LIF group
            for li, layer in enumerate(net.layers):
                t_flat = layer.thresholds.reshape(-1)
                for t, (in_ids, out_ids, w) in enumerate(tiles[li]):
                    leak = (1 - t_flat[out_ids % len(t_flat)]).astype(np.int32)
                    copies = []
                    for r in readers[li][t]:
                        name = f"{layer.name}_tile{t}" + ("" if r is None else f"_for{r}") + tag
                        node = pb.LIF((len(out_ids),), threshold=1, reset_v=0, leak_v=leak,
                                      tick_wait_start=li + 1, tick_wait_end=1, name=name)
                        setattr(self, name, node)
                        made[li, t, r] = node
                        copies.append(node)
                    outputs[li].append((copies[0].name, out_ids))
                    if li == 0:  # one input projection per tile: its receptive field
                        inp = pb.InputProj(input=None, shape_out=(len(in_ids),), name=f"input_tile{t}" + tag)
                        setattr(self, inp.name, inp)
                        input_map[inp.name] = in_ids
                        for node in copies:
                            setattr(self, f"syn_{node.name}", pb.FullConn(inp, node, w, name=f"syn_{node.name}"))
                        continue
                    row = {int(s): i for i, s in enumerate(in_ids)}
                    for s, (_, src_ids, _) in enumerate(tiles[li - 1]):
                        if t not in readers[li - 1][s]:
                            continue
                        rows = np.array([row.get(int(i), -1) for i in src_ids])
                        ws = np.where((rows >= 0)[:, None], w[np.maximum(rows, 0)], 0).astype(np.int8)
                        src = made[li - 1, s, t]
                        for node in copies:
                            nm = f"syn_{src.name}_{node.name}"
                            setattr(self, nm, pb.FullConn(src, node, ws, name=nm))

    return TiledNet(), input_map, outputs, [sum(len(r) for r in layer_readers) for layer_readers in readers]


def paibox_export_tiled(net, cores, out_dir):
    """Compile every hidden layer (build_tiled_network) with PAIBox's Mapper and export its
    configuration; input_map.npz gives, per input projection, the encoder sub-neuron ids."""
    out = Path(out_dir) / "paibox"
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    network, input_map, outputs, nodes = build_tiled_network(net, cores)
    return {**compile_and_export(network, input_map, net, out, t0), "construction": "tiled",
            "paibox_nodes_per_layer": dict(zip((l.name for l in net.layers), nodes))}


def compile_and_export(network, input_map, net, out, started):
    """PAIBox's Mapper compiles `network` and exports its configuration into `out`, with
    input_map.npz (per input projection, the encoder neuron ids it carries); what it reports."""
    import paibox as pb

    mapper = pb.Mapper()
    mapper.build(network)
    info = mapper.compile()
    mapper.export(fp=out, format="bin", use_hw_sim=True)
    np.savez(out / "input_map.npz", **input_map)
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    return {"exported_layers": [layer.name for layer in net.layers], "input_projections": len(input_map),
            "n_core_required": int(info["n_core_required"]), "n_core_occupied": int(info["n_core_occupied"]),
            "dir": str(out), "files": files, "seconds": round(time.time() - started, 1)}
