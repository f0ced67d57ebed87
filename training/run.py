"""Training and inference runs of the quantized ANN (the library behind train.py).

A run directory holds:
  checkpoint/last.keras, checkpoint/state.json   model + optimizer after the last completed epoch
  history.csv, train.log                         per-epoch metrics and the log
  model.keras, model.export/, metrics.json       the final model, its SavedModel and its metrics
Checkpoints are replaced atomically, so a run killed at any moment loses at most the epoch in
progress, and `--resume` continues it.

The same loop runs on TensorFlow and on JAX (training/backend.py), on one device or data-parallel,
in one process or several (training/distribute.py); with several processes, process 0 writes the
run folder and the others take part in every save without keeping the file.
"""
import csv
import hashlib
import json
import logging
import math
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import keras
import numpy as np

import layers  # noqa: F401  (registers the custom layers for loading)
from layers.noise_training import TrainingSpikeDeletion
from models import DATASETS, build_preset, get_preset, hidden_macs
from models.initial_weights import draw_initial_weights
from models.tensorlayer_npz import NpzError, import_npz
from snn_data import load_arrays, resolve_data_dir
from snn_data.readers import check_same_classes, imagenet_archives, imagenet_files
from cli_utils import UserError, temporary_path, write_json_atomic
from training import distribute, inputs, optimizers, runfolder
from training.backend import tensorflow_available
from training.config import default_output_dir, run_name
from training.inputs import EVAL_BATCH  # noqa: F401  (evaluation/run.py's batch size)

log = logging.getLogger("train")
PRETRAINED_DIR = Path(__file__).resolve().parent.parent / "pretrained"


def run(options):
    dataset = options["dataset"] or get_preset(options["model"]).dataset
    options = {**options, "dataset": dataset}
    if options["mode"] == "inference":
        return run_inference(options)
    placement = distribute.setup(options)
    try:
        return run_training(options, placement)
    except Exception as err:
        if placement.process_count > 1 and distribute.is_peer_failure(err):
            distribute.abandon_job(
                f"train.py: error: process {placement.process_index}: another process of the job stopped "
                f"({distribute._first_line(err)[:160]}); relaunch every process with the same command and "
                f"--resume True to continue after the last completed epoch")
        raise


# ----------------------------------------------------------------------------------- training


def run_training(options, placement=None):
    placement = placement or distribute.Placement(keras.backend.backend())
    feed = inputs.for_placement(placement)
    plan = runfolder.plan_training(options)
    if plan.action == "finished":
        return _report_finished(plan)
    # Everything that can fail on the user's input happens before the folder is touched.
    train_x, train_y = _limit(*_load(options, "train"), options["limit_train"])
    test_x, test_y = _limit(*_load(options, "test"), options["limit_test"])
    if options["dataset"] == "imagenet":
        check_same_classes(train_x, test_x, DATASETS["imagenet"][1])
    steps_per_epoch = feed.steps_per_epoch(len(train_x), options["batch_size"])
    if steps_per_epoch == 0:
        raise UserError(f"{len(train_x)} training images make no batch that splits over {placement.devices} devices")
    model, start_epoch = _resume_or_build(options, plan, steps_per_epoch, placement)

    out = plan.out
    created = runfolder.make_folder(out) if placement.chief else []
    if plan.action == "fresh" and placement.chief:  # leftovers of a run that never completed an epoch
        runfolder.clear_run_files(out)
    try:
        return _train(model, options, out, start_epoch, (train_x, train_y), (test_x, test_y), placement, feed)
    except BaseException as err:
        state = runfolder.read_state(out)
        if state is None and placement.chief:  # nothing to resume: leave no half-written run behind
            _close_logging()
            runfolder.remove_failed_run(out, created)
        if isinstance(err, TrainingDiverged):
            kept = (f"the checkpoint after epoch {state['completed_epochs']} is kept in {out / 'checkpoint'}"
                    if state else "no epoch had completed, so nothing was saved")
            raise TrainingDiverged(f"{err}; {kept}; lower --learning-rate and start again with "
                                   f"--overwrite") from None
        raise


