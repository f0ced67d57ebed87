"""The rate-coded conversion (docs/rate.md §2-4): IF dynamics, timing, readout, percentile scales,
round trips."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from conversion import export_snn_saved_model
from conversion.chain import ConversionError
from conversion.rate import convert_rate, percentile_scales, relu_after, weight_factors
from layers.rate import IFNeuron, SummingReadout, delay_steps, integrate_and_fire


def _if(currents):
    spikes, v = integrate_and_fire(tf.constant(np.asarray(currents, np.float32)[None, :, None]),
                                   return_potential=True)
    return np.asarray(spikes)[0, :, 0], np.asarray(v)[0, :, 0]


def test_if_subtract_reset_and_greater_or_equal():
    spikes, v = _if([0.75] * 6)
    # v: .75, 1.5 -> spike, .5 left; 1.25 -> spike, .25; 1.0 -> spike (>=), 0; .75
    np.testing.assert_array_equal(spikes, [0, 1, 1, 1, 0, 1])
    np.testing.assert_allclose(v, [0.75, 1.5, 1.25, 1.0, 0.75, 1.5])


def test_if_at_most_one_spike_per_step_and_no_lower_bound():
    spikes, v = _if([2.5, 2.5, -10.0, 3.0, 3.0, 3.0])
    np.testing.assert_array_equal(spikes, [1, 1, 0, 0, 0, 1])
    # 2.5 -> 1.5 kept, 4.0 -> 3.0 kept, -7 (not clipped at 0), -4, -1, 2 -> spike
    np.testing.assert_allclose(v, [2.5, 4.0, -7.0, -4.0, -1.0, 2.0])


def test_delay_and_readout_sum_the_delayed_input():
    spikes = np.zeros((1, 5, 2), np.float32)
    spikes[0, 0, 0] = spikes[0, 2, 1] = 1
    np.testing.assert_array_equal(np.asarray(delay_steps(tf.constant(spikes), 1))[0, :, 0], [0, 1, 0, 0, 0])
    readout = SummingReadout(2, delay=1)
    readout.build((None, 5, 2))
    readout.kernel.assign(np.array([[1.0, 2.0], [10.0, 20.0]], np.float32))
    logits = np.asarray(readout(tf.constant(spikes)))[0]
    # step t sums W s(tau - 1) for tau <= t
    np.testing.assert_allclose(logits, [[0, 0], [1, 2], [1, 2], [11, 22], [11, 22]])
    same = SummingReadout(2, delay=0)
    same.build((None, 5, 2))
    same.kernel.assign(readout.kernel.numpy())
    np.testing.assert_allclose(np.asarray(same(tf.constant(spikes)))[0, 0], [1, 2])


def _tiny():
    """images -> conv0 (ReLU) -> conv1 -> pool -> ReLU -> flatten -> fc2 -> ReLU -> classifier."""
    inputs = keras.Input((4, 4, 1))
    x = keras.layers.Conv2D(2, 1, use_bias=False, name="conv0")(inputs)
    x = keras.layers.ReLU(name="act0")(x)
    x = keras.layers.Dropout(0.5, name="drop0")(x)
    x = keras.layers.Conv2D(2, 3, padding="same", use_bias=False, name="conv1")(x)
    x = keras.layers.AveragePooling2D(2, name="pool1")(x)
    x = keras.layers.ReLU(name="act1")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(3, use_bias=False, name="fc2")(x)
    x = keras.layers.ReLU(name="act2")(x)
    x = keras.layers.Dense(2, use_bias=False, name="classifier")(x)
    model = keras.Model(inputs, x, name="tiny")
    for layer in model.layers:
        if layer.weights:
            layer.kernel.assign(np.full(layer.kernel.shape, 2.0, np.float32))
    return model


def _first_nonzero_steps(snn, images):
    names = ["conv0", "act1", "act2", "classifier"]
    probe = keras.Model(snn.input, [snn.get_layer(n).output for n in names])
    firsts = []
    for out in probe.predict(images, verbose=0):
        active = np.abs(out).reshape(out.shape[0], out.shape[1], -1).sum(axis=(0, 2)) > 0
        firsts.append(int(np.argmax(active)))
    return dict(zip(names, firsts))


def test_synchronous_timing_delays_each_layer_one_step():
    images = np.ones((2, 4, 4, 1), np.float32)
    model = _tiny()
    sync = convert_rate(model, 8)  # no scales: every lambda 1
    # layers after the input: conv0 IF (1), conv1 pass-through (2), pool IF (3), fc2 IF (4), readout (5)
    assert _first_nonzero_steps(sync, images) == {"conv0": 1, "act1": 3, "act2": 4, "classifier": 5}
    one = convert_rate(model, 8, one_step=True)
    assert _first_nonzero_steps(one, images) == {"conv0": 0, "act1": 0, "act2": 0, "classifier": 0}


def test_percentile_scales_against_a_hand_computation():
    inputs = keras.Input((2, 2, 1))
    x = keras.layers.Conv2D(1, 1, use_bias=False, name="conv0")(inputs)
    x = keras.layers.ReLU(name="act0")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(2, use_bias=False, name="fc1")(x)
    x = keras.layers.ReLU(name="act1")(x)
    x = keras.layers.Dense(2, use_bias=False, name="classifier")(x)
    model = keras.Model(inputs, x)
    model.get_layer("conv0").kernel.assign(np.ones((1, 1, 1, 1), np.float32))
    model.get_layer("fc1").kernel.assign(np.array([[1, 0], [1, 0], [0, 0], [0, -1]], np.float32))
    images = np.array([[0, 1, 2, -3], [4, 5, 6, 7]], np.float32).reshape(2, 2, 2, 1)
    scales = percentile_scales(model, images, percentile=50, batch_size=1)
    # act0 = relu(pixels) = [0, 1, 2, 0, 4, 5, 6, 7] -> numpy linear median 3.0 (zeros included)
    # act1 = [relu(0 + 1), relu(-0)] = [1, 0] and [9, 0] -> values [1, 0, 9, 0] -> median 0.5
    assert scales == {"act0": pytest.approx(3.0), "act1": pytest.approx(0.5)}
    assert percentile_scales(model, images, percentile=100)["act0"] == pytest.approx(7.0)
    factors = weight_factors(model, scales)
    assert factors == {"conv0": pytest.approx(1 / 3.0), "fc1": pytest.approx(3.0 / 0.5)}  # classifier unscaled
    snn = convert_rate(model, 4, scales=scales)
    np.testing.assert_allclose(snn.get_layer("fc1").kernel.numpy(), model.get_layer("fc1").kernel.numpy() * 6)
    np.testing.assert_array_equal(snn.get_layer("classifier").kernel.numpy(),
                                  model.get_layer("classifier").kernel.numpy())


def test_conv_before_pool_takes_the_lambda_after_the_pool():
    model = _tiny()
    assert relu_after(model) == {"conv0": "act0", "conv1": "act1", "fc2": "act2"}
    factors = weight_factors(model, {"act0": 2.0, "act1": 8.0, "act2": 4.0})
    assert factors == {"conv0": 0.5, "conv1": 0.25, "fc2": 2.0}


def test_dropout_active_in_calibration_changes_later_layers_only():
    model = _tiny()
    images = np.random.default_rng(0).uniform(0, 1, (16, 4, 4, 1)).astype(np.float32)
    off = percentile_scales(model, images, 99.0)
    train = percentile_scales(model, images, 99.0, dropout="train", seed=1)
    assert train["act0"] == off["act0"]  # the ReLU before its dropout
    assert train["act1"] != off["act1"]


def test_a_dead_relu_and_a_bn_model_are_refused():
    model = _tiny()
    with pytest.raises(ConversionError, match="act1"):
        weight_factors(model, {"act0": 1.0, "act1": 0.0, "act2": 1.0})
    inputs = keras.Input((4, 4, 1))
    x = keras.layers.Conv2D(2, 1, use_bias=False, name="conv0")(inputs)
    x = keras.layers.BatchNormalization(name="bn0")(x)
    x = keras.layers.ReLU(name="act0")(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(2, use_bias=False)(x)
    with pytest.raises(ConversionError, match="bn0"):
        convert_rate(keras.Model(inputs, x), 4)


def test_converged_rates_follow_the_ann():
    model = _tiny()
    for layer in model.layers:
        if layer.weights:
            layer.kernel.assign(np.random.default_rng(len(layer.name)).uniform(-0.5, 1, layer.kernel.shape))
    images = np.random.default_rng(3).uniform(0, 1, (8, 4, 4, 1)).astype(np.float32)
    scales = percentile_scales(model, images, 100)
    snn = convert_rate(model, 400, one_step=True, scales=scales)
    logits = snn.predict(images, verbose=0)[:, -1] / 400 * scales["act2"]
    np.testing.assert_allclose(logits, model.predict(images, verbose=0), atol=0.05 * np.abs(logits).max())


@pytest.mark.parametrize("one_step", [False, True])
def test_keras_and_saved_model_round_trips(one_step, tmp_path):
    model = _tiny()
    pixels = np.random.default_rng(0).integers(0, 3, (3, 4, 4, 1)).astype(np.uint8)  # the export takes uint8
    images = pixels.astype(np.float32)
    snn = convert_rate(model, 6, one_step=one_step, scales=percentile_scales(model, images, 99))
    expected = snn.predict(images, verbose=0)
    snn.save(tmp_path / "snn.keras")
    restored = keras.models.load_model(tmp_path / "snn.keras")
    np.testing.assert_array_equal(restored.predict(images, verbose=0), expected)
    assert restored.get_layer("act1").delay == (0 if one_step else 1)
    export_snn_saved_model(snn, tmp_path / "export")
    loaded = tf.saved_model.load(str(tmp_path / "export"))
    np.testing.assert_allclose(np.asarray(loaded.serve(tf.constant(pixels))), expected[:, -1], rtol=1e-6)


def test_if_neuron_layer_is_a_stateful_neuron():
    layer = IFNeuron(1)
    assert layer.role == "neuron" and not layer.stateless


def test_noise_models_apply_to_the_rate_snn():
    from conversion import add_noise
    from conversion.rate_eval import RateCounter

    model = _tiny()
    images = np.random.default_rng(0).uniform(0.2, 1, (4, 4, 4, 1)).astype(np.float32)
    snn = convert_rate(model, 10, scales=percentile_scales(model, images, 99))

    def spikes(net):
        counter = RateCounter(net)
        counter.update(counter.probe_model.predict_on_batch(images))
        return [row.spikes for row in counter.report.layers]

    clean = spikes(snn)
    deleted = spikes(add_noise(snn, "all-layers", 1.0, 0))  # every spike deleted after it is emitted
    assert clean[0] > 0 and deleted[0] == clean[0] and deleted[1:] == [0] * (len(clean) - 1)
    noisy = add_noise(snn, "input", 0.5, 0)  # x (1 + r (u - 1/2)) on the encoder's input
    assert any(l.name == "conv0_input_noise" for l in noisy.layers)
    assert spikes(noisy)[0] != clean[0]
