"""The shipped model: its recorded accuracy on the full MNIST test set, and its SavedModel reloaded
in a separate Python process that cannot import any project code."""
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np
import pytest

import train
from training.export import export_saved_model
from training.run import count_correct, find_checkpoint, pretrained_path

REPO = Path(__file__).resolve().parent.parent
SHIPPED = REPO / "pretrained" / "lenet_mnist_k1B2"
# The MNIST table of the seeds' code LeNet: (k, B) -> the paper's accuracy (Spatio_temporal_SNNs README).
PAPER = {(0, 1): 0.9927, (0, 2): 0.9932, (0, 4): 0.9943, (1, 1): 0.9930, (1, 2): 0.9937, (1, 4): 0.9950}
TABLE_ROWS = [(k, B) for k, B in PAPER if (REPO / "pretrained" / f"lenet_mnist_k{k}B{B}" / "model.keras").is_file()]


@pytest.fixture(scope="module")
def shipped_model():
    return keras.models.load_model(SHIPPED / "model.keras")


def test_shipped_model_reaches_the_paper_accuracy(shipped_model, mnist_test):
    images, labels = mnist_test
    recorded = json.loads((SHIPPED / "metrics.json").read_text())
    correct = count_correct(shipped_model, images, labels)
    assert correct == recorded["test_correct"] and len(labels) == recorded["num_test"] == 10000
    assert correct / 10000 >= 0.9937  # Zou et al. 2021: 99.37 %
    assert recorded["epochs"] <= 30 and (recorded["k"], recorded["B"]) == (1, 2)


def test_inference_mode_reproduces_it(data_dir, tmp_path, capsys):
    recorded = json.loads((SHIPPED / "metrics.json").read_text())
    # An empty run directory: inference falls back to the shipped model.
    assert train.main(["--mode", "inference", "--output-dir", str(tmp_path), "--data-dir", str(data_dir)]) == 0
    out = capsys.readouterr().out
    assert f"({recorded['test_correct']}/10000)" in out and "pretrained" in out


@pytest.mark.parametrize("k, B", TABLE_ROWS)
def test_table_row_is_shipped_as_trained(k, B):
    """Every shipped row: its own network, its recorded accuracy at or above the paper (a miss is a
    failing test, not a hidden one), trained without noise-aware training within 30 epochs."""
    folder = REPO / "pretrained" / f"lenet_mnist_k{k}B{B}"
    recorded = json.loads((folder / "metrics.json").read_text())
    assert (recorded["model"], recorded["k"], recorded["B"], recorded["train_noise"]) == ("lenet", k, B, 0)
    assert recorded["epochs"] <= 30 and recorded["num_test"] == 10000 and (folder / "history.csv").is_file()
    assert recorded["test_accuracy"] >= PAPER[(k, B)], f"k{k}B{B}: {recorded['test_accuracy']} < paper"
    assert recorded["hidden_macs"] == 4_849_664


@pytest.mark.parametrize("k, B", TABLE_ROWS)
def test_the_seeds_command_lines_find_every_shipped_row(k, B, tmp_path, monkeypatch):
    """`python evaluate_snn.py --k K --B B` and `python train.py --k K --B B --resume True --mode
    'inference'` take the shipped row when the user has no run of that name."""
    from evaluation.config import parse_args
    from evaluation.common import find_ann

    monkeypatch.chdir(tmp_path)  # no runs/ here
    expected = REPO / "pretrained" / f"lenet_mnist_k{k}B{B}" / "model.keras"
    _, options = parse_args(["--k", str(k), "--B", str(B), "--noise_ratio", "0"])
    assert find_ann(options["checkpoint"], options["model"], options["k"], options["B"], 1).resolve() == expected
    options = {"checkpoint": None, "output_dir": None, "model": "lenet", "dataset": "mnist", "k": k, "B": B}
    assert find_checkpoint(options).resolve() == expected


def test_default_checkpoint_lookup_finds_the_shipped_model(tmp_path):
    options = {"checkpoint": None, "output_dir": str(tmp_path), "model": "lenet", "dataset": "mnist",
               "k": 1, "B": 2}
    assert find_checkpoint(options) == pretrained_path("lenet", "mnist", 1, 2) == SHIPPED / "model.keras"


_LOADER = textwrap.dedent(
    """
    import importlib.util, sys
    import numpy as np
    import tensorflow as tf
    assert importlib.util.find_spec("layers") is None and importlib.util.find_spec("models") is None
    loaded = tf.saved_model.load(sys.argv[1])  # keep a reference: it owns the variables
    serve = loaded.serve
    images = np.load(sys.argv[2])
    logits = np.concatenate([serve(tf.constant(images[i:i + 1000])).numpy() for i in range(0, len(images), 1000)])
    np.save(sys.argv[3], logits)
    """
)


def test_saved_model_in_a_clean_process_matches_keras(shipped_model, mnist_test, tmp_path):
    images, labels = mnist_test
    export_saved_model(shipped_model, tmp_path / "model.export")
    np.save(tmp_path / "images.npy", images)  # uint8, as they come from the IDX files
    (tmp_path / "load.py").write_text(_LOADER)
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    result = subprocess.run(
        [sys.executable, "-I", str(tmp_path / "load.py"), str(tmp_path / "model.export"),
         str(tmp_path / "images.npy"), str(tmp_path / "logits.npy")],
        cwd=tmp_path, env=env, capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    served = np.load(tmp_path / "logits.npy")
    keras_logits = shipped_model.predict(images.astype(np.float32), batch_size=1000, verbose=0)
    assert served.shape == (10000, 10) and served.dtype == np.float32
    np.testing.assert_array_equal(served.argmax(1), keras_logits.argmax(1))
    np.testing.assert_allclose(served, keras_logits, rtol=1e-5, atol=1e-4)
