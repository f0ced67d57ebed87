"""Acceptance: bad or odd command lines of both CLIs end in one line on stderr and exit code 2, with no
traceback, and leave a prepared run folder as it was.

Each line runs as its own process, as a user would type it, in parallel. train.py's lines, and
evaluate_snn.py's that its parser refuses, fail before TensorFlow loads (a fraction of a second each:
the methods' flags and checks load no Keras, conversion.method); evaluate_snn.py's lines refused on a
model or on the cores load it first, a few seconds each. The whole set: about a minute on two cores.
"""
import hashlib
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from training.config import DEFAULTS

REPO = Path(__file__).resolve().parent.parent
RUN_OPTIONS = {"limit_train": 512, "limit_test": 200, "epochs": 1}


def prepare_run(folder):
    """A finished train.py run folder (fake weights: no line below may get as far as loading them)."""
    options = {**DEFAULTS, **RUN_OPTIONS, "dataset": "mnist", "output_dir": str(folder)}
    (folder / "checkpoint").mkdir(parents=True)
    (folder / "checkpoint" / "state.json").write_text(json.dumps({"completed_epochs": 1, "options": options}))
    (folder / "checkpoint" / "last.keras").write_bytes(b"checkpoint bytes")
    (folder / "model.keras").write_bytes(b"model bytes")
    (folder / "metrics.json").write_text(json.dumps({"test_accuracy": 0.9, "num_test": 200}))
    (folder / "history.csv").write_text("epoch,loss\n1,0.5\n")
    (folder / "train.log").write_text("epoch 1/1\n")
    return folder


def snapshot(folder):
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def write(path, text):
    path.write_text(text)
    return str(path)


