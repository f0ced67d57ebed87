"""evaluate_snn.py --method allint: the all-integer SNN with dynamic thresholds over T steps.

Output directory (default the seed's layout figs/{WQ|NWQ}{_INT|}/k<k>/, `_noise<r>` appended with
noise): the seed's six files, one line per (batch, time step): accuracy.txt, spike_num.txt,
spike_collect.txt, sop_num.txt, abs_spike.txt, sum_spike.txt; summary.json (accuracy and agreement
with the ANN per step, the smallest T at which every prediction equals the ANN's, per-layer
counts, units); steps.png (accuracy and spikes against the time step); snn.keras, snn.export/.
"""
from pathlib import Path

import numpy as np

from conversion import SEED_FILES, AllIntCounter, add_noise, verify_allint
from conversion.allint_eval import first_equal_step, stable_from_step
from evaluation.common import (
    convert_or_fail,
    default_output_dir,
    noise_seeds,
    progress_bar,
    save_spiking_model,
    test_data,
    write_json,
)
from evaluation.report import format_allint_table
from layers import QuantActivation, QuantConv2D, QuantDense
from training.config import UserError
from training.run import EVAL_BATCH

def run_allint(args, ann, ann_path, dataset):
    k = hidden_level(ann, ann_path, args)
    snn = convert_or_fail(ann, "allint", time_steps=args.time_steps, use_int=args.use_int,
                          calibrate=args.calibrate)
    folder = ("WQ" if args.use_ternary else "NWQ") + ("_INT" if args.use_int else "")
    name = f"k{k}" + (f"_noise{args.noise_ratio:g}" if args.noise_ratio > 0 else "")
    out = Path(args.output_dir or default_output_dir(ann, dataset, name, prefix=folder))
    images, labels = test_data(dataset, args)
    mode = "integer" if args.use_int else "float"
    print(f"{ann_path}: all-integer conversion ({mode} mode), k={k}, T={args.time_steps}, "
          f"{len(images)} {dataset} test images -> {out}")
    ann_pred = np.argmax(ann.predict(images, batch_size=EVAL_BATCH, verbose=0), axis=1)

    runs = []
    for seed in noise_seeds(args, args.noise_ratio):
        model = snn if args.noise_ratio == 0 else add_noise(snn, args.noise_model, args.noise_ratio, seed)
        runs.append(evaluate_steps(model, images, labels, ann_pred, args.batch_size, dataset == "mnist"))

    out.mkdir(parents=True, exist_ok=True)
    write_step_files(out, runs[0]["lines"])
    summary = build_summary(args, ann_path, dataset, k, ann_pred, labels, runs)
    if args.verify:
        summary["verify"] = _verify(ann, snn, images)
    if args.export:
        save_spiking_model(snn, out)
    write_json(out / "summary.json", summary)
    from figs.plots import plot_steps

    plot_steps(summary, out / "steps.png")
    print(format_allint_table(runs[0]["report"], summary))
    return summary


def evaluate_steps(model, images, labels, ann_pred, batch_size, classifier_sops):
    """Per batch: the six seed lines; over all: predictions per step and agreement with the ANN."""
    counter = AllIntCounter(model, classifier_sops=classifier_sops)
    bar = progress_bar(len(images))
    lines, predictions = [], []
    for start in range(0, len(images), batch_size):
        batch = images[start:start + batch_size]
        outputs = counter.probe_model.predict_on_batch(batch)
        lines.append(counter.update(outputs, labels[start:start + batch_size]))
        predictions.append(np.argmax(np.asarray(outputs["logits"]), axis=-1))
        bar.add(len(batch))
    predictions = np.concatenate(predictions)  # (N, T)
    return {
        "lines": lines,
        "report": counter.report,
        "accuracy_per_step": (predictions == labels[:, None]).mean(axis=0).tolist(),
        "agreement_per_step": (predictions == ann_pred[:, None]).sum(axis=0).tolist(),
    }


def write_step_files(out, lines):
    """One plain line per (batch, step) in each of the seed's six files."""
    for name in SEED_FILES:
        values = [value for batch in lines for value in batch[name]]
        text = "".join((f"{value}\n" if name == "accuracy" else f"{float(value)!r}\n") for value in values)
        (out / f"{name}.txt").write_text(text)


def build_summary(args, ann_path, dataset, k, ann_pred, labels, runs):
    n = len(labels)
    first = runs[0]
    last_accuracies = [r["accuracy_per_step"][-1] for r in runs]
    agreement = first["agreement_per_step"]
    counts = first["report"].to_dict()
    return {
        "checkpoint": str(ann_path),
        "method": "allint",
        "dataset": dataset,
        "k": k,
        "use_int": args.use_int,
        "use_ternary": args.use_ternary,
        "num_images": int(n),
        "time_steps": args.time_steps,
        "noise_ratio": args.noise_ratio,
        "noise_model": args.noise_model if args.noise_ratio > 0 else None,
        "ann_accuracy": float(np.mean(ann_pred == labels)),
        "snn_accuracy": float(np.mean(last_accuracies)),
        "snn_accuracy_std": float(np.std(last_accuracies)),
        "snn_accuracies": last_accuracies,
        "snn_accuracy_per_step": np.mean([r["accuracy_per_step"] for r in runs], axis=0).tolist(),
        "agreement": int(agreement[-1]),
        "agreement_per_step": [int(a) for a in agreement],
        "first_step_all_equal": first_equal_step(agreement, n),
        "stable_from_step": stable_from_step(agreement, n),
        "units": counts["units"],
        "per_step_totals": counts["per_step_totals"],
        "per_image_at_last_step": counts["per_image_at_last_step"],
        "layers": counts["layers"],
    }


def hidden_level(ann, path, args):
    """k of the hidden quantizers (the encoding one is k=0, B=4 by construction)."""
    acts = [layer for layer in ann.layers if isinstance(layer, QuantActivation)]
    hidden = [a for a in acts if a.mode == "unbounded"]
    if not hidden:
        raise UserError(f"{path} is not an all-integer model (no unbounded quantizers); "
                        f"convert it with --method sg")
    k = hidden[0].k
    if args.k is not None and args.k != k:
        raise UserError(f"{path} was trained with k={k}, not k={args.k}")
    ternary = any(isinstance(layer, (QuantConv2D, QuantDense)) for layer in ann.layers)
    if ternary != args.use_ternary:
        raise UserError(f"{path} has {'ternary' if ternary else 'float'} hidden weights: "
                        f"pass --use_ternary {ternary}")
    return k


def _verify(ann, snn, images):
    result = verify_allint(ann, snn, images)
    for row in result.layers:
        when = "never" if row.converged_step is None else f"from step {row.converged_step}"
        print(f"verify {row.name}: {row.differing} of {row.neurons * len(images)} final net counts differ "
              f"from 2^k x the ANN activation; every count equal {when}")
    return {
        "differing_total": result.differing,
        "layers": [row.__dict__ for row in result.layers],
    }
