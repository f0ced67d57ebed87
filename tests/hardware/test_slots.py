"""Slot layouts (hardware/slots.py): every window of reader tiles is one multicast cube whose extra
members are empty slots; mappings laid out that way stay bit-exact and route only to readers."""
import importlib

import numpy as np
import pytest

from hardware import map_network, simulate_and_compare, tiny_spec
from hardware.network import extract
from hardware.addressing import cube_cover, cube_members
from hardware.slots import window_slots, window_slots_in_parts


def _windows(n, k):
    h = k // 2
    return [tuple(range(max(0, y - h), min(n, y + h + 1))) for y in range(n)]


@pytest.mark.parametrize("n, k", [(12, 3), (24, 3), (6, 3), (12, 2)])
def test_every_window_is_one_cube_reaching_only_its_tiles_or_empty_slots(n, k):
    space = 1 << max(n - 1, 0).bit_length()
    slots = window_slots(n, _windows(n, k), space)
    assert slots is not None and len(set(slots)) == n and max(slots) < space
    empty = sorted(set(range(space)) - set(slots))
    for window in _windows(n, k):
        wanted = {slots[t] for t in window}
        cubes = cube_cover(sorted(wanted), space, True, empty)
        assert len(cubes) == 1, (window, cubes)
        reached = set(cube_members(*cubes[0]))
        assert wanted <= reached and reached - wanted <= set(empty)


