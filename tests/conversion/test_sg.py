"""SG conversion: the spiking model computes exactly what the quantized ANN computes."""
import keras
import numpy as np
import pytest

from conversion import ConversionError, ThresholdError, convert, verify
from layers import QuantActivation, QuantConv2D
from layers.spiking import threshold_ladder
from models import build_model, build_preset


def _assert_identical(model, snn, images):
    result = verify(model, snn, images, batch_size=16)
    assert [(row.name, row.differing) for row in result.layers] == [(row.name, 0) for row in result.layers]
    assert result.agreement == len(images)
    assert result.logit_ratio_exact
    return result


@pytest.mark.parametrize("k, B", [(0, 1), (0, 2), (1, 1), (1, 2), (1, 4), (2, 1)])
def test_random_models_match_ann_for_every_neuron(small_model, k, B):
    model, images = small_model(k, B, seed=10 * k + B)
    gammas = np.concatenate([layer.gamma.numpy() for layer in model.layers
                             if isinstance(layer, keras.layers.BatchNormalization)])
    assert (gammas < 0).any() and (gammas == 0).any()  # the cases the seed code does not handle
    snn = convert(model, method="sg")
    _assert_identical(model, snn, images)
    # Not vacuous: every spike count 0..L occurs in some hidden layer.
    counts = keras.Model(snn.input, snn.get_layer("act2").output).predict(images, verbose=0)
    assert set(np.unique(counts)) == set(range(2**k * B + 1))


def test_inputs_exactly_at_thresholds(small_model):
    """Every hidden neuron exactly on a rounding tie, where float32 and exact math part ways.

    var is the float32 just above 1 - eps: the ANN's float32 var + eps rounds to exactly 1, so it
    computes y = z - mu and, with mu on half steps, every y * 2^k is m + 1/2 and rounds up. In exact
    arithmetic sigma = sqrt(var + eps) = 1 + 2.3e-8, y sits just below the tie and rounds down. The
    exact-math ladder therefore disagrees with the trained (float32) ANN; the calibrated one agrees.
    """
    k, B = 1, 2
    model, images = small_model(k, B, seed=3)
    var = np.nextafter(np.float32(1.0) - np.float32(1e-5), np.float32(2.0))
    assert np.float32(var + np.float32(1e-5)) == 1.0 and float(var) + 1e-5 > 1.0
    for i in (1, 2, 3, 4):
        channels = model.get_layer(f"bn{i}").moving_mean.shape[0]
        model.get_layer(f"bn{i}").set_weights([np.ones(channels), np.zeros(channels),
                                               (np.arange(channels) % 5 - 1.5) / 2**k, np.full(channels, var)])
    snn, report = convert(model, return_report=True)
    assert all(report[f"act{i}"]["corrections"] > 0 for i in (1, 2, 3, 4))
    _assert_identical(model, snn, images)
    exact_math = verify(model, convert(model, calibrate=False), images, batch_size=16)
    assert exact_math.layers[1].differing > 0  # the near-tie problem is real, not hypothetical


def test_ladder_reproduces_ann_around_every_threshold(small_model):
    """Potentials at t-2..t+2 of every hidden threshold: ladder count == ANN's count."""
    model, _ = small_model(1, 2, seed=5)
    snn = convert(model)
    for name in ("act1", "act2", "act3", "act4"):
        neuron = snn.get_layer(name)
        t = neuron.thresholds.numpy().astype(np.int64)  # (C, L)
        # Rows: every threshold level shifted by -2..+2; constant channels' sentinels clipped.
        v = np.concatenate([t.T + d for d in range(-2, 3)]).clip(-2**20, 2**20)  # (5 L, C)
        ann = model.get_layer(name)
        bn = model.get_layer(name.replace("act", "bn"))
        z = (v / 2.0).astype(np.float32)
        shape = (len(v), *[1] * (len(bn.input.shape) - 2), t.shape[0])
        expected = np.asarray(ann(bn(z.reshape(shape), training=False))).reshape(v.shape) * 2
        got = np.asarray(threshold_ladder(v.astype(np.float32), neuron.thresholds, neuron.signs))
        np.testing.assert_array_equal(got, expected)


