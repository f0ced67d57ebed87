"""Dynamic-threshold layers: hand-built dynamics, integer == float, bounds, burst, readout, configs."""
import json

import keras
import numpy as np
import pytest

from layers.dynamic import (
    AccumulatingReadout,
    BurstDeletion,
    BurstEncoding,
    DynamicThresholdNeuron,
    SignedConv2D,
    SignedDense,
    burst,
    dynamic_threshold,
)


def _run(currents, theta0, step, gain=1.0, dtype="float64", eps=None):
    eps = (1e-5 if dtype == "float64" else 0) if eps is None else eps
    consts = [np.array([c], dtype) for c in (theta0, step, theta0 - step, gain)]
    x = np.asarray(currents, dtype).reshape(1, -1, 1)
    spikes, state, peak = dynamic_threshold(x, *consts, eps=eps, return_state=True)
    return np.asarray(spikes)[0, :, 0], [np.asarray(s)[0, 0] for s in state], np.asarray(peak)


def test_thresholds_step_exactly_by_d():
    # theta0 = 2.5, d = 3: thresholds 2.5, 5.5, 8.5, 11.5; V = 10 -> three +1 spikes, one per step.
    spikes, (v, p, n), _ = _run([10, 0, 0, 0, 0], 2.5, 3.0)
    np.testing.assert_array_equal(spikes, [1, 1, 1, 0, 0])
    assert (v, p, n) == (10.0, 2.5 + 3 * 3.0, 2.5 + 2 * 3.0)
    # Integer mode (x10^4): the same, every value an exact integer.
    spikes, (v, p, n), peak = _run([10, 0, 0, 0, 0], 25_000, 30_000, gain=10_000, dtype="int32")
    np.testing.assert_array_equal(spikes, [1, 1, 1, 0, 0])
    assert (v, p, n) == (100_000, 115_000, 85_000) and peak == 115_000


def test_negative_spikes_retract_premature_ones():
    # V = 10, 20 -> +1, +1; then the input falls to V = 1 (one threshold, 2.5, is above it):
    # two -1 spikes bring the net count back to 0, then the neuron is silent.
    spikes, (v, p, n), _ = _run([10, 10, -19, 0, 0, 0], 2.5, 3.0)
    np.testing.assert_array_equal(spikes, [1, 1, -1, -1, 0, 0])
    assert spikes.sum() == 0 and (p, n) == (2.5, -0.5)


def test_lower_bound_stops_the_count_at_zero():
    # Far below the first threshold: no -1 (the count stays at 0, N stays at b); when V rises to
    # 10 the three +1 spikes follow at once, with no debt to pay back.
    spikes, (v, p, n), _ = _run([-100, 0, 110, 0, 0], 2.5, 3.0)
    np.testing.assert_array_equal(spikes, [0, 0, 1, 1, 1])
    assert v == 10.0


def test_net_count_converges_to_the_number_of_thresholds_below_v():
    rng = np.random.default_rng(0)
    theta0, d = rng.uniform(-3, 3, 64), rng.uniform(0.3, 4, 64)
    v_final = rng.integers(-5, 40, 64).astype(np.float64)
    # A wandering input that ends at v_final: random steps, then the remainder.
    walk = rng.integers(-8, 9, (30, 64)).astype(np.float64)
    walk[-1] = v_final - walk[:-1].sum(axis=0)
    currents = np.concatenate([walk, np.zeros((60, 64))])[None]
    # eps = 1e-5 as in the seed: without it, float round-off in N after +d then -d can let the
    # count step below zero at the lower bound.
    spikes = np.asarray(dynamic_threshold(currents, theta0, d, theta0 - d, np.ones(64), eps=1e-5))
    expected = np.array([np.sum(t + np.arange(200) * s < v) for t, s, v in zip(theta0, d, v_final)])
    np.testing.assert_array_equal(spikes.sum(axis=1)[0], expected)


def test_integer_mode_equals_float_mode_on_scaled_constants():
    rng = np.random.default_rng(1)
    c = 200
    th, d = rng.integers(-30_000, 30_000, c), rng.integers(3_000, 40_000, c)
    gain = rng.choice([-1, 0, 1], c)
    currents = rng.integers(-6, 7, (4, 25, c))
    spikes_int = dynamic_threshold(currents.astype(np.int32), *(np.array(a, np.int32) for a in
                                                                  (th, d, th - d, gain * 10_000)))
    spikes_float = dynamic_threshold(currents.astype(np.float32), th / 1e4, d / 1e4, (th - d) / 1e4,
                                     gain.astype(np.float64), eps=1e-5)
    assert np.asarray(spikes_int).dtype == np.int32
    np.testing.assert_array_equal(np.asarray(spikes_int), np.asarray(spikes_float))


