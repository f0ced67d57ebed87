"""train.py on JAX: no TensorFlow needed, the model loads on TensorFlow, data-parallel equals one
device; and the backend / distribution options."""
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


def _env(**extra):
    env = {k: v for k, v in os.environ.items() if k not in ("KERAS_BACKEND", "XLA_FLAGS")}
    return {**env, "TF_CPP_MIN_LOG_LEVEL": "3", **extra}


def test_jax_training_needs_no_tensorflow_and_its_model_loads_on_tensorflow(tmp_path, data_dir):
    import keras

    from training.run import count_correct
    from snn_data import load_arrays

    out = tmp_path / "run"
    command = [sys.executable, str(FIXTURES / "without_tensorflow.py"), str(REPO / "train.py"), "--backend", "jax",
               "--epochs", "1", "--limit-train", "1000", "--limit-test", "300", "--batch-size", "100",
               "--data-dir", str(data_dir), "--output-dir", str(out)]
    result = subprocess.run(command, cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "tensorflow imported: False" in result.stdout
    assert "SavedModel not written: TensorFlow is not installed here" in result.stdout
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["backend"] == "jax" and "tensorflow" not in metrics["versions"]
    assert metrics["test_accuracy"] > 0.2  # it learned in 10 steps (chance: 0.1)
    assert (out / "checkpoint" / "last.keras").is_file() and not (out / "tensorboard").exists()

    # This process runs TensorFlow: the JAX model loads and predicts what JAX measured.
    model = keras.models.load_model(out / "model.keras")
    x, y = load_arrays("mnist", "test", data_dir)
    assert count_correct(model, x[:300], y[:300]) == metrics["test_correct"]

    # The SavedModel is written later, by a TensorFlow process.
    assert train.main(["--mode", "inference", "--checkpoint", str(out / "model.keras"), "--data-dir",
                       str(data_dir), "--limit-test", "300", "--export", str(tmp_path / "export")]) == 0
    assert (tmp_path / "export" / "saved_model.pb").is_file()


@pytest.mark.parametrize("model, equal_steps", [("lenet_fp", 10), ("lenet", 1)])
def test_data_parallel_on_two_devices_equals_one_device(data_dir, model, equal_steps):
    """Same global batches, plain BN: BN statistics are global under DataParallel, so the losses of
    10 (SGD) steps of the float LeNet equal one device's, and the quantized LeNet's first step (the
    same weights, the global batch's statistics); after that the one- and two-device programs sum
    the gradients in another order, and a last-bit difference can flip a ternary weight (on an AMD
    EPYC at step 6: docs/training.md §6). The noise layer draws its own masks on each replica."""
    command = [sys.executable, str(FIXTURES / "data_parallel_check.py"), str(data_dir), "10", model]
    env = _env(KERAS_BACKEND="jax", XLA_FLAGS="--xla_force_host_platform_device_count=2")
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["devices"] == 2 and len(report["one"]) == 10
    np.testing.assert_allclose(report["parallel"][:equal_steps], report["one"][:equal_steps], atol=1e-5, rtol=0)
    assert report["masks_differ"]


@pytest.mark.parametrize("args, fragment", [
    (["--backend", "torch"], "invalid choice"),
    (["--distribute", "model-parallel"], "invalid choice"),
    (["--num-processes", "2", "--backend", "jax"], "--coordinator must be HOST:PORT"),
    (["--coordinator", "nohost", "--num-processes", "2", "--backend", "jax"], "--coordinator must be HOST:PORT"),
    (["--coordinator", "127.0.0.1:1234", "--num-processes", "2", "--process-id", "2", "--backend", "jax"],
     "process id must be an integer in [0, 1]"),
    (["--coordinator", "127.0.0.1:1234", "--num-processes", "2", "--backend", "tensorflow"],
     "needs --backend jax"),
])
def test_bad_distribution_options_are_one_line_and_exit_code_2(args, fragment, capsys):
    try:
        code = train.main([*args, "--epochs", "1"])
    except SystemExit as exit:  # argparse's own errors
        code = exit.code
    assert code == 2
    err = capsys.readouterr().err
    assert fragment in err and len(err.strip().splitlines()) == 1


def test_a_process_with_keras_on_tensorflow_refuses_to_train_on_jax(tmp_path, capsys):
    import keras  # noqa: F401  (this process's keras is on TensorFlow)

    assert train.main(["--backend", "jax", "--output-dir", str(tmp_path / "run")]) == 2
    assert "run train.py --backend jax as its own process" in capsys.readouterr().err


def test_select_backend_reads_the_flag_then_the_environment(monkeypatch):
    from cli_utils import UserError
    from training.backend import select_backend

    monkeypatch.setenv("KERAS_BACKEND", "tensorflow")
    assert select_backend(None) == "tensorflow"
    with pytest.raises(UserError, match="unknown backend"):
        select_backend("theano")


def test_jax_xla_flags_are_added_to_the_users_unless_named_there():
    from training.backend import JAX_XLA_FLAGS, add_jax_xla_flags

    environ = {"XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
    add_jax_xla_flags(environ)
    flags = environ["XLA_FLAGS"].split()
    assert flags[0] == "--xla_force_host_platform_device_count=2"
    assert flags[1:] == [f"{name}={value}" for name, value in JAX_XLA_FLAGS.items()]
    add_jax_xla_flags(environ)  # a second call adds nothing
    assert environ["XLA_FLAGS"].split() == flags

    mine = {"XLA_FLAGS": "--xla_cpu_experimental_ynn_fusion_type="}  # the user turned it off
    add_jax_xla_flags(mine)
    assert mine["XLA_FLAGS"].split() == ["--xla_cpu_experimental_ynn_fusion_type="]


def test_tensorflow_data_parallel_mirrors_over_two_cpus_and_saves_plain_bn(tmp_path, data_dir):
    import keras

    import layers  # noqa: F401  (registers the custom layers for loading)

    out = tmp_path / "run"
    command = [sys.executable, str(REPO / "train.py"), "--distribute", "data-parallel", "--epochs", "1",
               "--limit-train", "400", "--limit-test", "200", "--batch-size", "100", "--data-dir", str(data_dir),
               "--output-dir", str(out)]
    result = subprocess.run(command, env=_env(QSNN_TF_CPU_DEVICES="2"), capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "MirroredStrategy over 2 devices, synchronized BN" in result.stdout
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["devices"] == 2 and metrics["backend"] == "tensorflow"
    model = keras.models.load_model(out / "model.keras")
    assert not any(layer.get_config().get("synchronized") for layer in model.layers)  # loads on JAX too
