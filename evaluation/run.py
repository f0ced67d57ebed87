"""The library behind evaluate_snn.py: convert, evaluate, count, add noise, write the run outputs.

Output directory (default figs/k<k>B<B>/, or figs/k<k>B<B>_noise<r>/ with noise):
  accuracy.txt, spike_num.txt, sop_num.txt, spike_collect.txt   one line per (batch, time step),
                                      as the seeds write them (first seed's run when --seeds > 1)
  summary.json                        accuracies, agreement, per-layer table, units, totals
  snn.keras, snn.export/              the spiking model and its SavedModel (noise-free)
  snn.nir                             with --export-nir: the noise-free SNN in NIR (conversion.nir_export)
  noise_sweep.json, noise_sweep.png   with --noise-sweep
"""
import time
from pathlib import Path

import numpy as np

from conversion import NirExportError, SpikeCounter, add_noise, nir_graph, nir_support, write_nir
from conversion import verify as verify_layers
from evaluation.common import (
    FIGS_DIR,
    check_model_name,
    convert_or_fail,
    default_output_dir,
    find_ann,
    load_ann,
    noise_seeds,
    progress_bar,
    save_spiking_model,
    test_data,
    write_json,
)
from evaluation.report import format_table, write_seed_files
from layers import QuantActivation
from training.config import UserError
from training.run import EVAL_BATCH, infer_dataset

def run(args):
    if args.export_nir:
        _check_nir_method(args.method)  # a method NIR cannot carry fails before any work
    ann_path = find_ann(args)
    ann = load_ann(ann_path, args)
    check_model_name(ann, ann_path, args)
    dataset = infer_dataset(ann)
    if args.hardware:
        _check_core(args.hardware)  # before the evaluation, so that a bad core file fails at once
    if args.method == "allint":
        from evaluation.allint_run import run_allint

        return run_allint(args, ann, ann_path, dataset)
    # first: its error lists every layer that does not convert
    snn, conversion = convert_or_fail(ann, args.method, calibrate=args.calibrate, return_report=True)
    nir_plan = _nir_graph(snn, args.method) if args.export_nir else None  # fails before the evaluation
    k, B = model_levels(ann, ann_path, args)
    name = f"k{k}B{B}" + (f"_noise{args.noise_ratio:g}" if args.noise_ratio > 0 else "")
    out = Path(args.output_dir or default_output_dir(ann, dataset, name))
    images, labels = test_data(dataset, args)
    print(f"{ann_path}: {args.method} conversion, k={k}, B={B}, {len(images)} {dataset} test images -> {out}")

    ann_logits = ann.predict(images, batch_size=EVAL_BATCH, verbose=0)
    ann_pred = np.argmax(ann_logits, axis=1)
    runs = []
    for seed in noise_seeds(args, args.noise_ratio):
        model = snn if args.noise_ratio == 0 else add_noise(snn, args.noise_model, args.noise_ratio, seed)
        label = f"seed {seed}" if args.noise_ratio > 0 else "SNN"
        runs.append(evaluate(model, images, labels, args.batch_size, label))

    out.mkdir(parents=True, exist_ok=True)
    write_seed_files(out, runs[0])
    summary = build_summary(args, ann_path, dataset, k, B, ann_pred, labels, runs)
    summary["calibrated"] = args.calibrate
    summary["threshold_corrections"] = {name: row["corrections"] for name, row in conversion.items()}
    if args.verify:
        summary["verify"] = _verify(ann, snn, images)
    if args.noise_sweep:
        summary["noise_sweep"] = noise_sweep(snn, images, labels, args, out)
    if args.hardware:
        summary["hardware"] = _hardware(snn, images, labels, args, out)
    if args.export:
        save_spiking_model(snn, out)
    if nir_plan is not None:
        summary["nir"] = _write_nir(nir_plan, out)
    write_json(out / "summary.json", summary)
    print(format_table(runs[0]["report"], summary))
    _refresh_figures(out)
    return summary


def evaluate(model, images, labels, batch_size, label="SNN", progress=True):
    """Run `model` over the images in batches; predictions, per-batch correct counts and counts."""
    counter = SpikeCounter(model)
    bar = progress_bar(len(images)) if progress else None
    predictions, correct_per_batch = [], []
    started = time.perf_counter()
    for start in range(0, len(images), batch_size):
        batch = images[start:start + batch_size]
        outputs = counter.probe_model.predict_on_batch(batch)
        counter.update(outputs)
        pred = np.argmax(np.asarray(outputs["logits"]), axis=1)
        predictions.append(pred)
        correct_per_batch.append(int(np.sum(pred == labels[start:start + batch_size])))
        if bar is not None:
            bar.add(len(batch))
    predictions = np.concatenate(predictions)
    return {
        "label": label,
        "predictions": predictions,
        "correct_per_batch": correct_per_batch,
        "accuracy": float(np.mean(predictions == labels)),
        "report": counter.report,
        "seconds": time.perf_counter() - started,
    }


