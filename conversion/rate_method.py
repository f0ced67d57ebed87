"""The rate-coded method as a plugin (conversion.method): percentile weight normalization, IF
neurons, T steps, accuracy at every step (docs/rate.md). The converter is conversion.rate, the
counting conversion.rate_eval; this module holds the flags (the seed's spellings included), the
calibration data, the summary and the seed's output files.

The seed's command line runs as it is:
    python evaluate_snn.py --job-dir J --gpu --dataset cifar100 --data DIR --percentile 99.9 \
        --norm 3500 --time 100 --arch vgg15ab --model bin_cifar100.pth.tar
"""
import csv
import time
from pathlib import Path

import numpy as np

from cli_utils import UserError
from conversion.choices import CALIBRATION_DROPOUT
from conversion.method import Method, accuracy_line, check_noise_model, register_method

DEFAULT_TIME = 80  # the seed's --time
DEFAULT_NORM = 128  # the seed's --norm
DEFAULT_PERCENTILE = 99.7  # the seed's --percentile
MAX_TIME = 1000
TOLERANCE = 0.001  # "within 0.1 pt of the ANN"
CALIBRATION_PICKS = ("random", "first")
# --arch (the seed's name) and --dataset -> preset
ARCHS = {
    "vgg15ab": {"cifar100": "vgg15ab", "imagenet": "vgg15ab_imagenet"},
    "vgg15ab_fp": {"cifar100": "vgg15ab_fp", "imagenet": "vgg15ab_imagenet_fp"},
    "lenet_binary": {"mnist": "lenet_binary"},
    "lenet_avg_fp": {"mnist": "lenet_avg_fp"},
}
RATE_DATASETS = ("mnist", "cifar100", "imagenet")
SEED_CSV_HEADER = "seed,simulation time,batch size,inference time,accuracy"
CHECKPOINT_SUFFIXES = (".tar", ".pth", ".pt", ".keras", ".npz", ".pkl")


def add_arguments(group):
    group.add_argument("--time", type=int, help=f"rate: time steps T (default {DEFAULT_TIME}, the seed's)")
    group.add_argument("--norm", type=int, help=f"rate: calibration images from the training set for the "
                       f"percentile normalization (default {DEFAULT_NORM}, the seed's)")
    group.add_argument("--percentile", type=float, help=f"rate: percentile in (0, 100] of each ReLU's outputs "
                       f"that becomes its scale (default {DEFAULT_PERCENTILE}, the seed's)")
    group.add_argument("--one-step", "--one_step", dest="one_step", action="store_true",
                       help="rate: the whole stack within one step (default: synchronous, one step of delay "
                       "per layer, as the seed)")
    group.add_argument("--calibration-dropout", dest="calibration_dropout", choices=CALIBRATION_DROPOUT,
                       help="rate: 'train' keeps dropout active during calibration, as the seed does (it never "
                       "calls eval()); default 'off'")
    group.add_argument("--calibration-images", dest="calibration_images", choices=CALIBRATION_PICKS,
                       help="rate: 'first' takes the first --norm training images, as the seed (for ImageNet that "
                       "is one class); default 'random' (seeded by --seed)")
    group.add_argument("--seed-augment", dest="seed_augment", action="store_true",
                       help="rate, CIFAR-100: the seed's random crop (pad 4) and flip on the test and calibration "
                       "images (default: the test set as it is)")
    group.add_argument("--arch", help=f"rate: the seed's architecture name ({', '.join(ARCHS)}); with "
                       "--dataset it picks the preset")
    group.add_argument("--dataset", help=f"rate: {', '.join(RATE_DATASETS)} (with --arch)")
    group.add_argument("--job-dir", "--job_dir", dest="job_dir", help="rate: the seed's name of --output-dir")
    group.add_argument("--data", dest="data", help="rate: the seed's name of --data-dir (files are read "
                       "without the md5 check, as the seed reads what is there)")
    group.add_argument("--results-file", "--results_file", dest="results_file",
                       help="rate: CSV under <job dir>/results/ (default sim_result.txt, the seed's)")
    group.add_argument("--eval_size", "--eval-size", dest="eval_size", type=int,
                       help="rate: evaluate the first N test images (default -1: all, the seed's)")
    group.add_argument("--gpu", action="store_true", help="rate: accepted for the seed's command line; "
                       "TensorFlow uses a GPU whenever it sees one")
    group.add_argument("--n-workers", "--n_workers", dest="n_workers", type=int,
                       help="rate: accepted for the seed's command line (unused, as in the seed)")
    group.add_argument("--binarize", action="store_true",
                       help="rate: a binary checkpoint whose hidden weights are not +-alpha per filter is "
                       "binarized (XNOR-Net steps) before conversion; the seed's code never does this")


