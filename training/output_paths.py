"""Checks on the files and folders an inference or evaluation run writes besides its run folder
(--save-keras, --export), made before any work: a path that cannot be written, or one that would
replace what the run reads or a folder of other files, fails in one line with nothing done."""
import tempfile
from pathlib import Path

from cli_utils import UserError

SAVED_MODEL_ENTRIES = {"saved_model.pb", "variables", "assets", "fingerprint.pb", "keras_metadata.pb"}


def check_output_file(path, flag, checkpoint=None):
    """`path` (a file the run will write) is not the checkpoint it reads, not a folder, and its
    folder exists or can be created and is writable."""
    path = Path(path)
    if checkpoint is not None:
        reads = Path(checkpoint)
        candidates = [reads, reads / "model.keras"] if reads.is_dir() else [reads]
        if path.exists() and any(c.exists() and path.resolve() == c.resolve() for c in candidates):
            raise UserError(f"{flag} {path} is the checkpoint this run reads; give another path")
    if path.is_dir():
        raise UserError(f"{flag} {path} is a folder; give a file path")
    _check_folder_writable(path.parent, flag, path)


def check_export_folder(path, flag="--export"):
    """`path` (a SavedModel folder to write) is no file, holds nothing but an earlier SavedModel,
    and can be written."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise UserError(f"{flag} {path} is a file; give a folder for the SavedModel")
    if path.is_dir():
        others = sorted(entry.name for entry in path.iterdir() if entry.name not in SAVED_MODEL_ENTRIES)
        if others:
            raise UserError(f"{flag} {path} holds other files ({', '.join(others[:3])}"
                            f"{', ...' if len(others) > 3 else ''}); give an empty or new folder")
    _check_folder_writable(path, flag, path)


def _check_folder_writable(folder, flag, target):
    existing, problem = writable_ancestor(folder)
    if problem == "file":
        raise UserError(f"{flag} {target}: {existing} is a file, so the folder cannot be created")
    if problem:
        raise UserError(f"{flag} {target}: {existing} is not writable ({problem})")


def writable_ancestor(folder):
    """(the nearest existing folder at or above `folder`, None | "file" | why it cannot be written),
    probed with a real temporary file: permission bits say nothing for root, read-only mounts or /proc."""
    existing = Path(folder)
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        return existing, "file"
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as err:
        return existing, err.strerror
    return existing, None
