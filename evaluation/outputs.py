"""Where an evaluation run writes, and that an output folder holds the files of one run only.

Default folder names (figs/<name>, docs/evaluation.md §2): the method's own folder (sg: k<k>B<B>,
allint: WQ_INT/k<k>) followed by every option that changes the results and is not at its
default, so that runs that differ never share a folder:

    _noise<r>[_<model>][_seed<s>][_seeds<n>]  a noisy run; the noise model when not the method's default
    _uncalibrated                             --calibrate False (the bit-exact export stays apart)
    _limit<N>                                 --limit-test N (never over the full test set's results)
    _batch<N>                                 --batch-size N (the text files hold one line per batch)
    _<core>_estimate                          --hardware-estimate-only (cores counted, nothing evaluated)

Flags that only add files (--hardware, --noise-sweep, --verify, --export-nir) keep the folder. A
run first removes what the previous run there wrote (outputs.json lists it), so that a
hardware.json or noise_sweep.json always belongs to the summary.json beside it. Files are written
under unique temporary names and renamed, so two runs writing one folder at once never collide.
"""
import json
import os
import random
import shutil
import tempfile
import time
from pathlib import Path

from cli_utils import write_json_atomic

MANIFEST = "outputs.json"
DEFAULT_BATCH = 200  # evaluate_snn.py's --batch-size default, the seeds' batch
# What a run wrote before outputs.json existed, beside its summary.json: removed the same way.
OLDER_OUTPUTS = ("summary.json", "hardware.json", "hardware_grid.png", "noise_sweep.json", "noise_sweep.png",
                 "snn.nir", "snn.keras", "snn.export", "paibox")


def folder_name(method, facts, options):
    """The default output folder name of a run of `method` (see the module docstring)."""
    parts = [method.run_dir(facts, options)]
    if options.get("noise_ratio", 0) > 0:
        parts.append(f"noise{options['noise_ratio']:g}")
        if options.get("noise_model") not in (None, method.default_noise_model):
            parts.append(options["noise_model"])
        if options.get("seed", 0) != 0:
            parts.append(f"seed{options['seed']}")
        if options.get("seeds", 1) != 1:
            parts.append(f"seeds{options['seeds']}")
    if options.get("calibrate") is False:
        parts.append("uncalibrated")
    if options.get("limit_test"):
        parts.append(f"limit{options['limit_test']}")
    if options.get("batch_size", DEFAULT_BATCH) != DEFAULT_BATCH:
        parts.append(f"batch{options['batch_size']}")
    if options.get("hardware_estimate_only") and options.get("hardware"):
        parts.append(f"{Path(str(options['hardware'])).stem}_estimate")
    return "_".join(parts)


def begin(out):
    """Create `out` and remove the files of the previous run written there; returns what finish()
    compares against (entries present now, with their modification times)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for name in previous_outputs(out):
        remove(out / name)
    return {entry.name: _stamp(entry) for entry in out.iterdir()}


def finish(out, before):
    """List in outputs.json what this run wrote (new or changed since begin()); returns the names."""
    out = Path(out)
    written = sorted(entry.name for entry in out.iterdir()
                     if entry.name != MANIFEST and not entry.name.startswith(".")
                     and _stamp(entry) != before.get(entry.name))
    write_json_atomic(out / MANIFEST, {"files": written})
    return written


def previous_outputs(out):
    """Names the previous run in `out` wrote: its outputs.json list, else (a folder an older
    version wrote) the known outputs beside its summary.json. Other files are left alone."""
    manifest = out / MANIFEST
    if manifest.is_file():
        try:
            names = json.loads(manifest.read_text())["files"]
        except (OSError, ValueError, KeyError, TypeError):
            names = []
        # plain names inside the folder only: a damaged list must not remove anything outside it
        return [n for n in names if isinstance(n, str) and n == Path(n).name and n not in ("", ".", "..")]
    if (out / "summary.json").is_file():
        return list(OLDER_OUTPUTS)
    return []


def remove(path):
    """Remove a file or folder; one that is already gone (another run removed it) is fine."""
    path = Path(path)
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        try:
            path.unlink()
        except FileNotFoundError:
            pass


def temporary_folder(target):
    """A new, unique folder beside `target` to build it in before replace_folder()."""
    target = Path(target)
    return Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))


def replace_folder(built, target):
    """Put the folder `built` in place of `target` (a rename), moving an existing `target` aside
    first; tolerant of another run doing the same at the same time."""
    built, target = Path(built), Path(target)
    for attempt in range(200):
        try:
            os.replace(built, target)  # succeeds when target is absent (or an empty folder)
            return target
        except OSError:
            aside = temporary_folder(target)
            try:
                os.replace(target, aside / target.name)
            except FileNotFoundError:
                pass  # another run moved it away in between
            shutil.rmtree(aside, ignore_errors=True)
            # Writers that keep landing in each other's window back off by a random pause.
            time.sleep(random.uniform(0, 0.002 * min(attempt + 1, 10)))
    os.replace(built, target)
    return target


def _stamp(entry):
    try:
        return entry.stat().st_mtime_ns
    except FileNotFoundError:
        return None
