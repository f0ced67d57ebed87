"""Accuracy per time step of rate-coded SNN runs, one curve each, with their ANNs' accuracy.

    python -m figs.rate_curves OUT.png RUN [RUN ...]

Each RUN is an `evaluate_snn.py --method rate` output folder (its summary.json); the legend names
the network and the timing, the dotted lines are the ANNs, and the marker is the step from which
the SNN stays within 0.1 point of its ANN.
"""
import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def draw(runs, out):
    summaries = [json.loads((Path(run) / "summary.json").read_text()) for run in runs]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for summary in summaries:
        accuracy = [100 * a for a in summary["snn_accuracy_per_step"]]
        steps = range(1, len(accuracy) + 1)
        name = Path(summary["checkpoint"]).parent.name or summary["arch"]
        line, = ax.plot(steps, accuracy, label=f"{name}, {summary['timing']}")
        ax.axhline(100 * summary["ann_accuracy"], color=line.get_color(), linestyle=":", linewidth=1)
        settled = summary.get("within_0.1pt_from_step")
        if settled:
            ax.plot([settled], [accuracy[settled - 1]], "o", color=line.get_color())
    ax.set_xlabel("time step T")
    ax.set_ylabel("SNN test accuracy (%)")
    ax.set_ylim(97, 100)
    ax.set_xlim(1, max(len(summary["snn_accuracy_per_step"]) for summary in summaries))
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title("rate-coded SNNs: accuracy per step\n(dotted: the ANN; dot: within 0.1 pt of it from here on)",
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) < 2:
        sys.exit("usage: python -m figs.rate_curves OUT.png RUN [RUN ...]")
    missing = [run for run in argv[1:] if not (Path(run) / "summary.json").is_file()]
    if missing:
        sys.exit(f"{missing[0]}: no summary.json (not an evaluate_snn.py --method rate folder)")
    draw(argv[1:], argv[0])
    print(f"wrote {argv[0]}")


if __name__ == "__main__":
    main()
