"""Command line of evaluate_snn.py. The seeds' spellings work too (`--noise_ratio 0.1`).

Common flags here; each registered method (conversion.METHODS) adds its own flags in an argument
group and checks them (Method.add_arguments, Method.check_options)."""
import argparse
import math
from pathlib import Path

from cli_utils import OneLineParser, UserError, positive_int, str2bool
from conversion.choices import NOISE_MODELS
from conversion.method import METHODS, get_method
from evaluation.hardware_step import check_hardware_flags
from models import PRESETS
from training.config import MAX_K, MAX_LEVELS, MAX_SEED
from training.output_paths import check_output_file
from training.runfolder import check_writable

# The all-integer SNN keeps (batch, T, ...) tensors of every layer; its counts converge within a few
# steps (the paper reads T = 4 and 8), and beyond this the tensors no longer fit in memory.
MAX_TIME_STEPS = 1000
MAX_SEEDS = 1000  # one whole evaluation per seed (and per sweep ratio): more is a typo


def _ratio(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"noise ratio must be in [0, 1], got {text}")
    return value


def _ratio_list(text):
    return [_ratio(part) for part in text.split(",") if part.strip()]


def build_parser():
    import conversion  # noqa: F401  (registers the shipped methods; loads no Keras: conversion.method)

    p = OneLineParser(
        prog="evaluate_snn.py",
        description="Convert a quantized CNN into a spiking network, evaluate it, count spikes and SOPs.",
    )
    defaults = {name: method.default_model for name, method in METHODS.items()}
    p.add_argument("--checkpoint", help="the quantized model (.keras, run directory, or a TensorLayer .npz of "
                   "the seeds' code, assigned to --model built with --k/--B); default, with or "
                   "without --model/--k/--B: your run runs/<model>_<dataset>_k<k>B<B>/model.keras if it "
                   "exists, else the shipped pretrained/<same name> (k=1 B=2: pretrained/lenet_mnist_k1B2); "
                   "the first output line names the model used and why")
    p.add_argument("--save-keras", "--save_keras", dest="save_keras",
                   help="also write the quantized ANN as this .keras file (for a --checkpoint .npz: the "
                   "imported model, usable from then on)")
    p.add_argument("--model", help="preset used to find the default checkpoint (default per method: "
                   + ", ".join(f"{model} with --method {name}" for name, model in defaults.items()) + ")")
    p.add_argument("--k", type=int, help="pick the default checkpoint for this k (default per method: "
                   + ", ".join(f"{m.default_k} for {name}" for name, m in METHODS.items()) + ")")
    p.add_argument("--B", type=float, help="pick the default checkpoint for this B (default 2)")
    p.add_argument("--method", choices=list(METHODS),
                   help="; ".join(method.help for method in METHODS.values()) + "; default sg, or the method "
                   "whose seed flags are given (" + ", ".join(
                       f"{name}: --{' --'.join(f.replace('_', '-') for f in m.selected_by)}"
                       for name, m in METHODS.items() if m.selected_by) + ")")
    p.add_argument("--noise_ratio", "--noise-ratio", dest="noise_ratio", type=_ratio, default=0.0,
                   help="noise strength r in [0, 1] (default 0)")
    p.add_argument("--noise-model", "--noise_model", dest="noise_model", choices=NOISE_MODELS,
                   help="encoding (each encoding-layer spike deleted with probability r), all-layers "
                   "(deletion in every spiking layer, unsigned spikes only), input (x (1 + r (u - 1/2)) on "
                   "the input); default per method: "
                   + ", ".join(f"{m.default_noise_model} for {name}" for name, m in METHODS.items()))
    p.add_argument("--seeds", type=positive_int, default=1, help="repeat noisy runs with N seeds (mean, std)")
    p.add_argument("--seed", type=int, default=0, help="first noise seed (default 0)")
    p.add_argument("--noise-sweep", dest="noise_sweep", type=_ratio_list,
                   help="also evaluate these comma-separated noise ratios (x --seeds) and plot the sweep")
    p.add_argument("--batch-size", "--batch_size", dest="batch_size", type=positive_int, default=200,
                   help="images per batch (default 200, as the seed); one line per batch in the text files")
    p.add_argument("--data-dir", "--data_dir", dest="data_dir", help="default $SNN_DATA_DIR")
    p.add_argument("--output-dir", "--output_dir", dest="output_dir",
                   help="default figs/<run>/ (sg: k<k>B<B>, allint: WQ_INT/k<k>), followed by each option that changes "
                   "the results when not at its default: _noise<r>[_<noise model>][_seed<s>][_seeds<n>], "
                   "_uncalibrated, _limit<N>, _batch<N>, _T<steps>, _<core>_estimate; a run replaces the "
                   "files an earlier run left in its folder")
    p.add_argument("--calibrate", type=str2bool, default=True,
                   help="place thresholds at the float32 ANN's own switch points (default True); False keeps "
                   "the exact-math thresholds (diagnostic: they can differ from the ANN near ties)")
    p.add_argument("--verify", action="store_true",
                   help="per layer, count neurons whose spike count differs from 2^k x the ANN activation")
    p.add_argument("--export", type=str2bool, default=True, help="write snn.keras and snn.export (default True)")
    p.add_argument("--export-nir", "--export_nir", dest="export_nir", action="store_true",
                   help="also write snn.nir, the SNN in NIR (neuromorphic intermediate representation) for "
                   "other simulators and chips; sg exports exactly, allint is refused before any work")
    p.add_argument("--hardware", help="map the SNN onto neuromorphic cores and simulate it there: "
                   "'paicore', a shipped core name (crossbar256) or a core YAML file")
    p.add_argument("--mapping", choices=["spatial", "temporal"],
                   help="with --hardware: spatial (scatter-and-gather sub-neurons, the default for --method sg) "
                   "or temporal (one neuron per ANN neuron with store/release windows, --method sr)")
    p.add_argument("--hardware-images", dest="hardware_images", type=positive_int,
                   help="simulate only the first N test images on the cores (default: all)")
    p.add_argument("--hardware-estimate-only", dest="hardware_estimate_only", action="store_true",
                   help="only count cores (no weight tables, no simulation, no test image evaluated); "
                   "its own folder <run>_<core>_estimate")
    p.add_argument("--paibox", choices=["none", "count", "export"], default="count",
                   help="PAICORE only: also compile with PAIBox for its core count (default), and with "
                   "'export' write its configuration files (adds minutes)")
    p.add_argument("--limit-test", dest="limit_test", type=positive_int, help="use the first N test images")
    p.add_argument("--no-md5-check", dest="md5_check", action="store_false")
    for name, method in METHODS.items():
        method.add_arguments(p.add_argument_group(f"--method {name}"))
    return p


