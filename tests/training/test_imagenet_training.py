"""train.py on ImageNet (docs/training.md §7): an ImageFolder tree streamed on both backends, on a tiny
synthetic tree. The fast runs use a small stand-in network (tests/fixtures/small_imagenet_train.py);
the real vgg15ab_imagenet (121 M parameters) trains in the slow tests."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import train

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures"
sys.path.insert(0, str(REPO / "tests" / "snn_data"))
from test_imagenet_training_data import write_tree  # noqa: E402

RUN = ["--config", "imagenet_vgg15ab_imagenet_binary", "--epochs", "2", "--batch-size", "2"]


def _env(**extra):
    env = {k: v for k, v in os.environ.items() if k not in ("KERAS_BACKEND", "XLA_FLAGS")}
    return {**env, "TF_CPP_MIN_LOG_LEVEL": "3", **extra}


def _check_run(out, data, backend, epochs=2):
    """A complete run: its history, metrics, and a model that predicts what the run measured."""
    import keras

    from snn_data import load_arrays
    from training.run import count_correct

    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["dataset"] == "imagenet" and metrics["backend"] == backend
    assert (metrics["num_train"], metrics["num_test"]) == (5, 2)
    assert len((out / "history.csv").read_text().strip().splitlines()) == epochs + 1
    # The test images are val/ with the seed's evaluation transform, the images evaluate_snn.py reads.
    x, y = load_arrays("imagenet", "test", data)
    assert count_correct(keras.models.load_model(out / "model.keras"), x, y) == metrics["test_correct"]
    return metrics


def test_train_py_trains_on_an_imagenet_tree_on_tensorflow(tmp_path, monkeypatch):
    sys.path.insert(0, str(FIXTURES))
    from small_imagenet_train import build_small

    monkeypatch.setattr("training.run.build_preset", build_small)
    data = write_tree(tmp_path / "data" / "imagenet").parent
    out = tmp_path / "run"
    assert train.main([*RUN, "--data-dir", str(data), "--output-dir", str(out)]) == 0
    _check_run(out, data, "tensorflow")
    assert (out / "model.export" / "saved_model.pb").is_file()


def test_train_py_trains_on_an_imagenet_tree_on_jax(tmp_path):
    data = write_tree(tmp_path / "data" / "imagenet").parent
    out = tmp_path / "run"
    command = [sys.executable, str(FIXTURES / "small_imagenet_train.py"), *RUN, "--epochs", "1", "--backend", "jax",
               "--data-dir", str(data), "--output-dir", str(out)]
    result = subprocess.run(command, cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    _check_run(out, data, "jax", epochs=1)


@pytest.mark.parametrize("case, fragment", [
    ("empty", "holds no images"),
    ("classes", "hold different classes"),
    ("model", "lenet does not take ImageNet images"),
    ("nowhere", "missing ImageNet folder"),
])
def test_bad_imagenet_input_is_one_line_and_writes_nothing(tmp_path, capsys, case, fragment):
    data = tmp_path / "data"
    args = [*RUN, "--data-dir", str(data), "--output-dir", str(tmp_path / "run")]
    if case == "empty":
        for split in ("train", "val"):
            (data / split / "n01").mkdir(parents=True)
    elif case == "classes":  # val/ lacks a class of train/: the labels would disagree
        write_tree(data, val_sizes=[(50, 50)])
        for path in (data / "val").iterdir():
            path.rename(data / "val" / "n09")
    elif case == "model":
        write_tree(data)
        args += ["--model", "lenet", "--dataset", "imagenet"]
    assert train.main(args) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0], lines
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["tensorflow", "jax"])
def test_the_real_vgg15ab_imagenet_trains_one_step_end_to_end(tmp_path, backend):
    """The binary recipe's network on 2 training images, batch 2, one epoch (on 2 shared CPU cores:
    45-70 s on TensorFlow, 60-90 s on JAX, most of it building, saving 1.5 GB and exporting)."""
    data = write_tree(tmp_path / "data" / "imagenet").parent
    out = tmp_path / "run"
    command = [sys.executable, str(REPO / "train.py"), "--config", "imagenet_vgg15ab_imagenet_binary", "--epochs", "1",
               "--batch-size", "2", "--limit-train", "2", "--backend", backend, "--data-dir", str(data),
               "--output-dir", str(out)]
    result = subprocess.run(command, cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["params"] == 121_566_912 and metrics["num_train"] == 2 and metrics["num_test"] == 2
    assert np.isfinite(float((out / "history.csv").read_text().splitlines()[1].split(",")[1]))