def test_gamma_zero_channel_is_constant(small_model):
    model, images = small_model(1, 2, seed=7)
    bn = model.get_layer("bn2")
    gamma, beta, mean, var = bn.get_weights()
    gamma[0], beta[0] = 0.0, 0.8  # y = 0.8 everywhere -> q = 1.0 -> 2 spikes
    bn.set_weights([gamma, beta, mean, var])
    snn = convert(model)
    counts = keras.Model(snn.input, snn.get_layer("act2").output).predict(images, verbose=0)
    assert np.all(counts[..., 0] == 2)
    _assert_identical(model, snn, images)


def test_lenet_preset_converts_and_matches():
    keras.utils.set_random_seed(1)
    model = build_preset("lenet", k=1, B=2)
    images = np.random.default_rng(1).integers(0, 256, (16, 28, 28, 1)).astype(np.float32)
    snn = convert(model)
    # the seeds' LeNet: five hidden conv layers (the 256-unit one is a 4x4 conv), then the readout
    assert [type(layer).__name__ for layer in snn.layers[2:]] == [
        "SpikeEncoding", *["SpikingConv2D", "MultiThresholdNeuron"] * 5, "Reshape", "SpikingReadout"]
    assert snn.get_layer("conv3").kernel.dtype == "int8"
    assert snn.get_layer("act2").thresholds.dtype == "int32"
    _assert_identical(model, snn, images)


# ------------------------------------------------------------------------------------- errors


def test_unsupported_layers_listed_in_one_error():
    inputs = keras.Input((28, 28, 1), name="images")
    x = keras.layers.Conv2D(4, 3, use_bias=False, name="enc")(inputs)
    x = keras.layers.BatchNormalization(name="bn0")(x)
    x = QuantActivation(1, 2, name="act0")(x)
    x = keras.layers.MaxPooling2D(name="maxpool")(x)
    x = keras.layers.Dropout(0.5, name="drop")(x)
    x = QuantConv2D(4, 3, name="conv1")(x)
    x = keras.layers.BatchNormalization(name="bn1")(x)
    x = QuantActivation(1, mode="unbounded", name="act1")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    outputs = keras.layers.Dense(10, use_bias=False, name="classifier")(x)
    model = keras.Model(inputs, outputs, name="bad")
    with pytest.raises(ConversionError) as err:
        convert(model)
    message = str(err.value)
    assert "3 unsupported layer(s)" in message
    for expected in ("maxpool (MaxPooling2D)", "drop (Dropout)", "act1 (QuantActivation: mode 'unbounded'"):
        assert expected in message


def test_float_model_fails_with_every_relu_listed():
    with pytest.raises(ConversionError) as err:
        convert(build_preset("lenet_fp"))
    message = str(err.value)
    for i in range(6):
        assert f"act{i} (ReLU)" in message
    assert "conv3 (Conv2D: a float conv can only be the encoding" in message


def test_allint_preset_is_rejected_for_sg():
    with pytest.raises(ConversionError, match="act1 \\(QuantActivation: mode 'unbounded'"):
        convert(build_preset("lenet_allint", k=0))


def test_unknown_method():
    with pytest.raises(ValueError, match="unknown conversion method 'tdta'; valid: sg"):
        convert(build_model("4C5-8", k=1, B=2), method="tdta")


def test_threshold_out_of_range_names_layer_and_channel():
    model = build_model("4C5-P2-8", k=1, B=2)
    bn = model.get_layer("bn1")
    gamma, beta, mean, var = bn.get_weights()
    gamma[3] = 1e-12  # theta ~ sigma / gamma ~ 1e12: beyond int32
    bn.set_weights([gamma, beta, mean, var])
    with pytest.raises(ThresholdError, match="layer 'act1', channel 3, threshold 0: .* outside the int32 range"):
        convert(model)
