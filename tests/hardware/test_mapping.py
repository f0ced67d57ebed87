"""Mapping onto tiny cores: multi-core splits stay bit-exact, routing covers every axon once."""
from collections import Counter

import numpy as np
import pytest

from hardware import CoreSimulator, extract, map_network, paicore, partition, simulate_and_compare, tiny_spec
from hardware.addressing import chip_space, cube_members
from hardware.place import place
from hardware.route import route
from hardware.spec import HardwareError, resolve_spec


def _tiny():
    return tiny_spec(axons=80, dendrites=128, max_lcn=4, grid=(4, 4))


def test_tiny_cores_split_every_layer_and_stay_bit_exact(small_snn):
    snn, images = small_snn
    net, spec, plans, cores, chips, routes = map_network(snn, _tiny())
    assert all(plan.cores > 1 for plan in plans), [p.cores for p in plans]
    assert chips > 1  # 16 cores per chip: the net spans several chips
    sim, agreement = simulate_and_compare(net, cores, images, batch_size=13)
    assert agreement["bit_exact"], agreement
    assert agreement["agreement"] == len(images)


def test_literal_crossbar_equals_compressed(small_snn):
    snn, images = small_snn
    net, spec, plans, cores, chips, routes = map_network(snn, _tiny())
    encoded = net.probe.predict(images, verbose=0)[net.encoder_name]
    fast, _ = CoreSimulator(net, cores).run(encoded)
    literal, _ = CoreSimulator(net, cores, compress=False).run(encoded)
    for a, b in zip(fast, literal):
        np.testing.assert_array_equal(a, b)


def test_routing_covers_every_axon_exactly_once(small_snn):
    snn, _ = small_snn
    net, spec, plans, cores, chips, routes = map_network(snn, _tiny())
    for li, r in enumerate(routes):
        mine = [i for i, c in enumerate(cores) if c.layer == li]
        expected = {(i, s) for i in mine for s in np.flatnonzero(cores[i].axon_src >= 0)}
        got = list(zip(r.links_dst_core.tolist(), r.links_slot.tolist()))
        assert len(got) == len(set(got)) == len(expected) and set(got) == expected
        # each link's source is the neuron the axon table names, owned by a previous-layer core
        for d, s, n, sc, col in zip(r.links_dst_core, r.links_slot, r.links_src_neuron, r.links_src_core,
                                    r.links_src_col):
            assert cores[d].axon_src[s] == n
            if li > 0:
                assert cores[sc].layer == li - 1 and cores[sc].neuron_ids[col] == n
        assert r.route_axons.sum() == len(got)
        assert np.all(r.packets_per_neuron[np.unique(r.links_src_neuron)] >= 1)


