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
    return [types.SimpleNamespace(layer=layer, address=int(a), coord=None, extra={}) for a in addresses]


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


def test_parts_of_one_layer_may_share_a_chip_and_keep_their_part():
    spec = resolve_spec("paicore")
    space, _ = chip_space(spec.chip)
    layer = [0, 1, space, space + 1]  # two chips' parts, each small enough to share a chip
    cores = _cores(0, layer)
    place(cores, [types.SimpleNamespace(name="a")], spec)
    assert {c.coord[0] for c in cores} == {0}
    assert [c.extra["piece"] for c in cores] == [0, 0, 1, 1]  # routing covers each piece apart


def test_spare_addresses_let_one_cube_serve_tiles_of_unequal_size():
    # tiles of 4 and 3 cores in blocks of 4: exact covers need 2 cubes, with the empty 7th core 1
    assert len(cube_cover([0, 1, 2, 3, 4, 5, 6], 1024)) == 3
    assert cube_cover([0, 1, 2, 3, 4, 5, 6], 1024, spare=[7]) == [(0, 7)]
    assert len(cube_cover([0, 1, 2], 1024, spare=[5])) == 2  # a spare address that helps no cube


def test_cover_with_spare_reaches_only_wanted_or_spare_and_is_xor_invariant():
    rng = np.random.default_rng(1)
    for _ in range(300):
        size = int(rng.choice([8, 32, 128]))
        mark = rng.random(size)
        wanted = np.flatnonzero(mark < 0.4)
        spare = np.flatnonzero((mark >= 0.4) & (mark < 0.4 + 0.4 * rng.random()))
        if not wanted.size:
            continue
        cubes = cube_cover(wanted, 1024, spare=spare)
        reached = [m for base, mask in cubes for m in cube_members(base, mask)]
        assert len(reached) == len(set(reached))  # no core gets the packet twice
        assert set(wanted) <= set(reached) <= set(wanted) | set(spare)
        assert len(cubes) <= len(cube_cover(wanted, 1024))
        c = int(rng.integers(size))
        assert len(cube_cover(wanted ^ c, 1024, spare=spare ^ c)) == len(cubes)


def test_spare_addresses_stay_empty_when_later_layers_are_placed():
    spec = resolve_spec("paicore")
    first = [4 * t + k for t in range(200) for k in range(1 + t % 3)]  # tiles of 1..3 cores in blocks of 4
    holes = np.array([4 * t + k for t in range(200) for k in range(1 + t % 3, 4)])
    second = list(range(300))
    cores = _cores(0, first) + _cores(1, second)
    plans = [types.SimpleNamespace(name="a", spare=holes), types.SimpleNamespace(name="b")]
    place(cores, plans, spec)
    taken = {c.address for c in cores}
    placed = set(plans[0].spare_placed.tolist())
    assert len(placed) == len(holes) and not placed & taken
    # the holes moved with their layer: the first layer's blocks are still whole (cores + holes)
    blocks = taken.intersection(c.address for c in cores if c.layer == 0) | placed
    assert len({a // 4 for a in blocks}) * 4 == len(blocks)


def test_pieces_no_cube_spans_are_placed_apart_into_scattered_holes():
    spec = resolve_spec("paicore")
    holes = {4 * (2 * t + 1) + k for t in range(100) for k in range(4)}  # 100 free blocks of 4, scattered
    first = [a for a in range(1008) if a not in holes]
    second = list(range(400))  # one pattern of 400 consecutive cores: no room for it as a whole
    for piece, chips_expected in ((4, 1), (None, 2)):  # layers 1 and 2: a first layer could go last (below)
        cores = _cores(1, first) + _cores(2, second)
        plans = [None, types.SimpleNamespace(name="a"), types.SimpleNamespace(name="b", piece=piece)]
        assert place(cores, plans, spec) == chips_expected
        if piece:
            assert {c.address for c in cores if c.layer == 2} == holes
            assert sorted({c.extra["piece"] for c in cores if c.layer == 2}) == list(range(100))


def test_the_first_layer_goes_last_where_that_saves_a_chip_and_the_cores_stay_bit_exact(small_snn):
    """On 8 x 4 grids of these tiny cores, the first layer poured into the others' free cores needs
    fewer chips than network order; routing (host packets per chip) and the simulation still hold."""
    from hardware import map_network, simulate_and_compare, tiny_spec

    snn, images = small_snn
    spec = tiny_spec(axons=80, dendrites=128, max_lcn=4, grid=(8, 4))
    in_order = map_network(snn, spec, estimate_only=True, first_layer_last=False)[4]
    net, spec, plans, cores, chips, routes = map_network(snn, spec)
    assert chips < in_order
    assert all("piece" not in c.extra for c in cores if c.layer == 0)
    assert all("piece" in c.extra for c in cores if c.layer > 0)
    sim, agreement = simulate_and_compare(net, cores, images, batch_size=16)
    assert agreement["bit_exact"], agreement


def test_the_poured_layer_takes_whole_free_blocks_the_largest_first():
    from hardware.place import _pour

    free = np.zeros(64, bool)
    free[[1, 3, 6]] = True  # scattered holes in the first block of 16
    free[16:32] = True  # one free aligned block of 16
    free[40:44] = True  # and one of 4
    poured = _pour(free, 21, 64)
    assert poured.tolist() == [1, *range(16, 32), *range(40, 44)]
    assert len(cube_cover(poured, 64)) == 3  # address order ([1, 3, 6, 16, ...]) needs more
    assert len(cube_cover(np.flatnonzero(free)[:21], 64)) > 3
    assert len(_pour(free, int(free.sum()), 64)) == free.sum()


def test_the_largest_pieces_go_first_where_network_order_needs_another_chip():
    """A 16-address chip: two 2-address pieces placed first leave no mirror of the 12-address piece
    room (its gaps are not an aligned block); placed after it, they fill its gaps."""
    from hardware.place import count_chips
    from hardware.spec import tiny_spec

    spec = tiny_spec(grid=(4, 4))
    small, large = [0, 1, 2, 3], [*range(10), 12, 13]

    def plan(name, addresses, piece):
        full = np.full(16, -1)
        full[:len(addresses)] = addresses
        return types.SimpleNamespace(name=name, piece=piece, addresses=full.reshape(1, 1, -1))

    plans = [plan("none", [], None), plan("a", small, 2), plan("b", large, 16)]
    cores = _cores(1, small) + _cores(2, large)
    assert place(cores, plans, spec, first_layer_last=False) == 1
    assert count_chips(plans, spec, first_layer_last=False) == 1
    addresses = [c.address for c in cores]
    assert len(set(addresses)) == len(addresses) and max(addresses) < 16
    assert sorted(c.address for c in cores if c.layer == 1) == [10, 11, 14, 15]
    # in network order (the first order tried) the large piece finds no room on the first chip
    from hardware.place import _assign

    space, usable = chip_space(spec.chip)
    relative = {1: np.array(small), 2: np.array(large)}
    assert _assign(relative, plans, space, usable, first_last=False, largest_first=False).chips == 2
