"""Place: give every core a (chip, x, y) coordinate (phase 2 of 5).

Each layer keeps the relative layout its plan chose (`partition.layout_tiles`: tiles' cores in
aligned blocks, so the cores reading one source form few multicast cubes). Placement may move a
layout only in ways that keep every cube a cube with the same count:
- a layout spanning chips is cut into its chips' parts: cubes never cross a chip, so each part
  can go to any chip, as long as no two parts of one layer share a chip (their cubes would merge);
- a part is shifted by a multiple of its alignment (the next power of two of its span), and
- XORed with a constant below that alignment (a mirror image: cubes map to cubes, and
  `addressing.cube_cover` counts them the same).
Layers are placed in network order, each part at the first (chip, shift, mirror) where all its
cores land on usable cores no other layer took, so a later layer fills the holes an earlier
layer's aligned blocks left (tiles with fewer cores than their block) before a new chip opens.
Multicast cubes cover exactly the cores that want a spike, so a foreign core inside a layer's
block never receives that layer's packets. Chip-local addresses are Morton codes: x = the even
bits, y = the odd bits, so a replication mask on the address is a replication mask on x and y.
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
        group = by_layer[layer]
        rel = np.array([c.address for c in group], np.int64)
        taken = set()  # chips holding a part of this layer: two parts on one chip would merge cubes
        for part in np.unique(rel // space):
            members = np.flatnonzero(rel // space == part)
            free, chip, addresses = _first_fit(rel[members] % space, free, usable, space, taken,
                                               plans[layer].name)
            taken.add(chip)
            free[addresses] = False
            for i, a in zip(members, addresses):
                group[i].address = int(a)
                group[i].coord = (int(a // space), *decode(int(a % space)))
    chips = max(core.coord[0] for core in cores) + 1 if cores else 0
    if chips > spec.chip.max_chips:
        raise HardwareError(f"network: chips: needs {chips} ({len(cores)} cores), limit {spec.chip.max_chips} "
                            f"chips of {spec.chip.cores_per_chip} cores")
    return chips


def _first_fit(local, free, usable, space, taken, name):
    """(free, chip, global addresses) of one chip's part of a layout (chip-local addresses) at the
    first chip not in `taken`, shift and mirror where it fits; `free` grows by a fresh chip when
    needed."""
    align = pow2(int(local.max()) + 1)
    chip = 0
    while True:
        if chip == len(free) // space:  # open a fresh chip
            free = np.concatenate([free, usable])
            fresh = True
        else:
            fresh = False
        if chip not in taken:
            for shift in range(0, space, align):
                found = _mirror_that_fits(free, chip * space + shift, local, align)
                if found is not None:
                    return free, chip, found
            if fresh:  # an empty chip and still no fit: the layout cannot be placed
                raise HardwareError(f"layer {name}: placement: its layout does not fit the usable cores "
                                    "of a chip")
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
