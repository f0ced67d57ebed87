"""The layout search (hardware/layout_search.py) and the "exact" layout it may choose: fewer chips
before fewer cores, bit-exact either way."""
import types

import numpy as np

import hardware.layout_search as layout_search
from hardware import map_network, simulate_and_compare, tiny_spec


def _tiny():
    return tiny_spec(axons=80, dendrites=128, max_lcn=4, grid=(4, 4))


def test_exact_layouts_keep_no_address_empty_and_stay_bit_exact(small_snn):
    snn, images = small_snn
    kept = map_network(snn, _tiny(), estimate_only=True, slot_layouts=False)[2]
    net, spec, plans, cores, chips, routes = map_network(snn, _tiny(), slot_layouts="exact")  # routes checked
    assert sum(len(p.spare) for p in kept) > 0  # in order, some cubes do reach holes
    assert all(len(p.spare) == 0 for p in plans) and {p.layout for p in plans[1:]} == {"exact"}
    assert sum(p.copy_neurons for p in plans) >= sum(p.copy_neurons for p in kept)
    from hardware.report import layer_rows

    assert [row["layout"] for row in layer_rows(net, plans, cores, spec)][1:] == ["exact"] * (len(plans) - 1)
    sim, agreement = simulate_and_compare(net, cores, images, batch_size=13)
    assert agreement["bit_exact"], agreement


def test_the_default_needs_no_more_chips_than_the_greedy_layouts_and_stays_bit_exact(small_snn):
    snn, images = small_snn
    spec = tiny_spec(axons=80, dendrites=128, max_lcn=4, grid=(8, 4))
    greedy = map_network(snn, spec, estimate_only=True, slot_layouts="mixed")[4]
    net, spec, plans, cores, chips, routes = map_network(snn, spec)
    assert chips <= greedy
    sim, agreement = simulate_and_compare(net, cores, images, batch_size=16)
    assert agreement["bit_exact"], agreement


def _plan(layout, cores, spare=0):
    return types.SimpleNamespace(layout=layout, cores=cores, spare=np.zeros(spare, np.int64))


class _Planner:
    """Three layers; re-planning layer 2 at slots gives more cores on fewer chips, layer 1 exact
    fewer cores on more chips."""
    spec = types.SimpleNamespace(chip=types.SimpleNamespace(cores_per_chip=10))

    def __init__(self):
        self.asked = []

    def plan(self, above, at, layout):
        self.asked.append((at, layout))
        plans = list(above)
        plans[at] = _plan(layout, {(2, "slots"): 12, (1, "exact"): 1}.get((at, layout), above[at].cores + 1))
        return plans


def test_the_search_keeps_fewer_chips_before_fewer_cores(monkeypatch):
    chips = {(5, 5, 5): 3, (5, 5, 12): 2, (5, 1, 12): 3}
    monkeypatch.setattr(layout_search, "count_chips",
                        lambda plans, spec: chips.get(tuple(p.cores for p in plans), 9))
    planner = _Planner()
    start = [_plan("in order", 5), _plan("in order", 5), _plan("in order", 5)]
    best = layout_search.search_layouts(planner, start)
    assert [p.cores for p in best] == [5, 5, 12] and best[2].layout == "slots"
    # every other layout of layers 2 and 1 tried, never layer 0 (the first layer stays in order)
    assert sorted(planner.asked) == [(1, "exact"), (1, "slots"), (2, "exact"), (2, "slots")]


def test_the_search_stops_where_the_chips_are_already_full(monkeypatch):
    monkeypatch.setattr(layout_search, "count_chips", lambda plans, spec: 2)
    planner = _Planner()
    start = [_plan("in order", 5), _plan("in order", 5), _plan("in order", 5, spare=4)]  # 19 addresses: 2 chips
    assert layout_search.search_layouts(planner, start) is start and not planner.asked
