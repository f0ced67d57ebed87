"""Wall time of the binary-SNN seed's own command line at full width, on synthetic CIFAR-100 files.

    python bench/rate_seed_line.py --model bin_cifar100.pth.tar [--eval-size 200] [--time 20]

Writes CIFAR-100 in the official python layout (50,000 random training and 10,000 test images:
CIFAR is not available offline, and the cost does not depend on the pixels) into a temporary
folder and runs there, verbatim but for --eval_size and --time,

    python evaluate_snn.py --job-dir J --gpu --dataset cifar100 --data DIR --percentile 99.9
        --norm 3500 --time 100 --arch vgg15ab --model bin_cifar100.pth.tar

then prints the seconds it took and the files it wrote. A full-width binary checkpoint in the seed's
key layout is written by torch (never a dependency of the project) with
`tests/fixtures/torch/make_checkpoints.py --full-width bin_cifar100.pth.tar`.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from cli_utils import OneLineParser, positive_int  # noqa: E402


def main():
    parser = OneLineParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="a vgg15ab CIFAR-100 checkpoint (.pth.tar)")
    parser.add_argument("--eval-size", type=positive_int, default=200)
    parser.add_argument("--time", type=positive_int, default=20)
    args = parser.parse_args()
    model = Path(args.model).resolve()
    if not model.is_file():
        sys.stderr.write(f"rate_seed_line.py: error: --model {args.model}: no such file\n")
        return 2
    from tests.conftest import write_cifar100

    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        write_cifar100(folder / "data", count=50_000, test_count=10_000)
        shutil.copy(model, folder / "bin_cifar100.pth.tar")
        line = ["--job-dir", "J", "--gpu", "--dataset", "cifar100", "--data", "data", "--percentile", "99.9",
                "--norm", "3500", "--time", str(args.time), "--arch", "vgg15ab", "--model", "bin_cifar100.pth.tar",
                "--eval_size", str(args.eval_size)]
        print("python evaluate_snn.py " + " ".join(line), flush=True)
        start = time.perf_counter()
        result = subprocess.run([sys.executable, str(REPO / "evaluate_snn.py"), *line], cwd=folder,
                                env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
        seconds = time.perf_counter() - start
        if result.returncode != 0:
            sys.stderr.write(f"rate_seed_line.py: error: the seed's command line failed (exit {result.returncode})\n")
            return 2 if result.returncode == 2 else 1
        written = sorted(str(p.relative_to(folder / "J")) for p in (folder / "J").rglob("*") if p.is_file())
        print(f"wall time {seconds:.1f} s ({seconds / 60:.1f} min); {len(written)} files in J: {', '.join(written)}")
        print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    sys.exit(main())
