"""NIR export, checked by tests/conversion/nir_interpreter.py, which knows only the NIR spec.

The Keras SNN is the reference: the interpreter runs the exported file and must reproduce its
predictions and every spiking layer's per-neuron counts exactly; mutated graphs must fail that.
"""
import json
import os
from pathlib import Path

import keras
import nir
import numpy as np
import pytest

import evaluate_snn
from conversion import NIR_METHODS, NirExportError, add_noise, convert, export_nir, nir_graph, nir_support
from layers.base import emitters
from models import build_model
from tests.conversion import nir_interpreter as interpreter
from tests.conversion.conftest import random_images, randomize_bn

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "pretrained" / "lenet_mnist_k1B2"
# The formula network flattens 4x4x32 into a hidden dense layer: where a wrong flatten order shows.
FORMULA = REPO / "pretrained" / "lenet_readme_mnist_k1B2_noise"
# Real-MNIST images compared by default (the acceptance run used all 10000: see the slow test).
MNIST_IMAGES = int(os.environ.get("NIR_TEST_IMAGES", "1000"))


# ----------------------------------------------------------------------------------- helpers


def keras_reference(snn, images):
    """The Keras SNN's predictions and {emitter name: counts (N, C, H, W) or (N, F)}."""
    names = [layer.name for layer in emitters(snn)]
    probe = keras.Model(snn.input, {**{n: snn.get_layer(n).output for n in names}, "logits": snn.output})
    out = probe.predict(images, batch_size=200, verbose=0)
    counts = {n: _to_chw(np.asarray(out[n])[:, 0]).astype(np.uint8) for n in names}  # SG: T = 1, counts 0..L
    return np.argmax(out["logits"], axis=1), counts


def _to_chw(x):
    return x.transpose(0, 3, 1, 2) if x.ndim == 4 else x


def run_file(path, raw_images, keep, batch=100):
    """Interpreter predictions and the outputs of nodes `keep` (spike counts, as uint8) on raw
    images, preprocessed as the file's metadata says."""
    graph = interpreter.load(path)
    steps = json.loads(graph.metadata["preprocessing"])
    assert [s["type"] for s in steps] == ["Rescaling"]  # MNIST models: x * scale (+ offset)
    preds, kept = [], {name: [] for name in keep}
    for start in range(0, len(raw_images), batch):
        x = raw_images[start:start + batch].astype(np.float64) * steps[0]["scale"] + steps[0]["offset"]
        out, trace = interpreter.run(graph, x.transpose(0, 3, 1, 2), trace=True)
        preds.append(np.argmax(out["output"], axis=1))
        for name in keep:
            counts = trace[name]
            assert np.array_equal(counts, np.round(counts)) and counts.min() >= 0 and counts.max() < 256
            kept[name].append(counts.astype(np.uint8))  # a whole test set of float64 traces fills memory
    return np.concatenate(preds), {name: np.concatenate(parts) for name, parts in kept.items()}


def mismatches(reference, preds, trace):
    """(images whose prediction differs, {layer: differing neuron counts})."""
    ref_preds, ref_counts = reference
    return int(np.sum(preds != ref_preds)), {n: int(np.sum(trace[n] != c)) for n, c in ref_counts.items()}


def assert_agrees(reference, preds, trace):
    wrong, per_layer = mismatches(reference, preds, trace)
    assert wrong == 0 and not any(per_layer.values()), (wrong, per_layer)


def _converted(folder):
    import layers  # noqa: F401  (registers the custom layers)

    return convert(keras.models.load_model(folder / "model.keras"), "sg")


@pytest.fixture(scope="module")
def shipped_snn():
    return _converted(SHIPPED)


@pytest.fixture(scope="module")
def shipped_file(shipped_snn, tmp_path_factory):
    return export_nir(shipped_snn, tmp_path_factory.mktemp("nir") / "snn.nir")


@pytest.fixture(scope="module")
def mnist_subset(mnist_test):
    images, labels = mnist_test
    return images[:MNIST_IMAGES].astype(np.float32), labels[:MNIST_IMAGES]


@pytest.fixture(scope="module")
def shipped_reference(shipped_snn, mnist_subset):
    return keras_reference(shipped_snn, mnist_subset[0])


# ------------------------------------------------------------- the shipped LeNet on real MNIST


