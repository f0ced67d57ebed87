"""The seeds' figures, drawn from run outputs (figs/<run>/summary.json, noise_sweep.json).

    python -m figs.plots [ROOT]        # redraw ROOT/{sparsity,sops,accuracy,noise_sweep}.png (ROOT: figs)

A run folder whose summary.json or noise_sweep.json cannot be read (damaged, half-copied) is left
out and named on stdout ("skipped ..."); the figures of the other runs are still drawn.

Each configuration is one noise-free run directory (k, B) of the same dataset; figures compare them
side by side as the seeds' figs/*.py scripts did (spikes per image vs spiking neurons; SOPs per
image vs the ANN's equivalent additions; accuracy with the float reference). The seeds draw the
single-, two- and four-spike models (k0B1, k0B2, k1B2): `sparsity.png`, `sops.png` and
`accuracy.png` show those when all three were run (else every configuration), and
`*_all.png` every configuration when there are more. A configuration is drawn from its default
folder (k<k>B<B>), else from a calibrated full test-set run, else from any run of it; the accuracy
figure's title gives the test images per bar when they differ.

The float reference is a full test-set run of the same network's float twin (`<network>_fp`, its
metrics.json in runs/ or pretrained/), else the paper's figure; never another network's run.
"""
import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

# Float references published with the seeds (used when no measured float run exists).
PAPER_FLOAT = {"mnist": 0.9952, "cifar10": 0.9285, "cifar100": 0.674}
# The seeds' figs/*.py compare these (k, B): single-, two- and four-spike.
SEED_CONFIGURATIONS = ((0, 1), (0, 2), (1, 2))
# The network whose runs sit directly in figs/<k>B<B> (the seeds' own layout), per dataset.
SEED_LAYOUT_NETWORK = {"mnist": "lenet"}
FULL_TEST_SET = {"mnist": 10000, "cifar10": 10000, "cifar100": 10000}
# Float twins are looked up among the user's runs (train.py's default runs/) and the shipped models.
FLOAT_RUN_FOLDERS = (Path("runs"), Path(__file__).resolve().parents[1] / "pretrained")


# What a figure reads of a run's files; a file without them is skipped like an unreadable one.
SUMMARY_KEYS = ("dataset", "levels", "k", "B", "num_images", "snn_accuracy", "ann_accuracy", "per_image")
SWEEP_KEYS = ("noise_model", "points")


def load_configurations(root, skipped=None):
    """Noise-free SNN summaries under root/*/summary.json, sorted by (dataset, L, k).

    A run whose summary cannot be read is left out and named in `skipped` (and on stdout), so that
    one damaged run does not stop the figures of the others."""
    found = []
    for path in sorted(Path(root).glob("*/summary.json")):
        summary = _read_run_file(path, SUMMARY_KEYS, skipped, needed=lambda s: "totals" in s)
        if summary is not None and summary.get("noise_ratio", 0) == 0:
            found.append({**summary, "run": path.parent.name})
    return sorted(found, key=lambda s: (s["dataset"], s["levels"], s["k"]))


def load_sweeps(root, skipped=None):
    """(run name, noise_sweep.json content) of every readable sweep under root/*/."""
    sweeps = []
    for path in sorted(Path(root).glob("*/noise_sweep.json")):
        sweep = _read_run_file(path, SWEEP_KEYS, skipped)
        if sweep is not None:
            sweeps.append((path.parent.name, sweep))
    return sweeps


def _read_run_file(path, keys, skipped, needed=lambda content: True):
    """The JSON object in `path`, None when it is not one of ours (`needed` false: e.g. a
    hardware-only summary), or None and the file named in `skipped` when it is unreadable."""
    try:
        content = json.loads(Path(path).read_text())
        if not isinstance(content, dict):
            raise ValueError("not a JSON object")
        if not needed(content):
            return None
        missing = [key for key in keys if key not in content]
        if missing:
            raise ValueError(f"no {', '.join(missing)}")
    except (OSError, ValueError) as err:  # json.JSONDecodeError and UnicodeDecodeError are ValueErrors
        reason = f"{path}: unreadable, left out of the figures ({type(err).__name__}: {err})"
        print(f"skipped {reason}")
        if skipped is not None:
            skipped.append(reason)
        return None
    return content


