"""Pure-restructuring check: rerun evaluate_snn.py's reference commands and compare with a record.

    python bench/compare_outputs.py record DIR [--sg-checkpoint X] [--allint-checkpoint Y]
    python bench/compare_outputs.py compare BEFORE AFTER
    python bench/compare_outputs.py check BEFORE [--out DIR] [--sg-checkpoint X] ...   # record + compare

The four runs (issue 9): the default SG run, allint T=30 with --verify, --hardware paicore
--paibox none, and encoding noise 0.1 over two seeds. Checkpoints are copied to a temporary file
first and passed explicitly, so that a later change of the shipped default model does not change
what is compared. Every seed text file must be byte-identical; every value in summary.json and
hardware.json must be equal, except timings and the checkpoint's path.
"""
import json
import math
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from cli_utils import OneLineParser, UserError, run_cli  # noqa: E402

RUNS = {  # folder -> (checkpoint kind, evaluate_snn.py arguments); the long allint run last
    "default": ("sg", []),
    "hardware": ("sg", ["--hardware", "paicore", "--paibox", "none"]),
    "noise": ("sg", ["--noise_ratio", "0.1", "--seeds", "2"]),
    "allint": ("allint", ["--method", "allint", "--time-steps", "30", "--verify"]),
}
JSON_FILES = ("summary.json", "hardware.json", "noise_sweep.json")
IGNORED_KEYS = {"checkpoint", "snn_seconds", "timings"}  # where and how fast, not what


def check_checkpoints(checkpoints):
    for kind, path in checkpoints.items():
        if not Path(path).is_file():
            raise UserError(f"--{kind}-checkpoint {path} does not exist")


def record(out, checkpoints, repo=REPO):
    check_checkpoints(checkpoints)  # before the folder is made: a wrong path leaves nothing behind
    if out.exists() and not out.is_dir():
        raise UserError(f"{out} exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        copies = {}
        for kind, path in checkpoints.items():  # a private copy: the file compared is the one given
            copies[kind] = Path(tmp) / f"{kind}.keras"
            shutil.copyfile(path, copies[kind])
        for folder, (kind, extra) in RUNS.items():
            cmd = [sys.executable, "evaluate_snn.py", "--checkpoint", str(copies[kind]),
                   "--output-dir", str(out / folder), *extra]
            print("+", " ".join(cmd), flush=True)
            with open(out / f"{folder}.log", "w") as log:
                code = subprocess.run(cmd, cwd=repo, stdout=log, stderr=subprocess.STDOUT).returncode
            if code != 0:  # 2: a user error (e.g. a checkpoint that does not suit the method)
                message = f"evaluate_snn.py failed on the {folder} run (exit code {code}); see {out / f'{folder}.log'}"
                if code == 2:
                    raise UserError(message)
                raise SystemExit(f"compare_outputs.py: error: {message}")


def _values_differ(a, b, where, problems):
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            if key in IGNORED_KEYS:
                continue
            if key not in a or key not in b:
                problems.append(f"{where}.{key}: only in {'after' if key in b else 'before'}")
            else:
                _values_differ(a[key], b[key], f"{where}.{key}", problems)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            problems.append(f"{where}: length {len(a)} != {len(b)}")
        for i, (x, y) in enumerate(zip(a, b)):
            _values_differ(x, y, f"{where}[{i}]", problems)
    elif isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return
    elif a != b or type(a) is not type(b):
        problems.append(f"{where}: {a!r} != {b!r}")


def compare(before, after):
    """Problems found (empty: identical) and how many files were compared."""
    problems, compared = [], 0
    for folder in RUNS:
        b, a = before / folder, after / folder
        for path in sorted(b.glob("*.txt")):
            compared += 1
            other = a / path.name
            if not other.is_file() or other.read_bytes() != path.read_bytes():
                problems.append(f"{folder}/{path.name}: not byte-identical")
        for path in sorted(a.glob("*.txt")):
            if not (b / path.name).is_file():
                problems.append(f"{folder}/{path.name}: only in after")
        for name in JSON_FILES:
            if (b / name).is_file() or (a / name).is_file():
                if not ((b / name).is_file() and (a / name).is_file()):
                    problems.append(f"{folder}/{name}: present on one side only")
                    continue
                compared += 1
                _values_differ(json.loads((b / name).read_text()), json.loads((a / name).read_text()),
                               f"{folder}/{name}", problems)
    if compared == 0:
        problems.append(f"nothing to compare in {before}")
    return problems, compared


def parse_args(argv=None):
    p = OneLineParser(description=__doc__.splitlines()[0])
    p.add_argument("action", choices=["record", "compare", "check"])
    p.add_argument("dirs", nargs="+", type=Path)
    p.add_argument("--sg-checkpoint", type=Path, default=REPO / "pretrained/lenet_mnist_k1B2/model.keras")
    p.add_argument("--allint-checkpoint", type=Path, default=REPO / "pretrained/lenet_allint_mnist_k0/model.keras")
    args = p.parse_args(argv)
    wanted = {"record": (1, "DIR"), "compare": (2, "BEFORE AFTER"), "check": (2, "BEFORE [AFTER]")}
    most, spelled = wanted[args.action]
    if len(args.dirs) > most or (args.action == "compare" and len(args.dirs) < 2):
        p.error(f"{args.action} takes {spelled}, got {len(args.dirs)} folder(s)")
    return args


def work(args):
    """The exit code: 1 when the records differ."""
    checkpoints = {"sg": args.sg_checkpoint, "allint": args.allint_checkpoint}
    if args.action == "record":
        record(args.dirs[0], checkpoints)
        return 0
    for folder in args.dirs[:1] if args.action == "check" else args.dirs:  # before any long run
        if not folder.is_dir():
            raise UserError(f"folder {folder} does not exist")
    if args.action == "check":
        before = args.dirs[0]
        check_checkpoints(checkpoints)
        after = args.dirs[1] if len(args.dirs) > 1 else Path(tempfile.mkdtemp(prefix="compare_after_"))
        record(after, checkpoints)
    else:
        before, after = args.dirs[:2]
    problems, compared = compare(before, after)
    for line in problems:
        print("DIFFERS", line)
    print(f"{compared} files compared between {before} and {after}: "
          + ("identical" if not problems else f"{len(problems)} differences"))
    return 1 if problems else 0


def main(argv=None):
    codes = []
    code = run_cli("compare_outputs.py", lambda: parse_args(argv), lambda args: codes.append(work(args)),
                   import_backend=False)
    return code or codes[0]


if __name__ == "__main__":
    sys.exit(main())
