"""The address floor (hardware/address_floor.py): the fewest cores + kept-empty addresses of any
plan of the planner's rules, found by branch and bound, equals an exhaustive enumeration."""
import numpy as np

from hardware import map_network, tiny_spec
from hardware.address_floor import address_floor
from hardware.layout_search import plan_addresses
from hardware.network import extract
from hardware.partition import LAYOUTS, Planner, _option, _shortlist


def _tiny():
    return tiny_spec(axons=80, dendrites=128, max_lcn=4, grid=(8, 4))


def _every_plan(net, spec):
    """(addresses, cores, layouts) of every plan of the rules, layer by layer from the last."""
    planner = Planner(net, spec, LAYOUTS)
    out = []

    def down(li, copies, addresses, cores, layouts):
        if li < 0:
            out.append((addresses, cores, layouts))
            return
        for _, _, _, t in _shortlist(net.layers[li], planner.tilings[li], copies):
            for layout in LAYOUTS if li > 0 else LAYOUTS[:1]:
                option = _option(net, li, spec, planner.widths[li], t, copies, layout, planner.space,
                                 planner.tilings, skip_plain=True)
                if option is not None:
                    plan, induced, _ = option
                    down(li - 1, induced, addresses + plan_addresses([plan]), cores + plan.cores,
                         (plan.layout,) + layouts)

    down(len(net.layers) - 1, np.ones(net.layers[-1].out_shape[:2], np.int64), 0, 0, ())
    return out


def test_the_floor_is_the_fewest_addresses_of_every_plan_and_bounds_the_chips(small_snn):
    snn, _ = small_snn
    spec = _tiny()
    net = extract(snn, "spatial")
    every = _every_plan(net, spec)
    assert len({a for a, _, _ in every}) > 3  # the rules leave real choices here
    floor = address_floor(net, spec)
    assert (floor.addresses, floor.cores, floor.layouts) == min(every)
    assert floor.greedy_addresses >= floor.addresses
    assert floor.chips == -(-floor.addresses // spec.chip.cores_per_chip)
    for rule in ("mixed", "search", True, False, "exact"):  # no plan the planner makes needs fewer chips
        assert map_network(snn, spec, estimate_only=True, slot_layouts=rule)[4] >= floor.chips
