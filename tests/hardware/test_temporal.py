"""Temporal mapping of store-and-release SNNs: multi-core / multi-chip splits on tiny cores stay
bit-exact tick by tick; the validator names layer, resource, need and limit."""
import keras
import numpy as np
import pytest

from conversion import convert
from hardware import HardwareError, map_network, tiny_spec
from hardware.partition import control_group
from hardware.temporal import control_ticks, latency_ticks, windows
from hardware.temporal_sim import TemporalSimulator, simulate_and_compare_temporal
from models import build_model
from tests.conversion.conftest import SMALL_ARCH, randomize_bn, random_images


def _tiny(**core):
    return tiny_spec(axons=128, dendrites=64, max_lcn=4, grid=(4, 4), **core)


def test_tiny_cores_split_every_layer_and_stay_bit_exact(small_sr):
    snn, images = small_sr
    net, spec, plans, cores, chips, routes = map_network(snn, _tiny(), mapping="temporal")
    assert all(plan.cores > 1 for plan in plans), [p.cores for p in plans]
    assert chips > 1
    sim, agreement = simulate_and_compare_temporal(net, cores, images, batch_size=10)
    assert agreement["bit_exact"], agreement
    assert agreement["store_spikes"] == 0


def test_every_core_has_its_controller_axons_and_windows_follow_each_other(small_sr):
    snn, _ = small_sr
    net, spec, plans, cores, *_ = map_network(snn, _tiny(), mapping="temporal")
    for core in cores:
        groups = [control.name for control in net.layers[core.layer].controls]
        assert groups[:2] == ["cancel", "hold"]
        assert set(np.unique(control_group(core.axon_src))) == set(range(-1, len(groups)))
        assert np.array_equal(core.theta, net.layers[core.layer].steps[core.neuron_ids % net.layers[core.layer].out_shape[2]])
    wins = windows(net)
    # the host sends from tick 1, so that the first layer's timer cores can start at tick 1
    assert wins[0].start == 2 and all(b.start == a.release_start + 1 for a, b in zip(wins, wins[1:]))
    assert [w.tick_wait_start for w in wins] == list(range(2, len(wins) + 2))
    assert latency_ticks(net) == wins[-1].release_start + wins[-1].release - 1


@pytest.mark.parametrize("group", ["cancel", "hold"])
def test_without_a_controller_group_neurons_fire_too_early(small_sr, group):
    """The cancel axons take the leak back before the release, the hold axons keep partial sums
    below the threshold: without either, spikes leave before the release window."""
    snn, images = small_sr
    net, spec, plans, cores, *_ = map_network(snn, _tiny(), mapping="temporal")
    for core in cores:
        names = [control.name for control in net.layers[core.layer].controls]
        core.weights = core.weights.copy()
        core.weights[control_group(core.axon_src) == names.index(group)] = 0
    sim = TemporalSimulator(net, cores)
    sim.run(net.probe.predict(images, verbose=0)[net.encoder_name])
    assert sim.store_spikes > 0