def _train(model, options, out, start_epoch, train, test, placement, feed):
    (train_x, train_y), (test_x, test_y) = train, test
    _setup_logging(out / "train.log" if placement.chief else None)
    if start_epoch:
        log.info("resuming %s after epoch %d", out, start_epoch)
        if placement.chief:
            _truncate_history(out / "history.csv", start_epoch)
    model.summary(print_fn=lambda line, *args, **kwargs: log.info("%s", line))
    log.info(
        "%s on %s, k=%s B=%s, %d train / %d test images, epochs %d..%d, run directory %s",
        options["model"], options["dataset"], options["k"], options["B"], len(train_x), len(test_x),
        start_epoch + 1, options["epochs"], out,
    )
    log.info("backend %s; %s", placement.backend, "; ".join(placement.notes) or "one device")
    steps = feed.steps_per_epoch(len(train_x), options["batch_size"])
    log.info("%s", _schedule_line(options, steps))
    verbose = 1 if sys.stdout.isatty() else 2
    callbacks = [StopOnNonFiniteLoss(), *_tensorboard(out, placement)]
    started = time.time()
    for epoch in range(start_epoch, options["epochs"]):
        epoch_start = time.time()
        ds = feed.train(train_x, train_y, options, epoch)
        # shuffle=False: the epoch's order is the pipeline's (Keras would reshuffle a PyDataset's
        # batches, differently in every process)
        history = model.fit(ds, epochs=epoch + 1, initial_epoch=epoch, verbose=verbose, callbacks=callbacks,
                            shuffle=False)
        test_loss, test_acc = feed.evaluate(model, test_x, test_y)
        row = {
            "epoch": epoch + 1,
            "loss": history.history["loss"][-1],
            "accuracy": history.history["accuracy"][-1],
            "test_loss": test_loss,
            "test_accuracy": test_acc,
            "seconds": time.time() - epoch_start,
        }
        _check_finite(row, epoch + 1)
        if placement.chief:
            _append_history(out / "history.csv", row)
        _save_checkpoint(model, out / "checkpoint", epoch + 1, options, placement)
        log.info("epoch %d/%d: loss %.4f, test accuracy %.4f (%.1f s)", epoch + 1, options["epochs"],
                 row["loss"], test_acc, row["seconds"])
    return _finish(model, options, out, (test_x, test_y), len(train_x), time.time() - started, placement, feed)


def _schedule_line(options, steps):
    """The optimizer and learning-rate schedule for train.log."""
    head = (f"sgd, momentum {options['momentum']:g}" if options["optimizer"] == "sgd"
            else f"adam, betas ({options['beta_1']:g}, {options['beta_2']:g})")
    if options["weight_decay"]:
        until = options["weight_decay_until"]
        head += f", coupled L2 weight decay {options['weight_decay']:g}" + (
            f" during the first {until} epochs" if until else "")
    if options["lr_schedule"] == "step":
        milestones = optimizers.decay_epochs(options)
        return (f"{head}; learning rate {options['learning_rate']:g}, times {options['lr_decay']:g} "
                f"from epochs {', '.join(str(m + 1) for m in milestones) or '(none)'}")
    warmup = optimizers.warmup_steps(options["epochs"], steps)
    return (f"{head}; learning rate: {warmup} warm-up steps to {options['learning_rate']:g}, then cosine "
            f"decay to 0 over {options['epochs'] * steps - warmup} steps")


def _tensorboard(out, placement):
    """Keras' TensorBoard callback writes through tf.summary: TensorFlow only, and the chief only."""
    if placement.backend != "tensorflow" or not placement.chief:
        return []
    return [keras.callbacks.TensorBoard(str(out / "tensorboard"))]


