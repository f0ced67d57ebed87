"""evaluate_snn.py with the rate method (docs/rate.md §7): the seed's own command line on synthetic
CIFAR-100 files and a fixture checkpoint, its output files, and bad input (one line, exit code 2)."""
import csv
import json
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from tests.conftest import write_cifar100

REPO = Path(__file__).resolve().parent.parent.parent
FIXTURES = REPO / "tests" / "fixtures" / "torch"
SEED_LINE = ["--job-dir", "J", "--gpu", "--dataset", "cifar100", "--data", "data", "--percentile", "99.9",
             "--norm", "3500", "--time", "100", "--arch", "vgg15ab", "--model", "bin_cifar100.pth.tar"]


def _run(args, cwd):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run([sys.executable, str(REPO / "evaluate_snn.py"), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


def test_the_seeds_command_line_runs_verbatim(tmp_path):
    write_cifar100(tmp_path / "data", count=6)
    shutil.copy(FIXTURES / "bin_cifar100_legacy.pth.tar", tmp_path / "bin_cifar100.pth.tar")
    result = _run(SEED_LINE, tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "13 of 13 hidden layers hold binarized weights" in result.stdout
    assert "SNN accuracy: " in result.stdout and "Clock time used: " in result.stdout
    job = tmp_path / "J"
    accuracy = np.load(job / "voltage_accuracy_vgg15ab_99.9.npy")
    assert accuracy.dtype == np.float32 and accuracy.shape == (100,)
    assert (job / "vgg15ab_99.9.png").stat().st_size > 10_000  # a drawn figure, not a blank one
    rows = list(csv.reader(open(job / "results" / "sim_result.txt")))
    assert rows[0] == ["seed", "simulation time", "batch size", "inference time", "accuracy"]
    assert rows[1][:3] == ["0", "100", "200"]
    summary = json.loads((job / "summary.json").read_text())
    assert summary["method"] == "rate" and summary["timing"] == "synchronous" and summary["norm"] == 6
    assert summary["num_images"] == 6 and len(summary["snn_accuracy_per_step"]) == 100
    assert set(summary["lambdas"]) == {f"act{j}" for j in range(14)}
    np.testing.assert_allclose(accuracy, summary["snn_accuracy_per_step"], rtol=1e-6)
    # synchronous timing: a spike reaches the l-th layer after the input at step l (0-based) at the
    # earliest; FC1 is the 19th (13 convs, 5 of them pass-throughs, 5 pools), the readout the 20th
    first = {row["name"]: int(np.argmax(np.asarray(row["spikes_per_step"]) > 0)) for row in summary["layers"]}
    assert first["conv0"] == 1 and first["act1"] >= 3 and first["act13"] >= 19
    assert len((job / "accuracy.txt").read_text().split()) == 100  # one line per (batch, step)


BAD_OPTIONS = [
    (["--method", "rate", "--percentile", "0"], "--percentile must be in (0, 100], got 0"),
    (["--percentile", "100.5"], "--percentile must be in (0, 100]"),
    (["--percentile", "-3"], "--percentile must be in (0, 100]"),
    (["--norm", "0"], "--norm must be >= 1"),
    (["--time", "0"], "--time must be in [1, 1000]"),
    (["--method", "rate", "--time", "-2"], "--time must be in [1, 1000]"),
    (["--arch", "resnet18"], "unknown --arch 'resnet18'"),
    (["--arch", "vgg15ab", "--dataset", "svhn"], "unknown --dataset 'svhn'"),
    (["--arch", "vgg15ab", "--dataset", "mnist"], "built for cifar100 or imagenet"),
    (["--eval_size", "0"], "--eval_size must be -1 (all) or >= 1"),
]


def test_bad_rate_options_are_user_errors():
    import pytest

    from cli_utils import UserError
    from evaluation.config import parse_args

    for args, fragment in BAD_OPTIONS:
        with pytest.raises(UserError) as err:
            parse_args(args)
        assert fragment in str(err.value), (args, str(err.value))


def test_the_seed_flags_pick_the_rate_method():
    from evaluation.config import parse_args

    method, options = parse_args(["--job-dir", "J", "--arch", "vgg15ab", "--model", "bin_cifar100.pth.tar"])
    assert method == "rate" and options["checkpoint"] == "bin_cifar100.pth.tar" and options["model"] == "vgg15ab"
    assert options["output_dir"] == "J" and options["percentile"] == 99.7 and options["norm"] == 128
    assert parse_args([])[0] == "sg"


def test_bad_rate_input_is_one_line_exit_2(tmp_path):
    shutil.copy(FIXTURES / "imagenet_zip.pth.tar", tmp_path / "imagenet_small.pth.tar")
    write_cifar100(tmp_path / "data", count=2)
    cases = [
        (["--percentile", "100.5"], "--percentile must be in (0, 100]"),
        (["--arch", "vgg15ab", "--dataset", "cifar100", "--data", "data", "--model", "imagenet_small.pth.tar"],
         "classifier.1.weight has shape (64, 1568); the architecture needs (64, 32) there"),
    ]
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda case: _run(case[0], tmp_path), cases))
    failures = []
    for (args, fragment), result in zip(cases, results):
        err = result.stderr.strip().splitlines()
        if not (result.returncode == 2 and len(err) == 1 and fragment in err[0] and "Traceback" not in result.stderr):
            failures.append(f"{' '.join(args)}: exit {result.returncode}, stderr {result.stderr[-500:]!r}")
    assert not failures, "\n".join(failures)
