"""Choose the layers' layouts for fewer chips, not only for fewer addresses (partition.plan_network).

The greedy planner gives each layer the layout (partition.LAYOUTS) with the fewest cores plus
kept-empty addresses. Placement can still need more chips than those addresses fill: a piece of
a layout (place.py) that spans 512 addresses needs a half chip of its own, and a PAICORE chip has
one such half (its reserved cores sit in the other), so a network with many of them needs as
many chips whatever their cores. Fewer chips can then come from a layer whose layout costs a few
more cores but has smaller pieces, which the per-layer count does not see.

So where placement needs more chips than ceil(addresses / cores per chip), this tries, one layer at
a time from the last to the second, each other layout for that layer (the layers above kept, the
ones below re-planned greedily, since their copies change), counts the chips placement would use
(place.count_chips) and keeps the candidate with the fewest chips, then the fewest cores. One
sweep: 2 candidates per layer.
"""
from hardware.partition import LAYOUTS
from hardware.place import count_chips


def search_layouts(planner, plans):
    """The plans with the fewest (chips, cores) among `plans` and its one-layer-layout variants,
    taken greedily from the last layer to the second."""
    spec = planner.spec
    per_chip = spec.chip.cores_per_chip
    best = (count_chips(plans, spec), _cores(plans), plans)
    if best[0] <= -(-plan_addresses(plans) // per_chip):
        return plans
    for li in range(len(plans) - 1, 0, -1):
        for layout in LAYOUTS:
            if layout == best[2][li].layout:
                continue
            candidate = planner.plan(above=best[2], at=li, layout=layout)
            if candidate is None:
                continue
            key = (count_chips(candidate, spec), _cores(candidate), candidate)
            if key[:2] < best[:2]:
                best = key
    return best[2]


def _cores(plans):
    return sum(p.cores for p in plans)


def plan_addresses(plans):
    """Chip addresses the plans take: their cores and the addresses their cubes keep empty."""
    return _cores(plans) + sum(0 if p.spare is None else len(p.spare) for p in plans)