class TrainingDiverged(UserError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""


class StopOnNonFiniteLoss(keras.callbacks.Callback):
    """Stop at the first batch whose loss is NaN or infinite, before a NaN model can be saved
    (keras.callbacks.TerminateOnNaN stops too, but silently, and the run would then save it)."""

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            raise TrainingDiverged(f"the training loss became {float(loss)} at batch {batch + 1}")


def _check_finite(row, epoch):
    for key in ("loss", "test_loss"):
        if not math.isfinite(row[key]):
            raise TrainingDiverged(f"the {key.replace('_', ' ')} became {row[key]} in epoch {epoch}")


def _report_finished(plan):
    print(f"{plan.out} is a finished run ({plan.state['completed_epochs']} epochs, test accuracy "
          f"{plan.metrics.get('test_accuracy')}); nothing to resume, its files are unchanged")
    return plan.metrics


def _resume_or_build(options, plan, steps_per_epoch, placement):
    if placement.strategy is not None and options["train_noise"]:
        raise UserError("--train-noise with --distribute data-parallel needs --backend jax (under "
                        "MirroredStrategy every replica would draw the same deletion masks)")
    # Seeded before a load too: the model is built (randomly initialized) before the checkpoint's
    # values are assigned, and the processes of a job must create identical values.
    keras.utils.set_random_seed(options["seed"])
    with placement.scope():
        if plan.action == "resume":
            model = load_model_file(plan.out / "checkpoint" / "last.keras", what="checkpoint")
            return model, plan.state["completed_epochs"]
        model = build_preset(options["model"], options["dataset"], k=options["k"], B=options["B"],
                             use_ternary=options["use_ternary"], train_noise=options["train_noise"],
                             synchronized_bn=placement.strategy is not None)
        draw_initial_weights(model, options["seed"])  # one seed, one network, on either backend
        model.compile(
            optimizer=optimizers.make_optimizer(options, steps_per_epoch),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
        )
    return model, 0


def _save_checkpoint(model, folder, completed_epochs, options, placement):
    if placement.chief:
        folder.mkdir(exist_ok=True)
    save_everywhere(model, folder / "last.keras", placement)
    if placement.chief:  # state.json last: it names a checkpoint that is complete
        write_json_atomic(folder / "state.json", {"completed_epochs": completed_epochs, "options": options})


def save_everywhere(model, path, placement):
    """Every process saves (a chief-only save of a distributed model waits forever for the others);
    the chief's file replaces `path` atomically, the others' go to a scratch folder."""
    if placement.chief:
        save_atomic(model, path)
        return
    with tempfile.TemporaryDirectory() as scratch:
        model.save(Path(scratch) / "scratch.keras")


def _finish(trained, options, out, test, num_train, seconds, placement, feed):
    test_x, test_y = test
    model = inference_model(trained)  # outside a TF strategy's scope: a plain model to export
    correct = int(np.sum(np.argmax(feed.logits(model, test_x), axis=1) == test_y))
    save_everywhere(model, out / "model.keras", placement)
    log.info("process %d of %d: weights digest %s", placement.process_index, placement.process_count,
             weights_digest(model))
    metrics = _metrics(model, options, correct, len(test_y), num_train, seconds, placement)
    distribute.leave_job(placement)  # the last collective is done; the chief's export may take a while
    if not placement.chief:
        return None
    export_note = export_run_model(out / "model.keras", out / "model.export", placement.backend, model)
    write_json_atomic(out / "metrics.json", metrics)
    log.info("test accuracy %.4f (%d/%d); wrote %s", metrics["test_accuracy"], correct, len(test_y), out)
    if export_note:
        log.info("%s", export_note)
    return metrics


def _metrics(model, options, correct, num_test, num_train, seconds, placement):
    return {
        "test_accuracy": correct / num_test,
        "test_correct": correct,
        "num_test": num_test,
        "num_train": num_train,
        "epochs": options["epochs"],
        "k": options["k"],
        "B": options["B"],
        "model": options["model"],
        "dataset": options["dataset"],
        "use_ternary": options["use_ternary"],
        "batch_size": options["batch_size"],
        "learning_rate": options["learning_rate"],
        "optimizer": options["optimizer"],
        "lr_schedule": options["lr_schedule"],
        "weight_decay": options["weight_decay"],
        "seed": options["seed"],
        "augment": options["augment"],
        "train_noise": options["train_noise"],
        "hidden_macs": hidden_macs(model),
        "params": model.count_params(),
        "train_seconds_this_session": round(seconds, 1),
        "backend": placement.backend,
        "devices": placement.devices,
        "processes": placement.process_count,
        "versions": {"keras": keras.__version__, **_backend_versions(placement.backend)},
    }


def export_run_model(keras_path, export_path, backend, model):
    """Write the SavedModel: in this process on TensorFlow; on JAX in a TensorFlow subprocess when
    TensorFlow is installed. Returns a note for the log when it was not written."""
    if backend == "tensorflow":
        from training.export import export_saved_model

        export_saved_model(model, export_path)
        return None
    if not tensorflow_available():
        return (f"SavedModel not written: TensorFlow is not installed here; write it later with python "
                f"train.py --mode inference --checkpoint {keras_path} --export {export_path}")
    env = {**os.environ, "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "3"}
    command = [sys.executable, "-m", "training.export", str(keras_path), str(export_path)]
    result = subprocess.run(command, env=env, capture_output=True, text=True,
                            cwd=Path(__file__).resolve().parent.parent)
    if result.returncode != 0:
        tail = (result.stderr.strip().splitlines() or ["no message"])[-1]
        return f"SavedModel not written: the TensorFlow export process failed ({tail})"
    return None


def inference_model(model):
    """An uncompiled copy of a chain model without its training-only layers (noise-aware training).

    Saved, it has no optimizer state (a third of the size: Keras 3 ignores include_optimizer for
    .keras files) and converts to an SNN like any model trained without noise.
    """
    inputs = keras.Input(shape=model.input_shape[1:], name=model.layers[0].name)
    x = inputs
    for layer in model.layers:
        if isinstance(layer, (keras.layers.InputLayer, TrainingSpikeDeletion)):
            continue
        config = layer.get_config()
        if config.get("synchronized"):  # a MirroredStrategy detail; the saved model loads anywhere
            config["synchronized"] = False
        copy = layer.__class__.from_config(config)
        x = copy(x)
        copy.set_weights(layer.get_weights())
    return keras.Model(inputs, x, name=model.name)


def weights_digest(model):
    """md5 of every weight's bytes: equal digests mean bit-identical models (processes of a job)."""
    digest = hashlib.md5()
    for weight in model.get_weights():
        digest.update(np.ascontiguousarray(weight).tobytes())
    return digest.hexdigest()


def save_atomic(model, path):
    tmp = temporary_path(Path(path))  # unique: two runs saving at once never share a half-written file
    model.save(tmp)
    os.replace(tmp, path)


# ---------------------------------------------------------------------------------- inference


def run_inference(options):
    path = find_checkpoint(options)
    model = load_model_or_npz(path, options["model"], options["dataset"], options["k"], options["B"],
                            options["use_ternary"])
    save_keras_copy(model, options["save_keras"])
    dataset = infer_dataset(model)
    options = {**options, "dataset": dataset}
    test_x, test_y = _limit(*_load(options, "test"), options["limit_test"])
    correct = count_correct(model, test_x, test_y)
    accuracy = correct / len(test_y)
    print(f"{path}: test_accuracy {accuracy:.4f} ({correct}/{len(test_y)}) on {dataset}")
    if options["export"]:
        note = _export_inference(model, path, Path(options["export"]))
        print(note or f"wrote SavedModel {options['export']}")
    return {"test_accuracy": accuracy, "test_correct": correct, "num_test": len(test_y), "checkpoint": str(path)}


def find_checkpoint(options):
    """--checkpoint, else the run directory's model, else the shipped pretrained model."""
    if options["checkpoint"]:
        path = Path(options["checkpoint"])
        if path.is_dir():
            path = path / "model.keras"
        if not path.is_file():
            raise UserError(f"checkpoint {path} does not exist")
        return path
    run_dir = Path(options["output_dir"] or default_output_dir(options, options["dataset"]))
    candidates = [run_dir / "model.keras", run_dir / "checkpoint" / "last.keras",
                  pretrained_path(options["model"], options["dataset"], options["k"], options["B"])]
    for path in candidates:
        if path.is_file():
            return path
    raise UserError(
        f"no trained model for {options['model']} k={options['k']} B={options['B']} on {options['dataset']} "
        f"(looked for {', '.join(map(str, candidates))}); train one first or pass --checkpoint"
    )


def save_keras_copy(model, path):
    """--save-keras: keep an imported model as .keras (no-op without a path)."""
    if not path:
        return
    path = Path(path)
    if path.suffix != ".keras":
        raise UserError(f"--save-keras needs a path ending in .keras, got {path}")
    path.parent.mkdir(parents=True, exist_ok=True)
    save_atomic(inference_model(model), path)
    print(f"wrote {path}")


def pretrained_path(model, dataset, k, B):
    return PRETRAINED_DIR / run_name(model, dataset, k, B) / "model.keras"


def load_model_or_npz(path, preset="lenet", dataset=None, k=1, B=2, use_ternary=True):
    """A .keras model; a TensorLayer .npz checkpoint is assigned to a fresh `preset` built with
    (dataset, k, B, use_ternary), which the .keras format stores itself."""
    if Path(path).suffix == ".npz":
        try:
            return import_npz(path, preset, dataset=dataset, k=k, B=B, use_ternary=use_ternary)
        except NpzError as err:
            raise UserError(str(err)) from None
    return load_model_file(path)


def load_model_file(path, what=None):
    """keras.models.load_model, or a UserError naming the file; `what="checkpoint"` says that a
    checkpoint train.py wrote itself is damaged (and how to go on)."""
    if not Path(path).is_file():
        raise UserError(f"{path} does not exist")
    if Path(path).suffix == ".keras" and not zipfile.is_zipfile(path):
        # keras says "File not found" for a .keras file that is not a zip archive: say what it is
        reason = "not a .keras zip archive: truncated or overwritten"
        if what == "checkpoint":
            raise UserError(f"checkpoint {path} is damaged ({reason}); start again with --overwrite")
        raise UserError(f"{path} is damaged ({reason})")
    try:
        return keras.models.load_model(path)
    except Exception as err:  # a wrong file can fail in many ways inside keras
        reason = f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
        if what == "checkpoint":
            raise UserError(f"checkpoint {path} is damaged ({reason}); start again with --overwrite") from None
        raise UserError(f"{path} is damaged or not a model this project can load ({reason})") from None


def infer_dataset(model):
    """Which dataset a model was built for, from its input shape and class count."""
    signature = (tuple(model.input_shape[1:]), int(model.output_shape[-1]))
    for name, (shape, classes) in DATASETS.items():
        # A None in the dataset's shape takes any size (CIFAR models built for 32 x 32 as well as any).
        fits = len(shape) == len(signature[0]) and all(s is None or s == t for s, t in zip(shape, signature[0]))
        if fits and classes == signature[1]:
            return name
    raise UserError(f"cannot tell which dataset a model with input {signature[0]} and "
                    f"{signature[1]} classes is for")


# ------------------------------------------------------------------------------------ helpers


def _export_inference(model, path, export_path):
    """--export: on JAX through a TensorFlow process, which needs the model as a .keras file."""
    backend = keras.backend.backend()
    if backend == "tensorflow" or path.suffix == ".keras":
        note = export_run_model(path, export_path, backend, model)
    else:
        with tempfile.TemporaryDirectory() as scratch:
            copy = Path(scratch) / "model.keras"
            save_atomic(inference_model(model), copy)
            note = export_run_model(copy, export_path, backend, model)
    if note:
        raise UserError(note)
    return None


def count_correct(model, images, labels):
    feed = inputs.for_placement(distribute.Placement(keras.backend.backend()))
    logits = feed.logits(model, images)
    return int(np.sum(np.argmax(logits, axis=1) == labels))


def _load(options, split):
    """(images, labels) arrays; ImageNet from an ImageFolder tree as (ImageFiles, labels), streamed
    from its files (a folder of the ILSVRC2012 archives still loads as arrays, for inference)."""
    if options["dataset"] == "imagenet" and not _imagenet_archives(options["data_dir"]):
        files = imagenet_files(split, options["data_dir"])
        return files, files.labels
    return load_arrays(options["dataset"], split, options["data_dir"], verify_md5=options["md5_check"])


def _imagenet_archives(data_dir):
    directory = resolve_data_dir(data_dir)
    return directory is not None and imagenet_archives(directory) is not None


def _limit(images, labels, limit):
    return (images, labels) if limit is None else (images[:limit], labels[:limit])


def _truncate_history(path, completed_epochs):
    """Drop rows of epochs after the checkpoint (an epoch logged but killed before its save)."""
    if not path.is_file():
        return
    rows = list(csv.DictReader(open(path)))
    kept = [row for row in rows if int(row["epoch"]) <= completed_epochs]
    if len(kept) != len(rows):
        with open(path, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(kept)


def _append_history(path, row):
    new = not path.is_file()
    with open(path, "a", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(row))
        if new:
            writer.writeheader()
        writer.writerow(row)


def _setup_logging(path):
    """The log on stdout, and in `path` (None: a non-chief process, which writes no files)."""
    _close_logging()
    log.setLevel(logging.INFO)
    log.propagate = False
    formatter = logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S")
    handlers = [logging.StreamHandler(sys.stdout)] + ([logging.FileHandler(path)] if path else [])
    for handler in handlers:
        handler.setFormatter(formatter)
        log.addHandler(handler)


def _close_logging():
    for handler in list(log.handlers):
        handler.close()
        log.removeHandler(handler)


def _backend_versions(backend):
    if backend == "jax":
        import jax

        return {"jax": jax.__version__}
    import tensorflow as tf

    return {"tensorflow": tf.__version__}