def test_every_axon_fed_by_exactly_one_copy_and_every_source_reaches_its_targets(small_snn):
    """The hardware view: each neuron (copies included) has one destination, a multicast cube of
    cores at one axon address on one chip; expanding all cubes feeds every used axon of every core
    exactly once, from a copy of the sub-neuron its table names, and no unused axon; a cube may
    also reach addresses the layout keeps empty (no core there, none of any other layer)."""
    snn, _ = small_snn
    net, spec, plans, cores, chips, routes = map_network(snn, _tiny())
    assert any(p.copy_neurons > 0 for p in plans)  # tiny chips: copies are needed and allocated
    by_address = {c.address: i for i, c in enumerate(cores)}
    space = spec.chip.grid[0] * spec.chip.grid[1]
    reached_spare = 0
    for li in range(1, len(net.layers)):
        dest = routes[li].destinations  # (src core, src col, base, mask, slot)
        sources = Counter(zip(dest[:, 0].tolist(), dest[:, 1].tolist()))
        assert max(sources.values()) == 1  # one destination register per hardware neuron
        fed = Counter()
        for sc, col, base, mask, slot in dest.tolist():
            members = cube_members(base, mask)
            assert len({m // space for m in members}) == 1  # a cube stays on one chip
            for m in members:
                if m not in by_address:  # a kept-empty address of this layer's tile blocks
                    assert m in set(plans[li].spare_placed.tolist())
                    reached_spare += 1
                    continue
                d = by_address[m]
                assert cores[d].layer == li
                assert cores[d].axon_src[slot] == cores[sc].neuron_ids[col]
                fed[(d, slot)] += 1
        needed = {(i, s) for i, c in enumerate(cores) if c.layer == li for s in np.flatnonzero(c.axon_src >= 0)}
        assert set(fed) == needed and set(fed.values()) == {1}
        # every hardware neuron of the source layer with readers is used, each copy exactly once
        for ci, c in enumerate(cores):
            if c.layer == li - 1:
                for col in range(len(c.neuron_ids)):
                    assert sources[(ci, col)] == 1
        # copies are counted in the cores: the source layer holds them within its neuron limits
        src_cores = [c for c in cores if c.layer == li - 1]
        assert sum(len(c.neuron_ids) for c in src_cores) == plans[li - 1].neurons == len(dest)
        assert max(len(c.neuron_ids) for c in src_cores) <= plans[li - 1].neuron_limit
        assert len(src_cores) == plans[li - 1].cores
    assert reached_spare > 0  # the tiny chips' layouts do use kept-empty addresses for their cubes
    # and layouts cut into pieces smaller than a chip, which placement moves apart
    assert any(p.piece < space and len({c.extra["piece"] for c in cores if c.layer == li}) > 1
               for li, p in enumerate(plans))


def test_every_output_neuron_mapped_once(small_snn):
    snn, _ = small_snn
    net = extract(snn)
    plans, cores = partition(net, _tiny())
    for li, layer in enumerate(net.layers):
        originals = np.concatenate([c.neuron_ids[c.copy == 0] for c in cores if c.layer == li])
        np.testing.assert_array_equal(np.sort(originals), np.arange(layer.n_out))


def test_estimate_only_counts_the_same_cores_without_tables(small_snn):
    snn, _ = small_snn
    full = map_network(snn, "paicore")
    estimate = map_network(snn, "paicore", estimate_only=True)
    assert [p.cores for p in full[2]] == [p.cores for p in estimate[2]]
    assert all(c.weights is None for c in estimate[3]) and estimate[5] is None


def test_paicore_layer_uses_two_bit_weights_and_lcn(small_snn):
    snn, _ = small_snn
    net, spec, plans, cores, chips, routes = map_network(snn, paicore())
    assert all(plan.width == 2 for plan in plans)  # ternary -> 2-bit
    for plan in plans:
        assert plan.neurons_per_core <= 512 >> (plan.lcn + 1)
        assert plan.axon_slots <= 1152 << plan.lcn


def test_layout_falls_back_when_a_row_or_a_tile_misses_the_usable_cores():
    from hardware.partition import layout_tiles

    chip = resolve_spec("paicore").chip
    space, usable = chip_space(chip)
    # 16 tiles of 64 cores: a row would take the whole 1024-address space, online cores included
    for tile_cores in (np.full((2, 16), 64), np.full((1, 2), 1010)):
        addresses = layout_tiles(tile_cores, chip)
        used = addresses[addresses >= 0]
        assert len(used) == tile_cores.sum() == len(set(used.tolist()))
        assert usable[used % space].all()


def test_the_first_layer_is_laid_out_densely_as_no_copy_depends_on_it():
    from hardware.partition import layout_tiles

    chip = resolve_spec("paicore").chip
    space, usable = chip_space(chip)
    tile_cores = np.array([[2, 4, 8], [4, 8, 2]] * 200)  # blocks of 8 would be half empty
    addresses = layout_tiles(tile_cores, chip, dense=True)
    used = np.sort(addresses[addresses >= 0])
    n = int(tile_cores.sum())
    expected = (np.arange(n) // usable.sum()) * space + np.flatnonzero(usable)[np.arange(n) % usable.sum()]
    np.testing.assert_array_equal(used, expected)
    assert layout_tiles(tile_cores, chip).max() > used.max()  # the aligned layout spans more


def test_routing_refuses_a_packet_that_would_reach_a_foreign_core(small_snn):
    snn, _ = small_snn
    spec = _tiny()
    net = extract(snn)
    plans, cores = partition(net, spec)
    place(cores, plans, spec)
    li = next(i for i, p in enumerate(plans) if p.spare_placed is not None and len(p.spare_placed))
    intruder = next(c for c in cores if c.layer != li)
    intruder.address = int(plans[li].spare_placed[0])  # another layer's core where li's packets may land
    with pytest.raises(HardwareError, match="does not read it"):
        route(net, cores, spec, plans)


def test_stray_axons_are_the_physical_axons_the_packets_bring_to_each_kept_empty_address(small_snn):
    """What a core placed at a kept-empty address would receive: expanded from the destinations by
    hand, slot mod the core's axons (fan-in beyond them lies in further time slots)."""
    from hardware.route import stray_axons

    snn, _ = small_snn
    net, spec, plans, cores, chips, routes = map_network(snn, _tiny())
    strays = stray_axons(plans, routes, spec)
    with_spare = [p.name for p in plans if p.spare_placed is not None and len(p.spare_placed)]
    assert with_spare and sorted(strays) == sorted(with_spare)
    for li, plan in enumerate(plans):
        if plan.name not in strays:
            continue
        expected = {int(a): set() for a in plan.spare_placed}
        for _, _, base, mask, slot in routes[li].destinations.tolist():
            for m in cube_members(base, mask):
                if m in expected:
                    expected[m].add(slot % spec.core.axons)
        got = strays[plan.name]
        assert [set(h.tolist()) for h in got] == [expected[int(a)] for a in plan.spare_placed]
        assert all(h.max(initial=0) < spec.core.axons for h in got)
        assert any(len(h) for h in got)  # the tiny layouts' cubes do reach their kept-empty addresses
