"""Command-line and YAML configuration of train.py.

Precedence: built-in defaults < the `--config` YAML file < flags given on the command line. The
seeds' spellings are accepted too (`--learning_rate`, `--use_ternary True`, `--resume True`,
`--mode 'training'`), so their README command lines run verbatim.
"""
import argparse
import math
import os
import re
import sys
from pathlib import Path

import yaml

from cli_utils import OneLineParser, UserError, load_yaml, str2bool  # noqa: F401  (UserError, load_yaml: re-exported)
from models import DATASETS, PRESETS
from training.output_paths import check_export_folder, check_output_file


DEFAULTS = {
    "model": "lenet",
    "dataset": None,  # the preset's own dataset
    "k": 1,
    "B": 2,
    "epochs": 20,
    "batch_size": 128,
    "learning_rate": 2e-3,
    "seed": 0,
    # optimizer and schedule (docs/training.md §7); the defaults are the project's Adam + cosine
    "optimizer": "adam",
    "momentum": 0.9,  # sgd only
    "beta_1": 0.9,  # adam only
    "beta_2": 0.999,
    "lr_schedule": "cosine",
    "lr_milestones": None,  # step: epochs after which the rate is multiplied by lr_decay
    "lr_step_every": None,  # step: ... or every this many epochs
    "lr_decay": 0.1,
    "weight_decay": 0.0,  # PyTorch's coupled L2
    "weight_decay_until": None,  # epochs with weight decay (None: all)
    "data_dir": None,
    "output_dir": None,  # runs/<model>_<dataset>_k<k>B<B>
    "resume": False,
    "overwrite": False,
    "mode": "training",
    "use_ternary": True,
    "augment": True,
    "train_noise": 0.0,
    "checkpoint": None,
    "export": None,
    "save_keras": None,
    "limit_train": None,
    "limit_test": None,
    "md5_check": True,
    "backend": None,  # $KERAS_BACKEND, else tensorflow
    "distribute": "none",
    "coordinator": None,  # HOST:PORT of process 0, for training on several processes
    "num_processes": 1,
    "process_id": 0,
}
BACKENDS = ("tensorflow", "jax")
OPTIMIZERS = ("adam", "sgd")  # training/optimizers.py builds them (Keras is not imported here)
SCHEDULES = ("cosine", "step")
DISTRIBUTE = ("none", "data-parallel")
# YAML keys that describe an experiment but are not options (e.g. the paper's figure).
METADATA_KEYS = {"paper", "description"}
BOOL_OPTIONS = ("resume", "overwrite", "use_ternary", "augment", "md5_check")
# Each ANN neuron becomes 2^k * B spiking sub-neurons (one threshold each); beyond this the SNN of
# even the smallest preset no longer fits in memory, and no paper goes past 8.
MAX_LEVELS = 256
MAX_K = 8
MAX_SEED = 2**32 - 1  # numpy's generator takes seeds in [0, 2^32)
MAX_EPOCHS = 100_000  # more is a typo, and it overflows the learning-rate schedule's step counter
MAX_BATCH = 65_536
CONFIGS_DIR = Path(__file__).resolve().parent.parent / "configs"
TRAINABLE = list(DATASETS)
# ImageNet's 224 x 224 images go to the rate-coded presets (the binary-SNN seed's VGG-15); the
# others crop CIFAR's 24 x 24 centre or expect MNIST.
IMAGENET_QUANTIZATIONS = ("xnor", "rate_float")


def _mode(text):
    mode = str(text).strip().strip("'\"").lower()
    if mode not in ("training", "inference"):
        raise argparse.ArgumentTypeError(f"expected 'training' or 'inference', got {text!r}")
    return mode


