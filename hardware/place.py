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
Layers are placed in network order, each piece at the first (chip, shift, mirror) where all its
cores land on usable cores no other piece took, so a later piece fills the holes an earlier one's
aligned blocks left (tiles with fewer cores than their block) before a new chip opens. Where it
saves a chip the first layer goes last instead, into the addresses left free, in whole aligned
blocks of them, the largest first (`place`, `_pour`).
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

MIRRORS_PER_TRY = 64  # XOR constants checked at once (vectorized); bounded memory on large layers


def place(cores, plans, spec, first_layer_last=True):
    """Sets core.coord (chip, x, y) and core.address (global linear) in place; returns chips used.

    Two orders are tried: the layers in network order, and (`first_layer_last`) the same with the
    first layer last, its cores poured into whatever usable addresses the others left free (no
    cube of the plan depends on where its cores sit: the host sends them one packet per cube).
    The second keeps only if it saves a chip: scattered first-layer cores cost host packets (and,
    temporally, the timers' cubes)."""
    space, usable = chip_space(spec.chip)
    if not usable.any():
        raise HardwareError("chip: no usable cores in the grid")
    by_layer = {}
    for core in cores:
        by_layer.setdefault(core.layer, []).append(core)
    best = _assign(by_layer, plans, space, usable, first_last=False)
    first_spare = getattr(plans[0], "spare", None) if 0 in by_layer else None
    if first_layer_last and 0 in by_layer and len(by_layer) > 1 and (first_spare is None or not len(first_spare)):
        other = _assign(by_layer, plans, space, usable, first_last=True)
        if other.chips < best.chips:
            best = other
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


@dataclass
class _Assignment:
    addresses: dict  # layer -> global address of each of its cores (in by_layer order)
    pieces: dict  # layer -> piece index of each core, or None (cores poured in: routed per chip)
    spare: dict  # layer -> (placed kept-empty addresses, their piece indices)
    chips: int


def _assign(by_layer, plans, space, usable, first_last):
    order = sorted(by_layer)
    if first_last:
        order = order[1:] + order[:1]
    free = np.zeros(0, bool)  # per global address: usable and not yet taken
    out = _Assignment({}, {}, {}, 0)
    for layer in order:
        group, plan = by_layer[layer], plans[layer]
        if first_last and layer == order[-1]:
            while free.sum() < len(group):
                free = np.concatenate([free, usable])
            out.addresses[layer] = _pour(free, len(group), space)
            free[out.addresses[layer]] = False
            out.pieces[layer] = None
            continue
        rel = np.array([c.address for c in group], np.int64)
        spare = getattr(plan, "spare", None)
        spare = np.zeros(0, np.int64) if spare is None else np.asarray(spare, np.int64)
        placed_spare, spare_piece = [], []
        addresses, pieces = np.zeros(len(group), np.int64), np.zeros(len(group), np.int64)
        piece = getattr(plan, "piece", None) or space  # no cube spans two pieces: each goes where it fits
        for index in np.unique(rel // piece):  # the piece's index in the relative layout
            members = np.flatnonzero(rel // piece == index)
            holes = spare[spare // piece == index]  # kept empty: the layer's multicast cubes reach them
            free, found = _first_fit(np.concatenate([rel[members], holes]) % piece, free, usable, space,
                                     plan.name)
            free[found] = False
            placed_spare.append(found[len(members):])
            spare_piece.append(np.full(len(holes), index))
            addresses[members] = found[:len(members)]
            pieces[members] = index
        out.addresses[layer], out.pieces[layer] = addresses, pieces
        if spare.size:
            out.spare[layer] = (np.concatenate(placed_spare), np.concatenate(spare_piece))
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
    chip, shift and mirror where it fits; `free` grows by a fresh chip when needed."""
    align = pow2(int(local.max()) + 1)
    chip = 0
    while True:
        fresh = chip == len(free) // space
        if fresh:
            free = np.concatenate([free, usable])
        for shift in range(0, space, align):
            found = _mirror_that_fits(free, chip * space + shift, local, align)
            if found is not None:
                return free, found
        if fresh:  # an empty chip and still no fit: the layout cannot be placed
            raise HardwareError(f"layer {name}: placement: its layout does not fit the usable cores of a chip")
        chip += 1


def _mirror_that_fits(free, base, local, align):
    """The addresses base + (local XOR c) for the first c in [0, align) that are all free, or None."""
    for first in range(0, align, MIRRORS_PER_TRY):
        c = np.arange(first, min(first + MIRRORS_PER_TRY, align), dtype=np.int64)
        candidates = base + (local[None, :] ^ c[:, None])
        ok = np.flatnonzero(free[candidates].all(axis=1))
        if ok.size:
            return candidates[ok[0]]
    return None