def test_shipped_lenet_file_reproduces_the_keras_snn_on_mnist(shipped_file, shipped_reference, mnist_subset):
    preds, trace = run_file(shipped_file.path, mnist_subset[0], keep=shipped_reference[1])
    assert len(preds) == MNIST_IMAGES >= 1000 or "NIR_TEST_IMAGES" in os.environ
    assert_agrees(shipped_reference, preds, trace)
    assert set(shipped_reference[1]) == {"act0", "act1", "act2", "act3", "act4", "act5"}
    assert np.mean(preds == mnist_subset[1]) > 0.98  # and the predictions are the model's, not noise
    print(f"NIR interpreter == Keras SNN on {len(preds)} MNIST images; file {shipped_file.bytes} bytes")


@pytest.mark.slow
def test_shipped_lenet_file_on_the_full_mnist_test_set(shipped_snn, shipped_file, mnist_test):
    """All 10000 images. The encoding conv is float: Keras sums it in float32, the interpreter in
    float64 (near exact math), so a potential within float32 rounding of a threshold can fire on
    one side only. Such near-ties are the only difference allowed, and they must be rare."""
    images = mnist_test[0].astype(np.float32)
    reference = keras_reference(shipped_snn, images)
    preds, trace = run_file(shipped_file.path, images, keep=reference[1])
    assert np.array_equal(preds, reference[0])
    ties = np.flatnonzero((trace["act0"] != reference[1]["act0"]).reshape(len(images), -1).any(axis=1))
    assert len(ties) <= len(images) // 1000, ties
    clean = np.setdiff1d(np.arange(len(images)), ties)
    for name, counts in reference[1].items():  # every other image: every layer's count exact
        np.testing.assert_array_equal(trace[name][clean], counts[clean], err_msg=name)
    margins = _encoding_margins(shipped_file.path, images[ties], reference[1]["act0"][ties])
    assert all(margin < 1e-5 for margin in margins), margins
    print(f"NIR interpreter == Keras SNN on {len(images)} MNIST images (predictions); every layer's counts "
          f"equal on {len(clean)}; {len(ties)} images with encoding near-ties (relative margins {margins})")


def _encoding_margins(path, raw_images, keras_counts):
    """Per image, the largest relative distance |sign V - t| / |t| between an encoding neuron's
    potential and its nearest threshold, over the neurons whose count differs from Keras."""
    graph = interpreter.load(path)
    x = raw_images.astype(np.float64) * json.loads(graph.metadata["preprocessing"])[0]["scale"]
    _, trace = interpreter.run(graph, x.transpose(0, 3, 1, 2), trace=True)
    signed_v, t = trace["act0_scatter"], graph.nodes["act0_threshold"].threshold
    channels = keras_counts.shape[1]
    gap = np.abs(signed_v - t) / np.maximum(np.abs(t), 1e-30)  # (n, L*C, H, W)
    nearest = gap.reshape(len(x), -1, channels, *gap.shape[2:]).min(axis=1)  # over the L sub-neurons
    differ = trace["act0"] != keras_counts
    return [float(nearest[i][differ[i]].max()) for i in range(len(x))]


def test_file_metadata_and_size(shipped_file):
    graph = nir.read(shipped_file.path)
    meta = graph.metadata
    assert (meta["method"], meta["fidelity"], meta["nir_version"]) == ("sg", "exact", nir.version)
    assert (int(meta["k"]), int(meta["B"]), int(meta["levels"]), int(meta["time_steps"])) == (1, 2, 4, 1)
    assert list(meta["input_shape"]) == [1, 28, 28]
    assert "/ 256" in meta["input_preprocessing"] and "(C, H, W)" in meta["input_preprocessing"]
    assert json.loads(meta["preprocessing"]) == [{"type": "Rescaling", "scale": 1 / 256, "offset": 0.0}]
    assert "argmax" in meta["readout"] and "v > threshold" in meta["execution"]
    assert meta["importer_must"]
    assert shipped_file.bytes == shipped_file.path.stat().st_size
    assert 100_000 < shipped_file.bytes < 1_000_000  # scatter/gather form, not weights replicated L times
    # one chain, built only from the nodes docs/nir.md §2 names
    kinds = {type(node).__name__ for node in graph.nodes.values()}
    assert kinds == {"Input", "Output", "Conv2d", "Linear", "Flatten", "Threshold"}
    assert len(graph.edges) == len(graph.nodes) - 1


