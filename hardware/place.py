"""Place: give every core a (chip, x, y) coordinate (phase 2 of 5).

Each layer keeps the relative layout its plan chose (`partition.layout_tiles`: tiles' cores in
aligned blocks, so the cores reading one source form few multicast cubes). Placement may move a
layout only in ways that keep every cube a cube with the same count:
- the layout is cut into **pieces**: aligned blocks of `LayerPlan.piece` addresses, the next power
  of two above every address bit one of the plan's cubes spans (at most a chip: cubes never cross
  one), so no cube spans two pieces and each piece can go anywhere, next to another piece of the
  same layer or on another chip (`core.extra["piece"]`; routing covers each piece's readers apart,
  as the plan counted them);
- a piece is shifted by a multiple of its alignment (the next power of two of its span), and
- XORed with a constant below that alignment (a mirror image: cubes map to cubes, and
  `addressing.cube_cover` counts them the same).
Each piece goes to the first (chip, shift, mirror) where all its cores land on usable cores no
other piece took, so a later piece fills the holes an earlier one's aligned blocks left (tiles
with fewer cores than their block) before a new chip opens. The pieces are taken in network
order and, where it saves a chip, the largest first (first-fit decreasing: a chip has room for
one 512-address piece, as its reserved cores sit in the other half, so those must not wait until
the small pieces have spread over every chip). Where it saves a chip the first layer goes last,
into the addresses left free, in whole aligned blocks of them, the largest first (`place`,
`_pour`).
Multicast cubes reach the cores that want a spike and, at most, addresses the plan keeps empty
for them (`LayerPlan.spare`: holes inside the layer's own tile blocks). Those holes travel with
their piece and are taken like cores, so no other core ever sits where a packet lands.
Chip-local addresses are Morton codes: x = the even bits, y = the odd bits, so a replication
mask on the address is a replication mask on x and y.
"""
from dataclasses import dataclass

import numpy as np

from hardware.addressing import chip_space, decode, pow2
from hardware.spec import HardwareError


