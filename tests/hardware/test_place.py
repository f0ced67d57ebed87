"""Placement packs layers into each other's free cores without changing any multicast cube count."""
import types

import numpy as np

from hardware.addressing import chip_space, cube_cover, cube_members
from hardware.place import place
from hardware.spec import resolve_spec


def test_cube_count_does_not_change_under_xor():
    rng = np.random.default_rng(0)
    for _ in range(300):
        size = int(rng.choice([4, 16, 64]))
        wanted = np.flatnonzero(rng.random(size) < rng.random())
        if not wanted.size:
            continue
        c = int(rng.integers(size))
        cubes = cube_cover(wanted, 1024)
        assert len(cube_cover(wanted ^ c, 1024)) == len(cubes)
        covered = sorted(m for base, mask in cubes for m in cube_members(base, mask))
        assert covered == wanted.tolist()  # exact: no core outside the wanted set receives the packet


def test_aligned_blocks_are_one_cube_each():
    assert cube_cover(np.arange(8, 16), 1024) == [(8, 7)]
    assert len(cube_cover([0, 1, 2], 1024)) == 2
    assert len(cube_cover([0, 2, 8, 10], 1024)) == 1


def _cores(layer, addresses):
    return [types.SimpleNamespace(layer=layer, address=int(a), coord=None) for a in addresses]


def test_a_later_layer_fills_the_holes_of_an_earlier_one():
    spec = resolve_spec("paicore")
    space, usable = chip_space(spec.chip)
    # layer 0: tiles of 1..3 cores at the start of blocks of 4 (as layout_tiles leaves them)
    first = [4 * t + k for t in range(200) for k in range(1 + t % 3)]
    # layer 1: one core per block of 4 would collide with layer 0 unmirrored; mirrored it fits
    second = [4 * t for t in range(128)]
    cores = _cores(0, first) + _cores(1, second)
    plans = [types.SimpleNamespace(name="a"), types.SimpleNamespace(name="b")]
    before = [len(cube_cover(np.array(group), space)) for group in (first, second)]
    chips = place(cores, plans, spec)
    addresses = [c.address for c in cores]
    assert chips == 1 and len(set(addresses)) == len(addresses)
    assert all(usable[a % space] for a in addresses)
    after = [len(cube_cover(np.array([c.address for c in cores if c.layer == li]), space)) for li in (0, 1)]
    assert after == before


def test_parts_of_one_layer_go_to_different_chips():
    spec = resolve_spec("paicore")
    space, _ = chip_space(spec.chip)
    layer = [0, 1, space, space + 1]  # two chips' parts, each small enough to share a chip
    cores = _cores(0, layer)
    place(cores, [types.SimpleNamespace(name="a")], spec)
    assert len({c.coord[0] for c in cores}) == 2