def build_parser():
    p = OneLineParser(
        prog="train.py",
        description="Train (or evaluate) a quantized CNN: median-quantized activations, ternary weights.",
        epilog=_presets_and_configs(),
        formatter_class=argparse.RawDescriptionHelpFormatter,  # keep the epilog's lines
        argument_default=argparse.SUPPRESS,  # only flags actually given reach the namespace
    )
    p.add_argument("--config", help="YAML file with any of these options (flags override it), or the "
                   "name of a shipped one (listed below), from any folder")
    p.add_argument("--model", help="preset name, listed below (default lenet)")
    p.add_argument("--dataset", choices=TRAINABLE, help="default: the preset's dataset")
    p.add_argument("--k", type=int, help=f"quantization level: activation step 2^-k, 0..{MAX_K} (default 1)")
    p.add_argument("--B", type=float, help="activation upper bound (default 2)")
    p.add_argument("--epochs", type=int, help="training epochs (default 20)")
    p.add_argument("--batch-size", "--batch_size", dest="batch_size", type=int, help="default 128")
    p.add_argument("--learning-rate", "--learning_rate", dest="learning_rate", type=float,
                   help="peak Adam learning rate of the warm-up + cosine schedule (default 2e-3)")
    _add_optimizer_flags(p)
    p.add_argument("--seed", type=int, help=f"random seed, 0..{MAX_SEED} (default 0)")
    p.add_argument("--data-dir", "--data_dir", dest="data_dir",
                   help="folder with the official dataset files (default $SNN_DATA_DIR, else download)")
    p.add_argument("--output-dir", "--output_dir", dest="output_dir",
                   help="run directory (default runs/<model>_<dataset>_k<k>B<B>)")
    p.add_argument("--resume", nargs="?", const=True, type=str2bool,
                   help="continue the run in --output-dir from its last completed epoch")
    p.add_argument("--overwrite", nargs="?", const=True, type=str2bool,
                   help="start a new run in --output-dir even though it holds one (deletes that run's files)")
    p.add_argument("--mode", type=_mode, help="training (default) or inference")
    p.add_argument("--use-ternary", "--use_ternary", dest="use_ternary", type=str2bool,
                   help="ternary hidden weights (default True); False trains float hidden weights")
    p.add_argument("--augment", type=str2bool, help="training augmentation (default True)")
    p.add_argument("--train-noise", "--train_noise", dest="train_noise", type=float,
                   help="noise-aware training: delete encoding spikes with a rate drawn per batch from "
                   "U[0, r] (default 0: off); makes the SNN robust to evaluate_snn.py's --noise_ratio")
    p.add_argument("--checkpoint", help="inference: the .keras model to evaluate, or a TensorLayer .npz "
                   "of the seeds' code (assigned to --model built with --k/--B/--use_ternary)")
    p.add_argument("--save-keras", "--save_keras", dest="save_keras",
                   help="inference: also write the evaluated model as this .keras file (an imported .npz "
                   "can then be used like any model)")
    p.add_argument("--export", help="inference: also write the model as a SavedModel here")
    p.add_argument("--limit-train", dest="limit_train", type=int, help="use the first N training images")
    p.add_argument("--limit-test", dest="limit_test", type=int, help="use the first N test images")
    p.add_argument("--no-md5-check", dest="md5_check", action="store_false",
                   help="accept dataset files whose md5 differs from the official one")
    p.add_argument("--backend", choices=BACKENDS,
                   help="Keras backend of training (default $KERAS_BACKEND, else tensorflow); jax needs "
                   "no TensorFlow, and a TensorFlow process exports the SavedModel")
    p.add_argument("--distribute", choices=DISTRIBUTE,
                   help="data-parallel: split each global batch over every local device (jax: "
                   "keras.distribution.DataParallel; tensorflow: MirroredStrategy, synchronized BN)")
    p.add_argument("--coordinator", help="HOST:PORT of process 0: train on --num-processes processes "
                   "(jax, data-parallel), each reading its share of every global batch")
    p.add_argument("--num-processes", "--num_processes", dest="num_processes", type=int,
                   help="processes of a multi-process run (default 1)")
    p.add_argument("--process-id", "--process_id", dest="process_id", type=int,
                   help="this process's index, 0..num-processes-1 (0 writes the run folder)")
    return p


