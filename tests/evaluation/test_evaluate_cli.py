"""evaluate_snn.py on the shipped model and real MNIST: outputs, exactness, noise, errors."""
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import evaluate_snn

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "pretrained" / "lenet_mnist_k1B2"


def _main(tmp_path, *args):
    return evaluate_snn.main(["--checkpoint", str(SHIPPED), "--output-dir", str(tmp_path / "run"), *args])


def test_shipped_model_is_lossless_on_the_full_test_set(tmp_path, data_dir, capsys):
    assert _main(tmp_path, "--verify", "--data-dir", str(data_dir)) == 0
    out = tmp_path / "run"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["num_images"] == 10000 and summary["time_steps"] == 1
    assert summary["agreement"] == 10000
    assert summary["snn_accuracy"] == summary["ann_accuracy"]
    assert summary["verify"]["differing_total"] == 0 and summary["verify"]["logits_exact"]
    assert summary["calibrated"] and set(summary["threshold_corrections"]) == {f"act{i}" for i in range(6)}
    assert all(row["differing"] == 0 for row in summary["verify"]["layers"])
    assert [row["name"] for row in summary["verify"]["layers"]] == [f"act{i}" for i in range(6)]
    assert summary["totals"]["macs_hidden"] == 4_849_664  # the seeds' code LeNet
    assert summary["totals"]["sops_seed"] == 2 * summary["totals"]["sops"]
    for name in ("accuracy.txt", "spike_num.txt", "sop_num.txt", "spike_collect.txt"):
        assert len((out / name).read_text().splitlines()) == 50  # 10000 images / batch 200
    accuracy_lines = [int(v) for v in (out / "accuracy.txt").read_text().split()]
    assert sum(accuracy_lines) == round(summary["snn_accuracy"] * 10000)
    spikes = [float(v) for v in (out / "spike_num.txt").read_text().split()]
    assert math.isclose(sum(spikes), summary["totals"]["spikes"])
    assert (out / "snn.keras").is_file() and (out / "snn.export" / "saved_model.pb").is_file()
    printed = capsys.readouterr().out
    assert "agreement 10000/10000" in printed and "total" in printed


def test_noise_runs_are_seeded_and_reported_with_std(tmp_path, data_dir):
    common = ["--limit-test", "400", "--export", "False", "--data-dir", str(data_dir)]
    assert _main(tmp_path, *common) == 0
    clean = json.loads((tmp_path / "run" / "summary.json").read_text())
    args = ["--noise_ratio", "0.1", "--seeds", "2", *common]
    assert _main(tmp_path, *args) == 0
    first = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert _main(tmp_path, *args) == 0
    again = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert len(first["snn_accuracies"]) == 2 and first["snn_accuracies"] == again["snn_accuracies"]
    assert first["noise_model"] == "encoding" and first["noise_ratio"] == 0.1
    # each encoding spike is deleted with probability 0.1; other layers are not touched
    kept = first["layers"][0]["spikes"] / clean["layers"][0]["spikes"]
    assert first["layers"][0]["name"] == "act0" and 0.88 < kept < 0.92
    assert first["agreement"] < 400 and clean["agreement"] == 400
    assert not (tmp_path / "run" / "snn.keras").exists()


def test_noise_sweep_writes_json_and_plot(tmp_path, data_dir, capsys):
    assert _main(tmp_path, "--noise-sweep", "0,0.5,1", "--seeds", "2", "--limit-test", "200",
                 "--export", "False", "--data-dir", str(data_dir)) == 0
    sweep = json.loads((tmp_path / "run" / "noise_sweep.json").read_text())
    printed = capsys.readouterr().out  # the sweep's table is printed, not only written
    assert "noise sweep (encoding noise, 200 images)" in printed
    for point in sweep["points"]:
        assert f"{point['noise_ratio']:11g} {100 * point['mean']:10.2f} {100 * point['std']:7.2f}" in printed
    assert [p["noise_ratio"] for p in sweep["points"]] == [0, 0.5, 1]
    assert len(sweep["points"][0]["accuracies"]) == 1 and len(sweep["points"][1]["accuracies"]) == 2
    assert sweep["points"][2]["mean"] < 0.5  # every encoding spike deleted: chance-level guesses
    assert (tmp_path / "run" / "noise_sweep.png").stat().st_size > 1000
    assert not (tmp_path / "sparsity.png").exists()  # figures are redrawn in figs/ only


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--noise_ratio", "1.5"], "noise ratio must be in [0, 1]"),
        (["--noise-model", "gaussian"], "invalid choice"),
        (["--seeds", "0"], "expected a positive integer"),
        (["--checkpoint", "nowhere.keras"], "checkpoint nowhere.keras does not exist"),
        (["--checkpoint", "pretrained/lenet_mnist_k1B2", "--k", "0"], "was trained with k=1, not k=0"),
        (["--k", "5", "--B", "7"], "no trained model lenet_mnist_k5B7"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(args, fragment):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run([sys.executable, str(REPO / "evaluate_snn.py"), *args], cwd=REPO, env=env,
                            capture_output=True, text=True)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0], result.stderr