def train_cases(run, tmp):
    """(arguments, fragment of the error line) for train.py; all aim at the prepared folder."""
    out = ["--output-dir", str(run)]
    small = ["--limit-train", "512", "--limit-test", "200", "--epochs", "1"]
    damaged = tmp / "damaged"
    (damaged / "checkpoint").mkdir(parents=True)
    (damaged / "checkpoint" / "state.json").write_text('{"completed_epochs": 1, "opti')
    (tmp / "a-file").write_text("x")
    (tmp / "user-folder").mkdir()
    (tmp / "user-folder" / "notes.txt").write_text("mine\n")
    (tmp / "binary.yaml").write_bytes(b"\xff\xfe\x00bad")
    (tmp / "foreign").mkdir()
    (tmp / "foreign" / "history.csv").write_text("the user's own table\n")
    cases = [
        (["--k", "-1"], "k must be an integer in [0, 8]"),
        (["--k", "1000000"], "k must be an integer in [0, 8]"),
        (["--k", "abc"], "invalid int value"),
        (["--B", "0"], "B must be a finite number >= 1"),
        (["--B", "inf"], "B must be a finite number >= 1, got inf"),
        (["--B", "nan"], "B must be a finite number >= 1, got nan"),
        (["--k", "1", "--B", "1.3"], "2^k * B must be an integer"),
        (["--k", "6", "--B", "8"], "at most 256"),
        (["--learning-rate", "0"], "learning rate must be a finite number > 0"),
        (["--learning_rate", "inf"], "learning rate must be a finite number > 0, got inf"),
        (["--epochs", "0"], "epochs must be an integer in [1, 100000]"),
        (["--epochs", "1e3"], "invalid int value"),
        (["--batch-size", "0"], "batch size must be an integer in [1, 65536]"),
        (["--seed", "-1"], "seed must be an integer in [0, 4294967295]"),
        (["--seed", "4294967296"], "seed must be an integer in [0, 4294967295]"),
        (["--train-noise", "1.5"], "train noise must be in [0, 1]"),
        (["--model", "lenet_allint", "--train-noise", "0.1"], "--train-noise applies to scatter-and-gather"),
        (["--model", "alexnet"], "unknown model 'alexnet'"),
        (["--dataset", "imagenet"], "lenet does not take ImageNet images"),
        (["--dataset", "tinyimagenet"], "invalid choice: 'tinyimagenet'"),
        (["--mode", "testing"], "expected 'training' or 'inference'"),
        (["--resume", "maybe"], "expected True or False"),
        (["--use-ternary", "perhaps"], "expected True or False"),
        (["--limit-test", "0"], "limit_test must be an integer >= 1"),
        (["--optimizer", "rmsprop"], "invalid choice: 'rmsprop'"),
        (["--weight-decay=-1e-4"], "weight decay must be a number in [0, 1)"),
        (["--lr-schedule", "step"], "needs exactly one of --lr-milestones and --lr-step-every"),
        (["--lr-schedule", "step", "--lr-milestones", "5,x"], "expected comma-separated integers"),
        (["--no-such-flag"], "unrecognized arguments: --no-such-flag"),
        (["--config", str(tmp / "missing.yaml")], "cannot read config file"),
        (["--config", write(tmp / "bad.yaml", "k: [1, 2\n")], "is not valid YAML"),
        (["--config", write(tmp / "list.yaml", "- k\n- 1\n")], "must hold a mapping"),
        (["--config", write(tmp / "key.yaml", "kk: 1\n")], "unknown option 'kk'"),
        (["--config", write(tmp / "float.yaml", "epochs: 3.0\n")], "epochs must be an integer"),
        (["--config", write(tmp / "mode.yaml", "mode: Testing\n")], "mode: expected 'training' or 'inference'"),
        (["--config", write(tmp / "lr.yaml", "learning_rate: 1e-3x\n")], "learning rate must be a finite number"),
        (["--config", write(tmp / "seed.yaml", "seed: 1e30\n")], "seed must be an integer"),
        (["--checkpoint", "pretrained/lenet_mnist_k1B2"], "--checkpoint is for --mode inference"),
        (["--export", str(tmp / "export")], "--export is for --mode inference"),
        (["--resume", "--overwrite"], "pass one"),
        (["--mode", "inference", "--overwrite"], "--overwrite is for --mode training"),
        # output paths of inference, checked before the model loads
        (["--mode", "inference", "--checkpoint", str(run / "model.keras"), "--export", write(tmp / "export-file", "x")],
         "is a file; give a folder for the SavedModel"),
        (["--mode", "inference", "--checkpoint", str(run / "model.keras"), "--export", str(tmp / "user-folder")],
         "holds other files (notes.txt)"),
        (["--mode", "inference", "--checkpoint", str(run / "model.keras"), "--save-keras", str(run / "model.keras")],
         "is the checkpoint this run reads"),
        (["--config", str(tmp / "binary.yaml")], "is not text (YAML)"),
        (["--lr-schedule", "step", "--lr-milestones", "5,3"], "epochs >= 1, increasing, got [5, 3]"),
        (["--momentum", "0.5"], "--momentum is for --optimizer sgd"),
        (["--optimizer", "sgd", "--beta-1", "0.5"], "--beta-1 is for --optimizer adam"),
        (["--lr-decay", "0.5"], "--lr-decay is for --lr-schedule step"),
        # the prepared run folder: nothing may change it
        (small, "holds a finished run"),
        ([*small, "--resume", "--limit-test", "100"], "started with limit_test=200, not 100"),
        ([*small, "--resume", "--k", "0"], "started with k=1, not 0"),
        ([*small, "--resume", "--epochs", "2"], "started with epochs=1, not 2"),
        ([*small[:4], "--resume"], "not 20 (20 is the default: pass --epochs 1 as the run was started)"),
        ([*small, "--overwrite", "--data-dir", str(tmp / "no-such-data")], "missing mnist file"),
    ]
    cases = [([*args, *out], fragment) for args, fragment in cases]
    return cases + [
        (["--resume", "--output-dir", str(tmp / "new-run")], "nothing to resume in"),
        (["--output-dir", str(tmp / "a-file" / "run")], "is a file"),
        (["--output-dir", "/proc/no-such-run"], "is not writable"),
        (["--resume", "--output-dir", str(damaged)], "state.json is damaged"),
        (["--output-dir", str(tmp / "foreign")], "holds history.csv but no run of train.py"),
    ]


