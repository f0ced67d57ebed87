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
aligned blocks left (tiles with fewer cores than their block) before a new chip opens.
Multicast cubes reach the cores that want a spike and, at most, addresses the plan keeps empty
for them (`LayerPlan.spare`: holes inside the layer's own tile blocks). Those holes travel with
their piece and are taken like cores, so no other core ever sits where a packet lands.
Chip-local addresses are Morton codes: x = the even bits, y = the odd bits, so a replication
mask on the address is a replication mask on x and y.
"""
import numpy as np

from hardware.addressing import chip_space, decode, pow2
from hardware.spec import HardwareError

MIRRORS_PER_TRY = 64  # XOR constants checked at once (vectorized); bounded memory on large layers


def place(cores, plans, spec):
    """Sets core.coord (chip, x, y) and core.address (global linear) in place; returns chips used."""
    space, usable = chip_space(spec.chip)
    if not usable.any():
        raise HardwareError("chip: no usable cores in the grid")
    by_layer = {}
    for core in cores:
        by_layer.setdefault(core.layer, []).append(core)
    free = np.zeros(0, bool)  # per global address: usable and not yet taken
    for layer in sorted(by_layer):
        group, plan = by_layer[layer], plans[layer]
        rel = np.array([c.address for c in group], np.int64)
        spare = getattr(plan, "spare", None)
        spare = np.zeros(0, np.int64) if spare is None else np.asarray(spare, np.int64)
        placed_spare, spare_piece = [], []
        piece = getattr(plan, "piece", None) or space  # no cube spans two pieces: each goes where it fits
        for index in np.unique(rel // piece):  # the piece's index in the relative layout
            members = np.flatnonzero(rel // piece == index)
            holes = spare[spare // piece == index]  # kept empty: the layer's multicast cubes reach them
            free, addresses = _first_fit(np.concatenate([rel[members], holes]) % piece, free, usable, space,
                                         plan.name)
            free[addresses] = False
            placed_spare.append(addresses[len(members):])
            spare_piece.append(np.full(len(holes), index))
            for i, a in zip(members, addresses):
                group[i].address = int(a)
                group[i].coord = (int(a // space), *decode(int(a % space)))
                group[i].extra["piece"] = int(index)
        if spare.size:
            plan.spare_placed, plan.spare_piece = np.concatenate(placed_spare), np.concatenate(spare_piece)
    chips = max(core.coord[0] for core in cores) + 1 if cores else 0
    if chips > spec.chip.max_chips:
        raise HardwareError(f"network: chips: needs {chips} ({len(cores)} cores), limit {spec.chip.max_chips} "
                            f"chips of {spec.chip.cores_per_chip} cores")
    return chips


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