def test_every_methods_command_line_is_parsed_and_checked_without_keras():
    """The registry's modules import no Keras (conversion.method): a bad flag fails in a fraction of a
    second, before TensorFlow's import; a run loads it afterwards (evaluate_snn.main)."""
    code = """import sys
from cli_utils import UserError
from evaluation.config import parse_args
for argv in ([], ["--method", "sr", "--hardware", "paicore", "--mapping", "temporal"], ["--method", "allint",
             "--time-steps", "8"], ["--method", "rate", "--time", "10"], ["--noise_ratio", "0.1", "--seeds", "2"]):
    parse_args(argv)
try:
    parse_args(["--method", "allint", "--noise-model", "all-layers"])
except UserError:
    pass
print(sorted(name for name in ("keras", "tensorflow", "jax") if name in sys.modules))
"""
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_a_float_model_is_refused_with_every_unsupported_layer(tmp_path, data_dir, capsys):
    from models import build_preset

    path = tmp_path / "fp.keras"
    build_preset("lenet_fp").save(path)
    assert evaluate_snn.main(["--checkpoint", str(path), "--data-dir", str(data_dir)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    for name in ("act0", "act1", "act2", "act3", "act4", "act5"):
        assert name in err


ALLINT = REPO / "pretrained" / "lenet_allint_mnist_k0"


@pytest.mark.parametrize("use_int", ["True", "False"])
def test_allint_writes_the_seed_files_per_step(tmp_path, data_dir, use_int):
    out = tmp_path / "allint"
    code = evaluate_snn.main(["--method", "allint", "--checkpoint", str(ALLINT), "--time-steps", "8",
                              "--use_int", use_int, "--use_ternary", "True", "--limit-test", "300",
                              "--batch-size", "100", "--export", "False", "--data-dir", str(data_dir),
                              "--output-dir", str(out)])
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["time_steps"] == 8 and len(summary["snn_accuracy_per_step"]) == 8
    assert summary["use_int"] == (use_int == "True")
    for name in ("accuracy", "spike_num", "spike_collect", "sop_num", "abs_spike", "sum_spike"):
        assert len((out / f"{name}.txt").read_text().splitlines()) == 3 * 8  # 3 batches x 8 steps
    accuracy = [int(v) for v in (out / "accuracy.txt").read_text().split()]
    assert sum(accuracy[7::8]) == round(summary["snn_accuracy"] * 300)  # last step of each batch
    spikes = [float(v) for v in (out / "spike_num.txt").read_text().split()]
    abs_step = [float(v) for v in (out / "abs_spike.txt").read_text().split()]
    assert spikes[:8] == list(np.cumsum(abs_step[:8]))  # cumulative vs per step, first batch
    assert summary["first_step_all_equal"] is not None and summary["agreement"] == 300
    assert summary["snn_accuracy"] == summary["ann_accuracy"]
    assert (out / "steps.png").stat().st_size > 5000


def test_allint_refuses_wrong_flags(tmp_path, data_dir, capsys):
    args = ["--method", "allint", "--checkpoint", str(ALLINT), "--data-dir", str(data_dir)]
    assert evaluate_snn.main([*args, "--use_ternary", "False"]) == 2
    assert "pass --use_ternary True" in capsys.readouterr().err
    assert evaluate_snn.main(["--method", "allint", "--checkpoint", str(SHIPPED), "--data-dir", str(data_dir)]) == 2
    assert "not an all-integer model" in capsys.readouterr().err
    assert evaluate_snn.main(["--time-steps", "4"]) == 2
    assert "scatter-and-gather runs one time step" in capsys.readouterr().err
    assert evaluate_snn.main([*args, "--noise-model", "all-layers"]) == 2
    assert "spikes are signed" in capsys.readouterr().err


def test_allint_noise_sweep_uses_its_own_noise_model(tmp_path, data_dir):
    out = tmp_path / "sweep"
    code = evaluate_snn.main(["--method", "allint", "--checkpoint", str(ALLINT), "--time-steps", "4",
                              "--noise-sweep", "0,0.5", "--limit-test", "100", "--batch-size", "100",
                              "--export", "False", "--data-dir", str(data_dir), "--output-dir", str(out)])
    assert code == 0
    sweep = json.loads((out / "noise_sweep.json").read_text())
    assert sweep["noise_model"] == "input" and [p["noise_ratio"] for p in sweep["points"]] == [0, 0.5]
    summary = json.loads((out / "summary.json").read_text())
    assert sweep["points"][0]["mean"] == summary["snn_accuracy"]  # ratio 0 is the clean run


def test_exact_math_thresholds_are_a_diagnostic_option(tmp_path, data_dir):
    assert _main(tmp_path, "--calibrate", "False", "--limit-test", "200", "--export", "False",
                 "--data-dir", str(data_dir)) == 0
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["calibrated"] is False
    assert all(moved == 0 for moved in summary["threshold_corrections"].values())


def test_model_must_match_the_checkpoint(data_dir, capsys):
    assert evaluate_snn.main(["--checkpoint", str(SHIPPED), "--model", "vgg", "--data-dir", str(data_dir)]) == 2
    assert "is a lenet model, not vgg" in capsys.readouterr().err


def test_hardware_option_maps_simulates_and_reports(tmp_path, data_dir):
    out = tmp_path / "hw"
    assert evaluate_snn.main(["--checkpoint", str(SHIPPED), "--hardware", "paicore", "--hardware-images", "300",
                              "--paibox", "none", "--limit-test", "600", "--export", "False",
                              "--data-dir", str(data_dir), "--output-dir", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["hardware"]["agreement"] == summary["hardware"]["num_images"] == 300
    assert summary["hardware"]["total_cores"] == json.loads((out / "hardware.json").read_text())["total_cores"]
    assert (out / "hardware_grid.png").stat().st_size > 5000


@pytest.mark.parametrize("core, fragment", [
    ("crossbar256", "layer act1: axons: needs 1600 per neuron"),
    ("missing.yaml", "missing.yaml"),
])
def test_hardware_that_does_not_fit_is_one_line(tmp_path, data_dir, capsys, core, fragment):
    code = evaluate_snn.main(["--checkpoint", str(SHIPPED), "--hardware", core, "--limit-test", "200",
                              "--export", "False", "--data-dir", str(data_dir), "--output-dir", str(tmp_path / "hw")])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and fragment in err


def _find(argv):
    from evaluation.common import find_ann
    from evaluation.config import parse_args

    _, o = parse_args(argv)
    return find_ann(o["checkpoint"], o["model"], o["k"], o["B"], default_k=1)


@pytest.mark.parametrize("argv", [[], ["--k", "1", "--B", "2"], ["--model", "lenet"]])
def test_one_default_checkpoint_rule_with_or_without_flags(tmp_path, monkeypatch, capsys, argv):
    # The same k and B pick the same model whether they are spelled out or not: the user's own run
    # first, then the shipped one; the first line says which and why.
    monkeypatch.chdir(tmp_path)
    assert _find(argv) == SHIPPED / "model.keras"
    assert "the shipped lenet_mnist_k1B2: there is no runs/lenet_mnist_k1B2/model.keras" in capsys.readouterr().out
    own = tmp_path / "runs" / "lenet_mnist_k1B2" / "model.keras"
    own.parent.mkdir(parents=True)
    own.write_bytes(b"a user's model")
    assert _find(argv) == Path("runs/lenet_mnist_k1B2/model.keras")
    assert "your run of lenet_mnist_k1B2" in capsys.readouterr().out
