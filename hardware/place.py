"""Place: give every core a (chip, x, y) coordinate (phase 2 of 5).

Each layer keeps the relative layout its plan chose (`partition.layout_tiles`: tiles' cores in
aligned blocks, so the cores reading one source form few multicast cubes). A layer inside one
chip is moved as a whole to an offset that is a multiple of the next power of two of its span
(XOR cubes stay cubes under such a shift) and whose cores all land on usable cores (PAICORE's
online learning cores are skipped); a layer spanning chips starts on a fresh chip. Chip-local
addresses are Morton codes: x = the even bits, y = the odd bits, so a replication mask on the
address is a replication mask on x and y.
"""
import numpy as np

from hardware.addressing import chip_space, decode, pow2
from hardware.spec import HardwareError


def place(cores, plans, spec):
    """Sets core.coord (chip, x, y) and core.address (global linear) in place; returns chips used."""
    space, usable = chip_space(spec.chip)
    if not usable.any():
        raise HardwareError("chip: no usable cores in the grid")
    by_layer = {}
    for core in cores:
        by_layer.setdefault(core.layer, []).append(core)
    chip, offset = 0, 0  # next free position
    for layer in sorted(by_layer):
        group = by_layer[layer]
        rel = np.array([c.address for c in group], np.int64)
        if rel.max() < space:  # the layer fits in one chip: shift it as a whole
            align = pow2(rel.max() + 1)
            start = -(-offset // align) * align
            while True:
                if start + rel.max() >= space:
                    chip, start = chip + 1, 0
                    if not np.all(usable[rel]):
                        raise HardwareError(f"layer {plans[layer].name}: placement: its layout does not fit a chip")
                    break
                if np.all(usable[start + rel]):
                    break
                start += align
            base = chip * space + start
            offset = start + rel.max() + 1
        else:  # several chips: start on a fresh one
            if offset:
                chip, offset = chip + 1, 0
            base = chip * space
            chip += int(rel.max() // space)
            offset = int(rel.max() % space) + 1
        for core, a in zip(group, rel):
            core.address = int(base + a)
            core.coord = (int(core.address // space), *decode(int(core.address % space)))
        if offset >= space:
            chip, offset = chip + 1, 0
    chips = max(core.coord[0] for core in cores) + 1 if cores else 0
    if chips > spec.chip.max_chips:
        raise HardwareError(f"network: chips: needs {chips} ({len(cores)} cores), limit {spec.chip.max_chips} "
                            f"chips of {spec.chip.cores_per_chip} cores")
    return chips
