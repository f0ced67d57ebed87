"""Export: the same SG network built in PAIBox, compiled with its Mapper (phase 5 of 5).

Every hidden layer becomes a PAIBox `LIF` group of C' * L neurons in (C', H, W) order
(channel c' = c * L + l), SNN mode, hard reset to 0, threshold 1 and the per-neuron leak
`1 - t` (PAIBox takes one threshold per group; V + 1 - t >= 1 <=> V >= t), fed by a `Conv2d`
whose kernel repeats every weight over the L input and L output sub-neurons (`FullConn` for
dense layers, rows permuted from Keras' (H, W, C) flatten order to PAIBox's (C, H, W)).

What PAIBox cannot express, and what is done instead:
- a conv fed directly by an `InputProj` (the off-chip encoder's spikes) is not tiled by the
  PAIBox 1.3 Mapper: its core block takes the whole input as axons (> 64X LCN for LeNet). The
  counting network therefore relays the input through a `BypassNeuron` layer (reported
  separately in `paibox_layers`); that relay is itself too large to place (one routing group of
  more cores than a chip has), so the exported configuration starts at the second hidden layer,
  whose input (the first hidden layer's spikes) comes from an `InputProj`.
- 'same' padding with an odd total (asymmetric) has no PAIBox equivalent (symmetric only).
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


def paibox_export(net, out_dir, start=1):
    """Compile layers[start:] with PAIBox's Mapper and export its configuration files."""
    import paibox as pb

    out = Path(out_dir) / "paibox"
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    network, _ = build_network(net, start, relay=False)
    mapper = pb.Mapper()
    mapper.build(network)
    info = mapper.compile()
    mapper.export(fp=out, format="bin", use_hw_sim=True)
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    return {"exported_layers": [layer.name for layer in net.layers[start:]],
            "n_core_required": int(info["n_core_required"]),
            "n_core_occupied": int(info["n_core_occupied"]), "dir": str(out), "files": files,
            "seconds": round(time.time() - t0, 1)}