def _fill_defaults(options):
    for name, value in (("time", DEFAULT_TIME), ("norm", DEFAULT_NORM), ("percentile", DEFAULT_PERCENTILE),
                        ("one_step", False), ("calibration_dropout", "off"), ("calibration_images", "random"),
                        ("seed_augment", False), ("results_file", "sim_result.txt"), ("eval_size", -1),
                        ("binarize", False), ("arch", None), ("dataset", None), ("job_dir", None), ("data", None)):
        if options.get(name) is None:
            options[name] = value


def check_options(options):
    _fill_defaults(options)
    if not 0 < options["percentile"] <= 100:
        raise UserError(f"--percentile must be in (0, 100], got {options['percentile']:g}")
    if options["norm"] < 1:
        raise UserError(f"--norm must be >= 1 (calibration images), got {options['norm']}")
    if not 1 <= options["time"] <= MAX_TIME:
        raise UserError(f"--time must be in [1, {MAX_TIME}], got {options['time']}")
    if options["eval_size"] == 0 or options["eval_size"] < -1:
        raise UserError(f"--eval_size must be -1 (all) or >= 1, got {options['eval_size']}")
    if options["eval_size"] > 0:
        options["limit_test"] = options["eval_size"]
    if options["dataset"] is not None and options["dataset"] not in RATE_DATASETS:
        raise UserError(f"unknown --dataset {options['dataset']!r}; valid: {', '.join(RATE_DATASETS)}")
    _resolve_model(options)
    if options["job_dir"]:
        options["output_dir"] = options["job_dir"]
    if options["data"]:
        options["data_dir"], options["md5_check"] = options["data"], False
    if options.get("hardware"):
        raise UserError("--hardware maps scatter-and-gather SNNs; rate-coded SNNs have no mapping yet")
    check_noise_model(RATE, options)


def _resolve_model(options):
    """--arch/--dataset pick the preset; --model is a preset name or a checkpoint file (the seed's)."""
    arch = options["arch"]
    preset = None
    if arch is not None:
        if arch not in ARCHS:
            raise UserError(f"unknown --arch {arch!r}; valid: {', '.join(ARCHS)}")
        dataset = options["dataset"] or next(iter(ARCHS[arch]))
        if dataset not in ARCHS[arch]:
            raise UserError(f"--arch {arch} is built for {' or '.join(ARCHS[arch])}, not --dataset {dataset}")
        preset = ARCHS[arch][dataset]
    model = options.get("model")
    if options.get("model_given") and model is not None and _is_checkpoint(model):
        if options.get("checkpoint"):
            raise UserError("--model names a checkpoint file; do not pass --checkpoint as well")
        options["checkpoint"], options["model_given"] = model, False
        options["model"] = preset or RATE.default_model
    elif preset is not None:
        if options.get("model_given") and model != preset:
            raise UserError(f"--model {model} does not match --arch {arch} --dataset {options['dataset']}")
        options["model"] = preset


def _is_checkpoint(name):
    from models import PRESETS

    return name not in PRESETS and (Path(name).suffix in CHECKPOINT_SUFFIXES or Path(name).exists())


# -------------------------------------------------------------------------------- conversion

TORCH_SUFFIXES = (".tar", ".pth", ".pt", ".pkl")


def load_model(path, options):
    """A PyTorch checkpoint of the seed (read without torch) into vgg15ab; None for other files."""
    if Path(path).suffix not in TORCH_SUFFIXES:
        return None
    from models.presets import get_preset
    from models.torch_checkpoint import CheckpointError, import_vgg15ab

    preset = get_preset(options["model"])
    if not preset.name.startswith("vgg15ab"):
        raise UserError(f"{path}: PyTorch checkpoints load into vgg15ab (pass --arch vgg15ab), not {preset.name}")
    try:
        ann, facts = import_vgg15ab(path, preset.dataset, binary=preset.quantization == "xnor",
                                    binarize=options["binarize"])
    except CheckpointError as err:
        raise UserError(str(err)) from None
    if preset.quantization == "xnor":
        done = facts["binarized_layers"] == facts["hidden_layers"]
        print(f"{path}: {facts['binarized_layers']} of {facts['hidden_layers']} hidden layers hold binarized "
              f"weights (+-alpha per filter)" + ("" if done else (
                  "; binarizing the rest (--binarize)" if facts["xnor_applied"] else
                  "; converting the weights as they are, as the seed's code does (--binarize applies XNOR-Net)")))
    return ann



