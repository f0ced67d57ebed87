"""What every evaluation run needs: model lookup, data, conversion errors, outputs."""
import os
import sys
from pathlib import Path

import keras
import numpy as np

from cli_utils import UserError, temporary_path, write_json_atomic
from conversion import ConversionError, ThresholdError, export_snn_saved_model
from models import PRESETS
from snn_data import DataError, load_arrays
from training.config import run_name
from training.run import PRETRAINED_DIR, load_model_or_npz, save_keras_copy

FIGS_DIR = Path("figs")
# Networks whose runs keep the seeds' own folder names (figs/k1B2, figs/WQ_INT/k0).
SEED_LAYOUT = {("lenet", "mnist"), ("lenet_allint", "mnist")}


def find_ann(checkpoint, model, k, B, default_k):
    """`checkpoint`, else one rule whatever flags are given: the user's own run
    runs/<model>_<dataset>_k<k>B<B>/model.keras (k, B default `default_k`, 2) if it exists, else
    the shipped model of that name. The first output line says which one and why."""
    if checkpoint:
        path = Path(checkpoint)
        path = path / "model.keras" if path.is_dir() else path
        if not path.is_file():
            raise UserError(f"checkpoint {path} does not exist")
        return path
    chosen_k = default_k if k is None else k
    chosen_B = 2 if B is None else B
    name = run_name(model, PRESETS[model].dataset, chosen_k, chosen_B)
    own, shipped = Path("runs") / name / "model.keras", PRETRAINED_DIR / name / "model.keras"
    if own.is_file():
        print(f"model: {own} (your run of {name}; it comes before the shipped model, --checkpoint picks another)")
        return own
    if shipped.is_file():
        print(f"model: {shipped} (the shipped {name}: there is no {own}; --checkpoint picks another)")
        return shipped
    levels = f"--k {chosen_k}" + ("" if PRESETS[model].quantization == "allint" else f" --B {chosen_B}")
    raise UserError(f"no trained model {name} (looked for {own} and {shipped}); train one "
                    f"with `python train.py --model {model} {levels}` or pass --checkpoint")


def load_ann(path, model, k, B, default_k, use_ternary=True, save_keras=None):
    """The quantized ANN at `path`; a TensorLayer .npz is assigned to preset `model` built with
    k/B (default `default_k`, 2) and `use_ternary`, and kept as .keras at `save_keras`."""
    ann = load_model_or_npz(path, model, None, default_k if k is None else k, 2 if B is None else B,
                            use_ternary)
    save_keras_copy(ann, save_keras)
    return ann


def check_model_name(ann, path, model, model_given, checkpoint):
    """--model given together with --checkpoint must name the checkpoint's preset."""
    if model_given and checkpoint and ann.name != model:
        raise UserError(f"{path} is a {ann.name} model, not {model}")


def default_output_dir(ann, dataset, name):
    """figs/name for the seeds' LeNet on MNIST; figs/<model>_<dataset>/name for any other network,
    so that runs of different networks never share a folder (name may hold a sub-folder)."""
    base = FIGS_DIR if (ann.name, dataset) in SEED_LAYOUT else FIGS_DIR / f"{ann.name}_{dataset}"
    return base / name


def convert_or_fail(method, ann, **options):
    """The spiking model; a model that does not convert is a user error (one line)."""
    try:
        return method.convert(ann, **options)
    except (ConversionError, ThresholdError) as err:
        raise UserError(str(err)) from None


def load_split(dataset, split, data_dir=None, md5_check=True, limit=None):
    """(images float32, labels) of one split; data problems are user errors."""
    try:
        images, labels = load_arrays(dataset, split, data_dir, verify_md5=md5_check, limit=limit)
    except DataError as err:
        raise UserError(str(err)) from None
    if limit:
        images, labels = images[:limit], labels[:limit]
    return images.astype(np.float32), labels


def save_spiking_model(snn, out):
    """snn.keras and snn.export/, each built under a unique temporary name and renamed into place
    (two runs writing one folder at once never write into each other's files)."""
    from evaluation.outputs import replace_folder, temporary_folder

    tmp = temporary_path(out / "snn.keras")
    snn.save(tmp)
    os.replace(tmp, out / "snn.keras")
    built = temporary_folder(out / "snn.export")
    export_snn_saved_model(snn, built)
    replace_folder(built, out / "snn.export")


def write_json(path, data):
    return write_json_atomic(path, data)


def noise_seeds(seed, seeds, ratio):
    """The seeds of the runs at noise `ratio`: `seeds` of them with noise, one without."""
    return [seed + i for i in range(seeds)] if ratio > 0 else [seed]


def progress_bar(total):
    return keras.utils.Progbar(total, unit_name="image", verbose=1 if sys.stdout.isatty() else 2)