def test_hold_spread_over_the_idle_ticks_keeps_every_worst_partial_sum_below_the_step(small_sr):
    """The hold axons fire in every tick before the release, idle ticks included: the worst burst
    (every positive input at full count) stays below the step in each store tick, the first
    threshold fires in the first release tick and one below it does not; with idle ticks a
    channel needs less hold per tick than its sum of positive weights a (what the store alone would take)."""
    from hardware.temporal import offsets

    net, *_ = map_network(small_sr[0], _tiny(), mapping="temporal", estimate_only=True)
    wins = windows(net)
    assert [layer.idle_ticks for layer in net.layers] == [w.start - w.tick_wait_start for w in wins]
    assert net.layers[0].idle_ticks == 0 and net.layers[-1].idle_ticks > 0
    spread = 0
    for layer in net.layers:
        flat = layer.kernel.reshape(-1, layer.kernel.shape[-1])
        positive, store, idle = np.maximum(flat, 0).sum(axis=0), layer.neuron.integrate_ticks, layer.idle_ticks
        offset = offsets(layer)  # (idle + store + release, C') what the leak and controllers added so far
        worst = np.concatenate([np.zeros((idle, len(positive)), np.int64),
                                np.arange(1, store + 1)[:, None] * positive[None, :]])
        assert np.all(worst + offset[:idle + store] < layer.steps), layer.name
        first = offset[idle + store]
        assert np.all(layer.thresholds[:, 0] + first >= layer.steps), layer.name
        assert np.all(layer.thresholds[:, 0] - 1 + first < layer.steps), layer.name
        hold = -next(c.total for c in layer.controls if c.name == "hold")
        assert np.all(hold <= -(-store * positive // (idle + store))), layer.name  # a hold in the store alone: a
        spread += int(((hold < positive) & (positive > 0)).sum()) if idle else 0
    assert spread > 0


def test_validator_rejects_windows_that_do_not_fit(small_sr):
    snn, _ = small_sr
    with pytest.raises(HardwareError, match=r"layer act1: tick_wait_end: needs 8 \(from tick 2: 0 idle, store 4 \+ "
                                            r"release 4 ticks\), limit 3"):
        map_network(snn, _tiny(tick_wait_bits=2), mapping="temporal")


def test_validator_rejects_weight_widths_that_do_not_fit(small_sr):
    snn, report = small_sr[0], convert(_model_of(small_sr), method="sr", return_report=True)[1]
    assert any(row.get("max_scale", 1) > 1 for row in report.values() if isinstance(row, dict))
    with pytest.raises(HardwareError, match=r"layer act\d: weight width: needs values -\d+\.\.\d+, widest "
                                            r"supported is 2 bits \(-2\.\.1\)"):
        map_network(snn, _tiny(weight_widths=(1, 2)), mapping="temporal")


def _model_of(small_sr):
    keras.utils.set_random_seed(5)
    rng = np.random.default_rng(5)
    model = build_model(SMALL_ARCH, dataset="mnist", k=1, B=2)
    randomize_bn(model, random_images(rng, 24), rng)
    return model


def test_spatial_reader_refuses_sr_and_temporal_refuses_sg(small_sr):
    snn, _ = small_sr
    with pytest.raises(HardwareError, match="spatial mapping needs stateless neurons"):
        map_network(snn, _tiny())
    model = _model_of(small_sr)
    with pytest.raises(HardwareError, match="temporal mapping needs store-and-release neurons"):
        map_network(convert(model, method="sg"), _tiny(), mapping="temporal")


@pytest.mark.parametrize("control_range", [(-128, 127), (-2, 1)], ids=["int8-controllers", "2-bit-controllers"])
def test_paibox_simulator_spike_trains_equal_ours(small_sr, control_range):
    """PAIBox's own Simulator, on the temporal network built with its LIF groups (one per step),
    gives our tick simulator's release spike trains and no spike in a store window; with the
    controllers' weights in int8 pieces (the referee) and in the chip's 2-bit pieces (what
    paibox_temporal_count compiles)."""
    from hardware.paibox_temporal import PaiboxTemporalReferee

    snn, images = small_sr
    net, spec, plans, cores, *_ = map_network(snn, "paicore", mapping="temporal")
    encoded = net.probe.predict(images[:4], verbose=0)[net.encoder_name]
    ours = TemporalSimulator(net, cores).run(encoded)
    referee = PaiboxTemporalReferee(net, control_range=control_range)
    theirs = referee.run(encoded)
    assert referee.store_spikes == 0
    for a, b in zip(ours, theirs):
        assert a.sum() > 0
        np.testing.assert_array_equal(a, b)


def test_timers_fire_in_their_groups_ticks(small_sr):
    net, *_ = map_network(small_sr[0], _tiny(), mapping="temporal")
    for layer, window in zip(net.layers, windows(net)):
        for control in layer.controls:
            timers = control.timers(window)
            assert all(timer.tick_wait_start == window.tick_wait_start - 1 >= 1 for timer in timers)
            fired = sorted(window.tick_wait_start - 1 + u for timer in timers for u in timer.local_ticks())
            assert fired == sorted(control_ticks(control, window)), (layer.name, control.name)


def test_paibox_drops_the_spikes_of_timers_that_start_with_their_layer(small_sr, monkeypatch):
    """Why a timer core starts one tick before its layer: started with it, PAIBox never delivers
    its spikes, and the layers fire in their store windows."""
    from hardware.paibox_temporal import PaiboxTemporalReferee
    from hardware.temporal import Timer

    snn, images = small_sr
    net, *_ = map_network(snn, "paicore", mapping="temporal")
    encoded = net.probe.predict(images[:1], verbose=0)[net.encoder_name]
    monkeypatch.setattr(Timer, "tick_wait_start", property(lambda timer: timer.window.tick_wait_start))
    referee = PaiboxTemporalReferee(net)
    referee.run(encoded)
    assert referee.store_spikes > 0


def test_paibox_counts_the_temporal_network_and_run_hardware_records_it(small_sr, tmp_path):
    from hardware import run_hardware
    from hardware.paibox_temporal import paibox_temporal_count

    snn, _ = small_sr
    net, *_ = map_network(snn, "paicore", estimate_only=True, mapping="temporal")
    count = paibox_temporal_count(net)
    assert count["n_core_required"] >= len(net.layers)  # at least one PAIBox core per layer
    assert count["n_core_required"] > count["n_core_required_host_controllers"]  # the timers take cores
    summary = run_hardware(snn, core="paicore", out_dir=tmp_path, estimate_only=True, mapping="temporal")
    assert summary["n_core_required"] == count["n_core_required"]
    assert summary["paibox_count"]["construction"] == count["construction"]
    quiet = run_hardware(snn, core="paicore", out_dir=tmp_path / "none", estimate_only=True, mapping="temporal",
                         paibox=False)
    assert quiet["n_core_required"] is None


def test_controller_axons_raise_the_no_copy_count_and_the_plan_stays_above_it(small_sr):
    """hardware.json's `no_copy_cores_with_controllers`: ceil(N / neurons per core) once the hold and
    lift axons join the fan-in; a plan, copies and all, can only need more."""
    from hardware.bounds import layer_bound
    from hardware.temporal_report import temporal_summary

    snn, _ = small_sr
    net, spec, plans, cores, chips, _ = map_network(snn, _tiny(), mapping="temporal")
    summary = temporal_summary(net, plans, cores, spec, chips)
    raised = 0
    for row, plan, layer in zip(summary["controllers"], plans, net.layers):
        plain = layer_bound(layer, spec.core, width=plan.width).cores
        assert plain <= row["no_copy_cores_with_controllers"] <= plan.cores, (layer.name, plain, row, plan.cores)
        raised += row["no_copy_cores_with_controllers"] > plain
    assert raised, "on 128-axon cores the controller axons should raise some layer's LCN"
    assert summary["no_copy_cores_with_controllers"] == sum(r["no_copy_cores_with_controllers"]
                                                            for r in summary["controllers"])


def test_temporal_mapping_uses_slot_layouts_by_default_and_they_cut_copies(small_sr):
    snn, _ = small_sr
    slotted = map_network(snn, _tiny(), mapping="temporal", estimate_only=True)[2]
    plain = map_network(snn, _tiny(), mapping="temporal", estimate_only=True, slot_layouts=False)[2]
    assert sum(p.copy_neurons for p in slotted) < sum(p.copy_neurons for p in plain)


def _counts(sums, thresholds):
    return (sums[:, None] >= thresholds[None, :]).sum(axis=1)


def test_unscaled_channels_give_the_sr_counts_on_every_reachable_sum():
    """fit_channels divides a scaled column by its scale and meets the uneven thresholds with
    corrections; every gap is at least the step (so a stopped neuron stays silent), and over every
    reachable sum the counts are the SR neuron's (S' = scale * S >= theta + j * step)."""
    from hardware.temporal import fit_channels

    rng = np.random.default_rng(0)
    store, release = 4, 4
    base = rng.integers(-1, 2, size=(12, 40))
    scales = rng.integers(1, 6, size=40)
    theta = rng.integers(-30, 40, size=40)
    step = rng.integers(1, 9, size=40)
    flat, thresholds, steps, unscaled = fit_channels(base * scales, theta, step, store, release)
    assert unscaled.sum() > 20  # most channels lose their scale
    for c in range(40):
        column = flat[:, c]
        factor = (base[:, c] * scales[c])[np.flatnonzero(column)[0]] // column[np.flatnonzero(column)[0]]
        assert np.array_equal(column * factor, base[:, c] * scales[c])
        assert unscaled[c] == (np.gcd.reduce(np.abs(column)) == 1)
        assert np.all(np.diff(thresholds[c]) >= steps[c]) and steps[c] >= 1
        s_max, s_min = store * np.maximum(column, 0).sum(), -store * np.maximum(-column, 0).sum()
        sums = np.arange(s_min, s_max + 1)
        sr = _counts(sums * factor, theta[c] + np.arange(release) * step[c])
        np.testing.assert_array_equal(_counts(sums, thresholds[c]), sr)


def test_two_equal_reachable_thresholds_keep_the_scaled_column():
    from hardware.temporal import fit_channels

    column = np.array([[3], [-3], [3], [0]])  # scale 3; S' >= 4 and S' >= 5 both mean S >= 2
    flat, thresholds, steps, unscaled = fit_channels(column, np.array([4]), np.array([1]), 2, 2)
    assert not unscaled[0] and np.array_equal(flat, column) and steps[0] == 1
    np.testing.assert_array_equal(thresholds[0], [4, 5])


def test_sg_weights_make_the_layers_narrower(small_sr):
    """Where the SR converter scaled channels (4-bit), the mapping keeps the SG's 2-bit weights."""
    snn, _ = small_sr
    net, spec, plans, *_ = map_network(snn, _tiny(), mapping="temporal", estimate_only=True)
    kernels = [keras.ops.convert_to_numpy(snn.get_layer(layer.synapse).kernel) for layer in net.layers]
    sr_widths = [spec.core.narrowest_width(int(min(k.min(), 0)), int(k.max())) for k in kernels]
    assert any(plan.width < width for plan, width in zip(plans, sr_widths)), ([p.width for p in plans], sr_widths)
    assert all(layer.unscaled_channels > 0 for layer in net.layers)
