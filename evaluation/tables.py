"""What a run prints beside its files: the noise sweep's table and the hardware line."""


def sweep_table(sweep):
    """The noise sweep (noise_sweep.json's content) as a table: one row per ratio."""
    header = f"{'noise ratio':>11s} {'accuracy %':>10s} {'std %':>7s} {'seeds':>5s}"
    lines = [f"noise sweep ({sweep['noise_model']} noise, {sweep['num_images']} images)", header, "-" * len(header)]
    for point in sweep["points"]:
        lines.append(f"{point['noise_ratio']:11g} {100 * point['mean']:10.2f} {100 * point['std']:7.2f} "
                     f"{len(point['accuracies']):5d}")
    return "\n".join(lines)


def hardware_line(core, result, report_path):
    """Cores, latency and energy of a mapping (hardware.run_hardware's summary), on one line.

    The energy is the core file's energy per SOP times the SOPs the core simulation counted, in
    the hardware's own SOP unit (a spike on one crossbar row reaches every neuron of the core,
    zero weights included: hardware.json's sop_definition), not the SNN table's SOPs."""
    line = f"hardware {core}: {result['total_cores']} cores on {result['chips']} chip(s)"
    if result.get("n_core_required") is not None:
        line += f" (PAIBox n_core_required {result['n_core_required']})"
    per = "one per mapped layer" if result.get("mapping", "spatial") == "spatial" else "store and release windows"
    line += f"; latency {result['latency_ticks']} ticks ({per})"
    if result.get("energy_per_image_uj_estimate") is not None:
        line += (f"; energy {result['energy_per_image_uj_estimate']:.4g} uJ per image (estimate: "
                 f"{result['energy_per_sop_pj']:.3g} pJ x {result['sops_per_image']:,.0f} hardware SOPs)")
    elif result.get("estimate_only"):
        line += "; energy not estimated (it needs the core simulation, which --hardware-estimate-only skips)"
    else:
        line += "; energy not estimated (the core file gives no energy_per_sop_pj)"
    if result.get("agreement") is not None:
        line += f"; core simulation agrees with the Keras SNN on {result['agreement']}/{result['num_images']} images"
    if result.get("paibox_export"):
        line += f"; PAIBox configuration in {result['paibox_export']['dir']}"
    elif result.get("paibox_export_error"):
        line += "; PAIBox's export failed (paibox_export_error in the report)"
    return line + f"; report {report_path}"