# ---------------------------------------------------------------- the comparison is sensitive


def _mutated(path, tmp_path, mutate):
    graph = nir.read(path)
    mutate(graph.nodes)
    out = tmp_path / "mutant.nir"
    nir.write(out, graph)
    return out


def _keras_flatten_order(nodes):
    """The classic exporter bug: fc4's columns left in Keras' (H, W, C) order."""
    c, h, w = (int(d) for d in nodes["flatten4"].input_type["input"])
    weight = nodes["fc4"].weight
    nodes["fc4"].weight = weight.reshape(-1, c, h, w).transpose(0, 2, 3, 1).reshape(weight.shape)


def _threshold_up_one(nodes):
    """act2 fires at V >= theta + 1 instead of V >= theta."""
    nodes["act2_threshold"].threshold = nodes["act2_threshold"].threshold + 1


@pytest.mark.parametrize("folder,mutate,first_wrong", [(FORMULA, _keras_flatten_order, "act4"),
                                                       (SHIPPED, _threshold_up_one, "act2")])
def test_mutated_graphs_fail_the_comparison(mnist_subset, tmp_path, folder, mutate, first_wrong):
    n = 200
    snn = _converted(folder)
    reference = keras_reference(snn, mnist_subset[0][:n])
    mutant = _mutated(export_nir(snn, tmp_path / "snn.nir").path, tmp_path, mutate)
    preds, trace = run_file(mutant, mnist_subset[0][:n], keep=reference[1])
    wrong, per_layer = mismatches(reference, preds, trace)
    layers = list(per_layer)
    assert all(per_layer[name] == 0 for name in layers[:layers.index(first_wrong)])
    assert per_layer[first_wrong] > 0, per_layer
    with pytest.raises(AssertionError):
        assert_agrees(reference, preds, trace)


# ------------------------------------------------- freshly built models: SAME, VALID, stride 2


@pytest.mark.parametrize("arch,k,B,seed", [
    ("8C5s-8C3s-P2-16C4v", 1, 2, 0),  # SAME encoder and hidden conv, P2, 4x4 VALID, flatten 11x11x16
    ("6C5v-P2-8C5v-P2-16C4v-12", 0, 1, 1),  # 4x4 VALID conv to 1x1, flatten 1x1x16, dense, classifier
    ("8C5s-P2-16C5v-P2-12", 1, 1.5, 2),  # SAME encoder, flatten 5x5x16 -> dense, L = 3
])
def test_fresh_models_with_every_layer_kind(arch, k, B, seed, tmp_path):
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    model = build_model(arch, dataset="mnist", k=k, B=B)
    images = random_images(rng, 64)
    randomize_bn(model, images, rng)  # negative and zero gammas: signs and constant channels
    snn = convert(model, "sg")
    result = export_nir(snn, tmp_path / "snn.nir")
    reference = keras_reference(snn, images)
    preds, trace = run_file(result.path, images, keep=reference[1], batch=64)
    assert_agrees(reference, preds, trace)
    assert len(set(preds.tolist())) > 1 and any(c.any() for c in reference[1].values())  # not trivial


def test_same_padding_is_written_as_symmetric_pixels(tmp_path):
    snn = convert(build_model("8C5s-8C3s-P2-16C4v", dataset="mnist", k=1, B=2), "sg")
    nodes = nir_graph(snn).nodes
    assert tuple(nodes["act0_synapse"].padding) == (2, 2) and tuple(nodes["conv1"].padding) == (1, 1)
    assert tuple(nodes["pool2"].padding) == (0, 0) and tuple(nodes["pool2"].stride) == (2, 2)


def test_asymmetric_same_padding_is_refused_before_writing(tmp_path):
    snn = convert(build_model("8C4s-P2-8C3v", dataset="mnist", k=1, B=2), "sg")  # even SAME kernel
    path = tmp_path / "snn.nir"
    with pytest.raises(NirExportError, match="act0_synapse.*symmetric"):
        export_nir(snn, path)
    assert not list(tmp_path.iterdir())


