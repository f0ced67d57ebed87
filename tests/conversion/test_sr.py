"""Store-and-release: the (threshold, step, scale) fit is exact at every reachable membrane value,
and the converted SNN's counts equal SG's and 2^k x the ANN's on random tiny models."""
import keras
import numpy as np
import pytest

from conversion import convert, verify
from conversion.chain import ConversionError
from conversion.sr_fit import FitError, fit_progression, release_counts
from layers.store_release import store_release


def ladder_counts(v, t):
    return np.sum(v[..., None] >= t[None], axis=-1)


def assert_exact(t, v_max, prog):
    """Every integer V in [-v_max, v_max]: the scaled neuron's count == the ladder's count."""
    levels = t.shape[1]
    for c in range(len(t)):
        v = np.arange(-v_max[c], v_max[c] + 1)
        ours = release_counts(prog.scale[c] * v[:, None], prog.theta[c:c + 1], prog.step[c:c + 1], levels)[:, 0]
        assert np.array_equal(ours, ladder_counts(v, t[c])), (c, t[c], prog.theta[c], prog.step[c], prog.scale[c])


def test_even_ladder_needs_no_scale():
    t = np.array([[1, 3, 5, 7], [-2, 0, 2, 4]])
    v_max = np.array([10, 10])
    prog = fit_progression(t, v_max, np.array([2.0, 2.0]), np.array([127, 127]))
    assert prog.scale.tolist() == [1, 1] and prog.step.tolist() == [2, 2]
    assert_exact(t, v_max, prog)


def test_uneven_ladder_needs_a_scale():
    # spacings 1, 2, 1: no integer progression at scale 1; at scale 2, theta 1 + 3i fits
    t = np.array([[1, 2, 4, 5]])
    v_max = np.array([9])
    prog = fit_progression(t, v_max, np.array([4 / 3]), np.array([127]))
    assert prog.scale.tolist() == [2] and prog.scaled_channels == 1
    assert_exact(t, v_max, prog)


def test_open_ends_and_equal_thresholds():
    v_max = np.array([6, 6, 6, 6])
    t = np.array([[-6, -6, 2, 7],  # two levels always fire, one never
                  [7, 7, 7, 7],  # never fires
                  [-6, -6, -6, -6],  # always fires (all L)
                  [3, 3, 4, 4]])  # equal thresholds: two spikes per crossing
    prog = fit_progression(t, v_max, np.full(4, np.nan), np.full(4, 127))
    assert_exact(t, v_max, prog)
    assert prog.scale[3] > 1


def test_random_ladders_exact():
    """Ceilings of real progressions (what BN folding gives), clipped to the reachable range."""
    rng = np.random.default_rng(3)
    for _ in range(20):
        levels = int(rng.integers(1, 9))
        v_max = rng.integers(1, 60, 8)
        theta0, spacing = rng.uniform(-40, 40, 8), rng.uniform(0.2, 12, 8)
        t = np.ceil(theta0[:, None] + np.arange(levels) * spacing[:, None]).astype(np.int64)
        t = np.clip(t, -v_max[:, None], v_max[:, None] + 1)
        prog = fit_progression(t, v_max, np.full(8, np.nan), np.full(8, 127))
        assert_exact(t, v_max, prog)


def test_no_fit_within_the_weight_range():
    with pytest.raises(FitError, match="channel 0"):
        fit_progression(np.array([[1, 2, 4, 5]]), np.array([9]), np.array([1.0]), np.array([1]))


def test_store_release_dynamics():
    """Literal IF neuron: integrate the window, then fire-and-subtract for L ticks."""
    currents = np.array([[[5.0, -1.0]], [[4.0, 0.0]]], np.float32)[None]  # (1, T=2, 1, C=2)
    currents = currents.reshape(1, 2, 2)
    spikes = keras.ops.convert_to_numpy(store_release(currents, np.float32([2, -1]), np.float32([3, 1]), 4))
    # V = 9: fires at 9, 6, 3 (>= 2), not at 0; V = -1: fires at -1, not at -2
    assert spikes[0, :, 0].tolist() == [1, 1, 1, 0]
    assert spikes[0, :, 1].tolist() == [1, 0, 0, 0]


@pytest.mark.parametrize("k,B", [(0, 1), (1, 2), (0, 4)])
def test_random_models_match_sg_and_ann(small_model, k, B):
    model, images = small_model(k, B, seed=10 * k + B)
    snn, report = convert(model, method="sr", return_report=True)
    sg = convert(model, method="sg")
    result = verify(model, snn, images)
    assert result.differing == 0 and result.agreement == len(images) and result.logit_ratio_exact
    names = [row.name for row in result.layers]
    ours = keras.Model(snn.input, [snn.get_layer(n).output for n in names]).predict(images, verbose=0)
    theirs = keras.Model(sg.input, [sg.get_layer(n).output for n in names]).predict(images, verbose=0)
    for a, b in zip(ours, theirs):
        assert np.array_equal(a.sum(axis=1), b[:, 0])  # SG's T = 1 count == SR's spikes over the window
    levels = 2**k * B
    assert report["latency_ticks"] == levels * len(names)
    hidden = [report[n] for n in names[1:]]
    assert all(row["weight_bits"] >= 2 and 0 <= row["scaled_channels"] <= row["channels"] for row in hidden)


def test_scaled_weights_are_sign_folded_multiples(small_model):
    model, _ = small_model(1, 2, seed=4)
    snn, report = convert(model, method="sr", return_report=True)
    ann_kernel = np.asarray(keras.ops.convert_to_numpy(model.get_layer("conv2").quantized_kernel()))
    ours = np.asarray(keras.ops.convert_to_numpy(snn.get_layer("conv2").kernel)).astype(np.int64)
    ratio = np.abs(ours).reshape(-1, ours.shape[-1]).max(axis=0) // np.maximum(
        np.abs(ann_kernel).reshape(-1, ours.shape[-1]).max(axis=0), 1)
    assert int(np.sum(ratio > 1)) == report["act2"]["scaled_channels"]
    assert np.all(np.abs(ours) == np.abs(ann_kernel) * np.maximum(ratio, 1))


def test_sr_refuses_unbounded_models():
    from models import build_preset

    with pytest.raises(ConversionError, match="store-and-release needs the bounded median"):
        convert(build_preset("lenet_allint", k=0), method="sr")


def test_sr_snn_saves_and_loads(small_model, tmp_path):
    model, images = small_model(1, 2, seed=7)
    snn = convert(model, method="sr")
    snn.save(tmp_path / "sr.keras")
    loaded = keras.models.load_model(tmp_path / "sr.keras")
    assert loaded.get_layer("act2").window_start == snn.get_layer("act2").window_start
    np.testing.assert_array_equal(loaded.predict(images, verbose=0), snn.predict(images, verbose=0))