def _parts_per_window(slots, n, part):
    return [len({slots[t] // part for t in window}) for window in _windows(n, 3)]


@pytest.mark.parametrize("n, space, part", [(24, 32, 8), (12, 16, 4)])
def test_rows_cut_into_parts_go_in_runs_so_that_only_the_runs_ends_cross(n, space, part):
    """Where placement cuts a block into parts, a window across two parts needs a cube in each:
    in runs of consecutive tiles, one per part, only the two windows at each boundary cross (the
    fewest any order allows, and fewer than one order over the VGG's whole 24-row block), and each
    part's share of a window is one cube reaching only empty slots."""
    slots = window_slots_in_parts(n, _windows(n, 3), space, part)
    assert slots is not None and len(set(slots)) == n and max(slots) < space
    crossing = _parts_per_window(slots, n, part)
    assert max(crossing) == 2 and sum(c > 1 for c in crossing) == 2 * (space // part - 1)
    whole = sum(c > 1 for c in _parts_per_window(window_slots(n, _windows(n, 3), space), n, part))
    assert whole >= sum(c > 1 for c in crossing) and (whole > 6 or n < 24)  # the VGG's 24 rows: 6 against more
    empty = sorted(set(range(space)) - set(slots))
    for window in _windows(n, 3):
        for p in {slots[t] // part for t in window}:
            wanted = sorted(slots[t] for t in window if slots[t] // part == p)
            cubes = cube_cover(wanted, space, True, empty)
            assert len(cubes) == 1, (window, cubes)
            members = set(cube_members(*cubes[0]))
            assert set(wanted) <= members and members - set(wanted) <= set(empty)


def test_one_part_is_the_plain_order():
    assert window_slots_in_parts(12, _windows(12, 3), 16, 16) == window_slots(12, _windows(12, 3), 16)


def test_plain_order_needs_two_cubes_per_window_of_three():
    """What the slots buy: consecutive addresses are never a cube of three."""
    assert len(cube_cover([1, 2, 3], 16)) == 2 and len(cube_cover([4, 5, 6], 16)) == 2


def test_no_assignment_when_a_blocked_slot_leaves_too_few_empty_ones():
    # 12 tiles in 16 slots use every empty slot as some window's fourth member
    assert window_slots(12, _windows(12, 3), 16) is not None
    assert window_slots(12, _windows(12, 3), 16, blocked=(15,)) is None
    assert window_slots(5, _windows(5, 3), 4) is None


def _tiny():
    return tiny_spec(axons=80, dendrites=128, max_lcn=4, grid=(4, 4))


def test_spatial_slot_layouts_stay_bit_exact_and_cut_copies(small_snn):
    snn, images = small_snn
    plain = map_network(snn, _tiny(), slot_layouts=False)
    net, spec, plans, cores, chips, routes = map_network(snn, _tiny(), slot_layouts=True)  # routes checked
    assert any(not np.array_equal(a.addresses, b.addresses) for a, b in zip(plans, plain[2]))
    assert sum(p.copy_neurons for p in plans) < sum(p.copy_neurons for p in plain[2])
    sim, agreement = simulate_and_compare(net, cores, images, batch_size=13)
    assert agreement["bit_exact"], agreement


def _cores_and_kept(snn, spec, rule):
    plans = map_network(snn, spec, estimate_only=True, slot_layouts=rule)[2]
    return sum(p.cores for p in plans) + sum(len(p.spare) for p in plans)


@pytest.mark.parametrize("spec", [_tiny(), tiny_spec(axons=128, dendrites=256, max_lcn=8, grid=(8, 8))],
                         ids=["slots-win", "order-wins"])
def test_mixed_layouts_take_no_more_addresses_than_either_rule(small_snn, spec):
    """The spatial default's greedy pass ("mixed") takes, layer by layer, the cheapest layout in
    cores plus kept-empty addresses: on one core size the slots win, on another the plain order."""
    snn, images = small_snn
    rules = {rule: _cores_and_kept(snn, spec, rule) for rule in (False, True, "mixed")}
    assert rules[False] != rules[True] and rules["mixed"] <= min(rules[False], rules[True]), rules
    net, spec, plans, cores, chips, routes = map_network(snn, spec, slot_layouts="mixed")  # routes checked
    sim, agreement = simulate_and_compare(net, cores, images, batch_size=13)
    assert agreement["bit_exact"], agreement


def test_a_slotted_layer_takes_the_order_with_the_least_look_ahead_and_kept_empty(small_snn, monkeypatch):
    """Of the slot orders _slots offers (one over the whole region, runs per part), _option keeps
    the one whose copies below (the look-ahead) plus kept-empty addresses are fewest."""
    partition = importlib.import_module("hardware.partition")  # hardware/__init__ exports a function of that name

    snn, _ = small_snn
    net, spec = extract(snn), _tiny()
    planner = partition.Planner(net, spec, partition.LAYOUTS)
    li = 1  # 10 x 10 tiles on these cores
    copies = np.ones(net.layers[li].out_shape[:2], np.int64)
    _, _, _, t = partition._shortlist(net.layers[li], planner.tilings[li], copies)[0]
    k, _ = partition._tile_cores(net.layers[li], t, copies)
    slotted = partition._slots(net.layers[li], t, k, partition._source_shape(net, li), spec.chip)[0]
    orders = [(None, None), (tuple(range(k.shape[0])), None), slotted]  # the best one last
    costs = []
    for order in orders:
        monkeypatch.setattr(partition, "_slots", lambda *args, order=order: [order])
        option = partition._option(net, li, spec, planner.widths[li], t, copies, "slots", planner.space,
                                   planner.tilings)
        costs.append(partition._order_cost(option))
    monkeypatch.setattr(partition, "_slots", lambda *args: orders)
    chosen = partition._option(net, li, spec, planner.widths[li], t, copies, "slots", planner.space, planner.tilings)
    assert len(set(costs)) > 1 and partition._order_cost(chosen) == min(costs), costs


def test_slots_offer_each_axis_alone_too(small_snn):
    """Where the planner weighs layouts, _slots offers each axis alone at slots too (the other in
    order): fewer kept-empty addresses for more copies, for _option to weigh; not otherwise."""
    partition = importlib.import_module("hardware.partition")
    snn, _ = small_snn
    net, spec = extract(snn), _tiny()
    planner = partition.Planner(net, spec, partition.LAYOUTS)
    copies = np.ones(net.layers[1].out_shape[:2], np.int64)
    _, _, _, t = partition._shortlist(net.layers[1], planner.tilings[1], copies)[0]
    k, _ = partition._tile_cores(net.layers[1], t, copies)
    orders = partition._slots(net.layers[1], t, k, partition._source_shape(net, 1), spec.chip, one_axis=True)
    rows, cols = orders[0]
    plain = partition._slots(net.layers[1], t, k, partition._source_shape(net, 1), spec.chip)
    assert plain[0] == (rows, cols) and all(None not in order for order in plain)
    assert rows is not None and cols is not None
    assert (None, cols) in orders and (rows, None) in orders and (None, None) not in orders