def test_int64_state_holds_values_beyond_int32():
    spikes, (v, p, n), peak = _run([300_000, 0], 2_000_000_000, 1_000_000_000, gain=10_000, dtype="int64")
    assert v == 3_000_000_000 and peak >= 2**31 and list(spikes) == [1, 0]


def test_burst_sends_the_value_in_the_first_steps():
    counts = np.array([[0, 1, 3, 4]], np.float32)
    out = np.asarray(burst(counts, 5))
    np.testing.assert_array_equal(out[0].T, [[0] * 5, [1, 0, 0, 0, 0], [1, 1, 1, 0, 0], [1, 1, 1, 1, 0]])
    enc = BurstEncoding(1, 1, levels=4, time_steps=3, spike_dtype="int32")
    x = np.array([0.0, 1.0, 2.5, 9.0], np.float32).reshape(1, 2, 2, 1)
    enc(x)
    enc.kernel.assign(np.ones((1, 1, 1, 1), np.float32))
    enc.thresholds.assign(np.array([[0.5, 1.5, 2.5, 3.5]], np.float32))
    enc.signs.assign(np.ones(1, np.float32))
    out = np.asarray(enc(x))
    assert out.dtype == np.int32 and out.shape == (1, 3, 2, 2, 1)
    np.testing.assert_array_equal(out.sum(axis=1).ravel(), [0, 1, 3, 3])  # 4 truncated at T = 3


def test_synapses_are_exact_in_both_arithmetics():
    rng = np.random.default_rng(2)
    spikes = rng.integers(-1, 2, (2, 3, 6, 6, 4))
    kernel = rng.integers(-1, 2, (3, 3, 4, 5)).astype(np.int8)
    outs = []
    for arithmetic, dtype in (("int", np.int32), ("float", np.float32)):
        conv = SignedConv2D(5, 3, arithmetic=arithmetic)
        conv(spikes.astype(dtype))
        conv.kernel.assign(kernel)
        outs.append(np.asarray(conv(spikes.astype(dtype))))
    assert outs[0].dtype == np.int32 and outs[0].shape == (2, 3, 4, 4, 5)
    np.testing.assert_array_equal(outs[0], outs[1])
    with pytest.raises(ValueError, match="int8"):
        SignedDense(3, arithmetic="int", kernel_dtype="float32")


def test_readout_gives_logits_of_the_accumulated_counts_per_step():
    readout = AccumulatingReadout(2)
    spikes = np.array([[[1, 0], [1, 1], [-1, 0]]], np.int32)  # (1, T=3, 2)
    readout(spikes)
    readout.kernel.assign(np.array([[1.0, 2.0], [10.0, 20.0]], np.float32))
    np.testing.assert_array_equal(np.asarray(readout(spikes))[0], [[1, 2], [12, 24], [11, 22]])


@pytest.mark.parametrize("layer", [
    BurstEncoding(4, (3, 3), levels=4, scale=1.0, strides=1, padding="same", time_steps=6, name="e"),
    SignedConv2D(4, 3, strides=2, padding="same", arithmetic="int", name="c"),
    SignedDense(5, arithmetic="float", kernel_dtype="float32", name="d"),
    DynamicThresholdNeuron("int", "int64", name="n"),
    AccumulatingReadout(10, name="r"),
    BurstDeletion(0.2, seed=3, name="s"),
])
def test_config_round_trip(layer):
    clone = keras.layers.deserialize(json.loads(json.dumps(keras.layers.serialize(layer))))
    assert type(clone) is type(layer) and clone.get_config() == layer.get_config()


def test_neuron_weights_have_the_state_dtype():
    for arithmetic, int_dtype, expected in (("float", "int32", "float64"), ("int", "int32", "int32"),
                                            ("int", "int64", "int64")):
        neuron = DynamicThresholdNeuron(arithmetic, int_dtype)
        neuron.build((None, 3, 7))
        assert {w.dtype for w in neuron.weights} == {expected} and not neuron.trainable_weights
    with pytest.raises(ValueError, match="arithmetic"):
        DynamicThresholdNeuron("double")
