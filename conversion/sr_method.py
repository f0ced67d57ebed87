"""The store-and-release method as a plugin (conversion.method): one IF neuron per ANN neuron,
windows of L ticks. Converters in conversion.sr, counting in conversion.sr_counting; the
layer-by-layer check is conversion.verification's (burst-coded layers compare their summed spikes).
"""
import numpy as np

from cli_utils import UserError
from conversion.method import Method, accuracy_line, check_noise_model, lazy, register_method
# the same (k, B) as SG's; burst-coded layers are compared as counts by verify itself
from conversion.sg_method import model_facts, verify_run


def convert_options(options, load_data):
    return {"calibrate": options["calibrate"]}


def run_dir(facts, options):
    return f"sr_k{facts['k']}B{facts['B']}"


def describe(facts, options):
    return f"store-and-release conversion, k={facts['k']}, B={facts['B']}, windows of {int(2**facts['k'] * facts['B'])} ticks"


def summarize(facts, options, runs, ann_pred, labels, conversion):
    from conversion.sr_counting import SR_UNITS_NOTE

    noisy = options["noise_ratio"] > 0
    accuracies = [r["accuracy"] for r in runs]
    report = runs[0]["report"]
    counts = report.to_dict()
    layers = {name: row for name, row in conversion.items() if isinstance(row, dict)}
    return {
        "k": facts["k"], "B": facts["B"], "levels": int(2**facts["k"] * facts["B"]),
        "num_images": int(len(labels)),
        "latency_ticks": conversion["latency_ticks"],
        "latency_note": "the encoder releases in ticks 0..L-1; each hidden layer integrates the window below "
                        "and releases in the next L ticks; the readout reads after the last window "
                        "(no per-hop delay in the Keras model; pipelined: one image per window)",
        "windows": {name: row["window"] for name, row in layers.items()},
        "noise_ratio": options["noise_ratio"],
        "noise_model": options["noise_model"] if noisy else None,
        "seeds": [r["label"] for r in runs] if noisy else None,
        "ann_accuracy": float(np.mean(ann_pred == labels)),
        "snn_accuracy": float(np.mean(accuracies)),
        "snn_accuracy_std": float(np.std(accuracies)),
        "snn_accuracies": accuracies,
        "agreement": int(np.sum(runs[0]["predictions"] == ann_pred)),
        "snn_seconds": round(runs[0]["seconds"], 2),
        "units": {**counts["units"], **SR_UNITS_NOTE},
        "totals": counts["totals"], "per_image": counts["per_image"], "layers": counts["layers"],
        "calibrated": options["calibrate"],
        "threshold_corrections": {name: row["corrections"] for name, row in layers.items()},
        "scaling": {name: {key: row[key] for key in ("channels", "scaled_channels", "max_scale", "weight_range",
                                                      "weight_bits", "worst_membrane")}
                    for name, row in layers.items() if row["role"] == "hidden"},
    }


def seed_files(run):
    """accuracy.txt (correct per batch) and spike_num.txt / sop_num.txt (one line per batch and tick,
    cumulative within the batch, as the SG seed's files)."""
    report = run["report"]
    return {"accuracy.txt": "".join(f"{c}\n" for c in run["correct_per_batch"]),
            "spike_num.txt": "".join(f"{float(v)!r}\n" for v in report.spike_num),
            "sop_num.txt": "".join(f"{float(v)!r}\n" for v in report.sop_num)}


def table(report, summary):
    n = max(report.num_images, 1)
    header = (f"{'layer':10s} {'role':9s} {'neurons':>9s} {'window':>9s} {'scaled':>9s} {'w bits':>6s} "
              f"{'spikes/img':>11s} {'SOPs/img':>12s} {'MACs/img':>12s}")
    lines = [header, "-" * len(header)]
    windows, scaling = summary["windows"], summary["scaling"]
    for row in report.layers:
        win = windows.get(row.name)
        win = f"{win[0]}+{win[1]}" if win else "-"
        sc = scaling.get(row.name)
        scaled = f"{sc['scaled_channels']}/{sc['channels']}" if sc else "-"
        bits = str(sc["weight_bits"]) if sc else "-"
        sops = "-" if row.sops is None else f"{row.sops / n:,.0f}"
        lines.append(f"{row.name:10s} {row.role:9s} {row.ann_neurons:9,d} {win:>9s} {scaled:>9s} {bits:>6s} "
                     f"{row.spikes / n:11,.0f} {sops:>12s} {row.macs:12,d}{'' if row.counted else ' *'}")
    totals = report.totals()
    lines.append("-" * len(header))
    lines.append(f"{'total':10s} {'':9s} {totals['ann_neurons']:9,d} {'':>9s} {'':>9s} {'':>6s} "
                 f"{totals['spikes'] / n:11,.0f} {totals['sops'] / n:12,.0f} {totals['macs_hidden']:12,d}")
    lines.append("* not in the totals (off-chip readout). window: first tick + ticks; scaled: channels whose "
                 "weights needed an integer scale for an exact (threshold, step); w bits: signed weight width")
    lines.append(f"latency {summary['latency_ticks']} ticks (windows one after another); pipelined throughput "
                 f"one image per {max(w[1] for w in windows.values())} ticks")
    lines.append(accuracy_line(summary))
    return "\n".join(lines)


def counter(snn, dataset):
    from conversion.sr_counting import SRCounter

    return SRCounter(snn)


def check_options(options):
    if options.get("time_steps") not in (None, 1):
        raise UserError("store-and-release windows are 2^k * B ticks; --time-steps is for --method allint")
    check_noise_model(SR, options)


SR = register_method(Method(
    name="sr",
    help="sr: store-and-release, one IF neuron per ANN neuron, windows of 2^k*B ticks",
    convert=lazy("conversion.sr:convert_sr"),
    converters="conversion.sr:CONVERTERS",
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
    noise_models=("encoding", "all-layers"),
    mappings=("temporal",),
    check_options=check_options,
))
