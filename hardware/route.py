"""Route: which hardware neuron (copy) feeds which cores' axons (phase 3 of 5).

Every used axon slot of a layer-l core is fed by exactly one source: a hardware neuron of a
layer-(l-1) core, or, for the first hidden layer, the off-chip encoder (source core -1). The
cores reading one source sub-neuron all read it at the same axon address (partition's modular
layout) and are covered by multicast cubes (`addressing.cube_cover`: one chip, base address XOR
any subset of the replication bits, docs/hardware.md §3) that reach no other core: besides the
readers, only addresses placement kept empty for them (LayerPlan.spare_placed; checked here). A PAICORE neuron has one
destination register, so cube q of a source is the destination of its copy q; the partitioner
allocated exactly as many copies as cubes (checked here). The off-chip host sends one packet per
cube itself and needs no copies.

Results per layer: the links (destination core, slot) -> (source core, source column, logical
source sub-neuron) and, per hardware source neuron, its one destination (base address, mask,
axon slot). The destination side is also written on the cores: core.extra["axon_src_core"] /
["axon_src_col"] (per slot; -1 = unused or off-chip).
"""
from dataclasses import dataclass

import numpy as np

from hardware.addressing import chip_space, cube_cover, cube_members
from hardware.spec import HardwareError


@dataclass
class LayerRoutes:
    links_src_core: np.ndarray  # per (destination core, used axon slot); -1 = off-chip encoder
    links_dst_core: np.ndarray
    links_slot: np.ndarray
    links_src_neuron: np.ndarray  # flat sub-neuron id in the previous layer (or encoder output)
    links_src_col: np.ndarray  # column (hardware neuron) of the source core; -1 off-chip
    packets_per_neuron: np.ndarray  # (n sources,) multicast packets (= hardware copies) per logical source
    routes: np.ndarray  # (n routes, 2) unique (src core, dst core)
    route_axons: np.ndarray  # axons each route feeds
    route_of_link: np.ndarray
    # one row per hardware source neuron with a destination: (src core, src col, base, mask, slot)
    destinations: np.ndarray


