"""The one pipeline behind evaluate_snn.py: convert, evaluate, count, add noise, write the outputs.

Every conversion method runs through it; what differs comes from the method's hooks
(conversion.method.Method): its conversion options, folder name, counter, summary fields, seed
files, table, verification, figures and the hardware mappings it accepts.

Output directory (default figs/<the method's run folder> and every option that changes the results
not at its default, evaluation.outputs; a run replaces the previous run's files there):
  the method's seed-compatible text files, one line per (batch, time step) (first seed's run
  when seeds > 1); summary.json (accuracies, agreement, per-layer table, units, totals);
  snn.keras, snn.export/ (the noise-free SNN); snn.nir with export_nir (conversion.nir_export); noise_sweep.json/.png with noise_sweep;
  hardware.json and hardware_grid.png with hardware.
"""
import time
from pathlib import Path

import numpy as np

from cli_utils import UserError
from conversion import NirExportError, add_noise, get_method, nir_graph, nir_support, write_nir
from evaluation import outputs
from evaluation.common import (
    FIGS_DIR,
    check_model_name,
    convert_or_fail,
    default_output_dir,
    find_ann,
    load_ann,
    load_split,
    noise_seeds,
    progress_bar,
    save_spiking_model,
    write_json,
)
from evaluation.hardware_step import check_fit, estimate_only, hardware_summary, print_hardware
from evaluation.tables import sweep_table
from training.run import EVAL_BATCH, infer_dataset
from training.runfolder import check_writable

DEFAULTS = {  # every option of a run and its default (evaluate_snn.py's flags, same names)
    "checkpoint": None, "model": None, "model_given": False, "k": None, "B": None,
    "noise_ratio": 0.0, "noise_model": None, "seeds": 1, "seed": 0, "noise_sweep": None,
    "batch_size": 200, "data_dir": None, "output_dir": None, "calibrate": True, "verify": False,
    "export": True, "hardware": None, "hardware_images": None, "hardware_estimate_only": False,
    "paibox": "count", "mapping": None, "limit_test": None, "md5_check": True, "export_nir": False, "save_keras": None,
    "use_ternary": True,
}


def run(method="sg", **options):
    """Evaluate one conversion `method` (a registered name); options as in DEFAULTS plus the
    method's own (e.g. time_steps for allint). Returns the summary written to summary.json."""
    method = get_method(method)
    options = {**DEFAULTS, **options, "method": method.name}
    options["model"] = options["model"] or method.default_model
    method.check_options(options)  # fills the method's defaults (noise model, time steps)
    _check_capabilities(method, options)
    _check_mapping(method, options)  # before any work: both are known from the command line
    if options["export_nir"]:
        _check_nir_method(method.name)  # a method NIR cannot carry fails before any work
    if options["hardware"]:
        _check_hardware(method, options["hardware"], options["mapping"])  # before any model is loaded: a bad core file fails at once
    ann_path = find_ann(options["checkpoint"], options["model"], options["k"], options["B"], method.default_k)
    ann = method.load_model(ann_path, options) if method.load_model is not None else None
    if ann is None:  # the method reads no format of its own here
        ann = load_ann(ann_path, options["model"], options["k"], options["B"], method.default_k,
                       options["use_ternary"], options["save_keras"])
    check_model_name(ann, ann_path, options["model"], options["model_given"], options["checkpoint"])
    dataset = infer_dataset(ann)
    facts = method.model_facts(ann, ann_path, options)

    def load_data(split):  # for methods whose conversion needs data (e.g. calibration images)
        return load_split(dataset, split, options["data_dir"], options["md5_check"])

    # first: its error lists every layer that does not convert
    snn, conversion = convert_or_fail(method, ann, **method.convert_options(options, load_data), return_report=True)
    nir_plan = _nir_graph(snn, method.name) if options["export_nir"] else None  # fails before the evaluation
    if options["hardware"]:
        check_fit(snn, method, options)  # a network too big for the cores fails before the evaluation
    name = outputs.folder_name(method, facts, options)
    out = Path(options["output_dir"] or default_output_dir(ann, dataset, name))
    check_writable(out)  # the default folder too, before the evaluation (--output-dir: at parse time)
    if options["hardware_estimate_only"]:  # counts cores only: no test image is evaluated
        print(f"{ann_path}: {method.describe(facts, options)}, cores counted only -> {out}")
        return estimate_only(snn, method, options, out, {"checkpoint": str(ann_path), "method": method.name,
                                                         "dataset": dataset})
    images, labels = load_split(dataset, "test", options["data_dir"], options["md5_check"], options["limit_test"])
    print(f"{ann_path}: {method.describe(facts, options)}, {len(images)} {dataset} test images -> {out}")

    ann_pred = np.argmax(ann.predict(images, batch_size=EVAL_BATCH, verbose=0), axis=1)
    runs = []
    for seed in noise_seeds(options["seed"], options["seeds"], options["noise_ratio"]):
        model = snn if options["noise_ratio"] == 0 else add_noise(snn, options["noise_model"], options["noise_ratio"], seed)
        label = f"seed {seed}" if options["noise_ratio"] > 0 else "SNN"
        runs.append(evaluate(model, images, labels, options["batch_size"], label, counter=method.counter,
                             dataset=dataset))

    written = outputs.begin(out)  # removes the previous run's files there: one run per folder
    for file_name, text in method.seed_files(runs[0]).items():
        (out / file_name).write_text(text)
    summary = {"checkpoint": str(ann_path), "method": method.name, "dataset": dataset,
               **method.summarize(facts, options, runs, ann_pred, labels, conversion)}
    if options["verify"]:
        summary["verify"] = method.verify(ann, snn, images)
    if options["noise_sweep"]:
        summary["noise_sweep"] = noise_sweep(snn, images, labels, options, out, method.counter, dataset)
    if options["hardware"]:
        summary["hardware"] = _hardware(snn, images, labels, options, out, method)
    if options["export"]:
        save_spiking_model(snn, out)
    if nir_plan is not None:
        summary["nir"] = _write_nir(nir_plan, out)
    write_json(out / "summary.json", summary)
    if method.plot is not None:
        method.plot(summary, out)
    print(method.table(runs[0]["report"], summary))
    outputs.finish(out, written)
    _refresh_figures(out)
    return summary


