"""Command line of evaluate_snn.py. The seeds' spellings work too (`--noise_ratio 0.1`)."""
import argparse
import math
from pathlib import Path

from models import PRESETS
from training.config import MAX_K, MAX_LEVELS, MAX_SEED, UserError, _OneLineParser, str2bool
from training.runfolder import check_writable

NOISE_MODELS = ("encoding", "all-layers", "input")
# The all-integer SNN keeps (batch, T, ...) tensors of every layer; its counts converge within a few
# steps (the paper reads T = 4 and 8), and beyond this the tensors no longer fit in memory.
MAX_TIME_STEPS = 1000
DEFAULT_NOISE_MODEL = {"sg": "encoding", "allint": "input"}  # each paper's own noise


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


def _positive(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    return value


def build_parser():
    p = _OneLineParser(
        prog="evaluate_snn.py",
        description="Convert a quantized CNN into a spiking network, evaluate it, count spikes and SOPs.",
    )
    p.add_argument("--checkpoint", help="the quantized model (.keras, run directory, or a TensorLayer .npz of the seeds' code, "
                   "assigned to --model built with --k/--B); default, with or "
                   "without --model/--k/--B: your run runs/<model>_<dataset>_k<k>B<B>/model.keras if it "
                   "exists, else the shipped pretrained/<same name> (k=1 B=2: pretrained/lenet_mnist_k1B2); "
                   "the first output line names the model used and why")
    p.add_argument("--save-keras", "--save_keras", dest="save_keras",
                   help="also write the quantized ANN as this .keras file (for a --checkpoint .npz: the "
                   "imported model, usable from then on)")
    p.add_argument("--model", help="preset used to find the default checkpoint (default lenet; "
                   "lenet_allint with --method allint)")
    p.add_argument("--k", type=int, help="pick the default checkpoint for this k (default 1; 0 with --method allint)")
    p.add_argument("--B", type=float, help="pick the default checkpoint for this B (default 2)")
    p.add_argument("--method", default="sg", choices=["sg", "allint"],
                   help="sg: scatter-and-gather, one time step (default); allint: all-integer SNN with "
                   "dynamic thresholds over --time-steps")
    p.add_argument("--time-steps", "--time_steps", dest="time_steps", type=_positive,
                   help="allint: time steps to simulate (default 30, as the seed's MNIST script)")
    p.add_argument("--use_int", "--use-int", dest="use_int", type=str2bool, default=True,
                   help="allint: exact integer arithmetic, everything x10^4 (default True); False: float")
    p.add_argument("--use_ternary", "--use-ternary", dest="use_ternary", type=str2bool, default=True,
                   help="allint: the model has ternary hidden weights (default True, must match the model)")
    p.add_argument("--noise_ratio", "--noise-ratio", dest="noise_ratio", type=_ratio, default=0.0,
                   help="noise strength r in [0, 1] (default 0)")
    p.add_argument("--noise-model", "--noise_model", dest="noise_model", choices=NOISE_MODELS,
                   help="encoding (sg default: each encoding-layer spike deleted with probability r), "
                   "all-layers (deletion in every spiking layer, sg only), input (allint default: "
                   "x (1 + r (u - 1/2)) on the input)")
    p.add_argument("--seeds", type=_positive, default=1, help="repeat noisy runs with N seeds (mean, std)")
    p.add_argument("--seed", type=int, default=0, help="first noise seed (default 0)")
    p.add_argument("--noise-sweep", dest="noise_sweep", type=_ratio_list,
                   help="also evaluate these comma-separated noise ratios (x --seeds) and plot the sweep")
    p.add_argument("--batch-size", "--batch_size", dest="batch_size", type=_positive, default=200,
                   help="images per batch (default 200, as the seed); one line per batch in the text files")
    p.add_argument("--data-dir", "--data_dir", dest="data_dir", help="default $SNN_DATA_DIR")
    p.add_argument("--output-dir", "--output_dir", dest="output_dir",
                   help="default figs/k<k>B<B>/ (noise-free) or figs/k<k>B<B>_noise<r>/")
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
    p.add_argument("--hardware-images", dest="hardware_images", type=_positive,
                   help="simulate only the first N test images on the cores (default: all)")
    p.add_argument("--hardware-estimate-only", dest="hardware_estimate_only", action="store_true",
                   help="only count cores (no weight tables, no simulation)")
    p.add_argument("--paibox", choices=["none", "count", "export"], default="count",
                   help="PAICORE only: also compile with PAIBox for its core count (default), and with "
                   "'export' write its configuration files (adds minutes)")
    p.add_argument("--limit-test", dest="limit_test", type=_positive, help="use the first N test images")
    p.add_argument("--no-md5-check", dest="md5_check", action="store_false")
    return p


def parse_args(argv=None):
    args = build_parser().parse_args(argv)
    _check_ranges(args)
    if args.B is not None and float(args.B).is_integer():
        args.B = int(args.B)
    if args.save_keras is not None and not args.save_keras.endswith(".keras"):
        raise UserError(f"--save-keras needs a path ending in .keras, got {args.save_keras}")
    args.model_given = args.model is not None
    if args.model is None:
        args.model = "lenet_allint" if args.method == "allint" else "lenet"
    if args.model not in PRESETS:
        raise UserError(f"unknown model {args.model!r}; valid: {', '.join(PRESETS)}")
    if args.noise_model is None:
        args.noise_model = DEFAULT_NOISE_MODEL[args.method]
    if args.method == "sg" and args.time_steps not in (None, 1):
        raise UserError("scatter-and-gather runs one time step; --time-steps is for --method allint")
    if args.method == "allint" and args.noise_model == "all-layers":
        raise UserError("noise model all-layers deletes unsigned spikes; the all-integer SNN's spikes are "
                        "signed (use input or encoding)")
    if args.method == "allint" and args.hardware:
        raise UserError("--hardware maps scatter-and-gather SNNs; all-integer SNNs need signed spikes, "
                        "which PAICORE neurons do not emit")
    if args.method == "allint" and args.noise_sweep:
        raise UserError("--noise-sweep is for --method sg; for allint run --noise_ratio r --seeds N per ratio")
    if args.noise_sweep is not None and not args.noise_sweep:
        raise UserError("--noise-sweep needs at least one ratio, e.g. 0,0.1,0.2")
    if args.method == "allint" and args.time_steps is None:
        args.time_steps = 30
    if args.output_dir is not None:
        check_writable(Path(args.output_dir))
    return args


def _check_ranges(args):
    """Numbers that argparse accepts but nothing downstream can use (infinite, out of the random
    generator's range, an SNN too large to build) fail here, before TensorFlow loads."""
    if args.k is not None and not 0 <= args.k <= MAX_K:
        raise UserError(f"k must be an integer >= 0 and <= {MAX_K}, got {args.k}")
    if args.B is not None and not (math.isfinite(args.B) and args.B >= 1):
        raise UserError(f"B must be >= 1 and finite, got {args.B}")
    if args.k is not None and args.B is not None and 2**args.k * args.B > MAX_LEVELS:
        raise UserError(f"2^k * B = {2**args.k * args.B:g} spike levels; at most {MAX_LEVELS}")
    if not 0 <= args.seed <= MAX_SEED - (args.seeds - 1):
        raise UserError(f"seeds {args.seed}..{args.seed + args.seeds - 1} must lie in [0, {MAX_SEED}] "
                        f"(the random generator's range)")
    if args.time_steps is not None and args.time_steps > MAX_TIME_STEPS:
        raise UserError(f"--time-steps must be <= {MAX_TIME_STEPS}, got {args.time_steps}")
