"""The printed per-layer table and the seed-compatible text files."""


def write_seed_files(out, run):
    """The seeds' four text files: one plain decimal line per (batch, time step).

    accuracy.txt: correct predictions in the batch; spike_num.txt: spikes of every spiking layer
    (encoding included) so far in the batch; sop_num.txt: the seeds' SOP formula (2 * L * C_out *
    S_in summed over hidden layers); spike_collect.txt: net (signed) spikes of the same layers, which
    equals spike_num for scatter-and-gather, whose spikes are all positive.
    """
    report = run["report"]
    steps = report.time_steps
    accuracy_lines = [correct for correct in run["correct_per_batch"] for _ in range(steps)]
    _write_lines(out / "accuracy.txt", [str(v) for v in accuracy_lines])
    _write_lines(out / "spike_num.txt", [f"{float(v)!r}" for v in report.spike_num])
    _write_lines(out / "sop_num.txt", [f"{float(v)!r}" for v in report.sop_num])
    _write_lines(out / "spike_collect.txt", [f"{float(v)!r}" for v in report.spike_num])


def format_table(report, summary):
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
    lines.append(_accuracy_line(summary))
    return "\n".join(lines)


def _accuracy_line(summary):
    snn = f"{summary['snn_accuracy']:.4f}"
    if summary["noise_ratio"] > 0:
        snn += (f" +- {summary['snn_accuracy_std']:.4f} over {len(summary['snn_accuracies'])} seeds "
                f"({summary['noise_model']} noise {summary['noise_ratio']:g})")
    return (f"ANN accuracy {summary['ann_accuracy']:.4f}, SNN accuracy {snn}; agreement "
            f"{summary['agreement']}/{summary['num_images']} images with identical ANN and SNN predictions")


def _write_lines(path, lines):
    path.write_text("".join(line + "\n" for line in lines))


def format_allint_table(report, summary):
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
    lines.append(_accuracy_line(summary))
    return "\n".join(lines)