def plot_all(root, float_runs=FLOAT_RUN_FOLDERS, skipped=None):
    """Draw every figure the outputs under `root` allow; returns the paths written. Runs whose
    files cannot be read are left out and named (printed, and appended to `skipped`)."""
    root = Path(root)
    written = []
    configs = load_configurations(root, skipped)
    for dataset in sorted({c["dataset"] for c in configs}):
        every = _one_per_configuration([c for c in configs if c["dataset"] == dataset])
        seed = [c for c in every if (c["k"], c["B"]) in SEED_CONFIGURATIONS]
        reference = _float_reference(dataset, float_runs, _network(root, dataset))
        suffix = "" if dataset == "mnist" else f"_{dataset}"
        sets = {suffix: seed if len(seed) == len(SEED_CONFIGURATIONS) else every}
        if len(sets[suffix]) < len(every):
            sets[f"{suffix}_all"] = every
        for name, chosen in sets.items():
            written.append(plot_sparsity(chosen, root / f"sparsity{name}.png"))
            written.append(plot_sops(chosen, root / f"sops{name}.png"))
            written.append(plot_accuracy(chosen, reference, root / f"accuracy{name}.png"))
    sweeps = load_sweeps(root, skipped)
    if sweeps:
        written.append(plot_noise_sweep(sweeps, root / "noise_sweep.png"))
    return written


def plot_sparsity(configs, path):
    labels = [_label(c) for c in configs]
    spikes = [c["per_image"]["spikes"] for c in configs]
    neurons = [c["totals"]["sub_neurons"] for c in configs]
    return _grouped_bars(
        labels, {"spikes per image": spikes, "spiking neurons": neurons}, "count",
        "Spiking sparsity: spikes per image vs spiking neurons (encoding + hidden layers)", path)


def plot_sops(configs, path):
    labels = [_label(c) for c in configs]
    series = {
        "SOPs per image": [c["per_image"]["sops"] for c in configs],
        "seed-compatible SOPs (2x)": [c["per_image"]["sops_seed"] for c in configs],
        "ANN additions (2 x hidden MACs)": [c["totals"]["ann_additions_hidden"] for c in configs],
    }
    return _grouped_bars(labels, series, "operations per image",
                         "Synaptic operations of the hidden layers vs the quantized ANN", path)


def plot_accuracy(configs, reference, path):
    labels = [_label(c) for c in configs]
    snn = [100 * c["snn_accuracy"] for c in configs]
    ann = [100 * c["ann_accuracy"] for c in configs]
    fig, ax = plt.subplots(figsize=(max(5, 1.6 * len(labels) + 2), 4))
    xs = range(len(labels))
    ax.bar([x - 0.2 for x in xs], ann, 0.4, label="quantized ANN", color="#9ecae1")
    ax.bar([x + 0.2 for x in xs], snn, 0.4, label="SNN", color="#3182bd")
    for x, value in zip(xs, snn):
        ax.annotate(f"{value:.2f}", (x + 0.2, value), ha="center", va="bottom", fontsize=8)
    ref_value, ref_label = reference
    ax.axhline(100 * ref_value, color="#d62728", linestyle="--", label=f"{ref_label}: {100 * ref_value:.2f} %")
    values = snn + ann + [100 * ref_value]
    ax.set_ylim(min(values) - 0.5, max(values) + 0.45)
    ax.set_xticks(list(xs), labels)
    ax.set_ylabel("test accuracy (%)")
    counts = sorted({c["num_images"] for c in configs})
    images = f"{counts[0]} test images" if len(counts) == 1 else \
        "test images per bar: " + ", ".join(f"{_label(c).splitlines()[0]} {c['num_images']}" for c in configs)
    ax.set_title(f"Accuracy per configuration ({images})", fontsize=10 if len(counts) == 1 else 8)
    ax.legend(loc="upper center", ncol=3, fontsize=8)
    return _save(fig, path)