def test_noisy_and_multi_step_snns_are_refused(tmp_path):
    model = build_model("4C5-P2-6C3-P2-12", dataset="mnist", k=0, B=1)
    with pytest.raises(NirExportError, match="SpikeDeletion"):
        export_nir(add_noise(convert(model, "sg"), "encoding", 0.1, 0), tmp_path / "a.nir")
    with pytest.raises(NirExportError, match="T=2"):
        export_nir(convert(model, "sg", time_steps=2), tmp_path / "b.nir")
    assert not list(tmp_path.iterdir())


# -------------------------------------------------------------------------- the all-integer SNN


def test_methods_declare_their_nir_fidelity():
    assert NIR_METHODS["sg"].fidelity == "exact" and NIR_METHODS["allint"].fidelity == "refused"
    assert nir_support("sg").build is not None
    with pytest.raises(NirExportError, match="signed"):
        nir_support("allint")


def test_allint_snn_is_refused_without_writing(tmp_path):
    model = build_model("4C5-P2-6C3-P2-12", dataset="mnist", k=0, B=4, quantization="allint")
    snn = convert(model, "allint", time_steps=4)
    with pytest.raises(NirExportError, match="cannot be exported to NIR"):
        export_nir(snn, tmp_path / "snn.nir")
    assert not list(tmp_path.iterdir())


def test_cli_refuses_allint_with_one_line_and_exit_2(tmp_path, capsys):
    out = tmp_path / "run"
    assert evaluate_snn.main(["--method", "allint", "--export-nir", "--output-dir", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot be exported to NIR" in err and "signed" in err
    assert not out.exists()


def test_cli_writes_snn_nir_and_reports_its_size(tmp_path, data_dir, capsys):
    out = tmp_path / "run"
    args = ["--checkpoint", str(SHIPPED), "--output-dir", str(out), "--data-dir", str(data_dir),
            "--limit-test", "200", "--export", "False", "--export-nir"]
    assert evaluate_snn.main(args) == 0
    summary = json.loads((out / "summary.json").read_text())
    size = (out / "snn.nir").stat().st_size
    assert summary["nir"] == {"file": "snn.nir", "bytes": size, "method": "sg", "fidelity": "exact",
                              "nir_version": nir.version}
    assert f"({size:,} bytes, sg, exact)" in capsys.readouterr().out
    assert nir.read(out / "snn.nir").metadata["method"] == "sg"


# ----------------------------------------------------------- the interpreter against the spec


def test_interpreter_threshold_is_strict_and_conv_follows_the_torch_formula():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 3, 7, 6))
    weight = rng.normal(size=(4, 3, 3, 3)).astype(np.float32)  # square: nir 1.0.8 infers both axes from kH
    bias = rng.normal(size=4).astype(np.float32)
    conv = nir.Conv2d(input_shape=(7, 6), weight=weight, stride=(2, 1), padding=(1, 0), dilation=(1, 2),
                      groups=1, bias=bias)
    y = interpreter.conv2d(x, conv, np.float64)
    padded = np.pad(x, ((0, 0), (0, 0), (1, 1), (0, 0)))
    expected = np.zeros((2, 4, 4, 2))  # floor((7 + 2 - 2 - 1) / 2 + 1) = 4, floor((6 - 2 * 2 - 1) / 1 + 1) = 2
    for o in range(4):
        for i in range(4):
            for j in range(2):
                patch = padded[:, :, 2 * i:2 * i + 3, j:j + 5:2]
                expected[:, o, i, j] = np.sum(patch * weight[o], axis=(1, 2, 3)) + bias[o]
    assert y.shape == tuple([2, *conv.output_type["output"]])
    np.testing.assert_allclose(y, expected, rtol=1e-12)
    threshold = nir.Threshold(threshold=np.array([1.0, 2.0]))
    graph = nir.NIRGraph.from_list(threshold)
    np.testing.assert_array_equal(interpreter.run(graph, np.array([[1.0, 2.5]]))["output"], [[0.0, 1.0]])


def test_interpreter_refuses_nodes_it_does_not_know():
    graph = nir.NIRGraph.from_list(nir.IF(r=np.ones(2), v_threshold=np.ones(2), v_reset=np.zeros(2)))
    with pytest.raises(interpreter.UnsupportedNode):
        interpreter.run(graph, np.zeros((1, 2)))
