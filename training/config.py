"""Command-line and YAML configuration of train.py.

Precedence: built-in defaults < the `--config` YAML file < flags given on the command line. The
seeds' spellings are accepted too (`--learning_rate`, `--use_ternary True`, `--resume True`,
`--mode 'training'`), so their README command lines run verbatim.
"""
import argparse
from pathlib import Path

import yaml

from cli_utils import OneLineParser, UserError, str2bool  # noqa: F401  (UserError: re-exported)
from models import DATASETS, PRESETS


DEFAULTS = {
    "model": "lenet",
    "dataset": None,  # the preset's own dataset
    "k": 1,
    "B": 2,
    "epochs": 20,
    "batch_size": 128,
    "learning_rate": 2e-3,
    "seed": 0,
    "data_dir": None,
    "output_dir": None,  # runs/<model>_<dataset>_k<k>B<B>
    "resume": False,
    "mode": "training",
    "use_ternary": True,
    "augment": True,
    "train_noise": 0.0,
    "checkpoint": None,
    "export": None,
    "limit_train": None,
    "limit_test": None,
    "md5_check": True,
}
# YAML keys that describe an experiment but are not options (e.g. the paper's figure).
METADATA_KEYS = {"paper", "description"}


def _mode(text):
    mode = str(text).strip().strip("'\"").lower()
    if mode not in ("training", "inference"):
        raise argparse.ArgumentTypeError(f"expected 'training' or 'inference', got {text!r}")
    return mode


def build_parser():
    p = OneLineParser(
        prog="train.py",
        description="Train (or evaluate) a quantized CNN: median-quantized activations, ternary weights.",
        argument_default=argparse.SUPPRESS,  # only flags actually given reach the namespace
    )
    p.add_argument("--config", help="YAML file with any of these options (flags override it)")
    p.add_argument("--model", help=f"preset name; one of {', '.join(PRESETS)} (default lenet)")
    p.add_argument("--dataset", choices=list(DATASETS), help="default: the preset's dataset")
    p.add_argument("--k", type=int, help="quantization level: activation step 2^-k (default 1)")
    p.add_argument("--B", type=float, help="activation upper bound (default 2)")
    p.add_argument("--epochs", type=int, help="training epochs (default 20)")
    p.add_argument("--batch-size", "--batch_size", dest="batch_size", type=int, help="default 128")
    p.add_argument("--learning-rate", "--learning_rate", dest="learning_rate", type=float,
                   help="peak Adam learning rate of the warm-up + cosine schedule (default 2e-3)")
    p.add_argument("--seed", type=int, help="random seed (default 0)")
    p.add_argument("--data-dir", "--data_dir", dest="data_dir",
                   help="folder with the official dataset files (default $SNN_DATA_DIR, else download)")
    p.add_argument("--output-dir", "--output_dir", dest="output_dir",
                   help="run directory (default runs/<model>_<dataset>_k<k>B<B>)")
    p.add_argument("--resume", nargs="?", const=True, type=str2bool,
                   help="continue the run in --output-dir from its last completed epoch")
    p.add_argument("--mode", type=_mode, help="training (default) or inference")
    p.add_argument("--use-ternary", "--use_ternary", dest="use_ternary", type=str2bool,
                   help="ternary hidden weights (default True); False trains float hidden weights")
    p.add_argument("--augment", type=str2bool, help="training augmentation (default True)")
    p.add_argument("--train-noise", "--train_noise", dest="train_noise", type=float,
                   help="noise-aware training: delete encoding spikes with a rate drawn per batch from "
                   "U[0, r] (default 0: off); makes the SNN robust to evaluate_snn.py's --noise_ratio")
    p.add_argument("--checkpoint", help="inference: the .keras model to evaluate")
    p.add_argument("--export", help="inference: also write the model as a SavedModel here")
    p.add_argument("--limit-train", dest="limit_train", type=int, help="use the first N training images")
    p.add_argument("--limit-test", dest="limit_test", type=int, help="use the first N test images")
    p.add_argument("--no-md5-check", dest="md5_check", action="store_false",
                   help="accept dataset files whose md5 differs from the official one")
    return p


