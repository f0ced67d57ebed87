"""The bench/ scripts refuse bad input as the main command lines do: one line on stderr naming the
problem, exit code 2, no traceback, nothing left behind; and bench/seed_rounding.py runs."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "pretrained" / "lenet_mnist_k1B2" / "model.keras"


def _bench(script, *args):
    return subprocess.run([sys.executable, f"bench/{script}", *map(str, args)], cwd=REPO, capture_output=True,
                          text=True, timeout=300, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})


def _refused(result, *words):
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert len(lines) == 1 and "error" in lines[0], result.stderr
    assert all(word in lines[0] for word in words), lines[0]
    return lines[0]


CASES = {  # name: (script, arguments, words the error line must hold); {tmp} is a fresh folder
    "a zero count": ("hardware_speed.py", ["--workers", "0"], ["--workers", "positive integer"]),
    "a missing checkpoint": ("paibox_referee.py", ["--checkpoint", "{tmp}/nope.keras"], ["does not exist"]),
    "an unshipped LeNet": ("core_counts.py", ["--no-paibox", "--lenet", "nosuch"], ["nosuch", "shipped: lenet"]),
    "one folder to compare": ("compare_outputs.py", ["compare", "{tmp}"], ["BEFORE AFTER"]),
    "a missing ImageNet folder": ("imagenet_input_speed.py", ["--folder", "{tmp}/none"], ["does not exist"]),
    "zero seeds": ("mnist_table.py", ["--seeds", "0"], ["--seeds"]),
}


@pytest.mark.parametrize("name", CASES)
def test_bad_input_is_refused_in_one_line(name, tmp_path):
    script, args, words = CASES[name]
    _refused(_bench(script, *(str(a).replace("{tmp}", str(tmp_path)) for a in args)), *words)


@pytest.mark.parametrize("method", ["allint", "rate"])
def test_a_checkpoint_of_another_method_is_refused_before_any_image_is_read(tmp_path, method):
    """The data folder is empty: the refusal is the conversion's, not a missing MNIST file."""
    _refused(_bench("snn_speed.py", "--method", method, "--checkpoint", SHIPPED, "--data-dir", tmp_path),
             f"does not suit --method {method}")


def test_a_text_file_named_npz_and_a_missing_record_checkpoint(tmp_path):
    (tmp_path / "bad.npz").write_text("not a checkpoint\n")
    _refused(_bench("seed_rounding.py", "--checkpoint", tmp_path / "bad.npz"), "damaged or not a .npz file")
    out = tmp_path / "record"
    _refused(_bench("compare_outputs.py", "record", out, "--sg-checkpoint", tmp_path / "nope.keras"),
             "--sg-checkpoint", "does not exist")
    assert not out.exists()  # inputs are checked before the folder is made


def test_a_child_process_user_error_ends_in_its_one_line(tmp_path):
    """train_speed.py's default runs one process per backend: their error comes back as one line."""
    _refused(_bench("train_speed.py", "--steps", "1", "--rounds", "1", "--data-dir", tmp_path), "missing mnist file")


def test_seed_rounding_runs_on_the_shipped_model(data_dir):
    result = _bench("seed_rounding.py", "--checkpoint", SHIPPED, "--data-dir", data_dir)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "round half up (ours)", "round(x + 1e-5) (the seeds)", "predictions that differ"]
    assert lines[-1].endswith(" of 10000")
