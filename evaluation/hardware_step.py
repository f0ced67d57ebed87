"""The hardware part of an evaluation run that comes before the evaluation: its flags must make
sense, the network must fit the chosen cores, and --hardware-estimate-only stops there."""
from cli_utils import UserError, write_json_atomic


def check_hardware_flags(options):
    """Hardware flags that would do nothing are refused (one line), not ignored."""
    if options.get("hardware") == "":
        raise UserError("--hardware needs a core: paicore, a shipped core name (crossbar256) or a core YAML file")
    if not options.get("hardware"):
        for flag, key in (("--hardware-estimate-only", "hardware_estimate_only"),
                          ("--hardware-images", "hardware_images")):
            if options.get(key):
                raise UserError(f"{flag} needs --hardware (e.g. --hardware paicore)")
        if options.get("paibox") == "export":  # (count is the default and none harmless: both pass)
            raise UserError("--paibox export needs --hardware paicore")
        return
    if options.get("hardware_estimate_only"):
        if options.get("hardware_images"):
            raise UserError("--hardware-images sets how many images the cores simulate; "
                            "--hardware-estimate-only simulates none")
        for flag, given in (("--noise-sweep", options.get("noise_sweep")),
                            ("--noise_ratio", options.get("noise_ratio", 0) > 0),
                            ("--verify", options.get("verify")), ("--export-nir", options.get("export_nir"))):
            if given:
                raise UserError(f"--hardware-estimate-only counts cores without evaluating the SNN; "
                                f"{flag} needs the evaluation (drop one of them)")


def check_fit(snn, method, options):
    """Map `snn` onto the chosen cores without weight tables (a second or so): a network that
    does not fit fails here, before the evaluation and the noise sweep."""
    from hardware import HardwareError, map_network

    try:
        map_network(snn, options["hardware"], estimate_only=True, mapping=options.get("mapping") or method.mappings[0])
    except HardwareError as err:
        raise UserError(str(err)) from None


def estimate_only(snn, method, options, out, header):
    """--hardware-estimate-only: count the cores (hardware.json, hardware_grid.png) and write a
    summary.json holding `header` and the counts; no test image is evaluated."""
    from evaluation import outputs
    from hardware import HardwareError, run_hardware

    before = outputs.begin(out)
    try:
        result = run_hardware(snn, None, None, core=options["hardware"], out_dir=out, estimate_only=True,
                              paibox=options["paibox"] != "none", paibox_export_files=False,
                              mapping=options.get("mapping") or method.mappings[0])
    except HardwareError as err:
        raise UserError(str(err)) from None
    print_hardware(options, result, out)
    summary = {**header, "estimate_only": True, "hardware": hardware_summary(result)}
    write_json_atomic(out / "summary.json", summary)
    outputs.finish(out, before)
    return summary


def print_hardware(options, result, out):
    """The run's hardware lines: a temporal mapping's per-layer lines, then the one-line summary."""
    from evaluation.tables import hardware_line

    if result.get("mapping") == "temporal":
        from hardware.temporal_report import lines

        print("\n".join(lines(result)))
    print(hardware_line(options["hardware"], result, out / "hardware.json"))


def hardware_summary(result):
    """What summary.json keeps of hardware.json (the SOPs labelled: they are the hardware's own unit)."""
    keys = ("hardware", "mapping", "total_cores", "chips", "n_core_required", "latency_ticks", "agreement", "num_images",
            "energy_per_image_uj_estimate", "energy_per_sop_pj")
    summary = {key: result.get(key) for key in keys}
    if result.get("sops_per_image") is not None:
        summary["sops_per_image"] = result["sops_per_image"]
        summary["sop_definition"] = result["sop_definition"]
    return summary