def parse_config(argv=None):
    """Merged options as a plain dict; raises UserError for bad values or an unreadable config."""
    given = vars(build_parser().parse_args(argv))
    options = dict(DEFAULTS)
    if "config" in given:
        options.update(read_config_file(given.pop("config")))
    options.update(given)
    validate(options)
    return options


def read_config_file(path):
    try:
        with open(path) as handle:
            content = yaml.safe_load(handle)
    except OSError as err:
        raise UserError(f"cannot read config file {path}: {err.strerror}") from None
    except yaml.YAMLError as err:
        raise UserError(f"config file {path} is not valid YAML: {str(err).splitlines()[0]}") from None
    if content is None:
        return {}
    if not isinstance(content, dict):
        raise UserError(f"config file {path} must hold a mapping of option: value")
    options = {}
    for key, value in content.items():
        name = str(key).replace("-", "_")
        if name in METADATA_KEYS:
            continue
        if name not in DEFAULTS:
            raise UserError(f"config file {path}: unknown option {key!r}; valid: {', '.join(sorted(DEFAULTS))}")
        options[name] = value
    for name in ("resume", "use_ternary", "augment", "md5_check"):
        if name in options:
            try:
                options[name] = str2bool(options[name])
            except argparse.ArgumentTypeError as err:
                raise UserError(f"config file {path}: {name}: {err}") from None
    return options


def validate(options):
    for name in ("model", "dataset", "data_dir", "output_dir", "checkpoint", "export"):
        value = options[name]
        if value is not None and not isinstance(value, str):
            raise UserError(f"{name} must be a string, got {value!r}")
    if options["model"] not in PRESETS:
        raise UserError(f"unknown model {options['model']!r}; valid: {', '.join(PRESETS)}")
    if options["dataset"] is not None and options["dataset"] not in DATASETS:
        raise UserError(f"unknown dataset {options['dataset']!r}; valid: {', '.join(DATASETS)}")
    checks = [
        (_is_int(options["k"]) and options["k"] >= 0, f"k must be an integer >= 0, got {options['k']!r}"),
        (_is_number(options["B"]) and options["B"] >= 1, f"B must be >= 1, got {options['B']!r}"),
        (_is_number(options["learning_rate"]) and options["learning_rate"] > 0,
         f"learning rate must be > 0, got {options['learning_rate']!r}"),
        (_is_int(options["epochs"]) and options["epochs"] >= 1, f"epochs must be >= 1, got {options['epochs']!r}"),
        (_is_int(options["batch_size"]) and options["batch_size"] >= 1,
         f"batch size must be >= 1, got {options['batch_size']!r}"),
    ]
    checks.append((_is_number(options["train_noise"]) and 0 <= options["train_noise"] <= 1,
                   f"train noise must be in [0, 1], got {options['train_noise']!r}"))
    if options["train_noise"] and PRESETS[options["model"]].quantization != "median":
        checks.append((False, f"--train-noise applies to scatter-and-gather models, not {options['model']}"))
    for name in ("limit_train", "limit_test"):
        value = options[name]
        checks.append((value is None or (_is_int(value) and value >= 1), f"{name} must be >= 1, got {value!r}"))
    for ok, message in checks:
        if not ok:
            raise UserError(message)
    if _is_number(options["B"]) and float(options["B"]).is_integer():
        options["B"] = int(options["B"])
    if 2 ** options["k"] * options["B"] != int(2 ** options["k"] * options["B"]):
        raise UserError(f"2^k * B must be an integer (the number of spike levels), got k={options['k']}, B={options['B']}")


def run_name(model, dataset, k, B):
    """<model>_<dataset>_k<k>B<B>; all-integer presets have no B, float baselines neither k nor B."""
    name = f"{model}_{dataset}"
    if PRESETS[model].quantization == "allint":
        name += f"_k{k}"
    elif PRESETS[model].quantization == "median":
        name += f"_k{k}B{B}"
    return name


def default_output_dir(options, dataset):
    """runs/<run_name>: the run directory train.py uses unless told otherwise."""
    return Path("runs") / run_name(options["model"], dataset, options["k"], options["B"])


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)
