import re
from pathlib import Path

import pytest

from training.config import DEFAULTS, UserError, default_output_dir, parse_config

REPO = Path(__file__).resolve().parents[2]


def test_defaults_train_lenet_on_mnist():
    options = parse_config([])
    assert (options["model"], options["k"], options["B"], options["mode"]) == ("lenet", 1, 2, "training")
    assert options["epochs"] <= 30


def test_seed_readme_command_lines_parse_verbatim():
    # Spatio_temporal_SNNs and ALL_INT_SNN README lines (quotes as the shell leaves them).
    options = parse_config("--k 0 --B 1 --resume False --learning_rate 0.001 --mode 'training'".split())
    assert (options["k"], options["B"], options["resume"], options["learning_rate"]) == (0, 1, False, 0.001)
    assert options["mode"] == "training"
    options = parse_config("--k 0 --resume True --use_ternary True --mode 'inference'".split())
    assert options["resume"] and options["use_ternary"] and options["mode"] == "inference"
    assert parse_config(["--use_ternary", "False"])["use_ternary"] is False
    assert parse_config(["--resume"])["resume"] is True


def test_flags_override_the_config_file(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("k: 0\nB: 4\nepochs: 3\nlearning-rate: 0.01\npaper:\n  ann_accuracy: 0.99\n")
    options = parse_config(["--config", str(config), "--k", "1"])
    assert (options["k"], options["B"], options["epochs"], options["learning_rate"]) == (1, 4, 3, 0.01)


def test_every_shipped_config_parses():
    configs = sorted((REPO / "configs").glob("*.yaml"))
    assert len(configs) >= 25
    for path in configs:
        options = parse_config(["--config", str(path)])
        assert options["model"] in path.name


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["--k", "-1"], "k must be an integer in [0, 8]"),
        (["--B", "0"], "B must be a finite number >= 1"),
        (["--learning-rate", "0"], "learning rate must be a finite number > 0"),
        (["--learning_rate", "-0.1"], "learning rate must be a finite number > 0"),
        (["--model", "resnet"], "unknown model 'resnet'; valid: lenet"),
        (["--config", "/nonexistent/c.yaml"], "cannot read config file"),
        (["--k", "1", "--B", "1.3"], "2^k * B must be an integer"),
    ],
)
def test_bad_values_raise_user_errors(argv, fragment):
    with pytest.raises(UserError, match=re.escape(fragment)):
        parse_config(argv)


def test_bad_config_contents(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("k: [1, 2\n")
    with pytest.raises(UserError, match="not valid YAML"):
        parse_config(["--config", str(bad)])
    bad.write_text("kk: 1\n")
    with pytest.raises(UserError, match="unknown option 'kk'"):
        parse_config(["--config", str(bad)])
    bad.write_text("k: -2\n")
    with pytest.raises(UserError, match="k must be"):
        parse_config(["--config", str(bad)])


def test_default_output_dir_names_the_configuration():
    assert default_output_dir({**DEFAULTS, "k": 0, "B": 4}, "mnist") == Path("runs/lenet_mnist_k0B4")
    assert default_output_dir({**DEFAULTS, "model": "vgg_fp"}, "cifar100") == Path("runs/vgg_fp_cifar100")
    assert default_output_dir({**DEFAULTS, "model": "cnn1", "k": 0}, "cifar10") == Path("runs/cnn1_cifar10_k0")


def test_yaml_numbers_in_exponent_form_are_numbers(tmp_path):
    # PyYAML reads 1e-3 (no dot) as the string '1e-3'; the config must not.
    config = tmp_path / "c.yaml"
    config.write_text("learning_rate: 1e-3\nB: 2e0\ntrain_noise: 5E-2\n")
    options = parse_config(["--config", str(config)])
    assert (options["learning_rate"], options["B"], options["train_noise"]) == (0.001, 2, 0.05)


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["--k", "1000000"], "k must be an integer in [0, 8]"),
        (["--k", "6", "--B", "8"], "2^k * B = 512 spike levels; at most 256"),
        (["--B", "inf"], "B must be a finite number >= 1, got inf"),
        (["--learning-rate", "inf"], "learning rate must be a finite number > 0, got inf"),
        (["--learning-rate", "nan"], "learning rate must be a finite number > 0, got nan"),
        (["--train-noise", "nan"], "train noise must be in [0, 1]"),
        (["--seed", "-1"], "seed must be an integer in [0, 4294967295]"),
        (["--seed", str(2**32)], "seed must be an integer in [0, 4294967295]"),
        (["--epochs", str(10**12)], "epochs must be an integer in [1, 100000]"),
        (["--batch-size", str(10**9)], "batch size must be an integer in [1, 65536]"),
        (["--checkpoint", "pretrained/lenet_mnist_k1B2"], "--checkpoint is for --mode inference"),
        (["--export", "out"], "--export is for --mode inference"),
        (["--resume", "--overwrite"], "pass one"),
        (["--mode", "inference", "--overwrite"], "--overwrite is for --mode training"),
    ],
)
def test_absurd_values_and_idle_flags_raise_user_errors(argv, fragment):
    with pytest.raises(UserError, match=re.escape(fragment)):
        parse_config(argv)


@pytest.mark.parametrize(
    "line, fragment",
    [
        ("epochs: 3.0", "epochs must be an integer in [1, 100000], got 3.0"),
        ("k: '1'", "k must be an integer in [0, 8], got '1'"),
        ("seed: abc", "seed must be an integer"),
        ("mode: Testing", "mode: expected 'training' or 'inference'"),
        ("overwrite: maybe", "overwrite: expected True or False"),
        ("learning_rate: fast", "learning rate must be a finite number > 0, got 'fast'"),
        ("limit_test: 1.5", "limit_test must be an integer >= 1, got 1.5"),
        ("model: [lenet]", "model must be a string"),
    ],
)
def test_mistyped_yaml_values_raise_user_errors(tmp_path, line, fragment):
    config = tmp_path / "c.yaml"
    config.write_text(line + "\n")
    with pytest.raises(UserError, match=re.escape(fragment)):
        parse_config(["--config", str(config)])


def test_yaml_mode_is_normalised_like_the_flag(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("mode: Inference\n")
    assert parse_config(["--config", str(config)])["mode"] == "inference"


def test_help_lists_presets_and_configs(capsys):
    with pytest.raises(SystemExit):
        parse_config(["--help"])
    text = capsys.readouterr().out
    assert all(name in text for name in ("lenet_allint", "vgg_fp", "cnn1"))
    assert "mnist_lenet_k1B2.yaml" in text and "cifar100_vgg_k0B1.yaml" in text


def test_a_shipped_config_is_found_by_name_from_any_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("mnist_lenet_k0B1", "mnist_lenet_k0B1.yaml"):
        options = parse_config(["--config", name])
        assert (options["k"], options["B"]) == (0, 1)
    with pytest.raises(UserError, match="cannot read config file nope.yaml"):
        parse_config(["--config", "nope.yaml"])
