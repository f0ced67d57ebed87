"""Methods are plugins: a toy method registered here, and nowhere else, runs through
evaluate_snn.py's one pipeline, its counting and its export.

The toy converts Input -> Rescaling -> Conv2D -> ReLU -> Flatten -> Dense -> ReLU -> Dense: the
first conv + ReLU become a rounding encoder (counts 0..L), the hidden Dense a shared SpikingDense
synapse with a float kernel, its ReLU an identity neuron that passes the counts through, and the
classifier the shared SpikingReadout. Structural layers (input, rescaling, flatten) come from the
shared chain; only these three converters are the toy's.
"""
import json

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import ops

import evaluate_snn
from conversion import METHODS, Method, SpikeCounter, register_method
from conversion.chain import ConversionError, Converter, convert_chain
from layers.base import SpikingLayer
from layers.spiking import SpikingDense, SpikingReadout

LEVELS = 3


@keras.saving.register_keras_serializable(package="toy_method_test")
class RoundingEncoder(SpikingLayer):
    role, operation, levels = "encoder", "conv", LEVELS

    def __init__(self, filters, kernel_size, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.kernel_size = int(filters), tuple(kernel_size)

    def build(self, input_shape):
        self.kernel = self._constant("kernel", (*self.kernel_size, input_shape[-1], self.filters), "float32")

    def call(self, images):
        counts = ops.clip(ops.floor(ops.conv(images, self.kernel)), 0, LEVELS)
        return ops.expand_dims(counts, 1)  # (batch, T=1, H, W, C)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size}


@keras.saving.register_keras_serializable(package="toy_method_test")
class IdentityNeuron(SpikingLayer):
    role, levels = "neuron", 1

    def call(self, counts):
        return counts


class _State:
    time_steps, spiking, synapse, bn, inputs, x = 1, False, None, None, None, None


def _relu(layer, state):
    if not state.spiking:
        conv = state.synapse
        encoder = RoundingEncoder(conv.filters, conv.kernel_size, name=layer.name)
        state.x = encoder(state.x)
        encoder.kernel.assign(conv.kernel.numpy())
        state.spiking = True
    else:
        state.x = IdentityNeuron(name=layer.name)(state.x)
    state.synapse = None


def _conv(layer, state):
    state.synapse = layer


def _dense(layer, state):
    if layer is state.last:
        synapse = SpikingReadout(layer.units, name=layer.name)
    else:
        synapse = SpikingDense(layer.units, kernel_dtype="float32", name=layer.name)
    state.x = synapse(state.x)
    synapse.kernel.assign(layer.kernel.numpy())
    state.synapse = layer


def _no_pooling(layer, pos, options):
    return None if layer.get_config()["max_value"] is None else "a capped ReLU is not the toy's"


CONVERTERS = {keras.layers.Conv2D: Converter(_conv), keras.layers.ReLU: Converter(_relu, _no_pooling),
              keras.layers.Dense: Converter(_dense)}


def toy_convert(ann, return_report=False):
    state = _State()
    state.last = ann.layers[-1]
    convert_chain(ann, CONVERTERS, state, "toy")
    snn = keras.Model(state.inputs, state.x, name="toy_snn")
    return (snn, {}) if return_report else snn


def toy_summary(facts, options, runs, ann_pred, labels, conversion):
    counts = runs[0]["report"].to_dict()
    return {"num_images": int(len(labels)), "snn_accuracy": runs[0]["accuracy"], "layers": counts["layers"],
            "totals": counts["totals"]}


TOY = Method(
    name="toy", help="toy: rounding encoder and identity neurons (a test plugin)",
    convert=toy_convert, converters=CONVERTERS, default_model="lenet",
    model_facts=lambda ann, path, options: {}, run_dir=lambda facts, options: "toy",
    describe=lambda facts, options: "toy conversion",
    counter=lambda snn, dataset: SpikeCounter(snn), summarize=toy_summary,
    seed_files=lambda run: {"spike_num.txt": "".join(f"{v!r}\n" for v in run["report"].spike_num)},
    table=lambda report, summary: f"toy: {report.totals()['spikes']} spikes",
)


@pytest.fixture
def toy_method():
    register_method(TOY)
    yield TOY
    METHODS.pop("toy")


def _toy_ann():
    keras.utils.set_random_seed(3)
    x = inputs = keras.Input((28, 28, 1))
    x = keras.layers.Rescaling(1 / 64)(x)
    x = keras.layers.Conv2D(4, 5, use_bias=False, name="conv0")(x)
    x = keras.layers.ReLU(name="act0")(x)
    x = keras.layers.Flatten(name="flatten1")(x)
    x = keras.layers.Dense(8, use_bias=False, name="fc1")(x)
    x = keras.layers.ReLU(name="act1")(x)
    outputs = keras.layers.Dense(10, use_bias=False, name="classifier")(x)
    ann = keras.Model(inputs, outputs, name="lenet")
    fc1 = ann.get_layer("fc1")
    fc1.kernel.assign(np.random.default_rng(0).integers(0, 2, fc1.kernel.shape).astype(np.float32))
    return ann


def test_a_toy_method_runs_through_the_pipeline_counting_and_export(tmp_path, data_dir, toy_method):
    path = tmp_path / "toy_ann.keras"
    _toy_ann().save(path)
    out = tmp_path / "run"
    code = evaluate_snn.main(["--method", "toy", "--checkpoint", str(path), "--limit-test", "60",
                              "--batch-size", "30", "--data-dir", str(data_dir), "--output-dir", str(out)])
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["method"] == "toy" and summary["num_images"] == 60

    # Counting read the toy's layers by their roles: its spikes are the encoder's and neuron's counts.
    snn = keras.saving.load_model(out / "snn.keras")
    from snn_data import load_arrays

    images = load_arrays("mnist", "test", data_dir)[0][:60].astype(np.float32)
    probe = keras.Model(snn.input, [snn.get_layer("act0").output, snn.get_layer("act1").output])
    act0, act1 = (np.asarray(a) for a in probe.predict(images, verbose=0))
    rows = {row["name"]: row for row in summary["layers"]}
    assert [row["role"] for row in summary["layers"]] == ["encoding", "hidden", "readout"]
    assert rows["act0"]["spikes"] == int(act0.sum()) > 0
    assert rows["act1"]["spikes"] == int(act1.sum()) > 0
    assert rows["act1"]["levels"] == 1 and rows["act1"]["synapse"] == "fc1"
    assert summary["totals"]["spikes"] == rows["act0"]["spikes"] + rows["act1"]["spikes"]
    # hidden SOPs: every encoder spike reaches the 8 units of fc1 (one sub-neuron each)
    assert rows["act1"]["sops"] == 8 * rows["act0"]["spikes"]
    # the toy's seed file: one line per (batch, step), spikes so far within the batch (T = 1)
    assert (out / "spike_num.txt").read_text().splitlines() == [
        repr(float(act0[i:i + 30].sum() + act1[i:i + 30].sum())) for i in (0, 30)]

    # Export found the toy's emitters without knowing their classes.
    exported = tf.saved_model.load(str(out / "snn.export"))
    counts = exported.spike_counts(tf.constant(images[:5].astype(np.uint8)))
    assert set(counts) == {"act0", "act1"}
    np.testing.assert_array_equal(counts["act1"].numpy(), act1[:5])


def test_the_toy_method_is_refused_where_it_declares_nothing(tmp_path, data_dir, toy_method, capsys):
    path = tmp_path / "toy_ann.keras"
    _toy_ann().save(path)
    code = evaluate_snn.main(["--method", "toy", "--checkpoint", str(path), "--hardware", "paicore",
                              "--data-dir", str(data_dir)])
    assert code == 2 and "no hardware mapping accepts toy SNNs" in capsys.readouterr().err
    with pytest.raises(ConversionError, match="capped ReLU"):
        bad = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Conv2D(2, 3, use_bias=False),
                                keras.layers.ReLU(max_value=6.0), keras.layers.Flatten(),
                                keras.layers.Dense(10, use_bias=False)])
        toy_convert(bad)


@pytest.mark.parametrize("name", ["sg", "allint", "rate", "sr"])
def test_each_shipped_method_names_converters_and_a_convert_hook_that_load(name):
    """The shipped methods give their Keras parts by module path (conversion.method.lazy): each
    path must resolve, to converters keyed by layer type and to a conversion that runs."""
    method = METHODS[name]
    table = method.converter_table()
    assert table and all(isinstance(kind, type) and isinstance(c, Converter) for kind, c in table.items())
    ann = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])  # a float model: refused by every method
    with pytest.raises(ConversionError):
        method.convert(ann)