def model_facts(ann, path, options):
    from layers.quantized import QuantConv2D, QuantDense
    from models import PRESETS

    xnor = any(isinstance(layer, (QuantConv2D, QuantDense)) and layer.kernel_quantizer == "xnor_net"
               for layer in ann.layers)
    # an imported checkpoint with binarized weights is a float model holding +-alpha values
    binary = xnor or (ann.name in PRESETS and PRESETS[ann.name].quantization == "xnor")
    return {"arch": options.get("arch") or ann.name, "binary": binary}


def counter(snn, dataset):
    from conversion.rate_eval import RateCounter

    return RateCounter(snn)


def calibration_images(images, count, pick, seed):
    """The --norm calibration images: the first `count`, or `count` drawn without replacement."""
    count = min(int(count), len(images))
    if pick == "first":
        return images[:count]
    order = np.random.default_rng(seed).permutation(len(images))[:count]
    return images[np.sort(order)]


def convert_options(options, load_data):
    train_images, _ = load_data("train")
    images = calibration_images(train_images, options["norm"], options["calibration_images"], options["seed"])
    if options["seed_augment"]:
        from snn_data.rate_transforms import seed_cifar_augment

        images = seed_cifar_augment(images, options["seed"])
    options["calibration_count"] = len(images)  # --norm, or fewer when the training set is smaller
    return {"time_steps": options["time"], "one_step": options["one_step"], "calibration": images,
            "percentile": options["percentile"], "dropout": options["calibration_dropout"],
            "seed": options["seed"]}


def convert(ann, time_steps=DEFAULT_TIME, one_step=False, calibration=None, percentile=DEFAULT_PERCENTILE,
            dropout="off", seed=0, return_report=False):
    """Calibrate on `calibration` images (None: no normalization), then convert (conversion.rate)."""
    from conversion.rate import convert_rate, percentile_scales

    started = time.perf_counter()
    scales = None if calibration is None else percentile_scales(ann, calibration, percentile, dropout, seed=seed)
    snn, report = convert_rate(ann, time_steps, one_step, scales, return_report=True)
    report.update(percentile=percentile, calibration_images=0 if calibration is None else len(calibration),
                  calibration_dropout=dropout, calibration_seconds=round(time.perf_counter() - started, 2))
    return (snn, report) if return_report else snn


def run_dir(facts, options):
    timing = "onestep" if options["one_step"] else "sync"
    return f"rate_T{options['time']}_p{options['percentile']:g}_{timing}"


def describe(facts, options):
    timing = "one-step" if options["one_step"] else "synchronous"
    return (f"rate conversion ({'binary' if facts['binary'] else 'float'} weights), T={options['time']}, "
            f"{timing} timing, percentile {options['percentile']:g} over {options.get('calibration_count', options['norm'])} "
            f"training images")


# -------------------------------------------------------------------------------- evaluation


def stable_within(accuracy, reference, tolerance=TOLERANCE):
    """Smallest T (1-based) from which the accuracy stays within `tolerance` of `reference`."""
    stable = None
    for t in range(len(accuracy) - 1, -1, -1):
        if abs(accuracy[t] - reference) > tolerance + 1e-12:
            break
        stable = t + 1
    return stable


def summarize(facts, options, runs, ann_pred, labels, conversion):
    n = len(labels)
    per_step = [(r["predictions"] == labels[:, None]).mean(axis=0) for r in runs]
    last = [float(a[-1]) for a in per_step]
    agreement = (runs[0]["predictions"] == ann_pred[:, None]).sum(axis=0)
    ann_accuracy = float(np.mean(ann_pred == labels))
    accuracy = np.mean(per_step, axis=0)
    counts = runs[0]["report"].to_dict()
    return {
        "arch": facts["arch"],
        "binary": facts["binary"],
        "num_images": int(n),
        "time_steps": options["time"],
        "timing": conversion["timing"],
        "percentile": options["percentile"],
        "norm": conversion["calibration_images"],
        "calibration_dropout": options["calibration_dropout"],
        "calibration_images": options["calibration_images"],
        "seed": options["seed"],
        "batch_size": options["batch_size"],
        "results_file": options["results_file"],
        "noise_ratio": options["noise_ratio"],
        "noise_model": options["noise_model"] if options["noise_ratio"] > 0 else None,
        "ann_accuracy": ann_accuracy,
        "snn_accuracy": float(np.mean(last)),
        "snn_accuracy_std": float(np.std(last)),
        "snn_accuracies": last,
        "snn_accuracy_per_step": accuracy.tolist(),
        "agreement": int(agreement[-1]),
        "agreement_per_step": [int(a) for a in agreement],
        "within_0.1pt_from_step": stable_within(accuracy, ann_accuracy),
        "snn_seconds": round(runs[0]["seconds"], 3),
        "lambdas": conversion["lambdas"],
        "weight_factors": conversion["weight_factors"],
        "units": counts["units"],
        "spikes_per_step_per_image": counts["spikes_per_step_per_image"],
        "sops_per_step_per_image": counts["sops_per_step_per_image"],
        "layers": counts["layers"],
    }


