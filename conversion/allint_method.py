"""The all-integer method as a plugin (conversion.method): its flags, folders, per-step counting,
files and table. The converters are in conversion.allint; counting and verification in
conversion.allint_eval. Output folders follow the seed: {WQ|NWQ}{_INT|}/k<k>.
"""
import numpy as np

from cli_utils import UserError, positive_int, str2bool
from conversion.method import Method, accuracy_line, check_noise_model, lazy, register_method

DEFAULT_TIME_STEPS = 30  # the seed's MNIST script


def add_arguments(group):
    group.add_argument("--time-steps", "--time_steps", dest="time_steps", type=positive_int,
                       help=f"allint: time steps to simulate (default {DEFAULT_TIME_STEPS}, as the seed's MNIST script)")
    group.add_argument("--use_int", "--use-int", dest="use_int", type=str2bool, default=True,
                       help="allint: exact integer arithmetic, everything x10^4 (default True); False: float")
    group.add_argument("--use_ternary", "--use-ternary", dest="use_ternary", type=str2bool, default=True,
                       help="allint: the model has ternary hidden weights (default True, must match the model)")


def check_options(options):
    options.setdefault("use_int", True)  # called from Python without the flags: the CLI's defaults
    options.setdefault("use_ternary", True)
    if options.get("noise_model") == "all-layers":
        raise UserError("noise model all-layers deletes unsigned spikes; the all-integer SNN's spikes are "
                        "signed (use input or encoding)")
    if options.get("hardware"):
        raise UserError("--hardware maps scatter-and-gather SNNs; all-integer SNNs need signed spikes, "
                        "which PAICORE neurons do not emit")
    check_noise_model(ALLINT, options)
    if options.get("time_steps") is None:
        options["time_steps"] = DEFAULT_TIME_STEPS


def model_facts(ann, path, options):
    """k of the hidden quantizers (the encoding one is k=0, B=4 by construction)."""
    from layers.quantized import QuantActivation, QuantConv2D, QuantDense

    acts = [layer for layer in ann.layers if isinstance(layer, QuantActivation)]
    hidden = [a for a in acts if a.mode == "unbounded"]
    if not hidden:
        raise UserError(f"{path} is not an all-integer model (no unbounded quantizers); "
                        f"convert it with --method sg")
    k = hidden[0].k
    if options.get("k") is not None and options["k"] != k:
        raise UserError(f"{path} was trained with k={k}, not k={options['k']}")
    ternary = any(isinstance(layer, (QuantConv2D, QuantDense)) for layer in ann.layers)
    if ternary != options["use_ternary"]:
        raise UserError(f"{path} has {'ternary' if ternary else 'float'} hidden weights: "
                        f"pass --use_ternary {ternary}")
    return {"k": k}


def convert_options(options, load_data):
    return {"time_steps": options["time_steps"], "use_int": options["use_int"], "calibrate": options["calibrate"]}


def run_dir(facts, options):
    folder = ("WQ" if options["use_ternary"] else "NWQ") + ("_INT" if options["use_int"] else "")
    steps = "" if options["time_steps"] == DEFAULT_TIME_STEPS else f"_T{options['time_steps']}"
    return f"{folder}/k{facts['k']}{steps}"  # the step count changes every result: its own folder


def describe(facts, options):
    mode = "integer" if options["use_int"] else "float"
    return f"all-integer conversion ({mode} mode), k={facts['k']}, T={options['time_steps']}"


def counter(snn, dataset):
    from conversion.allint_eval import AllIntCounter

    # The seed's MNIST script counts the classifier's SOPs, its CIFAR script does not.
    return AllIntCounter(snn, classifier_sops=dataset == "mnist")