def route(net, cores, spec, plans=None):
    """One LayerRoutes per layer (needs the tables: core.axon_src, and placement: core.address;
    `plans`: the partition's, whose placed spare addresses cubes may reach)."""
    space, _ = chip_space(spec.chip)
    by_address = {core.address: ci for ci, core in enumerate(cores)}
    copies = {}  # layer -> {logical id: [(core, col), ...] by copy number}
    for ci, core in enumerate(cores):
        table = copies.setdefault(core.layer, {})
        for col, (n, q) in enumerate(zip(core.neuron_ids.tolist(), core.copy.tolist())):
            table.setdefault(n, {})[q] = (ci, col)
    result = []
    for li, layer in enumerate(net.layers):
        mine = [ci for ci, core in enumerate(cores) if core.layer == li]
        dst = np.concatenate([np.full(int(np.sum(cores[ci].axon_src >= 0)), ci) for ci in mine])
        slots = np.concatenate([np.flatnonzero(cores[ci].axon_src >= 0) for ci in mine])
        src = np.concatenate([cores[ci].axon_src[cores[ci].axon_src >= 0] for ci in mine])
        for ci in mine:
            cores[ci].extra["axon_src_core"] = np.full(len(cores[ci].axon_src), -1)
            cores[ci].extra["axon_src_col"] = np.full(len(cores[ci].axon_src), -1)
        order = np.lexsort((dst, src))
        dst, slots, src = dst[order], slots[order], src[order]
        cut = np.flatnonzero(np.diff(src)) + 1
        packets = np.zeros(layer.n_in, np.int64)
        src_core = np.full(len(src), -1)
        src_col = np.full(len(src), -1)
        dests = []
        memo = {}
        source_copies = copies.get(li - 1, {})
        spare = getattr(plans[li], "spare_placed", None) if plans is not None else None
        spare, spare_piece = ((np.zeros(0, np.int64), np.zeros(0, np.int64)) if spare is None
                             else (spare, plans[li].spare_piece))
        empty = set(spare.tolist())
        for s_idx, d_idx in zip(np.split(np.arange(len(src)), cut), np.split(dst, cut)):
            s = int(src[s_idx[0]])
            slot = slots[s_idx]
            if np.any(slot != slot[0]):
                raise HardwareError(f"layer {layer.name}: routing: source {s} is read at different axon "
                                    f"addresses {sorted(set(slot.tolist()))[:4]}; one packet carries one axon")
            key = tuple(d_idx.tolist())
            if key not in memo:
                memo[key] = _cover(cores, key, space, spec.chip.multicast, spare, spare_piece)
            cubes = memo[key]
            packets[s] = len(cubes)
            if li == 0:
                continue
            have = source_copies.get(s, {})
            if sorted(have) != list(range(len(cubes))):
                raise HardwareError(f"layer {net.layers[li - 1].name}: copies: neuron {s} needs {len(cubes)} "
                                    f"(multicast cubes), {len(have)} allocated")
            where = {}
            for q, (base, mask) in enumerate(cubes):
                ci, col = have[q]
                dests.append((ci, col, base, mask, int(slot[0])))
                for member in _members(base, mask):
                    if member in by_address:
                        where[by_address[member]] = (ci, col)
                    elif member not in empty:
                        raise HardwareError(f"layer {layer.name}: routing: a packet of source {s} reaches "
                                            f"address {member}, neither a reader nor a kept-empty address")
            if set(where) != set(key):
                raise HardwareError(f"layer {layer.name}: routing: a packet of source {s} reaches a core "
                                    "that does not read it")
            for link, d in zip(s_idx, d_idx):
                src_core[link], src_col[link] = where[int(d)]
        for link in range(len(src)):
            extra = cores[dst[link]].extra
            extra["axon_src_core"][slots[link]] = src_core[link]
            extra["axon_src_col"][slots[link]] = src_col[link]
        pairs = np.stack([src_core, dst], axis=1)
        routes, inverse, counts = np.unique(pairs, axis=0, return_inverse=True, return_counts=True)
        result.append(LayerRoutes(src_core, dst, slots, src, src_col, packets, routes, counts,
                                  inverse.reshape(-1), np.array(dests, np.int64).reshape(-1, 5)))
    return result


def _cover(cores, readers, space, multicast, spare, spare_piece):
    """The cubes of one source: its readers in each piece of their layer's layout (place.py)
    covered apart, with that piece's kept-empty addresses, as the plan counted them (no cube of
    the plan spans two pieces), wherever placement put the pieces."""
    pieces = {}
    for d in readers:
        pieces.setdefault(cores[d].extra.get("piece", cores[d].address // space), []).append(cores[d].address)
    return [cube for piece, addresses in sorted(pieces.items())
            for cube in cube_cover(addresses, space, multicast, spare[spare_piece == piece])]


def _members(base, mask):
    return cube_members(base, mask)


def stray_axons(plans, routes, spec):
    """{layer name: for each of its placed kept-empty addresses, the distinct physical axons its
    packets reach} for the layers that have such addresses.

    A packet names an axon of a core and a time slot; fan-in beyond one core's axons lies in
    further time slots (slot // axons), as PAIBox lays it out, so the physical axon of slot s is
    s % axons. Another layer's core could sit at a kept-empty address only if none of its used
    axons were among those: a stray spike on a used axon would be integrated."""
    axons = spec.core.axons
    out = {}
    for plan, layer_routes in zip(plans, routes):
        spare = getattr(plan, "spare_placed", None)
        if spare is None or not len(spare):
            continue
        index = {int(a): i for i, a in enumerate(spare)}
        hit = [set() for _ in range(len(spare))]
        for base, mask, slot in layer_routes.destinations[:, 2:].tolist():
            for member in _members(base, mask):
                i = index.get(member)
                if i is not None:
                    hit[i].add(slot % axons)
        out[plan.name] = [np.array(sorted(h), np.int64) for h in hit]
    return out