def evaluate_cases(run, tmp):
    """evaluate_snn.py's existing one-line errors (checked before TensorFlow loads)."""
    cases = [
        (["--noise_ratio", "2"], "noise ratio must be in [0, 1]"),
        (["--noise_ratio", "abc"], "expected a number in [0, 1]"),
        (["--seeds", "0"], "expected a positive integer"),
        (["--batch-size", "-5"], "expected a positive integer"),
        (["--method", "foo"], "invalid choice: 'foo'"),
        (["--k", "-1"], "k must be an integer >= 0"),
        (["--B", "0.5"], "B must be >= 1"),
        (["--model", "alexnet"], "unknown model 'alexnet'"),
        (["--time-steps", "5"], "scatter-and-gather runs one time step"),
        (["--method", "allint", "--noise-model", "all-layers"], "noise model all-layers"),
        (["--method", "allint", "--hardware", "paicore"], "--hardware maps scatter-and-gather SNNs"),
        (["--method", "allint", "--hardware", "paicore"], "all-integer SNNs need signed spikes"),
        (["--noise-sweep", ","], "--noise-sweep needs at least one ratio"),
        (["--noise-sweep", "0,2"], "noise ratio must be in [0, 1]"),
        (["--paibox", "maybe"], "invalid choice: 'maybe'"),
        (["--mapping", "temporal", "--hardware", "paicore"], "--method sg SNNs map only spatial"),
        (["--mapping", "temporal"], "--mapping needs --hardware"),
        (["--method", "sr", "--time-steps", "3"], "--time-steps is for --method allint"),
        (["--calibrate", "sometimes"], "expected True or False"),
        (["--B", "nan"], "B must be >= 1 and finite, got nan"),
        (["--B", "inf"], "B must be >= 1 and finite, got inf"),
        (["--k", "99"], "k must be an integer >= 0 and <= 8"),
        (["--k", "6", "--B", "8"], "at most 256"),
        (["--seed", str(10**20), "--noise_ratio", "0.1"], "must lie in [0, 4294967295]"),
        (["--method", "allint", "--time-steps", "100000"], "--time-steps must be <= 1000"),
        (["--output-dir", "/proc/no-such-run"], "is not writable"),
        (["--output-dir", str(tmp / "a-file" / "out")], "is a file"),
        # issue 8 items 4 and 7: absurd numbers, hardware flags that would do nothing
        (["--noise_ratio", "inf"], "noise ratio must be in [0, 1], got inf"),
        (["--noise_ratio", "nan"], "noise ratio must be in [0, 1], got nan"),
        (["--seed", "-1"], "must lie in [0, 4294967295]"),
        (["--seed", "4294967295", "--seeds", "2", "--noise_ratio", "0.1"], "must lie in [0, 4294967295]"),
        (["--batch-size", "1e3"], "expected a positive integer, got '1e3'"),
        (["--seeds", "1000000000", "--noise_ratio", "0.1"], "--seeds must be <= 1000"),
        (["--seeds", "3"], "--seeds 3 repeats noisy runs: give --noise_ratio > 0 or a --noise-sweep"),
        (["--seeds", "2", "--noise-sweep", "0"], "without noise every seed gives the same run"),
        (["--limit-test", "inf"], "expected a positive integer, got 'inf'"),
        (["--k", str(10**30)], "k must be an integer >= 0 and <= 8"),
        (["--hardware-estimate-only"], "--hardware-estimate-only needs --hardware"),
        (["--hardware-images", "5"], "--hardware-images needs --hardware"),
        (["--paibox", "export"], "--paibox export needs --hardware paicore"),
        (["--method", "sg", "--percentile", "50"], "--percentile is for --method rate; this run is --method sg"),
        (["--use_int", "False"], "--use_int is for --method allint"),
        (["--method", "sr", "--binarize"], "--binarize is for --method rate"),
        (["--hardware", ""], "--hardware needs a core"),
        (["--save-keras", str(run / "model.keras")], "is the checkpoint this run reads"),
        (["--hardware", "paicore", "--hardware-estimate-only", "--noise-sweep", "0,0.1"],
         "--noise-sweep needs the evaluation"),
        (["--hardware", "paicore", "--hardware-estimate-only", "--hardware-images", "5"],
         "--hardware-estimate-only simulates none"),
        # malformed or mistyped core files: refused before any model is loaded
        (["--hardware", write(tmp / "axons.yaml", _core(axons="abc"))], "core: axons: expected an integer, got 'abc'"),
        (["--hardware", write(tmp / "widths.yaml", _core(weight_widths="[2, 4, eight]"))],
         "weight_widths: expected an integer, got 'eight'"),
        (["--hardware", write(tmp / "energy.yaml", _core(energy_per_sop_pj="cheap"))],
         "energy_per_sop_pj: expected a finite number >= 0, got 'cheap'"),
        (["--hardware", write(tmp / "multicast.yaml", _core(multicast="sometimes"))],
         "multicast: expected true or false"),
        (["--hardware", write(tmp / "grid.yaml", _core(grid="[0, 16]"))], "grid must be two positive sizes"),
        (["--hardware", write(tmp / "core-list.yaml", "- axons\n- 256\n")], "needs 'name', 'core' and 'chip'"),
        (["--hardware", write(tmp / "core-bad.yaml", "core: {axons: [1\n")], "is not valid YAML"),
        (["--hardware", str(tmp / "no-such-core.yaml")], "unknown core"),
    ]
    return [([*args, "--checkpoint", str(run)], fragment) for args, fragment in cases]