def _add_optimizer_flags(p):
    p.add_argument("--optimizer", choices=OPTIMIZERS, help="adam (default) or sgd")
    p.add_argument("--momentum", type=float, help="sgd momentum (default 0.9)")
    p.add_argument("--beta-1", "--beta_1", dest="beta_1", type=float, help="adam beta_1 (default 0.9)")
    p.add_argument("--beta-2", "--beta_2", dest="beta_2", type=float, help="adam beta_2 (default 0.999)")
    p.add_argument("--lr-schedule", "--lr_schedule", dest="lr_schedule", choices=SCHEDULES,
                   help="cosine (default: warm-up + cosine decay) or step (constant, times --lr-decay "
                   "at --lr-milestones or every --lr-step-every epochs)")
    p.add_argument("--lr-milestones", "--lr_milestones", dest="lr_milestones", type=_int_list,
                   help="step schedule: comma-separated epochs after which the rate is multiplied by "
                   "--lr-decay (torch MultiStepLR), e.g. 81,122")
    p.add_argument("--lr-step-every", "--lr_step_every", dest="lr_step_every", type=int,
                   help="step schedule: multiply the rate by --lr-decay every N epochs (torch StepLR)")
    p.add_argument("--lr-decay", "--lr_decay", dest="lr_decay", type=float,
                   help="step schedule's factor (default 0.1)")
    p.add_argument("--weight-decay", "--weight_decay", dest="weight_decay", type=float,
                   help="coupled L2 as PyTorch's weight_decay: wd * w added to the gradient (default 0)")
    p.add_argument("--weight-decay-until", "--weight_decay_until", dest="weight_decay_until", type=int,
                   help="apply weight decay during the first N epochs only (default: all)")


