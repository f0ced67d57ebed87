"""train.py end to end on slices of real MNIST: one epoch, resume after SIGKILL, inference, errors."""
import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pytest

import train

REPO = Path(__file__).resolve().parents[2]
SMALL = ["--limit-train", "3000", "--limit-test", "1000", "--batch-size", "100"]


def _run_cli(args, env_extra=None, **kwargs):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(env_extra or {})}
    return subprocess.run([sys.executable, str(REPO / "train.py"), *args], cwd=REPO, env=env,
                          capture_output=True, text=True, **kwargs)


def test_one_epoch_on_a_slice_writes_every_output(tmp_path, data_dir, capsys):
    out = tmp_path / "run"
    code = train.main(["--epochs", "1", "--k", "0", "--B", "2", "--data-dir", str(data_dir),
                       "--output-dir", str(out), *SMALL, "--limit-train", "10000"])
    assert code == 0
    metrics = json.loads((out / "metrics.json").read_text())
    for key in ("test_accuracy", "epochs", "k", "B", "model", "dataset"):
        assert key in metrics
    assert (metrics["epochs"], metrics["k"], metrics["B"], metrics["model"]) == (1, 0, 2, "lenet")
    assert metrics["num_test"] == 1000 and metrics["test_accuracy"] > 0.8  # learned (chance: 0.1)
    model = keras.models.load_model(out / "model.keras")
    assert model.get_layer("act1").B == 2
    assert (out / "model.export" / "saved_model.pb").is_file()
    assert "epoch 1/1" in (out / "train.log").read_text()
    rows = list(csv.DictReader(open(out / "history.csv")))
    assert [r["epoch"] for r in rows] == ["1"]

    # inference on the run reproduces the recorded accuracy
    capsys.readouterr()
    assert train.main(["--mode", "inference", "--checkpoint", str(out), "--data-dir", str(data_dir),
                       "--limit-test", "1000"]) == 0
    assert f"({metrics['test_correct']}/1000)" in capsys.readouterr().out


def test_resume_after_sigkill_continues_from_the_last_epoch(tmp_path, data_dir):
    out = tmp_path / "run"
    args = ["--epochs", "3", "--data-dir", str(data_dir), "--output-dir", str(out), *SMALL,
            "--limit-train", "6000"]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.Popen([sys.executable, str(REPO / "train.py"), *args], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    state = out / "checkpoint" / "state.json"
    deadline = time.time() + 120
    while time.time() < deadline and not state.is_file():
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)  # during epoch 2 (or later, on a very fast machine)
    proc.wait()
    assert state.is_file(), "no checkpoint after the first epoch"
    done = json.loads(state.read_text())["completed_epochs"]
    assert not (out / "metrics.json").is_file() or done == 3

    result = _run_cli([*args, "--resume", "True"])
    assert result.returncode == 0, result.stderr
    assert f"resuming {out} after epoch {done}" in result.stdout
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["epochs"] == 3
    epochs = [int(r["epoch"]) for r in csv.DictReader(open(out / "history.csv"))]
    assert epochs == [1, 2, 3]  # nothing repeated, nothing skipped
    assert json.loads(state.read_text())["completed_epochs"] == 3


def test_resume_refuses_a_different_network_or_schedule(tmp_path, data_dir, capsys):
    out = tmp_path / "run"
    assert train.main(["--epochs", "1", "--data-dir", str(data_dir), "--output-dir", str(out), *SMALL]) == 0
    capsys.readouterr()
    assert train.main(["--epochs", "1", "--k", "0", "--resume", "--data-dir", str(data_dir),
                       "--output-dir", str(out), *SMALL]) == 2
    assert "started with k=1, not 0" in capsys.readouterr().err
    # the learning-rate schedule's length is fixed by --epochs: more epochs cannot be resumed
    assert train.main(["--epochs", "2", "--resume", "--data-dir", str(data_dir), "--output-dir", str(out),
                       *SMALL]) == 2
    assert "started with epochs=1, not 2" in capsys.readouterr().err


