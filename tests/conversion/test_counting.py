"""Counting on a tiny net whose every number is worked out by hand below."""
import keras
import numpy as np
import pytest

from conversion import convert, count_spikes
from layers import QuantActivation, QuantConv2D, QuantDense


def _identity_bn(name, channels, x):
    bn = keras.layers.BatchNormalization(epsilon=1e-5, name=name)
    y = bn(x)
    # var = 1 - eps (float32): y == z exactly in the ANN, so the counts below are easy to follow.
    bn.set_weights([np.ones(channels), np.zeros(channels), np.zeros(channels),
                    np.full(channels, np.float32(1) - np.float32(1e-5))])
    return y


@pytest.fixture
def tiny():
    """k=0, B=2 (L=2). 3x3 image -> 1x1 encoding conv (weight 1) -> 2x2 ternary conv, 2 filters
    -> flatten -> ternary dense 3 -> float classifier 2."""
    inputs = keras.Input((3, 3, 1), name="images")
    enc = keras.layers.Conv2D(1, 1, use_bias=False, name="conv0")
    x = _identity_bn("bn0", 1, enc(inputs))
    x = QuantActivation(0, 2, name="act0")(x)
    conv = QuantConv2D(2, 2, name="conv1")
    x = _identity_bn("bn1", 2, conv(x))
    x = QuantActivation(0, 2, name="act1")(x)
    x = keras.layers.Flatten(name="flatten2")(x)
    dense = QuantDense(3, name="fc2")
    x = _identity_bn("bn2", 3, dense(x))
    x = QuantActivation(0, 2, name="act2")(x)
    classifier = keras.layers.Dense(2, use_bias=False, name="classifier")
    model = keras.Model(inputs, classifier(x))
    enc.set_weights([np.ones((1, 1, 1, 1))])
    k1 = np.zeros((2, 2, 1, 2))
    k1[..., 0] = 1  # filter 0: all ones
    k1[0, 0, 0, 1], k1[1, 1, 0, 1] = 1, -1  # filter 1: [[1, 0], [0, -1]]
    conv.set_weights([k1])
    k2 = np.stack([np.ones(8), [1, -1, 0, 0, 1, -1, 0, 0], -np.ones(8)], axis=1)  # (8, 3)
    dense.set_weights([k2])
    classifier.set_weights([np.ones((3, 2))])
    return model


def test_tiny_net_hand_counts(tiny):
    snn = convert(tiny)
    image = np.array([[0, 1, 2], [1, 0, 3], [0.4, 0.6, 1.4]], np.float32).reshape(1, 3, 3, 1)
    images = np.concatenate([image, np.zeros_like(image)])  # the second image emits nothing
    report = count_spikes(snn, images, batch_size=1)
    enc, hidden, fc, readout = report.layers

    # Encoding: counts round(clip(x, 0, 2)) = [[0,1,2],[1,0,2],[0,1,1]] -> 8 spikes.
    assert (enc.role, enc.ann_neurons, enc.levels, enc.sub_neurons, enc.spikes) == ("encoding", 9, 2, 18, 8)
    assert enc.sops is None and enc.macs == 3 * 3 * 1 * 1 * 1 * 1 and enc.counted
    assert enc.firing_rate == pytest.approx(8 / (18 * 2))

    # conv1 windows: filter 0 sums 2, 5, 2, 4 -> counts 2, 2, 2, 2 (8 spikes); filter 1
    # (top-left minus bottom-right) 0, -1, 0, -1 -> 0 spikes.
    # S_in = sum(count * windows covering it), cover [[1,2,1],[2,4,2],[1,2,1]]:
    # 0+2+2 + 2+0+4 + 0+2+1 = 13.  SOP = L * C_out * S_in = 2 * 2 * 13 = 52.
    # Non-zero synapses: filter 0 all taps (13), filter 1 taps (0,0): 0+1+1+0 and (1,1): 0+2+1+1 -> 6;
    # SOP_nonzero = L * (13 + 6) = 38.  MACs = 2*2 outputs * 2 filters * 1 channel * 2*2 = 32.
    assert (hidden.name, hidden.synapse, hidden.ann_neurons, hidden.spikes) == ("act1", "conv1", 8, 8)
    assert (hidden.sops, hidden.sops_nonzero, hidden.sops_seed, hidden.macs) == (52, 38, 104, 32)

    # fc2 input (h, w, c order): [2,0, 2,0, 2,0, 2,0]. Unit 0: V = 8 -> 2; unit 1: 2 + 2 = 4 -> 2;
    # unit 2: -8 -> 0: 4 spikes. SOP = L * units * sum(n_in) = 2 * 3 * 8 = 48; non-zero: rows 0,2,4,6
    # have 3, 2, 3, 2 non-zero weights -> 2 * 2 * 10 = 40. MACs = 8 * 3 = 24.
    assert (fc.ann_neurons, fc.sub_neurons, fc.spikes, fc.sops, fc.sops_nonzero, fc.macs) == (3, 6, 4, 48, 40, 24)

    # Readout: 2 units * 4 input spikes = 8 SOPs, excluded from the totals.
    assert (readout.role, readout.counted, readout.sops, readout.macs) == ("readout", False, 8, 6)

    totals = report.totals()
    assert totals["spikes"] == 8 + 8 + 4
    assert (totals["sops"], totals["sops_seed"], totals["macs_hidden"]) == (100, 200, 56)
    assert report.num_images == 2 and report.time_steps == 1
    assert report.spike_num == [20.0, 0.0] and report.sop_num == [200.0, 0.0]  # one line per batch
    summary = report.to_dict()
    assert summary["per_image"]["spikes"] == 10.0 and "sop" in summary["units"]


def test_lenet_hidden_macs_match_models_package():
    from models import build_preset, hidden_macs

    model = build_preset("lenet", k=1, B=2)
    report = count_spikes(convert(model), np.zeros((2, 28, 28, 1), np.float32))
    assert report.totals()["macs_hidden"] == hidden_macs(model) == 4_849_664