def plot_noise_sweep(sweeps, path):
    """sweeps: [(label, noise_sweep.json content)]; accuracy vs noise ratio, error bars = std."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for label, sweep in sweeps:
        points = sweep["points"]
        ax.errorbar([100 * p["noise_ratio"] for p in points], [100 * p["mean"] for p in points],
                    yerr=[100 * p["std"] for p in points], marker="o", capsize=3, label=label)
    ax.set_xlabel(f"noise ratio (%), {sweeps[0][1]['noise_model']} model")
    ax.set_ylabel("SNN test accuracy (%)")
    seeds = max(len(p["accuracies"]) for _, s in sweeps for p in s["points"])
    ax.set_title(f"Accuracy under noise (mean and std over {seeds} seeds)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path)


def plot_steps(summary, path):
    """All-integer SNN: accuracy and spikes per image against the time step."""
    steps = list(range(1, summary["time_steps"] + 1))
    n = summary["num_images"]
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(steps, [100 * a for a in summary["snn_accuracy_per_step"]], marker=".", color="#3182bd",
            label="SNN accuracy")
    ax.axhline(100 * summary["ann_accuracy"], color="#d62728", linestyle="--",
               label=f"quantized ANN: {100 * summary['ann_accuracy']:.2f} %")
    ax.set_xlabel("time step")
    ax.set_ylabel("test accuracy (%)")
    low = min(100 * a for a in summary["snn_accuracy_per_step"][min(2, len(steps) - 1):])
    ax.set_ylim(max(0, low - 1), 100)
    twin = ax.twinx()
    spikes = summary["per_step_totals"]["abs_spike"]
    twin.bar(steps, [s / n for s in spikes], color="#fdae6b", alpha=0.5, label="|spikes| per image at the step")
    twin.set_ylabel("spikes per image (hidden layers)")
    ax.set_zorder(twin.get_zorder() + 1)
    ax.patch.set_visible(False)
    handles = ax.get_legend_handles_labels()[0] + twin.get_legend_handles_labels()[0]
    ax.legend(handles, [h.get_label() for h in handles], loc="lower right", fontsize=8)
    mode = "integer" if summary.get("use_int") else "float"
    ax.set_title(f"All-integer SNN ({mode} mode), k={summary['k']}: accuracy and spikes per step", fontsize=10)
    return _save(fig, path)


# ------------------------------------------------------------------------------------ helpers


def _one_per_configuration(configs):
    """One summary per (k, B): the run in the default folder k<k>B<B> if there is one, else a
    calibrated run of the full test set, else any (a --limit-test or --calibrate False run)."""
    chosen = {}
    for c in configs:
        key = (c["k"], c["B"])
        if key not in chosen or _preference(c) > _preference(chosen[key]):
            chosen[key] = c
    return sorted(chosen.values(), key=lambda c: (c["levels"], c["k"]))


def _preference(summary):
    full = summary["num_images"] == FULL_TEST_SET.get(summary["dataset"])
    return (summary["run"] == f"k{summary['k']}B{summary['B']}", full and summary.get("calibrated", True) is not False)


def _label(summary):
    return f"k{summary['k']}B{summary['B']}\n(L={summary['levels']})"


def _network(root, dataset):
    """The network whose runs `root` holds: figs/<network>_<dataset>/, or the seeds' layout in figs/."""
    name = Path(root).resolve().name
    if name.endswith(f"_{dataset}"):
        return name[: -len(dataset) - 1]
    return SEED_LAYOUT_NETWORK.get(dataset)


def _float_reference(dataset, float_runs, network):
    """(accuracy, label) of a full test-set run of `network`'s float twin, else the paper's figure."""
    folders = [float_runs] if isinstance(float_runs, (str, Path)) else float_runs
    for folder in folders:
        path = Path(folder) / f"{network}_fp_{dataset}" / "metrics.json"
        try:
            metrics = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if metrics.get("num_test") == FULL_TEST_SET.get(dataset):
            return metrics["test_accuracy"], f"float baseline ({network}_fp, measured)"
    return PAPER_FLOAT[dataset], "float baseline (paper)"


def _grouped_bars(labels, series, ylabel, title, path):
    fig, ax = plt.subplots(figsize=(max(5, 1.8 * len(labels) + 2), 4))
    width = 0.8 / len(series)
    for i, (name, values) in enumerate(series.items()):
        xs = [x + (i - (len(series) - 1) / 2) * width for x in range(len(labels))]
        bars = ax.bar(xs, values, width, label=name)
        ax.bar_label(bars, labels=[_short(v) for v in values], fontsize=7)
    ax.set_xticks(range(len(labels)), labels)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    ax.margins(y=0.12)
    return _save(fig, path)


def _short(value):
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(value) >= scale:
            return f"{value / scale:.1f}{unit}"
    return f"{value:.0f}"


def _save(fig, path):
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path)


if __name__ == "__main__":
    for written in plot_all(sys.argv[1] if len(sys.argv) > 1 else "figs"):
        print(written)
