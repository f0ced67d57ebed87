"""The fewest addresses any plan of the planner's rules takes, and so the fewest chips it can need.

A plan takes a chip address for each of its cores and for each address it keeps empty (its
multicast cubes reach them; placement gives them to no other core, place.py). So ceil(addresses /
cores per chip) chips is a floor for one plan; the floor for the planner's rules is that of the
plan with the fewest addresses among every choice, per layer, of a shortlisted tiling
(partition._shortlist) and a layout (partition.LAYOUTS), which the greedy pass need not find.

What a layer's choice costs depends on the layers above it only through the copies they ask of
it, so a back-to-front pass that keeps, per distinct copies array, the cheapest plans above it is
exact. It stays small by branch and bound: a partial plan is dropped where its addresses, the
fewest cores the next layer can take for its copies (the planner's look-ahead) and the fewest
cores of every layer below it without copies exceed the best complete plan known (at first, the
greedy pass's). More copies never cost fewer cores, and kept-empty addresses are never negative,
so nothing dropped could have done better.
"""
import hashlib
from dataclasses import dataclass

import numpy as np

from hardware.layout_search import plan_addresses
from hardware.partition import LAYOUTS, Planner, _option, _shortlist, _tile_cores


@dataclass(frozen=True)
class AddressFloor:
    addresses: int  # cores + kept-empty addresses of the plan with the fewest
    cores: int
    layouts: tuple  # that plan's layout per layer, network order
    chips: int  # ceil(addresses / cores per chip): no plan of these rules needs fewer
    greedy_addresses: int  # the greedy pass's, for comparison


def address_floor(net, spec):
    """AddressFloor over every plan of the rules `plan_network(..., "mixed")` chooses from."""
    planner = Planner(net, spec, LAYOUTS)
    greedy = planner.plan()
    best = (plan_addresses(greedy), sum(p.cores for p in greedy), tuple(p.layout for p in greedy))
    n = len(net.layers)
    fewest = [min(int(_tile_cores(layer, t, np.ones(layer.out_shape[:2], np.int64))[0].sum())
                  for t in planner.tilings[li]) for li, layer in enumerate(net.layers)]
    below = np.concatenate([[0], np.cumsum(fewest)])  # below[li]: fewest cores of layers 0 .. li - 1
    # per distinct copies asked of the next layer down: (addresses, cores, layouts) of the cheapest plan above
    states = {None: (0, 0, (), np.ones(net.layers[-1].out_shape[:2], np.int64))}
    for li in range(n - 1, -1, -1):
        layer, found = net.layers[li], {}
        for addresses, cores, layouts, copies in states.values():
            for _, _, _, t in _shortlist(layer, planner.tilings[li], copies):
                for layout in LAYOUTS if li > 0 else LAYOUTS[:1]:
                    option = _option(net, li, spec, planner.widths[li], t, copies, layout, planner.space,
                                     planner.tilings, skip_plain=True)
                    if option is None:
                        continue
                    plan, induced, look = option
                    total = addresses + plan_addresses([plan])
                    if total + (look + below[li - 1] if li > 0 else 0) > best[0]:
                        continue
                    key = _key(induced) if li > 0 else len(found)
                    if key not in found or found[key][0] > total:
                        found[key] = (total, cores + plan.cores, (plan.layout,) + layouts, induced)
        states = found
    for addresses, cores, layouts, _ in states.values():
        best = min(best, (addresses, cores, layouts))
    per_chip = spec.chip.cores_per_chip
    return AddressFloor(best[0], best[1], best[2], -(-best[0] // per_chip), plan_addresses(greedy))


def _key(copies):
    return hashlib.blake2b(copies.tobytes() + repr(copies.shape).encode(), digest_size=16).digest()
