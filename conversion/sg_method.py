"""The scatter-and-gather method as a plugin (conversion.method): what its runs count, write and
print. The converters are in conversion.sg; seed files: accuracy, spike_num, sop_num, spike_collect.
"""
import numpy as np

from cli_utils import UserError
from conversion.method import Method, accuracy_line, check_noise_model, lazy, register_method


def model_facts(ann, path, options):
    """(k, B) of the model's encoding quantizer; --k/--B must agree when given with --checkpoint."""
    from layers.quantized import QuantActivation

    acts = [layer for layer in ann.layers if isinstance(layer, QuantActivation)]
    if not acts:  # not convertible: the conversion's error lists every layer that is not
        return {}
    k, B = acts[0].k, acts[0].B
    B = int(B) if B is not None and float(B).is_integer() else B
    for name, actual in (("k", k), ("B", B)):
        given = options.get(name)
        if given is not None and given != actual:
            raise UserError(f"{path} was trained with {name}={actual}, not {name}={given}")
    return {"k": k, "B": B}


def convert_options(options, load_data):
    return {"calibrate": options["calibrate"]}


def run_dir(facts, options):
    return f"k{facts['k']}B{facts['B']}"


def describe(facts, options):
    return f"sg conversion, k={facts['k']}, B={facts['B']}"


def summarize(facts, options, runs, ann_pred, labels, conversion):
    noisy = options["noise_ratio"] > 0
    accuracies = [r["accuracy"] for r in runs]
    report = runs[0]["report"]
    counts = report.to_dict()
    k, B = facts["k"], facts["B"]
    return {
        "k": k,
        "B": B,
        "levels": int(2**k * B),
        "num_images": int(len(labels)),
        "time_steps": report.time_steps,
        "noise_ratio": options["noise_ratio"],
        "noise_model": options["noise_model"] if noisy else None,
        "seeds": [r["label"] for r in runs] if noisy else None,
        "ann_accuracy": float(np.mean(ann_pred == labels)),
        "snn_accuracy": float(np.mean(accuracies)),
        "snn_accuracy_std": float(np.std(accuracies)),
        "snn_accuracies": accuracies,
        "agreement": int(np.sum(runs[0]["predictions"] == ann_pred)),
        "snn_seconds": round(runs[0]["seconds"], 2),
        "units": counts["units"],
        "totals": counts["totals"],
        "per_image": counts["per_image"],
        "layers": counts["layers"],
        "calibrated": options["calibrate"],
        "threshold_corrections": {name: row["corrections"] for name, row in conversion.items()},
    }


def seed_files(run):
    """The seeds' four text files: one plain decimal line per (batch, time step).

    accuracy.txt: correct predictions in the batch; spike_num.txt: spikes of every spiking layer
    (encoding included) so far in the batch; sop_num.txt: the seeds' SOP formula (2 * L * C_out *
    S_in summed over hidden layers); spike_collect.txt: net (signed) spikes of the same layers, which
    equals spike_num for scatter-and-gather, whose spikes are all positive.
    """
    report = run["report"]
    steps = report.time_steps
    accuracy_lines = [str(correct) for correct in run["correct_per_batch"] for _ in range(steps)]
    spikes = [f"{float(v)!r}" for v in report.spike_num]
    return {"accuracy.txt": _text(accuracy_lines), "spike_num.txt": _text(spikes),
            "sop_num.txt": _text([f"{float(v)!r}" for v in report.sop_num]), "spike_collect.txt": _text(spikes)}


def _text(lines):
    return "".join(line + "\n" for line in lines)


def table(report, summary):
    """Per-layer table with totals (per image), followed by the accuracy lines."""
    n = max(report.num_images, 1)
    header = (f"{'layer':10s} {'role':9s} {'ANN neurons':>11s} {'L':>3s} {'sub-neurons':>11s} "
              f"{'spikes/img':>11s} {'rate':>6s} {'SOPs/img':>12s} {'MACs/img':>12s}")
    lines = [header, "-" * len(header)]
    for row in report.layers:
        sops = "-" if row.sops is None else f"{row.sops / n:,.0f}"
        mark = "" if row.counted else " *"
        lines.append(
            f"{row.name:10s} {row.role:9s} {row.ann_neurons:11,d} {row.levels:3d} {row.sub_neurons:11,d} "
            f"{row.spikes / n:11,.0f} {row.firing_rate:6.3f} {sops:>12s} {row.macs:12,d}{mark}"
        )
    totals = report.totals()
    lines.append("-" * len(header))
    lines.append(
        f"{'total':10s} {'':9s} {totals['ann_neurons']:11,d} {'':3s} {totals['sub_neurons']:11,d} "
        f"{totals['spikes'] / n:11,.0f} {'':6s} {totals['sops'] / n:12,.0f} {totals['macs_hidden']:12,d}"
    )
    lines.append("* not in the totals (the classifier is an off-chip readout); totals leave out the encoding "
                 "layer's MACs and analog input.")
    lines.append(f"SOP = one spike reaching one synapse of one sub-neuron; seed-compatible SOPs (2x) per image: "
                 f"{totals['sops_seed'] / n:,.0f}; ANN additions (2 x hidden MACs): {totals['ann_additions_hidden']:,d}")
    lines.append(accuracy_line(summary))
    return "\n".join(lines)


def verify_run(ann, snn, images):
    """Per layer: neurons whose count differs from 2^k x the ANN activation (printed and returned)."""
    from conversion.verification import verify

    result = verify(ann, snn, images)
    for row in result.layers:
        print(f"verify {row.name}: {row.differing} of {row.neurons * len(images)} neuron counts differ "
              f"from 2^k x the ANN activation ({row.images_affected} images affected)")
    return {
        "agreement": result.agreement,
        "num_images": result.num_images,
        "differing_total": result.differing,
        "logits_exact": result.logit_ratio_exact,
        "layers": [row.__dict__ for row in result.layers],
    }


def counter(snn, dataset):
    from conversion.counting import SpikeCounter

    return SpikeCounter(snn)


def check_options(options):
    if options.get("time_steps") not in (None, 1):
        raise UserError("scatter-and-gather runs one time step; --time-steps is for --method allint")
    check_noise_model(SG, options)


SG = register_method(Method(
    name="sg",
    help="sg: scatter-and-gather, one time step (default)",
    convert=lazy("conversion.sg:convert_sg"),
    converters="conversion.sg:CONVERTERS",
    convert_options=convert_options,
    default_model="lenet",
    default_k=1,
    model_facts=model_facts,
    run_dir=run_dir,
    describe=describe,
    counter=counter,
    summarize=summarize,
    seed_files=seed_files,
    table=table,
    verify=verify_run,
    noise_models=("encoding", "all-layers", "input"),
    mappings=("spatial",),
    check_options=check_options,
))
