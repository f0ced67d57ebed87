"""The temporal mapping's lower bound (hardware/temporal_bound.py): hand-checked on one dense layer
and a padded conv, respected by the planner, and met by the construction that simulates exactly."""
import numpy as np
import pytest

from hardware import map_network, tiny_spec
from hardware.network import CoreLayer, NeuronModel
from hardware.partition import control_group
from hardware.temporal_bound import jumps, layer_temporal_bound, temporal_bound
from tests.hardware.test_temporal import _tiny


def _dense(columns, t0, store=4, release=4):
    kernel = np.array(columns, np.int64).T[None, None]  # (1, 1, F, C')
    f, c = kernel.shape[2:]
    thresholds = np.asarray(t0, np.int64)[:, None] + 3 * np.arange(release)[None, :]
    return CoreLayer("act", "fc", "dense", (1, 1, f), (1, 1, c), kernel, (1, 1), (0, 0), 1, 1, thresholds,
                     store * np.abs(kernel).sum(axis=(0, 1, 2)), NeuronModel("subtractive", store, release))


def test_the_jump_and_its_controller_axons_by_hand():
    # a = 5 positive weights, 4 store ticks: S_max = 20; T_0 = 13 -> J = 20 - 13 + 1 = 8, ceil(8 / 2) = 4
    # controller axons at 2 bits; 12 data axons + 4 = 16 fit a 16-axon core at LCN 1X (4 neurons)
    column = [1, 1, 1, 1, 1, -1, -1, 0, 0, 0, 0, 0]
    layer = _dense([column] * 4, [13] * 4)
    assert jumps(layer).ravel().tolist() == [8] * 4
    bound = layer_temporal_bound(layer, tiny_spec().core)
    assert (bound.cores, bound.cap_max, bound.control_max) == (1, 4, 4)
    # T_0 = 12: J = 9 needs 5 axons, 17 > 16: LCN 2X (2 neurons per core) or 4 bits (2 as well): 2 cores
    bound = layer_temporal_bound(_dense([column] * 4, [12] * 4), tiny_spec().core)
    assert (bound.cores, bound.cap_max, bound.control_max) == (2, 2, 5)


def test_no_claim_where_the_first_threshold_is_out_of_reach_or_the_weights_are_not_ternary():
    layer = _dense([[1, 1, -1], [1, 1, -1], [2, 1, 0]], [9, -4, 1])  # S in [-4, 8]; the last may skip sums
    assert jumps(layer).ravel().tolist() == [0, 0, 0]
    assert jumps(_dense([[1, 1, -1]], [9], release=1)).ravel().tolist() == [0]  # one release tick: no claim


def test_padding_shrinks_the_jump_at_the_edges():
    kernel = np.ones((3, 3, 1, 1), np.int64)
    layer = CoreLayer("act", "conv", "conv", (3, 3, 1), (3, 3, 1), kernel, (1, 1), (1, 1), 1, 1,
                      np.array([[2, 5, 8, 11]]), np.array([36]), NeuronModel("subtractive", 1, 4))
    # one store tick: S_max = the real taps (4 at a corner, 6 on an edge, 9 inside); J = S_max - 2 + 1
    assert jumps(layer)[:, :, 0].tolist() == [[3, 5, 3], [5, 8, 5], [3, 5, 3]]