def _int_list(text):
    try:
        return [int(part) for part in str(text).split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def _presets_and_configs():
    """The --help epilog: every preset with its architecture, and the shipped config files."""
    lines = ["presets (--model):"]
    for name, preset in PRESETS.items():
        lines.append(f"  {name:<16} {preset.description}")
    configs = sorted(CONFIGS_DIR.glob("*.yaml"))
    lines.append(f"configs (--config), in {CONFIGS_DIR.name}/:")
    lines.extend(_wrap([path.name for path in configs]))
    return "\n".join(lines)


def _wrap(names, width=100):
    lines, line = [], " "
    for name in names:
        if len(line) + len(name) + 1 > width:
            lines.append(line)
            line = " "
        line += " " + name
    return lines + [line]


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
    path = _shipped_config(path)
    try:
        with open(path) as handle:
            content = load_yaml(handle)
    except OSError as err:
        raise UserError(f"cannot read config file {path}: {err.strerror}") from None
    except UnicodeDecodeError:
        raise UserError(f"config file {path} is not text (YAML); is it the right file?") from None
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
    # The command line converts these through argparse; the file's values need the same treatment.
    for name, convert in [*((n, str2bool) for n in BOOL_OPTIONS), ("mode", _mode)]:
        if name in options:
            try:
                options[name] = convert(options[name])
            except argparse.ArgumentTypeError as err:
                raise UserError(f"config file {path}: {name}: {err}") from None
    if isinstance(options.get("lr_milestones"), str):  # "81,122" as on the command line
        try:
            options["lr_milestones"] = _int_list(options["lr_milestones"])
        except argparse.ArgumentTypeError as err:
            raise UserError(f"config file {path}: lr_milestones: {err}") from None
    return options


def _shipped_config(path):
    """A path as given if it exists; else a shipped config of that name (`--config mnist_lenet_k1B2`
    works from any folder, as --help lists them)."""
    if Path(path).exists():
        return path
    for candidate in (CONFIGS_DIR / path, CONFIGS_DIR / f"{path}.yaml"):
        if Path(path).name == str(path) and candidate.is_file():
            return str(candidate)
    return path


def validate(options):
    for name in ("model", "dataset", "optimizer", "lr_schedule", "data_dir", "output_dir", "checkpoint",
                 "export", "save_keras", "backend", "coordinator"):
        value = options[name]
        if value is not None and not isinstance(value, str):
            raise UserError(f"{name} must be a string, got {value!r}")
    if options["model"] not in PRESETS:
        raise UserError(f"unknown model {options['model']!r}; valid: {', '.join(PRESETS)}")
    if options["dataset"] is not None and options["dataset"] not in TRAINABLE:
        raise UserError(f"unknown dataset {options['dataset']!r}; valid: {', '.join(TRAINABLE)}")
    if options["dataset"] == "imagenet" and PRESETS[options["model"]].quantization not in IMAGENET_QUANTIZATIONS:
        raise UserError(f"{options['model']} does not take ImageNet images; ImageNet trains the rate-coded presets "
                        f"(vgg15ab_imagenet, vgg15ab_imagenet_fp)")
    for ok, message in _numeric_checks(options):
        if not ok:
            raise UserError(message)
    if float(options["B"]).is_integer():
        options["B"] = int(options["B"])
    levels = 2 ** options["k"] * options["B"]
    if levels != int(levels):
        raise UserError(f"2^k * B must be an integer (the number of spike levels), got k={options['k']}, B={options['B']}")
    if levels > MAX_LEVELS:
        raise UserError(f"2^k * B = {int(levels)} spike levels; at most {MAX_LEVELS} (each ANN neuron "
                        f"becomes that many spiking sub-neurons): lower k or B")
    _check_optimizer(options)
    _check_mode_flags(options)
    _check_distribution(options)


def _check_optimizer(options):
    """The optimizer and schedule keys: choices (a YAML file may hold anything), ranges, and no key
    that the chosen schedule would ignore."""
    o = options
    if o["optimizer"] not in OPTIMIZERS:
        raise UserError(f"unknown optimizer {o['optimizer']!r}; valid: {', '.join(OPTIMIZERS)}")
    if o["lr_schedule"] not in SCHEDULES:
        raise UserError(f"unknown lr schedule {o['lr_schedule']!r}; valid: {', '.join(SCHEDULES)}")
    checks = [
        (_is_finite(o["momentum"]) and 0 <= o["momentum"] < 1, f"momentum must be in [0, 1), got {o['momentum']!r}"),
        (_is_finite(o["beta_1"]) and 0 <= o["beta_1"] < 1, f"beta_1 must be in [0, 1), got {o['beta_1']!r}"),
        (_is_finite(o["beta_2"]) and 0 <= o["beta_2"] < 1, f"beta_2 must be in [0, 1), got {o['beta_2']!r}"),
        (_is_finite(o["lr_decay"]) and 0 < o["lr_decay"] <= 1, f"lr decay must be in (0, 1], got {o['lr_decay']!r}"),
        (_is_finite(o["weight_decay"]) and 0 <= o["weight_decay"] < 1,
         f"weight decay must be a number in [0, 1), got {o['weight_decay']!r}"),
        (o["weight_decay_until"] is None or (_is_int(o["weight_decay_until"]) and o["weight_decay_until"] >= 1),
         f"weight decay until must be an epoch count >= 1, got {o['weight_decay_until']!r}"),
        (o["lr_step_every"] is None or (_is_int(o["lr_step_every"]) and o["lr_step_every"] >= 1),
         f"lr step every must be an integer >= 1, got {o['lr_step_every']!r}"),
        (o["lr_milestones"] is None or (isinstance(o["lr_milestones"], list) and len(o["lr_milestones"]) > 0
                                        and all(_is_int(m) and m >= 1 for m in o["lr_milestones"])
                                        and all(a < b for a, b in zip(o["lr_milestones"], o["lr_milestones"][1:]))),
         f"lr milestones must be a list of epochs >= 1, increasing, got {o['lr_milestones']!r}"),
    ]
    for ok, message in checks:
        if not ok:
            raise UserError(message)
    step_keys = [name for name in ("lr_milestones", "lr_step_every") if o[name] is not None]
    if o["lr_schedule"] == "step" and len(step_keys) != 1:
        raise UserError("the step schedule needs exactly one of --lr-milestones and --lr-step-every")
    if o["lr_schedule"] == "cosine" and step_keys:
        raise UserError(f"--{step_keys[0].replace('_', '-')} is for --lr-schedule step")
    # a setting the chosen optimizer or schedule never reads is refused, not ignored (its default passes)
    for name, used, where in (("momentum", o["optimizer"] == "sgd", "--optimizer sgd"),
                              ("beta_1", o["optimizer"] == "adam", "--optimizer adam"),
                              ("beta_2", o["optimizer"] == "adam", "--optimizer adam"),
                              ("lr_decay", o["lr_schedule"] == "step", "--lr-schedule step")):
        if not used and o[name] != DEFAULTS[name]:
            raise UserError(f"--{name.replace('_', '-')} is for {where}; this run uses --optimizer {o['optimizer']} "
                            f"and --lr-schedule {o['lr_schedule']}, which never read it")


def _check_distribution(options):
    """--backend, --distribute and the multi-process flags fit together (a YAML file may hold any
    value, so the choices are checked here as well as by argparse)."""
    o = options
    if o["backend"] is not None and o["backend"] not in BACKENDS:
        raise UserError(f"unknown backend {o['backend']!r}; valid: {', '.join(BACKENDS)}")
    if o["distribute"] not in DISTRIBUTE:
        raise UserError(f"unknown distribution {o['distribute']!r}; valid: {', '.join(DISTRIBUTE)}")
    n, i = o["num_processes"], o["process_id"]
    if not (_is_int(n) and n >= 1):
        raise UserError(f"num processes must be an integer >= 1, got {n!r}")
    if not (_is_int(i) and 0 <= i < n):
        raise UserError(f"process id must be an integer in [0, {n - 1}], got {i!r}")
    if n > 1 or o["coordinator"] is not None:
        if o["coordinator"] is None or not re.fullmatch(r"[^\s:]+:\d{1,5}", o["coordinator"]):
            raise UserError(f"--coordinator must be HOST:PORT (the address of process 0) with "
                            f"--num-processes {n}, got {o['coordinator']!r}")
        if (o["backend"] or os.environ.get("KERAS_BACKEND", "tensorflow")) != "jax":
            raise UserError("training on several processes needs --backend jax (Keras 3 does not "
                            "support TensorFlow's MultiWorkerMirroredStrategy)")
        if o["mode"] != "training":
            raise UserError("--coordinator/--num-processes are for --mode training")
        o["distribute"] = "data-parallel"  # the only way several processes share a model


def _numeric_checks(options):
    """(ok, message) per numeric option: the type first (a YAML value can be anything), then a range
    that keeps the value finite and inside what the generator, the schedule and the SNN can take."""
    o = options
    checks = [
        (_is_int(o["k"]) and 0 <= o["k"] <= MAX_K, f"k must be an integer in [0, {MAX_K}], got {o['k']!r}"),
        (_is_finite(o["B"]) and o["B"] >= 1, f"B must be a finite number >= 1, got {o['B']!r}"),
        (_is_finite(o["learning_rate"]) and o["learning_rate"] > 0,
         f"learning rate must be a finite number > 0, got {o['learning_rate']!r}"),
        (_is_int(o["epochs"]) and 1 <= o["epochs"] <= MAX_EPOCHS,
         f"epochs must be an integer in [1, {MAX_EPOCHS}], got {o['epochs']!r}"),
        (_is_int(o["batch_size"]) and 1 <= o["batch_size"] <= MAX_BATCH,
         f"batch size must be an integer in [1, {MAX_BATCH}], got {o['batch_size']!r}"),
        (_is_int(o["seed"]) and 0 <= o["seed"] <= MAX_SEED,
         f"seed must be an integer in [0, {MAX_SEED}] (the random generator's range), got {o['seed']!r}"),
        (_is_finite(o["train_noise"]) and 0 <= o["train_noise"] <= 1,
         f"train noise must be in [0, 1], got {o['train_noise']!r}"),
    ]
    if o["train_noise"] and PRESETS[o["model"]].quantization != "median":
        checks.append((False, f"--train-noise applies to scatter-and-gather models, not {o['model']}"))
    for name in ("limit_train", "limit_test"):
        value = o[name]
        checks.append((value is None or (_is_int(value) and value >= 1),
                       f"{name} must be an integer >= 1, got {value!r}"))
    return checks


def _check_mode_flags(options):
    """Flags that would do nothing in the chosen mode are refused rather than ignored."""
    if options["save_keras"] is not None and not options["save_keras"].endswith(".keras"):
        raise UserError(f"--save-keras needs a path ending in .keras, got {options['save_keras']}")
    if options["mode"] == "training":
        for name in ("checkpoint", "export", "save_keras"):
            if options[name] is not None:
                raise UserError(f"--{name} is for --mode inference; training writes its model and "
                                f"SavedModel into --output-dir")
    else:
        if options["overwrite"]:  # (--resume is accepted in inference: the seeds' command lines pass it)
            raise UserError("--overwrite is for --mode training; inference writes no run folder")
        if options["save_keras"] is not None:
            check_output_file(Path(options["save_keras"]), "--save-keras", options["checkpoint"])
        if options["export"] is not None:
            check_export_folder(Path(options["export"]))
    if options["resume"] and options["overwrite"]:
        raise UserError("--resume continues the run in --output-dir and --overwrite deletes it: pass one")


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


def _is_finite(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