def seed_files(run):
    """One plain line per (batch, step): correct predictions, cumulative spikes and SOPs."""
    files = {}
    for name in ("accuracy", "spike_num", "sop_num"):
        values = [value for batch in run["lines"] for value in batch[name]]
        files[f"{name}.txt"] = "".join(f"{value}\n" if name == "accuracy" else f"{float(value)!r}\n"
                                       for value in values)
    return files


def table(report, summary):
    n = max(report.num_images, 1)
    header = f"{'layer':12s} {'neurons':>8s} {'spikes/img':>11s} {'rate':>7s} {'SOPs/img':>12s} {'MACs/img':>12s}"
    lines = [header, "-" * len(header)]
    for row in report.layers:
        rate = row.spikes / max(n * row.neurons * report.time_steps, 1)
        lines.append(f"{row.name:12s} {row.neurons:8,d} {row.spikes / n:11,.0f} {rate:7.4f} "
                     f"{row.sops / n:12,.0f} {row.macs:12,d}")
    accuracy, steps = summary["snn_accuracy_per_step"], len(summary["snn_accuracy_per_step"])
    shown = sorted({t for t in (1, 2, 4, 8, 16, 32, 64, 128, 256, 512) if t <= steps} | {steps})
    lines.append("step   " + " ".join(f"{t:>6d}" for t in shown))
    lines.append("acc %  " + " ".join(f"{100 * accuracy[t - 1]:6.2f}" for t in shown))
    stable = summary["within_0.1pt_from_step"]
    lines.append(f"within 0.1 pt of the ANN ({100 * summary['ann_accuracy']:.2f} %) from step {stable} on"
                 if stable else f"not within 0.1 pt of the ANN by step {steps}")
    lines.append(accuracy_line(summary))
    # The seed's two lines (its "ms" are seconds: it prints time.time() differences).
    lines.append(f"SNN accuracy: {100 * summary['snn_accuracy']:.2f}")
    lines.append(f"Clock time used: {summary['snn_seconds']:.4f} ms.")
    return "\n".join(lines)


def write_seed_outputs(summary, out):
    """The seed's files: voltage_accuracy_{arch}_{percentile}.npy (accuracy fraction per step,
    float32), the plot {arch}_{percentile}.png and a row in results/{results_file}."""
    arch, percentile = summary["arch"], summary["percentile"]
    tag = f"{arch}_{float(percentile)}"  # as the seed formats its float argument: 99.9, 100.0
    accuracy = np.asarray(summary["snn_accuracy_per_step"], np.float32)
    np.save(out / f"voltage_accuracy_{tag}.npy", accuracy)
    _plot(accuracy, summary, out / f"{tag}.png")
    results = out / "results"
    results.mkdir(exist_ok=True)
    path = results / summary.get("results_file", "sim_result.txt")
    new = not path.is_file()
    with open(path, "a", newline="") as handle:
        if new:
            handle.write(SEED_CSV_HEADER + "\n")
        csv.writer(handle).writerow([summary["seed"], summary["time_steps"], summary["batch_size"],
                                     summary["snn_seconds"], round(100 * summary["snn_accuracy"], 4)])


def _plot(accuracy, summary, path):
    import matplotlib

    matplotlib.use("Agg")  # saved, never shown (the seed showed first, which can save a blank figure)
    import matplotlib.pyplot as plt

    fig = plt.figure()
    plt.plot(accuracy)
    fig.suptitle(f"{summary.get('dataset', '')} {summary['arch']} ANN-SNN@{summary['percentile']:g} percentile",
                 fontsize=20)
    plt.xlabel("Timestep", fontsize=19)
    plt.ylabel("Accuracy", fontsize=19)
    plt.grid(True)
    fig.savefig(path)
    plt.close(fig)


RATE = register_method(Method(
    name="rate",
    help="rate: rate-coded IF SNN with percentile normalization over --time steps (binary-weight SNNs)",
    convert=convert,
    converters="conversion.rate:CONVERTERS",
    convert_options=convert_options,
    default_model="lenet_binary",
    default_k=0,
    model_facts=model_facts,
    load_model=load_model,
    run_dir=run_dir,
    describe=describe,
    counter=counter,
    summarize=summarize,
    seed_files=seed_files,
    table=table,
    plot=write_seed_outputs,
    noise_models=("all-layers", "input", "encoding"),
    mappings=(),
    add_arguments=add_arguments,
    check_options=check_options,
    selected_by=("job_dir", "arch", "percentile", "norm", "time", "one_step", "eval_size"),
))
