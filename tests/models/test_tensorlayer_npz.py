"""TensorLayer .npz import: parameter order, exact round trip, shape checks, the authors' own file."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from models import build_preset
from models.tensorlayer_npz import NpzError, assign_npz, import_npz, read_npz, tensorlayer_order, write_npz

REPO = Path(__file__).resolve().parents[2]


def _randomized(name, **kwargs):
    """A preset with every weight (BN statistics included) set to distinct random values."""
    model = build_preset(name, **kwargs)
    rng = np.random.default_rng(0)
    for variable in model.weights:
        value = rng.normal(size=variable.shape).astype(np.float32)
        if "variance" in variable.path:
            value = np.abs(value) + 0.5
        variable.assign(value)
    return model


def _tensorlayer_file(path, arrays):
    """Write `arrays` exactly as tl.files.save_npz does: one object array called params."""
    params = np.empty(len(arrays), dtype=object)
    params[:] = arrays
    np.savez(path, params=params)


def test_lenet_order_is_the_seeds_creation_order():
    labels = [label for label, _ in tensorlayer_order(build_preset("lenet"))]
    assert len(labels) == 31  # the authors' model_mnist.npz holds 31 arrays
    assert labels[:6] == ["conv0.kernel", "bn0.beta", "bn0.gamma", "bn0.moving_mean", "bn0.moving_variance",
                          "conv1.kernel"]
    assert labels[-1] == "classifier.kernel" and labels[-6] == "conv5.kernel"


def test_round_trip_keras_npz_keras_is_exact(tmp_path):
    model = _randomized("lenet", k=1, B=2)
    write_npz(model, tmp_path / "m.npz")
    imported = import_npz(tmp_path / "m.npz", "lenet", k=1, B=2)
    for layer in model.layers:
        other = imported.get_layer(layer.name)
        mine = layer.quantized_kernel() if hasattr(layer, "quantized_kernel") else None
        got = [np.asarray(w) for w in other.get_weights()]
        want = [np.asarray(mine)] if mine is not None else [np.asarray(w) for w in layer.get_weights()]
        assert all(np.array_equal(a, b) for a, b in zip(got, want)), layer.name
    images = np.random.default_rng(1).integers(0, 256, (8, 28, 28, 1)).astype(np.float32)
    np.testing.assert_array_equal(model.predict(images, verbose=0), imported.predict(images, verbose=0))


def test_stored_quantized_kernels_are_ternary_and_biases_absent(tmp_path):
    write_npz(_randomized("lenet"), tmp_path / "m.npz")
    arrays = read_npz(tmp_path / "m.npz")
    assert set(np.unique(arrays[5])) <= {-1.0, 0.0, 1.0}  # conv1, the first ternary layer
    assert len(np.unique(arrays[0])) > 3  # the float encoder is stored as it is


def test_hand_written_tensorlayer_layout_assigns_in_order(tmp_path):
    model = build_preset("lenet")
    arrays = [np.full(v.shape, i, np.float32) for i, (_, v) in enumerate(tensorlayer_order(model))]
    _tensorlayer_file(tmp_path / "m.npz", arrays)
    imported = import_npz(tmp_path / "m.npz", "lenet")
    bn = imported.get_layer("bn3")
    assert (bn.beta.numpy()[0], bn.gamma.numpy()[0], bn.moving_mean.numpy()[0],
            bn.moving_variance.numpy()[0]) == (16, 17, 18, 19)
    assert imported.get_layer("classifier").kernel.numpy()[0, 0] == 30


def test_conv_kernels_fill_dense_layers_in_flatten_order(tmp_path):
    # ALL_INT's 1000-unit layer is a 4x4 VALID conv in the seed; the preset has Flatten + Dense.
    model = build_preset("lenet_allint", k=0)
    order = tensorlayer_order(model)
    rng = np.random.default_rng(2)
    arrays = [rng.normal(size=v.shape).astype(np.float32) for _, v in order]
    index = [label for label, _ in order].index("fc4.kernel")
    conv_kernel = rng.normal(size=(4, 4, 64, 1000)).astype(np.float32)
    arrays[index] = conv_kernel
    _tensorlayer_file(tmp_path / "m.npz", arrays)
    imported = import_npz(tmp_path / "m.npz", "lenet_allint", k=0)
    dense = imported.get_layer("fc4").kernel.numpy()
    h, w, c, o = 2, 3, 17, 5
    assert dense[(h * 4 + w) * 64 + c, o] == conv_kernel[h, w, c, o]


def test_mismatch_names_the_first_parameter(tmp_path):
    model = build_preset("lenet")
    arrays = [np.zeros(v.shape, np.float32) for _, v in tensorlayer_order(model)]
    arrays[15] = np.zeros((5, 5, 16, 64), np.float32)
    _tensorlayer_file(tmp_path / "m.npz", arrays)
    with pytest.raises(NpzError, match=r"parameter 15 has shape \(5, 5, 16, 64\), lenet expects "
                                       r"\(5, 5, 16, 32\) for conv3.kernel"):
        import_npz(tmp_path / "m.npz", "lenet")
    _tensorlayer_file(tmp_path / "short.npz", arrays[:-1])
    with pytest.raises(NpzError, match="has 30 parameters, lenet expects 31"):
        assign_npz(model, read_npz(tmp_path / "short.npz"))


def test_damaged_or_foreign_files_are_named(tmp_path):
    (tmp_path / "bad.npz").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(NpzError, match="bad.npz is damaged"):
        read_npz(tmp_path / "bad.npz")
    np.savez(tmp_path / "other.npz", weights=np.zeros(3))
    with pytest.raises(NpzError, match="holds weights, not TensorLayer's 'params'"):
        read_npz(tmp_path / "other.npz")


def test_cli_refuses_a_mismatching_npz_in_one_line(tmp_path):
    model = build_preset("lenet_readme")  # the formula network's arrays do not fit the code LeNet
    write_npz(model, tmp_path / "formula.npz")
    for command in (["evaluate_snn.py", "--checkpoint", str(tmp_path / "formula.npz"), "--model", "lenet",
                     "--output-dir", str(tmp_path / "out")],
                    ["train.py", "--mode", "inference", "--checkpoint", str(tmp_path / "formula.npz")]):
        result = subprocess.run([sys.executable, *command], cwd=REPO, capture_output=True, text=True,
                                env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
        lines = [line for line in result.stderr.splitlines() if "error" in line]
        assert result.returncode == 2, result.stderr
        assert len(lines) == 1 and "lenet expects 31" in lines[0]
    assert not (tmp_path / "out").exists()


def test_train_inference_evaluates_an_npz_and_saves_keras(tmp_path, data_dir):
    model = _randomized("lenet", k=0, B=1)
    write_npz(model, tmp_path / "m.npz")
    import train

    code = train.main(["--mode", "inference", "--checkpoint", str(tmp_path / "m.npz"), "--k", "0", "--B", "1",
                       "--limit-test", "50", "--data-dir", str(data_dir),
                       "--save-keras", str(tmp_path / "m.keras")])
    assert code == 0
    import keras

    saved = keras.models.load_model(tmp_path / "m.keras")
    assert saved.get_layer("act3").k == 0 and saved.get_layer("act3").B == 1


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("AUTHORS_LENET_NPZ"), reason="set AUTHORS_LENET_NPZ to the authors' "
                    "LeNet/model_mnist.npz (edwardzcl/Spatio_temporal_SNNs) to run")
def test_the_authors_lenet_is_lossless(tmp_path, data_dir):
    import json

    import evaluate_snn

    out = tmp_path / "authors"
    code = evaluate_snn.main(["--checkpoint", os.environ["AUTHORS_LENET_NPZ"], "--model", "lenet", "--k", "1",
                              "--B", "2", "--verify", "--export", "False", "--output-dir", str(out),
                              "--data-dir", str(data_dir)])
    summary = json.loads((out / "summary.json").read_text())
    assert code == 0 and summary["agreement"] == 10000 and summary["snn_accuracy"] == summary["ann_accuracy"]
    assert summary["verify"]["differing_total"] == 0 and summary["verify"]["logits_exact"]
    assert summary["ann_accuracy"] >= 0.993


@pytest.mark.parametrize("preset, dataset, count, seed_shapes", [
    ("vgg", "cifar10", 61, {}),
    ("vgg", "cifar100", 61, {}),
    # CNN1's two 1024-unit layers are a 3x3 VALID conv on 3x3x256 and a 1x1 conv in the seed
    ("cnn1", "cifar10", 51, {"fc8.kernel": (3, 3, 256, 1024), "fc9.kernel": (1, 1, 1024, 1024)}),
])
def test_seed_cifar_networks_import_with_the_seeds_shapes(tmp_path, preset, dataset, count, seed_shapes):
    model = build_preset(preset, dataset=dataset, k=0)
    order = tensorlayer_order(model)
    assert len(order) == count
    arrays = [np.ones(seed_shapes.get(label, v.shape), np.float32) for label, v in order]
    _tensorlayer_file(tmp_path / "m.npz", arrays)
    imported = import_npz(tmp_path / "m.npz", preset, dataset=dataset, k=0)
    assert imported.get_layer("classifier").kernel.shape[-1] == (100 if dataset == "cifar100" else 10)
