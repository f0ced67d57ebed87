"""What a run folder holds and what a training command may do with it; plain Python, no Keras.

Everything here runs before TensorFlow loads and before anything is written, so a mistaken
command (a typo in --data-dir, a fresh run aimed at a folder that holds one) fails at once and
leaves the folder as it was.
"""
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from snn_data.readers import check_imagenet_folders
from snn_data.sources import SOURCES, dataset_file, resolve_data_dir
from training.config import DEFAULTS, UserError, default_output_dir
from training.output_paths import writable_ancestor

# The files a training run writes; --overwrite deletes these and nothing else.
RUN_FILES = ("train.log", "history.csv", "metrics.json", "model.keras", "model.export", "checkpoint",
             "tensorboard")
# Options that define the network, its data, its learning-rate schedule and its test set: a resumed
# run must not change them (the schedule's length is fixed when the optimizer is built, and the
# per-epoch and final test accuracies must be of one test set).
IDENTITY = ("model", "dataset", "k", "B", "use_ternary", "train_noise", "epochs", "batch_size",
            "learning_rate", "seed", "augment", "limit_train", "limit_test", "optimizer", "momentum",
            "beta_1", "beta_2", "lr_schedule", "lr_milestones", "lr_step_every", "lr_decay",
            "weight_decay", "weight_decay_until")


@dataclass
class Plan:
    """What run_training will do: 'fresh' (a new run), 'resume' (after state['completed_epochs'])
    or 'finished' (the run is complete: report it, write nothing)."""

    action: str
    out: Path
    state: dict = None
    metrics: dict = None


def output_dir(options):
    dataset = options["dataset"] or _preset_dataset(options["model"])
    return Path(options["output_dir"] or default_output_dir(options, dataset))


def plan_training(options):
    """The Plan for `options`, or a UserError naming what is wrong and what to do instead."""
    options = {**options, "dataset": options["dataset"] or _preset_dataset(options["model"])}
    out = output_dir(options)
    check_writable(out)
    state, metrics = read_state(out), read_metrics(out)
    if options["resume"]:
        return _plan_resume(options, out, state, metrics)
    if holds_run(out) and not options["overwrite"]:
        raise UserError(f"{out} holds {describe(state, metrics)}; {_how_to_continue(state, metrics)}, "
                        f"or pass --overwrite to delete it and start afresh (or choose another --output-dir)")
    # files a run writes only after an epoch or at its end: here without a run, they are someone else's
    foreign = [name for name in ("history.csv", "model.export") if (out / name).exists()]
    if foreign and not options["overwrite"]:
        raise UserError(f"{out} holds {' and '.join(foreign)} but no run of train.py; pass --overwrite to "
                        f"replace them (or choose another --output-dir)")
    return Plan("fresh", out)


def _plan_resume(options, out, state, metrics):
    if state is None:
        raise UserError(f"nothing to resume in {out}: it has no checkpoint/state.json (no completed "
                        f"epoch); run without --resume to start a new run")
    for key in IDENTITY:
        # a run started before a key existed ran with that key's default
        started = state["options"].get(key, DEFAULTS[key])
        if started != options[key]:
            flag = "--" + key.replace("_", "-")
            value = ",".join(map(str, started)) if isinstance(started, list) else started
            hint = (f"{options[key]!r} is the default: pass {flag} {value} as the run was started"
                    if options[key] == DEFAULTS[key] else "start a new run in another --output-dir to change it")
            raise UserError(f"cannot resume {out}: it was started with {key}={started!r}, not {options[key]!r} ({hint})")
    if not (out / "checkpoint" / "last.keras").is_file():
        raise UserError(f"cannot resume {out}: {out / 'checkpoint' / 'last.keras'} is missing; "
                        f"start again with --overwrite")
    if state["completed_epochs"] >= state["options"]["epochs"] and metrics is not None:
        return Plan("finished", out, state, metrics)
    return Plan("resume", out, state, metrics)


def holds_run(out):
    """A folder holds a run once an epoch completed (a checkpoint) or a model was written."""
    return any((out / name).exists() for name in ("checkpoint/state.json", "metrics.json", "model.keras"))


def describe(state, metrics):
    if metrics is not None:
        return f"a finished run (test accuracy {metrics.get('test_accuracy')!r})"
    if state is not None:
        return f"a run stopped after epoch {state['completed_epochs']} of {state['options']['epochs']}"
    return "a trained model"


def _how_to_continue(state, metrics):
    if state is not None and metrics is None:
        return "continue it with --resume True (same options)"
    return "evaluate it with --mode inference"


def read_state(out):
    """checkpoint/state.json as a dict, None if absent; a UserError naming the file if damaged."""
    path = out / "checkpoint" / "state.json"
    data = _read_json(path)
    if data is None:
        return None
    ok = (isinstance(data, dict) and isinstance(data.get("options"), dict)
          and isinstance(data.get("completed_epochs"), int) and "epochs" in data["options"])
    if not ok:
        raise UserError(f"{path} is damaged (not a state file of train.py); start again with --overwrite")
    return data


def read_metrics(out):
    path = out / "metrics.json"
    data = _read_json(path)
    if data is not None and not isinstance(data, dict):
        raise UserError(f"{path} is damaged (not a metrics file of train.py); start again with --overwrite")
    return data


def _read_json(path):
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as err:
        reason = err.strerror if isinstance(err, OSError) else f"not valid JSON: {str(err).splitlines()[0]}"
        raise UserError(f"{path} is damaged ({reason}); start again with --overwrite") from None


def check_writable(out):
    """A UserError unless `out` is (or can become) a folder we can write into."""
    if out.exists() and not out.is_dir():
        raise UserError(f"output folder {out} is a file; choose another --output-dir")
    existing, problem = writable_ancestor(out)
    if problem == "file":
        raise UserError(f"cannot create output folder {out}: {existing} is a file; choose another --output-dir")
    if problem:
        raise UserError(f"cannot write output folder {out}: {existing} is not writable ({problem}); "
                        f"choose another --output-dir")


def check_data_files(options):
    """Every official file the dataset needs exists under the data directory (md5s are checked
    when the data loads); with no data directory the tensorflow-datasets fallback is used."""
    dataset = options["dataset"] or _preset_dataset(options["model"])
    if dataset == "imagenet":  # an ImageFolder tree, always from a data directory
        check_imagenet_folders(options["data_dir"])
        return
    directory = resolve_data_dir(options["data_dir"])
    if directory is None:
        return
    for name in SOURCES[dataset][1]:
        dataset_file(dataset, name, directory, verify_md5=False)


def make_folder(out):
    """Create `out` and return the folders this created (deepest last), to remove after a failure."""
    created = []
    folder = out
    while not folder.exists():
        created.append(folder)
        folder = folder.parent
    out.mkdir(parents=True, exist_ok=True)
    return created[::-1]


def clear_run_files(out):
    for name in RUN_FILES:
        path = out / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


def remove_failed_run(out, created):
    """After a run that failed before its first checkpoint: delete what it wrote, and the folders it
    created, so no empty or half-written run folder is left behind."""
    clear_run_files(out)
    for folder in reversed(created):
        try:
            os.rmdir(folder)
        except OSError:  # not empty: something else lives there now
            break


def _preset_dataset(model):
    from models import get_preset

    return get_preset(model).dataset