def place(cores, plans, spec, first_layer_last=True):
    """Sets core.coord (chip, x, y) and core.address (global linear) in place; returns chips used.

    The orders of ORDERS are tried; one after the first keeps only if it saves a chip. The first
    layer poured last (`first_layer_last`) is only tried where that layer keeps no address empty:
    no cube of the plan depends on where its cores sit (the host sends them one packet per cube),
    but scattered first-layer cores cost host packets (and, temporally, the timers' cubes)."""
    space, usable = chip_space(spec.chip)
    if not usable.any():
        raise HardwareError("chip: no usable cores in the grid")
    by_layer = {}
    for core in cores:
        by_layer.setdefault(core.layer, []).append(core)
    relative = {layer: np.array([c.address for c in group], np.int64) for layer, group in by_layer.items()}
    best = _best_assignment(relative, plans, space, usable, first_layer_last)
    for layer, group in by_layer.items():
        for i, core in enumerate(group):
            a = int(best.addresses[layer][i])
            core.address = a
            core.coord = (int(a // space), *decode(int(a % space)))
            core.extra.pop("piece", None)
            if best.pieces[layer] is not None:
                core.extra["piece"] = int(best.pieces[layer][i])
        if layer in best.spare:
            plans[layer].spare_placed, plans[layer].spare_piece = best.spare[layer]
    chips = best.chips
    if chips > spec.chip.max_chips:
        raise HardwareError(f"network: chips: needs {chips} ({len(cores)} cores), limit {spec.chip.max_chips} "
                            f"chips of {spec.chip.cores_per_chip} cores")
    return chips


def count_chips(plans, spec, first_layer_last=True):
    """The chips `place` would use for these plans' layouts (their relative addresses), no cores
    needed: what the layout search of hardware/layout_search.py compares."""
    space, usable = chip_space(spec.chip)
    relative = {li: p.addresses[p.addresses >= 0].astype(np.int64) for li, p in enumerate(plans)}
    return _best_assignment({li: a for li, a in relative.items() if len(a)}, plans, space, usable,
                            first_layer_last).chips


# (first layer poured last, largest pieces first), tried in this order
ORDERS = ((False, False), (True, False), (False, True), (True, True))


def _best_assignment(relative, plans, space, usable, first_layer_last):
    first_spare = getattr(plans[0], "spare", None) if 0 in relative else None
    pour = (first_layer_last and 0 in relative and len(relative) > 1
            and (first_spare is None or not len(first_spare)))
    best = None
    for first_last, largest_first in ORDERS:
        if first_last and not pour:
            continue
        other = _assign(relative, plans, space, usable, first_last, largest_first)
        if best is None or other.chips < best.chips:
            best = other
    return best


@dataclass
class _Assignment:
    addresses: dict  # layer -> global address of each of its cores (in by_layer order)
    pieces: dict  # layer -> piece index of each core, or None (cores poured in: routed per chip)
    spare: dict  # layer -> (placed kept-empty addresses, their piece indices)
    chips: int


def _assign(relative, plans, space, usable, first_last, largest_first):
    order = sorted(relative)
    poured = order[0] if first_last else None
    free = np.zeros(0, bool)  # per global address: usable and not yet taken
    out = _Assignment({}, {}, {}, 0)
    pieces = []
    for layer in order:
        if layer == poured:
            continue
        rel, plan = relative[layer], plans[layer]
        spare = getattr(plan, "spare", None)
        spare = np.zeros(0, np.int64) if spare is None else np.asarray(spare, np.int64)
        out.addresses[layer], out.pieces[layer] = np.zeros(len(rel), np.int64), np.zeros(len(rel), np.int64)
        if spare.size:
            out.spare[layer] = ([], [])
        piece = getattr(plan, "piece", None) or space  # no cube spans two pieces: each goes where it fits
        for index in np.unique(rel // piece):  # the piece's index in the relative layout
            members = np.flatnonzero(rel // piece == index)
            holes = spare[spare // piece == index]  # kept empty: the layer's multicast cubes reach them
            local = np.concatenate([rel[members], holes]) % piece
            pieces.append((-pow2(int(local.max()) + 1), -len(local), layer, int(index), members, holes, local))
    if largest_first:
        pieces.sort(key=lambda p: p[:4])
    for _, _, layer, index, members, holes, local in pieces:
        free, found = _first_fit(local, free, usable, space, plans[layer].name)
        free[found] = False
        out.addresses[layer][members] = found[:len(members)]
        out.pieces[layer][members] = index
        if layer in out.spare:
            out.spare[layer][0].append(found[len(members):])
            out.spare[layer][1].append(np.full(len(holes), index))
    out.spare = {layer: (np.concatenate(a), np.concatenate(b)) for layer, (a, b) in out.spare.items()}
    if poured is not None:
        count = len(relative[poured])
        while free.sum() < count:
            free = np.concatenate([free, usable])
        out.addresses[poured] = _pour(free, count, space)
        free[out.addresses[poured]] = False
        out.pieces[poured] = None
    out.chips = int(max(int(a.max()) for a in out.addresses.values()) // space + 1) if out.addresses else 0
    return out


def _pour(free, count, space):
    """`count` free addresses, taken in whole aligned blocks of free addresses, the largest first
    (then in address order): each block is one multicast cube, so the poured layer's cores form
    few cubes (fewer host packets, fewer timers) where the holes allow."""
    taken = np.zeros(len(free), bool)
    size = space  # a power of two (chip_space), and `free` holds whole chips
    while size and taken.sum() < count:
        open_ = (free & ~taken).reshape(-1, size).all(axis=1)
        for block in np.flatnonzero(open_)[: (count - int(taken.sum())) // size]:
            taken[block * size:(block + 1) * size] = True
        size //= 2
    return np.flatnonzero(taken)


def _first_fit(local, free, usable, space, name):
    """(free, global addresses) of one piece of a layout (addresses within the piece) at the first
    chip, shift and mirror where it fits; `free` grows by a fresh chip when needed. A chip's
    shifts and mirrors (XOR constants below the piece's alignment) are checked at once: at most
    `space` candidates of the piece's size."""
    align = pow2(int(local.max()) + 1)
    mirrored = local[None, :] ^ np.arange(align, dtype=np.int64)[:, None]  # (mirror, core)
    shifts = np.arange(0, space, align, dtype=np.int64)
    chip = 0
    while True:
        fresh = chip == len(free) // space
        if fresh:
            free = np.concatenate([free, usable])
        if free[chip * space:(chip + 1) * space].sum() >= len(local):
            fits = free[chip * space + shifts[:, None, None] + mirrored[None]].all(axis=2)  # (shift, mirror)
            first = np.flatnonzero(fits)
            if first.size:
                shift, mirror = divmod(int(first[0]), align)
                return free, chip * space + shifts[shift] + mirrored[mirror]
        if fresh:  # an empty chip and still no fit: the layout cannot be placed
            raise HardwareError(f"layer {name}: placement: its layout does not fit the usable cores of a chip")
        chip += 1
