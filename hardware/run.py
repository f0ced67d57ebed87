"""The single entry point: map, validate, simulate against the Keras SNN, export, report."""
import contextlib
import io
import time
from pathlib import Path

import numpy as np

from hardware.network import extract
from hardware.partition import partition
from hardware.place import place
from hardware.report import plot_grid, summarize, write_json
from hardware.route import route
from hardware.simulate import CoreSimulator
from hardware.spec import HardwareError, resolve_spec
from hardware.validate import validate


def map_network(snn, core="paicore", estimate_only=False, mapping="spatial", slot_layouts=None,
                first_layer_last=True):
    """(net, spec, plans, cores, chips, routes): read (network.MAPPINGS[mapping]) -> partition ->
    validate -> place -> route. `slot_layouts`: partition.plan_network's (None: slots for a
    temporal network; for a spatial one each layer's cheapest layout, then the search for fewer
    chips of hardware/layout_search.py); `first_layer_last`: place.place's (False: the first
    layer placed like the others)."""
    spec = resolve_spec(core)
    net = extract(snn, mapping)
    plans, cores = partition(net, spec, tables=not estimate_only, slot_layouts=slot_layouts)
    validate(net, plans, spec)
    chips = place(cores, plans, spec, first_layer_last)
    routes = None if estimate_only else route(net, cores, spec, plans)
    return net, spec, plans, cores, chips, routes


def simulate_and_compare(net, cores, images, batch_size=1000):
    """Core simulation of `images` next to the Keras SNN: (sim, agreement dict)."""
    sim = CoreSimulator(net, cores)
    n = len(images)
    same_pred = 0
    mismatched = {layer.name: 0 for layer in net.layers}
    for start in range(0, n, batch_size):
        batch = images[start:start + batch_size]
        keras_out = net.probe.predict(batch, batch_size=len(batch), verbose=0)
        counts, _ = sim.run(keras_out[net.encoder_name])
        for layer, ours in zip(net.layers, counts):
            theirs = np.asarray(keras_out[layer.name]).reshape(ours.shape)
            mismatched[layer.name] += int(np.sum(np.any((theirs != ours).reshape(len(batch), -1), axis=1)))
        last = counts[-1].reshape(len(batch), 1, -1).astype(np.float32)
        logits = np.asarray(net.readout(last))
        same_pred += int(np.sum(np.argmax(logits, 1) == np.argmax(keras_out["logits"], 1)))
    return sim, {"num_images": n, "agreement": same_pred, "images_with_count_mismatch": mismatched,
                 "bit_exact": all(v == 0 for v in mismatched.values()) and same_pred == n}


def run_hardware(snn, images=None, labels=None, core="paicore", out_dir=".", num_images=None,
                 estimate_only=False, paibox=True, paibox_export_files=True, mapping="spatial"):
    """Map `snn` onto `core` cores, simulate `images`, export PAIBox configs, write the report.

    Returns the summary dict (also written to out_dir/hardware.json, grid in hardware_grid.png).
    Raises HardwareError (a ValueError, one line) when the network does not fit or the core file
    is bad.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    net, spec, plans, cores, chips, routes = map_network(snn, core, estimate_only, mapping)
    timings = {"map_s": round(time.time() - t0, 2)}
    sim = agreement = None
    if not estimate_only and images is not None:
        images = np.asarray(images, np.float32)[:num_images]
        t1 = time.time()
        if mapping == "temporal":
            from hardware.temporal_sim import simulate_and_compare_temporal

            sim, agreement = simulate_and_compare_temporal(net, cores, images, delay=spec.chip.delay_ticks)
        else:
            sim, agreement = simulate_and_compare(net, cores, images)
        timings["simulate_s"] = round(time.time() - t1, 2)
        if labels is not None:
            agreement["labels_given"] = True
    summary = summarize(net, plans, cores, spec, chips, routes, sim)
    summary["mapping"] = mapping
    if mapping == "temporal":
        from hardware.temporal_report import temporal_summary

        summary.update(temporal_summary(net, plans, cores, spec, chips))
        if paibox and spec.name == "paicore":
            summary.update(_paibox_temporal(net, spec))
            if paibox_export_files and not estimate_only:
                summary.update(_paibox_temporal_export(net, cores, spec, out_dir))
            summary["paibox_note"] = "PAIBox gets the temporal referee's network, timers included (hardware.paibox_temporal)"
    spatial_paibox = paibox and mapping != "temporal"  # the build below is the spatial network's
    summary["estimate_only"] = bool(estimate_only)
    summary.update(agreement or {"num_images": 0, "agreement": None})
    if spatial_paibox and spec.name == "paicore":
        summary.update(_paibox(net, cores, out_dir, estimate_only or not paibox_export_files))
    else:
        summary.setdefault("n_core_required", None)
        summary.setdefault("paibox_note", "PAIBox compiles for PAICORE only" if paibox else "PAIBox skipped")
    summary["timings"] = timings
    write_json(summary, out_dir)
    plot_grid(cores, net, spec, chips, out_dir)
    return summary


def _paibox(net, cores, out_dir, count_only):
    # PAIBox prints its build steps; the report says what it did.
    with contextlib.redirect_stdout(io.StringIO()):
        return _paibox_quiet(net, cores, out_dir, count_only)


def _paibox_temporal(net, spec):
    from hardware.paibox_temporal import paibox_temporal_count

    try:
        count = paibox_temporal_count(net, spec.chip.delay_ticks)
        return {"n_core_required": count["n_core_required"], "paibox_count": count}
    except Exception as exc:  # PAIBox's own limits: record them, do not fail the run
        return {"n_core_required": None, "paibox_count_error": f"{type(exc).__name__}: {exc}"[:500]}


def _paibox_temporal_export(net, cores, spec, out_dir):
    from hardware.paibox_temporal_tiled import paibox_temporal_export

    try:
        return {"paibox_export": paibox_temporal_export(net, cores, out_dir, spec.chip.delay_ticks)}
    except Exception as exc:  # PAIBox's own limits: record them, do not fail the run
        return {"paibox_export_error": f"{type(exc).__name__}: {exc}"[:500]}


def _paibox_quiet(net, cores, out_dir, count_only):
    from hardware.paibox_export import paibox_count, paibox_export_tiled

    result = {}
    try:
        count = paibox_count(net)
        result["n_core_required"] = count["n_core_required"]
        result["paibox_count"] = count
    except Exception as exc:  # PAIBox's own limits: record them, do not fail the run
        result["n_core_required"] = None
        result["paibox_count_error"] = f"{type(exc).__name__}: {exc}"[:500]
    if not count_only:
        try:  # every on-chip layer, one PAIBox group per tile (hardware.paibox_export)
            result["paibox_export"] = paibox_export_tiled(net, cores, out_dir)
        except Exception as exc:
            result["paibox_export_error"] = f"{type(exc).__name__}: {exc}"[:500]
    return result


__all__ = ["run_hardware", "map_network", "simulate_and_compare", "HardwareError"]