def build_summary(args, ann_path, dataset, k, B, ann_pred, labels, runs):
    accuracies = [r["accuracy"] for r in runs]
    report = runs[0]["report"]
    counts = report.to_dict()
    return {
        "checkpoint": str(ann_path),
        "method": args.method,
        "dataset": dataset,
        "k": k,
        "B": B,
        "levels": int(2**k * B),
        "num_images": int(len(labels)),
        "time_steps": report.time_steps,
        "noise_ratio": args.noise_ratio,
        "noise_model": args.noise_model if args.noise_ratio > 0 else None,
        "seeds": [r["label"] for r in runs] if args.noise_ratio > 0 else None,
        "ann_accuracy": float(np.mean(ann_pred == labels)),
        "snn_accuracy": float(np.mean(accuracies)),
        "snn_accuracy_std": float(np.std(accuracies)),
        "snn_accuracies": accuracies,
        "agreement": int(np.sum(runs[0]["predictions"] == ann_pred)),
        "snn_seconds": round(runs[0]["seconds"], 2),
        "units": counts["units"],
        "totals": counts["totals"],
        "per_image": counts["per_image"],
        "layers": counts["layers"],
    }


def noise_sweep(snn, images, labels, args, out):
    """Accuracy (mean, std over --seeds) at each ratio of --noise-sweep; writes json and a plot."""
    from figs.plots import plot_noise_sweep

    points = []
    for ratio in args.noise_sweep:
        accs = []
        for seed in noise_seeds(args, ratio):
            model = snn if ratio == 0 else add_noise(snn, args.noise_model, ratio, seed)
            accs.append(evaluate(model, images, labels, args.batch_size, f"r={ratio} seed {seed}")["accuracy"])
        points.append({"noise_ratio": ratio, "mean": float(np.mean(accs)), "std": float(np.std(accs)),
                       "accuracies": accs})
    sweep = {"noise_model": args.noise_model, "num_images": int(len(labels)), "points": points}
    write_json(out / "noise_sweep.json", sweep)
    plot_noise_sweep([(out.name, sweep)], out / "noise_sweep.png")
    return sweep


# ------------------------------------------------------------------------------------ helpers


def model_levels(ann, path, args):
    """(k, B) of the model's encoding quantizer; --k/--B must agree when given with --checkpoint."""
    acts = [layer for layer in ann.layers if isinstance(layer, QuantActivation)]
    if not acts:
        raise UserError(f"{path} has no quantized activations: only quantized models convert to SNNs")
    k, B = acts[0].k, acts[0].B
    B = int(B) if B is not None and float(B).is_integer() else B
    for name, given, actual in (("k", args.k, k), ("B", args.B, B)):
        if given is not None and given != actual:
            raise UserError(f"{path} was trained with {name}={actual}, not {name}={given}")
    return k, B


def _verify(ann, snn, images):
    result = verify_layers(ann, snn, images)
    for row in result.layers:
        print(f"verify {row.name}: {row.differing} of {row.neurons * len(images)} neuron counts differ "
              f"from 2^k x the ANN activation ({row.images_affected} images affected)")
    return {
        "agreement": result.agreement,
        "num_images": result.num_images,
        "differing_total": result.differing,
        "logits_exact": result.logit_ratio_exact,
        "layers": [row.__dict__ for row in result.layers],
    }


def _check_nir_method(method):
    try:
        nir_support(method)
    except NirExportError as err:
        raise UserError(f"--export-nir: {err}") from None


def _nir_graph(snn, method):
    try:
        return nir_graph(snn, method)
    except NirExportError as err:
        raise UserError(f"--export-nir: {err}") from None


def _write_nir(graph, out):
    result = write_nir(graph, out / "snn.nir")
    print(f"NIR: {result.path} ({result.bytes:,} bytes, {result.method}, {result.fidelity})")
    return {"file": result.path.name, "bytes": result.bytes, "method": result.method,
            "fidelity": result.fidelity, "nir_version": graph.metadata["nir_version"]}


def _check_core(core):
    from hardware import HardwareError, resolve_spec

    try:
        resolve_spec(core)
    except HardwareError as err:
        raise UserError(str(err)) from None


def _hardware(snn, images, labels, args, out):
    from hardware import HardwareError, run_hardware

    try:
        result = run_hardware(snn, images, labels, core=args.hardware, out_dir=out,
                              num_images=args.hardware_images, estimate_only=args.hardware_estimate_only,
                              paibox=args.paibox != "none", paibox_export_files=args.paibox == "export")
    except HardwareError as err:
        raise UserError(str(err)) from None
    line = f"hardware {args.hardware}: {result['total_cores']} cores on {result['chips']} chip(s)"
    if result.get("n_core_required") is not None:
        line += f" (PAIBox n_core_required {result['n_core_required']})"
    if result.get("agreement") is not None:
        line += f"; core simulation agrees with the Keras SNN on {result['agreement']}/{result['num_images']} images"
    print(line + f"; report {out / 'hardware.json'}")
    return {key: result.get(key) for key in ("total_cores", "chips", "n_core_required", "agreement", "num_images")}


def _refresh_figures(out):
    """Redraw the per-configuration figures in figs/ when this run is one of its folders.

    Runs written elsewhere leave the folder around them alone: `python -m figs.plots DIR` draws them.
    """
    from figs.plots import plot_all

    if FIGS_DIR.resolve() not in (out.resolve().parent, out.resolve().parent.parent):
        return
    for path in plot_all(out.parent):
        print(f"figure {path}")
