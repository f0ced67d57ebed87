"""train.py's optimizer keys: parsing, the step schedule's rates, coupled L2 that stops (docs/training.md §7)."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from training.config import DEFAULTS, UserError, parse_config

REPO = Path(__file__).resolve().parents[2]


def test_defaults_keep_adam_with_cosine_and_no_weight_decay():
    options = parse_config([])
    assert (options["optimizer"], options["lr_schedule"], options["weight_decay"]) == ("adam", "cosine", 0.0)


def test_flags_and_yaml_keys_parse(tmp_path):
    options = parse_config(["--optimizer", "sgd", "--momentum", "0.8", "--lr-schedule", "step",
                            "--lr-milestones", "81,122", "--weight-decay", "1e-4", "--epochs", "200"])
    assert (options["optimizer"], options["momentum"], options["lr_milestones"]) == ("sgd", 0.8, [81, 122])
    config = tmp_path / "c.yaml"
    config.write_text("optimizer: adam\nbeta_1: 0.0\nbeta-2: 0.99\nlr_schedule: step\nlr_step_every: 30\n"
                      "lr_decay: 0.5\nweight_decay: 5e-4\nweight_decay_until: 30\nepochs: 100\n")
    options = parse_config(["--config", str(config)])
    assert (options["beta_1"], options["beta_2"], options["lr_step_every"]) == (0.0, 0.99, 30)
    assert (options["weight_decay"], options["weight_decay_until"], options["lr_decay"]) == (5e-4, 30, 0.5)


def test_the_seed_recipes_are_shipped():
    cifar_fp = parse_config(["--config", "cifar100_vgg15ab_fp"])
    assert (cifar_fp["optimizer"], cifar_fp["momentum"], cifar_fp["lr_milestones"]) == ("sgd", 0.9, [81, 122])
    binary = parse_config(["--config", "imagenet_vgg15ab_imagenet_binary"])
    assert (binary["beta_1"], binary["beta_2"], binary["weight_decay_until"]) == (0.0, 0.999, 30)


@pytest.mark.parametrize("config, rates", [
    # epoch (0-based) -> rate: /10 from the 82nd and the 123rd epoch (MultiStepLR [81, 122])
    ("cifar100_vgg15ab_fp", {0: 5e-2, 80: 5e-2, 81: 5e-3, 121: 5e-3, 122: 5e-4, 199: 5e-4}),
    ("cifar100_vgg15ab_binary", {0: 5e-4, 29: 5e-4, 30: 2.5e-4, 59: 2.5e-4, 60: 1.25e-4, 199: 5e-4 / 64}),
    ("imagenet_vgg15ab_imagenet_fp", {0: 1e-2, 29: 1e-2, 30: 1e-3, 60: 1e-4, 99: 1e-5}),
])
def test_step_schedule_gives_the_seed_rates(config, rates):
    from training.optimizers import learning_rate_at, make_schedule

    options = parse_config(["--config", config])
    steps = 7
    schedule = make_schedule(options, steps)
    for epoch, rate in rates.items():
        assert learning_rate_at(options, epoch) == pytest.approx(rate, rel=1e-12)
        for step in (epoch * steps, epoch * steps + steps - 1):  # first and last batch of the epoch
            assert float(schedule(step)) == pytest.approx(rate, rel=1e-6)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_coupled_weight_decay_stops_after_the_set_epoch(optimizer):
    """With zero gradients only the L2 term moves the weights: they shrink during the first 2 epochs
    (3 steps each) and stay put afterwards."""
    import keras

    from training.optimizers import make_optimizer

    momentum = ["--momentum", "0"] if optimizer == "sgd" else []  # Adam has no momentum to set
    options = parse_config(["--optimizer", optimizer, *momentum, "--lr-schedule", "step",
                            "--lr-step-every", "100", "--learning-rate", "0.1", "--weight-decay", "0.5",
                            "--weight-decay-until", "2", "--epochs", "5"])
    opt = make_optimizer(options, steps_per_epoch=3)
    w = keras.Variable(np.ones(4, "float32"))
    values = []
    for _ in range(9):
        opt.apply([keras.ops.zeros(4)], [w])
        values.append(float(w.numpy()[0]))
    assert all(b < a for a, b in zip([1.0] + values[:5], values[:6]))
    if optimizer == "sgd":  # coupled L2 with SGD: w <- w - lr * wd * w
        assert values[0] == pytest.approx(1 - 0.1 * 0.5)
    # Adam keeps its first moment, so with beta_1 = 0.9 the weights keep moving after the decay ends;
    # SGD without momentum stops at once
    if optimizer == "sgd":
        assert values[6:] == [values[5]] * 3


def test_adam_decay_with_beta1_zero_stops_at_once():
    import keras

    from training.optimizers import make_optimizer

    options = parse_config(["--beta-1", "0", "--lr-schedule", "step", "--lr-step-every", "100",
                            "--weight-decay", "0.5", "--weight-decay-until", "1", "--epochs", "3"])
    opt = make_optimizer(options, steps_per_epoch=2)
    w = keras.Variable(np.ones(2, "float32"))
    values = []
    for _ in range(5):
        opt.apply([keras.ops.zeros(2)], [w])
        values.append(float(w.numpy()[0]))
    assert values[1] < values[0] < 1.0  # Adam's normalized step: about lr per step
    assert values[2:] == [values[1]] * 3


def test_optimizer_round_trips_through_its_config():
    import keras

    from training.optimizers import CoupledL2Adam, make_optimizer

    options = parse_config(["--weight-decay", "1e-3", "--weight-decay-until", "4", "--lr-schedule", "step",
                            "--lr-milestones", "3", "--epochs", "6"])
    opt = make_optimizer(options, steps_per_epoch=5)
    copy = keras.optimizers.deserialize(keras.optimizers.serialize(opt))
    assert isinstance(copy, CoupledL2Adam) and (copy.l2, copy.l2_until_step) == (1e-3, 20)


def test_no_weight_decay_builds_keras_own_optimizer():
    import keras

    from training.optimizers import make_optimizer

    assert type(make_optimizer(parse_config([]), 10)) is keras.optimizers.Adam
    sgd = make_optimizer(parse_config(["--optimizer", "sgd"]), 10)
    assert type(sgd) is keras.optimizers.SGD and sgd.momentum == DEFAULTS["momentum"]


@pytest.mark.parametrize("argv, fragment", [
    (["--optimizer", "rmsprop"], "invalid choice: 'rmsprop'"),
    (["--momentum", "1"], "momentum must be in [0, 1)"),
    (["--beta-1", "-0.1"], "beta_1 must be in [0, 1)"),
    (["--weight-decay=-1e-4"], "weight decay must be a number in [0, 1)"),
    (["--weight-decay-until", "0"], "weight decay until must be an epoch count >= 1"),
    (["--lr-schedule", "step"], "needs exactly one of --lr-milestones and --lr-step-every"),
    (["--lr-milestones", "5"], "--lr-milestones is for --lr-schedule step"),
    (["--lr-schedule", "step", "--lr-milestones", "5,x"], "expected comma-separated integers"),
    (["--lr-schedule", "step", "--lr-milestones", "0,30"], "lr milestones must be a list of epochs >= 1"),
    (["--lr-schedule", "step", "--lr-step-every", "10", "--lr-decay", "0"], "lr decay must be in (0, 1]"),
])
def test_bad_values_raise_user_errors(argv, fragment, capsys):
    with pytest.raises((UserError, SystemExit)) as info:
        parse_config(argv)
    # argparse's own checks (choices, types) end in one line on stderr and exit code 2
    message = str(info.value) if info.type is UserError else capsys.readouterr().err
    assert fragment in message
    if info.type is SystemExit:
        assert info.value.code == 2 and len(message.strip().splitlines()) == 1


def test_bad_yaml_values(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("optimizer: lion\n")
    with pytest.raises(UserError, match="unknown optimizer 'lion'"):
        parse_config(["--config", str(config)])
    config.write_text("lr_schedule: step\nlr_milestones: [ten]\n")
    with pytest.raises(UserError, match="lr milestones must be a list"):
        parse_config(["--config", str(config)])


def test_train_py_refuses_a_bad_value_or_a_missing_imagenet_tree_in_one_line(tmp_path):
    """The command line: one line on stderr, exit code 2 (the option check and the ImageNet folder
    check run before Keras loads)."""
    for args, fragment in [(["--weight-decay-until", "0"], "weight decay until must be an epoch count"),
                           (["--config", "imagenet_vgg15ab_imagenet_fp", "--data-dir", str(tmp_path)],
                            "missing ImageNet folder")]:
        result = subprocess.run([sys.executable, str(REPO / "train.py"), *args], cwd=REPO, capture_output=True,
                                text=True, timeout=120, env={**__import__("os").environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 2 and len(lines) == 1 and fragment in lines[0], result.stderr


def test_model_fit_applies_the_decay_for_the_set_epochs_only():
    """Through model.fit (apply_gradients): zero data, so only the L2 term moves the kernel, by
    (1 - lr * wd) per step during epoch 1 (2 steps), then not at all."""
    import keras

    from training.optimizers import make_optimizer

    options = parse_config(["--optimizer", "sgd", "--momentum", "0", "--lr-schedule", "step", "--lr-step-every",
                            "100", "--learning-rate", "0.1", "--weight-decay", "0.5", "--weight-decay-until", "1",
                            "--epochs", "3"])
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, use_bias=False, kernel_initializer="ones")])
    model.compile(optimizer=make_optimizer(options, steps_per_epoch=2), loss="mse")
    x, y = np.zeros((4, 2), "float32"), np.zeros((4, 1), "float32")
    kernels = []
    for _ in range(3):
        model.fit(x, y, batch_size=2, epochs=1, verbose=0, shuffle=False)
        kernels.append(float(model.get_weights()[0][0, 0]))
    assert kernels == pytest.approx([0.95 ** 2] * 3)


JAX_FIT = """
import numpy as np, keras
from training.config import parse_config
from training.optimizers import make_optimizer
o = parse_config(["--optimizer", "sgd", "--momentum", "0", "--lr-schedule", "step", "--lr-step-every", "100",
                  "--learning-rate", "0.1", "--weight-decay", "0.5", "--weight-decay-until", "1", "--epochs", "3"])
m = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, use_bias=False, kernel_initializer="ones")])
m.compile(optimizer=make_optimizer(o, 2), loss="mse")
for _ in range(3):
    m.fit(np.zeros((4, 2), "float32"), np.zeros((4, 1), "float32"), batch_size=2, epochs=1, verbose=0, shuffle=False)
    print(float(m.get_weights()[0][0, 0]))
"""


def test_jax_fit_applies_the_decay_too():
    """JAX's trainer calls the optimizer through stateless_apply (no variables passed to apply)."""
    import os

    env = {**os.environ, "KERAS_BACKEND": "jax", "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run([sys.executable, "-c", JAX_FIT], cwd=REPO, env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert [float(v) for v in result.stdout.split()] == pytest.approx([0.95 ** 2] * 3)


NEW_KEYS = ("optimizer", "momentum", "beta_1", "beta_2", "lr_schedule", "lr_milestones", "lr_step_every",
            "lr_decay", "weight_decay", "weight_decay_until")


def _old_run(tmp_path):
    """A run folder whose state.json predates the optimizer keys (one completed epoch of two)."""
    import json

    out = tmp_path / "run"
    (out / "checkpoint").mkdir(parents=True)
    (out / "checkpoint" / "last.keras").write_bytes(b"PK")
    options = {key: value for key, value in parse_config(["--epochs", "2"]).items() if key not in NEW_KEYS}
    options["dataset"] = "mnist"
    (out / "checkpoint" / "state.json").write_text(json.dumps({"completed_epochs": 1, "options": options}))
    return out


def test_a_run_from_before_the_keys_resumes_with_their_defaults_and_refuses_a_change(tmp_path):
    from training.runfolder import plan_training

    out = _old_run(tmp_path)
    base = ["--epochs", "2", "--output-dir", str(out), "--resume", "True"]
    assert plan_training(parse_config(base)).action == "resume"
    with pytest.raises(UserError, match="it was started with weight_decay=0.0, not 0.0001"):
        plan_training(parse_config([*base, "--weight-decay", "1e-4"]))