def _core(**changes):
    """The shipped crossbar256.yaml with `key: value` lines replaced (value as YAML text)."""
    lines = []
    for line in (REPO / "hardware" / "cores" / "crossbar256.yaml").read_text().splitlines():
        key = line.split(":")[0].strip()
        lines.append(f"{line[:len(line) - len(line.lstrip())]}{key}: {changes[key]}" if key in changes else line)
    return "\n".join(lines) + "\n"


def model_cases(tmp):
    """Lines that get as far as reading a model (TensorFlow loads): a damaged checkpoint file, and a
    network that does not fit the chosen cores, found before the evaluation and the noise sweep."""
    damaged = tmp / "damaged-model" / "model.keras"
    damaged.parent.mkdir()
    damaged.write_bytes(b"PK\x03\x04 truncated")
    shipped = str(REPO / "pretrained" / "lenet_mnist_k1B2")
    return [
        (["--checkpoint", str(damaged)], "model.keras is damaged (not a .keras zip archive"),
        (["--checkpoint", str(damaged.parent)], "model.keras is damaged"),
        (["--checkpoint", shipped, "--hardware", "crossbar256", "--noise-sweep", "0,0.1", "--seeds", "3",
          "--output-dir", str(tmp / "no-fit")], "layer act1: axons: needs 1600 per neuron"),
    ]


def run_line(script, args):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run([sys.executable, str(REPO / script), *args], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=300)
    return script, args, result


def test_bad_command_lines_of_both_clis(tmp_path):
    run = prepare_run(tmp_path / "prepared")
    before = snapshot(run)
    lines = [("train.py", args, fragment) for args, fragment in train_cases(run, tmp_path)]
    lines += [("evaluate_snn.py", args, fragment) for args, fragment in evaluate_cases(run, tmp_path)]
    lines += [("evaluate_snn.py", args, fragment) for args, fragment in model_cases(tmp_path)]
    assert len(lines) >= 40
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        results = list(pool.map(lambda line: run_line(*line[:2]), lines))
    failures = []
    for (script, args, fragment), (_, _, result) in zip(lines, results):
        err = result.stderr.strip().splitlines()
        ok = (result.returncode == 2 and len(err) == 1 and fragment in err[0]
              and "Traceback" not in result.stderr + result.stdout)
        if not ok:
            failures.append(f"{script} {' '.join(args)}: exit {result.returncode}, stderr {result.stderr!r}")
    assert not failures, f"{len(failures)} of {len(lines)} lines:\n" + "\n".join(failures)
    assert snapshot(run) == before
    assert not (tmp_path / "new-run").exists()  # a refused --resume creates no folder
    assert not (tmp_path / "no-fit").exists()  # the cores were checked before anything was written
    assert (tmp_path / "foreign" / "history.csv").read_text() == "the user's own table\n"
