"""Slot layouts (hardware/slots.py): every window of reader tiles is one multicast cube whose extra
members are empty slots; mappings laid out that way stay bit-exact and route only to readers."""
import numpy as np
import pytest

from hardware import map_network, simulate_and_compare, tiny_spec
from hardware.addressing import cube_cover, cube_members
from hardware.slots import window_slots


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