def test_an_overwritten_run_starts_a_fresh_history(tmp_path, data_dir):
    out = tmp_path / "run"
    args = ["--epochs", "1", "--data-dir", str(data_dir), "--output-dir", str(out), "--limit-train", "300",
            "--limit-test", "100"]
    assert train.main(args) == 0 and train.main([*args, "--overwrite"]) == 0
    assert [r["epoch"] for r in csv.DictReader(open(out / "history.csv"))] == ["1"]
    assert (out / "train.log").read_text().count("epoch 1/1") == 1


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--k", "-1"], "k must be an integer in [0, 8]"),
        (["--B", "0"], "B must be a finite number >= 1"),
        (["--model", "alexnet"], "unknown model 'alexnet'"),
        (["--config", "missing.yaml"], "cannot read config file missing.yaml"),
        (["--learning-rate", "0"], "learning rate must be a finite number > 0"),
        (["--mode", "testing"], "expected 'training' or 'inference'"),
        (["--epochs", "many"], "invalid int value"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(args, fragment):
    result = _run_cli(args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0], result.stderr


def test_missing_data_is_one_line_and_exit_code_2(tmp_path):
    result = _run_cli(["--data-dir", str(tmp_path), "--epochs", "1"])
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "train-images-idx3-ubyte.gz" in lines[0]


def test_inference_without_a_model_says_what_to_do(tmp_path, data_dir, capsys):
    code = train.main(["--mode", "inference", "--model", "lenet", "--k", "3", "--B", "3",
                       "--output-dir", str(tmp_path), "--data-dir", str(data_dir)])
    assert code == 2
    assert "no trained model" in capsys.readouterr().err


def test_inference_rejects_a_file_that_is_not_a_model(tmp_path, data_dir, capsys):
    bogus = tmp_path / "model.keras"
    bogus.write_bytes(b"not a zip")
    assert train.main(["--mode", "inference", "--checkpoint", str(bogus), "--data-dir", str(data_dir)]) == 2
    assert "model.keras is damaged (not a .keras zip archive" in capsys.readouterr().err


def test_seed_command_line_trains(tmp_path, data_dir):
    # ALL_INT README spelling, on a slice.
    out = tmp_path / "run"
    code = train.main(["--model", "lenet_allint", "--k", "0", "--resume", "False", "--use_ternary", "True",
                       "--learning_rate", "0.001", "--mode", "'training'", "--epochs", "1",
                       "--data-dir", str(data_dir), "--output-dir", str(out), "--limit-train", "500",
                       "--limit-test", "200"])
    assert code == 0
    assert json.loads((out / "metrics.json").read_text())["model"] == "lenet_allint"


def test_cifar_training_runs_on_synthetic_official_files(cifar10_files, tmp_path):
    data, _ = cifar10_files
    out = tmp_path / "run"
    code = train.main(["--model", "vgg", "--k", "0", "--B", "1", "--epochs", "1", "--batch-size", "10",
                       "--data-dir", str(data), "--no-md5-check", "--output-dir", str(out)])
    assert code == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert (metrics["dataset"], metrics["num_train"], metrics["num_test"]) == ("cifar10", 30, 6)
    assert metrics["hidden_macs"] == 126_222_336


def test_noise_aware_training_saves_a_model_without_the_noise_layer(tmp_path, data_dir):
    out = tmp_path / "run"
    assert train.main(["--epochs", "1", "--train-noise", "0.2", "--data-dir", str(data_dir),
                       "--output-dir", str(out), *SMALL]) == 0
    names = [layer.name for layer in keras.models.load_model(out / "model.keras").layers]
    assert "enc_noise" not in names and "act0" in names
    assert json.loads((out / "metrics.json").read_text())["train_noise"] == 0.2
    assert train.main(["--train-noise", "1.5"]) == 2