def parse_args(argv=None):
    """(method name, options dict) for evaluation.run.run; bad values are UserErrors."""
    parser = build_parser()
    options = vars(parser.parse_args(argv))
    _check_ranges(options)
    if options["B"] is not None and float(options["B"]).is_integer():
        options["B"] = int(options["B"])
    if options["save_keras"] is not None:
        if not options["save_keras"].endswith(".keras"):
            raise UserError(f"--save-keras needs a path ending in .keras, got {options['save_keras']}")
        check_output_file(Path(options["save_keras"]), "--save-keras", options["checkpoint"])
    options["model_given"] = options["model"] is not None
    method = get_method(options.pop("method") or _implied_method(options))
    if options["model"] is None:
        options["model"] = method.default_model
    method.check_options(options)  # first: a method may read --model as something else (rate: a file)
    _refuse_other_methods_flags(parser, method.name, options)
    if options["model"] not in PRESETS:
        raise UserError(f"unknown model {options['model']!r}; valid: {', '.join(PRESETS)}")
    if options["noise_sweep"] is not None and not options["noise_sweep"]:
        raise UserError("--noise-sweep needs at least one ratio, e.g. 0,0.1,0.2")
    if options["seeds"] > 1 and options["noise_ratio"] <= 0 and not any(r > 0 for r in options["noise_sweep"] or ()):
        raise UserError(f"--seeds {options['seeds']} repeats noisy runs: give --noise_ratio > 0 or a --noise-sweep "
                        f"(without noise every seed gives the same run)")
    check_hardware_flags(options)
    if options["output_dir"] is not None:
        check_writable(Path(options["output_dir"]))
    return method.name, options


SHARED_METHOD_FLAGS = {"use_ternary"}  # in allint's group, but every method's model loading reads it


def _refuse_other_methods_flags(parser, name, options):
    """A flag of another method's group, set away from its default, would do nothing: refused."""
    for group in parser._action_groups:
        owner = group.title.split()[-1] if group.title.startswith("--method ") else None
        if owner in (None, name):
            continue
        for action in group._group_actions:
            if action.dest not in SHARED_METHOD_FLAGS and options.get(action.dest, action.default) != action.default:
                raise UserError(f"{action.option_strings[0]} is for --method {owner}; this run is --method {name}")


def _implied_method(options):
    """Without --method: the method one of whose seed-only flags is given (so a seed's own command
    line runs verbatim), else sg."""
    for name, method in METHODS.items():
        if any(options.get(flag) is not None and options.get(flag) is not False for flag in method.selected_by):
            return name
    return "sg"


def _check_ranges(o):
    """Numbers that argparse accepts but nothing downstream can use (infinite, out of the random
    generator's range, an SNN too large to build) fail here, before any work."""
    if o["k"] is not None and not 0 <= o["k"] <= MAX_K:
        raise UserError(f"k must be an integer >= 0 and <= {MAX_K}, got {o['k']}")
    if o["B"] is not None and not (math.isfinite(o["B"]) and o["B"] >= 1):
        raise UserError(f"B must be >= 1 and finite, got {o['B']}")
    if o["k"] is not None and o["B"] is not None and 2**o["k"] * o["B"] > MAX_LEVELS:
        raise UserError(f"2^k * B = {2**o['k'] * o['B']:g} spike levels; at most {MAX_LEVELS}")
    if not 0 <= o["seed"] <= MAX_SEED - (o["seeds"] - 1):
        raise UserError(f"seeds {o['seed']}..{o['seed'] + o['seeds'] - 1} must lie in [0, {MAX_SEED}] "
                        f"(the random generator's range)")
    if o["seeds"] > MAX_SEEDS:
        raise UserError(f"--seeds must be <= {MAX_SEEDS} (each seed is a whole evaluation), got {o['seeds']}")
    if o.get("time_steps") is not None and o["time_steps"] > MAX_TIME_STEPS:
        raise UserError(f"--time-steps must be <= {MAX_TIME_STEPS}, got {o['time_steps']}")
