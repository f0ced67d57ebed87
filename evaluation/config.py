"""Command line of evaluate_snn.py. The seeds' spellings work too (`--noise_ratio 0.1`).

Common flags here; each registered method (conversion.METHODS) adds its own flags in an argument
group and checks them (Method.add_arguments, Method.check_options)."""
import argparse

from cli_utils import OneLineParser, UserError, import_tensorflow_quietly, positive_int, str2bool
from models import PRESETS


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
    # The methods bring their own flags, and they live with their converters (Keras): load
    # TensorFlow first, quietly, so that even a bad flag's error stays one line.
    import_tensorflow_quietly()
    import conversion  # noqa: F401  (registers the shipped methods)

    p = OneLineParser(
        prog="evaluate_snn.py",
        description="Convert a quantized CNN into a spiking network, evaluate it, count spikes and SOPs.",
    )
    from conversion.method import METHODS
    from conversion.noise import NOISE_MODELS

    defaults = {name: method.default_model for name, method in METHODS.items()}
    p.add_argument("--checkpoint", help="the quantized model (.keras or run directory); default: "
                   "runs/<model>_mnist_k<k>B<B>, else the shipped pretrained/lenet_mnist_k1B2")
    p.add_argument("--model", help="preset used to find the default checkpoint (default per method: "
                   + ", ".join(f"{model} with --method {name}" for name, model in defaults.items()) + ")")
    p.add_argument("--k", type=int, help="pick the default checkpoint for this k (default per method: "
                   + ", ".join(f"{m.default_k} for {name}" for name, m in METHODS.items()) + ")")
    p.add_argument("--B", type=float, help="pick the default checkpoint for this B (default 2)")
    p.add_argument("--method", default="sg", choices=list(METHODS),
                   help="; ".join(method.help for method in METHODS.values()))
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
                   help="default figs/<run>/ (sg: k<k>B<B>, allint: WQ_INT/k<k>), _noise<r> appended with noise")
    p.add_argument("--calibrate", type=str2bool, default=True,
                   help="place thresholds at the float32 ANN's own switch points (default True); False keeps "
                   "the exact-math thresholds (diagnostic: they can differ from the ANN near ties)")
    p.add_argument("--verify", action="store_true",
                   help="per layer, count neurons whose spike count differs from 2^k x the ANN activation")
    p.add_argument("--export", type=str2bool, default=True, help="write snn.keras and snn.export (default True)")
    p.add_argument("--hardware", help="map the SNN onto neuromorphic cores and simulate it there: "
                   "'paicore', a shipped core name (crossbar256) or a core YAML file")
    p.add_argument("--hardware-images", dest="hardware_images", type=positive_int,
                   help="simulate only the first N test images on the cores (default: all)")
    p.add_argument("--hardware-estimate-only", dest="hardware_estimate_only", action="store_true",
                   help="only count cores (no weight tables, no simulation)")
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
    options = vars(build_parser().parse_args(argv))
    from conversion.method import get_method  # after build_parser: it loads TensorFlow quietly

    if options["k"] is not None and options["k"] < 0:
        raise UserError(f"k must be an integer >= 0, got {options['k']}")
    if options["B"] is not None and options["B"] < 1:
        raise UserError(f"B must be >= 1, got {options['B']}")
    if options["B"] is not None and float(options["B"]).is_integer():
        options["B"] = int(options["B"])
    options["model_given"] = options["model"] is not None
    method = get_method(options.pop("method"))
    if options["model"] is None:
        options["model"] = method.default_model
    if options["model"] not in PRESETS:
        raise UserError(f"unknown model {options['model']!r}; valid: {', '.join(PRESETS)}")
    method.check_options(options)
    if options["noise_sweep"] is not None and not options["noise_sweep"]:
        raise UserError("--noise-sweep needs at least one ratio, e.g. 0,0.1,0.2")
    return method.name, options