def evaluate(model, images, labels, batch_size, label="SNN", progress=True, counter=None, dataset=None):
    """Run `model` over the images in batches with the method's counter (default: the SG one).

    Returns predictions ((N,) or (N, T) for per-step logits), correct predictions per batch (at
    the last step), the counter's per-batch lines and report, the accuracy and the seconds."""
    if counter is None:
        from conversion import SpikeCounter

        counter = lambda snn, dataset: SpikeCounter(snn)  # noqa: E731
    counting = counter(model, dataset)
    bar = progress_bar(len(images)) if progress else None
    predictions, correct_per_batch, lines = [], [], []
    started = time.perf_counter()
    for start in range(0, len(images), batch_size):
        batch = images[start:start + batch_size]
        batch_labels = labels[start:start + batch_size]
        outputs = counting.probe_model.predict_on_batch(batch)
        lines.append(counting.update(outputs, batch_labels))
        pred = np.argmax(np.asarray(outputs["logits"]), axis=-1)
        predictions.append(pred)
        final = pred if pred.ndim == 1 else pred[:, -1]
        correct_per_batch.append(int(np.sum(final == batch_labels)))
        if bar is not None:
            bar.add(len(batch))
    predictions = np.concatenate(predictions)
    final = predictions if predictions.ndim == 1 else predictions[:, -1]
    return {
        "label": label,
        "predictions": predictions,
        "correct_per_batch": correct_per_batch,
        "lines": lines,
        "accuracy": float(np.mean(final == labels)),
        "report": counting.report,
        "seconds": time.perf_counter() - started,
    }


def noise_sweep(snn, images, labels, options, out, counter=None, dataset=None):
    """Accuracy (mean, std over the seeds) at each ratio of noise_sweep; writes json and a plot."""
    from figs.plots import plot_noise_sweep

    points = []
    for ratio in options["noise_sweep"]:
        accs = []
        for seed in noise_seeds(options["seed"], options["seeds"], ratio):
            model = snn if ratio == 0 else add_noise(snn, options["noise_model"], ratio, seed)
            accs.append(evaluate(model, images, labels, options["batch_size"], f"r={ratio} seed {seed}",
                                 counter=counter, dataset=dataset)["accuracy"])
        points.append({"noise_ratio": ratio, "mean": float(np.mean(accs)), "std": float(np.std(accs)),
                       "accuracies": accs})
    sweep = {"noise_model": options["noise_model"], "num_images": int(len(labels)), "points": points}
    write_json(out / "noise_sweep.json", sweep)
    plot_noise_sweep([(out.name, sweep)], out / "noise_sweep.png")
    print(sweep_table(sweep))
    return sweep


# ------------------------------------------------------------------------------------ helpers


def _check_capabilities(method, options):
    """What the run asks of the method must be something it defines."""
    if options["verify"] and method.verify is None:
        raise UserError(f"--verify: method {method.name} defines no layer-by-layer verification")
    if options["noise_ratio"] > 0 or options["noise_sweep"]:
        if not method.noise_models:
            raise UserError(f"method {method.name} defines no noise models")
        options["noise_model"] = options["noise_model"] or method.default_noise_model


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


def _check_mapping(method, options):
    mapping = options["mapping"]
    if mapping is None:
        return
    if not options["hardware"]:
        raise UserError("--mapping needs --hardware (the core to map onto)")
    if method.mappings and mapping not in method.mappings:
        raise UserError(f"--mapping {mapping}: --method {method.name} SNNs map only {' or '.join(method.mappings)}")


def _check_hardware(method, core, mapping=None):
    from hardware import HardwareError, resolve_spec

    if not method.mappings:
        raise UserError(f"--hardware: no hardware mapping accepts {method.name} SNNs")
    try:
        resolve_spec(core)
    except HardwareError as err:
        raise UserError(str(err)) from None


def _hardware(snn, images, labels, options, out, method):
    from hardware import HardwareError, run_hardware

    try:
        result = run_hardware(snn, images, labels, core=options["hardware"], out_dir=out,
                              num_images=options["hardware_images"],
                              estimate_only=options["hardware_estimate_only"],
                              paibox=options["paibox"] != "none", paibox_export_files=options["paibox"] == "export",
                              mapping=options["mapping"] or method.mappings[0])
    except HardwareError as err:
        raise UserError(str(err)) from None
    print_hardware(options, result, out)
    return hardware_summary(result)


def _refresh_figures(out):
    """Redraw the per-configuration figures in figs/ when this run is one of its folders.

    Runs written elsewhere leave the folder around them alone: `python -m figs.plots DIR` draws them.
    """
    from figs.plots import plot_all

    if FIGS_DIR.resolve() not in (out.resolve().parent, out.resolve().parent.parent):
        return
    for path in plot_all(out.parent):
        print(f"figure {path}")