def test_the_plan_needs_at_least_the_bound_and_the_exact_construction_has_the_axons(small_sr):
    """Our construction simulates bit-exactly (test_temporal.py), so by the argument every core has
    at least ceil(J / 2^(width-1)) controller axons for each of its neurons, and no plan beats the bound."""
    snn, _ = small_sr
    net, spec, plans, cores, *_ = map_network(snn, _tiny(), mapping="temporal")
    bounds, total = temporal_bound(net, spec)
    assert total == sum(b.cores for b in bounds)
    for bound, plan in zip(bounds, plans):
        assert 0 < bound.cores <= plan.cores, (bound, plan.cores)
    checked = 0
    for core in cores:
        layer, plan = net.layers[core.layer], plans[core.layer]
        lo, hi = spec.core.weight_range(plan.width)
        jump = jumps(layer).reshape(-1, layer.out_shape[2])
        channels = layer.out_shape[2]
        need = -(-jump[core.neuron_ids // channels, core.neuron_ids % channels] // max(-lo, hi))
        controller_axons = int((control_group(core.axon_src) >= 0).sum())
        assert controller_axons >= need.max(), (layer.name, controller_axons, need.max())
        checked += need.max() > 0
    assert checked, "some core should have a claim"


@pytest.mark.parametrize("store", [1, 4])
def test_a_layer_no_core_can_hold_has_no_bound(store):
    # 15 data axons + ceil(J / 2) controller axons on 16-axon cores without LCN: only J <= 2 fits
    layer = _dense([[1] * 15], [15 * store - 3], store=store)  # J = 4
    assert layer_temporal_bound(layer, tiny_spec(max_lcn=0, weight_widths=(2,)).core) is None


# --- the argument checked by brute force on one small neuron: weights (1, 1, -1), 2 store ticks,
# 2 release ticks, thresholds T = (2, 3): S_max = 4, J = 4 - 2 + 1 = 3, so at least ceil(3 / 2) = 2
# controller axons at 2 bits.
WEIGHTS, STORE, RELEASE, THRESHOLDS = np.array([1, 1, -1]), 2, 2, np.array([2, 3])
TICKS = STORE + RELEASE


def _inputs_and_trains(thresholds=THRESHOLDS):
    """Every input (burst counts 0..STORE per input): data per tick (n, TICKS) and the SR train."""
    counts = np.array(np.meshgrid(*[np.arange(STORE + 1)] * len(WEIGHTS), indexing="ij")).reshape(len(WEIGHTS), -1).T
    data = np.zeros((len(counts), TICKS), np.int64)
    for t in range(STORE):
        data[:, t] = (counts > t) @ WEIGHTS
    fired = ((counts @ WEIGHTS)[:, None] >= np.asarray(thresholds)[None, :]).sum(axis=1)
    trains = np.zeros((len(counts), TICKS), bool)
    for j in range(RELEASE):
        trains[:, STORE + j] = fired > j
    return data, trains


def _exact(control, leak, theta, reset, reset_v, leak_after, thresholds=THRESHOLDS, reversal=None, neg=None,
           saturate=None, chunk=1 << 16):
    """(K,) which of K neurons reproduce every SR train; control: (K, TICKS) what the controller axons
    add per tick. One tick in PAIBox's order (paibox.components.neuron.base): charge; leak, forward
    (+leak) or, with `reversal`, sign(V) x leak; the comparison before or after the leak; the reset
    applied to the leaked V. Positive spike: reset 0 linear (V -= theta), 1 to reset_v, 2 none.
    `neg` (K,) negative thresholds (default: none acts): below it, with `saturate` V is set to it,
    else the reset mode acts with it (linear V -= neg, hard -reset_v, none)."""
    k = len(leak)
    reversal = np.zeros(k, bool) if reversal is None else reversal
    neg = np.full(k, -(2**40), np.int64) if neg is None else neg
    saturate = np.zeros(k, bool) if saturate is None else saturate
    data, trains = _inputs_and_trains(thresholds)
    every = [np.asarray(a) for a in (theta, reset, reset_v, neg, leak, reversal, leak_after, saturate)]
    ok = np.zeros(k, bool)
    for start in range(0, k, chunk):  # in chunks, and a neuron that failed is dropped: the search is large
        part = slice(start, start + chunk)
        ok[start + _exact_part(control[part], [a[part, None] for a in every], data, trains)] = True
    return ok


def _exact_part(control, params, data, trains):
    alive = np.arange(len(control))
    v = np.zeros((len(control), len(data)), np.int64)
    for t in range(TICKS):
        theta, reset, reset_v, neg, leak, reversal, leak_after, saturate = params
        v = v + data[None, :, t] + control[alive, t, None]
        leaked = v + np.where(reversal, np.sign(v), 1) * leak
        compared = np.where(leak_after, v, leaked)
        fire = compared >= theta
        below = ~fire & (compared < neg)
        after_pos = np.select([reset == 0, reset == 1], [leaked - theta, reset_v], leaked)
        after_neg = np.where(saturate, neg, np.select([reset == 0, reset == 1], [leaked - neg, -reset_v], leaked))
        v = np.where(fire, after_pos, np.where(below, after_neg, leaked))
        keep = (fire == trains[None, :, t]).all(axis=1)
        alive, v, params = alive[keep], v[keep], [p[keep] for p in params]
    return alive


def test_our_construction_is_exact_in_the_brute_force_simulator():
    # docs/hardware.md §7 on this neuron: s = 1, lambda = s - T_0 + STORE a = 1 - 2 + 4 = 3; cancel
    # axons (-2, -1) in every tick but the first release tick, hold axon -2 in the store ticks: 3 axons
    release0 = np.arange(TICKS) == STORE
    control = (-3 * ~release0 - 2 * (np.arange(TICKS) < STORE))[None, :]
    one = np.ones(1, np.int64)
    assert _exact(control, 3 * one, one, 0 * one, 0 * one, np.zeros(1, bool)).all()
    layer = _dense([WEIGHTS], THRESHOLDS[:1], store=STORE, release=RELEASE)
    assert jumps(layer).ravel().tolist() == [3]


@pytest.mark.parametrize("thresholds, any_exact", [((2, 3), False), ((4, 5), True)])
@pytest.mark.parametrize("reversal", [False, True])
def test_no_exact_neuron_has_fewer_controller_axons_than_the_bound(thresholds, any_exact, reversal):
    """One 2-bit axon (weight -2..1, any firing pattern), every leak, threshold, reset and negative
    threshold (none, or -1..-6 resetting or saturating), the leak forward or reversed (PAICORE's
    leak direction: sign(V) x leak, outside the bound's argument, which takes the leak the same in
    every tick): none is exact where the bound asks for 2 (T_0 = 2: J = 3); where it asks for 1
    (T_0 = 4 = S_max: J = 1) the same search finds exact ones, so it is not blind."""
    patterns = ((np.arange(2**TICKS)[:, None] >> np.arange(TICKS)[None, :]) & 1).astype(np.int64)
    grid = np.array(np.meshgrid(np.arange(-2, 2), np.arange(len(patterns)), np.arange(-8, 9), np.arange(1, 7),
                                np.arange(11), np.arange(2), np.arange(13), indexing="ij")).reshape(7, -1)
    weight, pattern, leak, theta, mode, after, negative = grid
    reset = np.select([mode == 0, mode == 10], [0, 2], 1)  # modes 1..9: reset to -4..4
    neg = np.where(negative == 0, -(2**40), -((negative - 1) % 6 + 1))  # 1..6 reset at -1..-6, 7..12 saturate
    control = weight[:, None] * patterns[pattern]
    exact = _exact(control, leak, theta, reset, mode - 5, after.astype(bool), np.array(thresholds),
                   reversal=np.full(len(leak), reversal), neg=neg, saturate=negative >= 7)
    assert len(exact) > 1_000_000 and exact.any() == any_exact
    jump = jumps(_dense([WEIGHTS], [thresholds[0]], store=STORE, release=RELEASE)).item()
    assert -(-jump // 2) == (1 if any_exact else 2)
