"""The MNIST table of the seeds' LeNet: every shipped row evaluated as an SNN, with noise, in one command.

    python bench/mnist_table.py                 # evaluate every row (about 5 min a row), then print
    python bench/mnist_table.py --collect-only  # print the table from the existing figs/ outputs
    python bench/mnist_table.py --rows k1B2 --seeds 2

Per quantized row it runs, exactly as a user would,

    python evaluate_snn.py --k K --B B --noise_ratio 0 --verify --noise-sweep 0,0.05,0.1,0.15,0.2 --seeds 5

which finds the shipped model pretrained/lenet_mnist_k<K>B<B> and writes figs/k<K>B<B>/ (the seed's
text files, summary.json, noise_sweep.json; the figures in figs/ are redrawn). The float row is the
shipped pretrained/lenet_fp_mnist/metrics.json. `--compare` adds the README's formula network for the noise
comparison: pretrained/lenet_readme_mnist_k1B2 (no noise-aware training, figs/lenet_readme_mnist/k1B2)
and pretrained/lenet_readme_mnist_k1B2_noise (trained with train_noise 0.2). Prints a
Markdown table: ANN = SNN accuracy, the paper's figure, agreement, spikes and SOPs per image,
spiking neurons (sub-neurons), differing neuron counts, and noise at 10 % / 20 % (mean +- std).
"""
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from cli_utils import OneLineParser, UserError, positive_int, run_cli  # noqa: E402

ROWS = {"k0B1": 0.9927, "k0B2": 0.9932, "k0B4": 0.9943, "k1B1": 0.9930, "k1B2": 0.9937, "k1B4": 0.9950}
PAPER_FLOAT = 0.9952
PAPER_NOISE_K1B2 = {0.1: 0.9939, 0.2: 0.9922}
SWEEP = "0,0.05,0.1,0.15,0.2"


def parse_args(argv=None):
    p = OneLineParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", default=",".join(ROWS), help="comma-separated rows (default: all six)")
    p.add_argument("--seeds", type=positive_int, default=5)
    p.add_argument("--collect-only", action="store_true", help="only print the table from figs/")
    p.add_argument("--compare", action="store_true", help="also the formula network lenet_readme k1B2")
    args = p.parse_args(argv)
    args.row_list = [r for r in args.rows.split(",") if r]
    unknown = [r for r in args.row_list if r not in ROWS]
    if unknown:
        p.error(f"unknown rows {unknown}; valid: {', '.join(ROWS)}")
    return args


def work(args):
    rows = args.row_list
    runs = {row: (["--k", row[1], "--B", row[3]], REPO / "figs" / row) for row in rows}
    if args.compare:
        formula = REPO / "figs" / "lenet_readme_mnist"
        runs["lenet_readme k1B2"] = (["--model", "lenet_readme", "--k", "1", "--B", "2"], formula / "k1B2")
        runs["lenet_readme k1B2, noise-aware"] = (
            ["--checkpoint", "pretrained/lenet_readme_mnist_k1B2_noise", "--output-dir",
             str(formula / "k1B2_train_noise0.2")], formula / "k1B2_train_noise0.2")
    if not args.collect_only:
        for name, (flags, _) in runs.items():
            print(f"== {name}", flush=True)
            command = [sys.executable, "evaluate_snn.py", *flags, "--noise_ratio", "0", "--verify",
                       "--noise-sweep", SWEEP, "--seeds", str(args.seeds), "--export", "False"]
            code = subprocess.run(command, cwd=REPO).returncode
            if code == 2:  # a user error, which evaluate_snn.py has reported in one line
                raise SystemExit(2)
            if code != 0:
                raise SystemExit(f"mnist_table.py: error: evaluate_snn.py failed on {name} (exit code {code})")
    print(table({name: out for name, (_, out) in runs.items()}))


def table(outputs):
    lines = ["| row | ANN | SNN | paper | agreement | differing neurons | spikes/img | SOPs/img | "
             "spiking neurons | noise 10 % | noise 20 % |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, out in outputs.items():
        summary, sweep = (_result(out / file, name) for file in ("summary.json", "noise_sweep.json"))
        noise = {point["noise_ratio"]: point for point in sweep["points"]}
        verify = summary.get("verify", {})
        paper = ROWS.get(name)
        lines.append(
            f"| {name} | {_pct(summary['ann_accuracy'])} | {_pct(summary['snn_accuracy'])} | "
            f"{_pct(paper) if paper else '-'} | {summary['agreement']}/{summary['num_images']} | "
            f"{verify.get('differing_total', '-')} | {summary['per_image']['spikes']:,.0f} | "
            f"{summary['per_image']['sops']:,.0f} | {summary['totals']['sub_neurons']:,} | "
            f"{_noise(noise.get(0.1))} | {_noise(noise.get(0.2))} |")
    float_metrics = REPO / "pretrained" / "lenet_fp_mnist" / "metrics.json"
    if float_metrics.is_file():
        metrics = json.loads(float_metrics.read_text())
        lines.append(f"| float (lenet_fp) | {_pct(metrics['test_accuracy'])} | - | {_pct(PAPER_FLOAT)} | - | - | - | "
                     f"- | - | - | - |")
    lines.append(f"\npaper, k1B2 under encoding-spike deletion: {_pct(PAPER_NOISE_K1B2[0.1])} (10 %), "
                 f"{_pct(PAPER_NOISE_K1B2[0.2])} (20 %)")
    return "\n".join(lines)


def _result(path, name):
    """A JSON result of evaluate_snn.py, or a UserError saying how to make it."""
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise UserError(f"no {path.relative_to(REPO) if path.is_relative_to(REPO) else path} for {name}: "
                        f"run without --collect-only first") from None
    except (OSError, ValueError) as err:
        raise UserError(f"cannot read {path} ({type(err).__name__}: {err}); run without --collect-only "
                        f"to write it again") from None


def _pct(value):
    return f"{100 * value:.2f} %"


def _noise(point):
    if point is None:
        return "-"
    return f"{100 * point['mean']:.2f} +- {100 * point['std']:.2f} %"


def main(argv=None):
    return run_cli("mnist_table.py", lambda: parse_args(argv), work, import_backend=False)


if __name__ == "__main__":
    sys.exit(main())