def summarize(facts, options, runs, ann_pred, labels, conversion):
    from conversion.allint_eval import first_equal_step, stable_from_step

    n = len(labels)
    per_step = [(r["predictions"] == labels[:, None]).mean(axis=0).tolist() for r in runs]
    last_accuracies = [accuracy[-1] for accuracy in per_step]
    agreement = (runs[0]["predictions"] == ann_pred[:, None]).sum(axis=0).tolist()
    counts = runs[0]["report"].to_dict()
    return {
        "k": facts["k"],
        "use_int": options["use_int"],
        "use_ternary": options["use_ternary"],
        "num_images": int(n),
        "time_steps": options["time_steps"],
        "noise_ratio": options["noise_ratio"],
        "noise_model": options["noise_model"] if options["noise_ratio"] > 0 else None,
        "ann_accuracy": float(np.mean(ann_pred == labels)),
        "snn_accuracy": float(np.mean(last_accuracies)),
        "snn_accuracy_std": float(np.std(last_accuracies)),
        "snn_accuracies": last_accuracies,
        "snn_accuracy_per_step": np.mean(per_step, axis=0).tolist(),
        "agreement": int(agreement[-1]),
        "agreement_per_step": [int(a) for a in agreement],
        "first_step_all_equal": first_equal_step(agreement, n),
        "stable_from_step": stable_from_step(agreement, n),
        "units": counts["units"],
        "per_step_totals": counts["per_step_totals"],
        "per_image_at_last_step": counts["per_image_at_last_step"],
        "layers": counts["layers"],
    }


def seed_files(run):
    """The seed's six files, one plain line per (batch, step)."""
    from conversion.allint_eval import SEED_FILES

    files = {}
    for name in SEED_FILES:
        values = [value for batch in run["lines"] for value in batch[name]]
        files[f"{name}.txt"] = "".join((f"{value}\n" if name == "accuracy" else f"{float(value)!r}\n")
                                       for value in values)
    return files


def table(report, summary):
    """Per-layer counts (per image, all steps) and the accuracy / agreement curve per step."""
    n = max(report.num_images, 1)
    header = (f"{'layer':8s} {'role':9s} {'neurons':>8s} {'|spikes|/img':>12s} {'net/img':>10s} "
              f"{'negative/img':>12s} {'SOPs/img':>12s} {'MACs/img':>12s}")
    lines = [header, "-" * len(header)]
    for row in report.layers:
        mark = "" if row.counted else " *"
        lines.append(f"{row.name:8s} {row.role:9s} {row.neurons:8,d} {row.spikes / n:12,.0f} "
                     f"{row.net_spikes / n:10,.0f} {row.negative_spikes / n:12,.1f} {row.sops / n:12,.0f} "
                     f"{row.macs:12,d}{mark}")
    lines.append("* not in the seed's totals (spike_num, sop_num): the encoding layer's spikes only feed "
                 "the first hidden layer's SOPs")
    agreement, accuracy = summary["agreement_per_step"], summary["snn_accuracy_per_step"]
    shown = sorted({*range(1, min(8, len(agreement)) + 1), len(agreement)})
    lines.append("step   " + " ".join(f"{t:>7d}" for t in shown))
    lines.append("acc %  " + " ".join(f"{100 * accuracy[t - 1]:7.2f}" for t in shown))
    lines.append("= ANN  " + " ".join(f"{agreement[t - 1]:7d}" for t in shown))
    first, stable = summary["first_step_all_equal"], summary["stable_from_step"]
    lines.append(f"every prediction equals the ANN's from step {stable} on (first at step {first})"
                 if stable else f"predictions do not all equal the ANN's by step {len(agreement)}")
    lines.append(accuracy_line(summary))
    return "\n".join(lines)


def verify_run(ann, snn, images):
    """Per layer: final net counts that differ from 2^k x the ANN activation, and from which step
    every count is equal (the expectation is per step, on the cumulative count)."""
    from conversion.allint_eval import verify_allint

    result = verify_allint(ann, snn, images)
    for row in result.layers:
        when = "never" if row.converged_step is None else f"from step {row.converged_step}"
        print(f"verify {row.name}: {row.differing} of {row.neurons * len(images)} final net counts differ "
              f"from 2^k x the ANN activation; every count equal {when}")
    return {
        "differing_total": result.differing,
        "layers": [row.__dict__ for row in result.layers],
    }


def plot(summary, out):
    from figs.plots import plot_steps  # matplotlib only when a run is plotted

    plot_steps(summary, out / "steps.png")


ALLINT = register_method(Method(
    name="allint",
    help="allint: all-integer SNN with dynamic thresholds over --time-steps",
    convert=lazy("conversion.allint:convert_allint"),
    converters="conversion.allint:CONVERTERS",
    convert_options=convert_options,
    default_model="lenet_allint",
    default_k=0,
    model_facts=model_facts,
    run_dir=run_dir,
    describe=describe,
    counter=counter,
    summarize=summarize,
    seed_files=seed_files,
    table=table,
    verify=verify_run,
    plot=plot,
    noise_models=("input", "encoding"),
    mappings=(),
    add_arguments=add_arguments,
    check_options=check_options,
))
