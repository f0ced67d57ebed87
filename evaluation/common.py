"""What both evaluation methods share: model lookup, data, conversion errors, outputs."""
import json
import os
import sys
from pathlib import Path

import keras
import numpy as np

from conversion import ConversionError, ThresholdError, convert, export_snn_saved_model
from snn_data import DataError, load_arrays
from training.config import UserError, run_name
from models import PRESETS
from training.run import PRETRAINED_DIR, load_model_or_npz, save_keras_copy

FIGS_DIR = Path("figs")
# Networks whose runs keep the seeds' own folder names (figs/k1B2, figs/WQ_INT/k0).
SEED_LAYOUT = {("lenet", "mnist"), ("lenet_allint", "mnist")}


def find_ann(args):
    """--checkpoint, else one rule whatever flags are given: the user's own run
    runs/<model>_<dataset>_k<k>B<B>/model.keras (k, B default 1, 2; allint k 0) if it exists, else
    the shipped model of that name. The first output line says which one and why."""
    if args.checkpoint:
        path = Path(args.checkpoint)
        path = path / "model.keras" if path.is_dir() else path
        if not path.is_file():
            raise UserError(f"checkpoint {path} does not exist")
        return path
    k = (0 if args.method == "allint" else 1) if args.k is None else args.k
    B = 2 if args.B is None else args.B
    name = run_name(args.model, PRESETS[args.model].dataset, k, B)
    own, shipped = Path("runs") / name / "model.keras", PRETRAINED_DIR / name / "model.keras"
    if own.is_file():
        print(f"model: {own} (your run of {name}; it comes before the shipped model, --checkpoint picks another)")
        return own
    if shipped.is_file():
        print(f"model: {shipped} (the shipped {name}: there is no {own}; --checkpoint picks another)")
        return shipped
    levels = f"--k {k}" + ("" if PRESETS[args.model].quantization == "allint" else f" --B {B}")
    raise UserError(f"no trained model {name} (looked for {own} and {shipped}); train one "
                    f"with `python train.py --model {args.model} {levels}` or pass --checkpoint")


def load_ann(path, args):
    """The quantized ANN at `path`; a TensorLayer .npz is assigned to --model built with --k/--B
    (and --use_ternary), and kept as .keras with --save-keras."""
    default_k = 0 if args.method == "allint" else 1
    ann = load_model_or_npz(path, args.model, None, default_k if args.k is None else args.k,
                          2 if args.B is None else args.B, args.use_ternary)
    save_keras_copy(ann, args.save_keras)
    return ann


def check_model_name(ann, path, args):
    """--model given together with --checkpoint must name the checkpoint's preset."""
    if args.model_given and args.checkpoint and ann.name != args.model:
        raise UserError(f"{path} is a {ann.name} model, not {args.model}")


def default_output_dir(ann, dataset, name, prefix=""):
    """figs/[prefix/]name for the seeds' LeNet on MNIST; figs/<model>_<dataset>/[prefix/]name for
    any other network, so that runs of different networks never share a folder."""
    base = FIGS_DIR if (ann.name, dataset) in SEED_LAYOUT else FIGS_DIR / f"{ann.name}_{dataset}"
    return base / prefix / name


def convert_or_fail(ann, method, **options):
    """The spiking model; a model that does not convert is a user error (one line)."""
    try:
        return convert(ann, method=method, **options)
    except (ConversionError, ThresholdError) as err:
        raise UserError(str(err)) from None


def test_data(dataset, args):
    try:
        images, labels = load_arrays(dataset, "test", args.data_dir, verify_md5=args.md5_check)
    except DataError as err:
        raise UserError(str(err)) from None
    if args.limit_test:
        images, labels = images[:args.limit_test], labels[:args.limit_test]
    return images.astype(np.float32), labels


def save_spiking_model(snn, out):
    tmp = out / "snn.tmp.keras"
    snn.save(tmp)
    os.replace(tmp, out / "snn.keras")
    export_snn_saved_model(snn, out / "snn.export")


def write_json(path, data):
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=2, default=_json_default) + "\n")
    os.replace(tmp, path)


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def noise_seeds(args, ratio):
    """The seeds of the runs at noise `ratio`: --seeds of them with noise, one without."""
    return [args.seed + i for i in range(args.seeds)] if ratio > 0 else [args.seed]


def progress_bar(total):
    return keras.utils.Progbar(total, unit_name="image", verbose=1 if sys.stdout.isatty() else 2)
