"""Validate: check every resource of a mapping against a hardware spec before simulating.

Each problem names the layer, the resource, what is needed and the limit; all problems are
reported at once in one HardwareError line. Works without weight tables (estimate-only mode):
the membrane bound comes from the layer's kernel and thresholds, not from the tables.
"""
import numpy as np

from hardware.network import register_encoding
from hardware.spec import HardwareError


def layer_bounds(layer):
    """(worst |V + bias|, max theta, (min bias, max bias)) of a layer's hardware neurons."""
    if layer.temporal:  # threshold = step, leak lambda, controllers (hardware.temporal)
        from hardware.temporal import offsets

        worst = layer.v_max + np.abs(offsets(layer)).max(axis=0) + layer.neuron.fire_ticks * layer.steps
        leak = layer.leak
        return int(worst.max(initial=0)), int(layer.steps.max(initial=0)), (int(leak.min(initial=0)),
                                                                            int(leak.max(initial=0)))
    theta, bias = register_encoding(layer.thresholds)
    worst = int((layer.v_max[:, None] + bias).max(initial=0))
    return worst, int(theta.max(initial=0)), (int(bias.min(initial=0)), int(bias.max(initial=0)))


def check(net, plans, spec, n_cores=None):
    """List of problem strings (empty when everything fits)."""
    core, problems = spec.core, []
    for layer, plan in zip(net.layers, plans):
        name = f"layer {layer.name}"
        if plan.width not in core.weight_widths:
            problems.append(f"{name}: weight width: needs {plan.width} bits, supported {list(core.weight_widths)}")
        else:
            lo, hi = core.weight_range(plan.width)
            if plan.weight_lo < lo or plan.weight_hi > hi:
                problems.append(f"{name}: weight width: needs values {plan.weight_lo}..{plan.weight_hi}, "
                                f"{plan.width}-bit weights hold {lo}..{hi}")
        if plan.lcn > core.max_lcn:
            problems.append(f"{name}: LCN: needs {1 << plan.lcn}X, limit {1 << core.max_lcn}X")
        if plan.axon_slots > core.fan_in(plan.lcn):
            problems.append(f"{name}: axons: needs {plan.axon_slots} per core, limit {core.fan_in(plan.lcn)} "
                            f"({core.axons} x LCN {1 << plan.lcn}X)")
        if plan.width in core.weight_widths:
            limit = core.neurons_per_core(plan.lcn, plan.width)
            if plan.neurons_per_core > limit:
                problems.append(f"{name}: neurons: needs {plan.neurons_per_core} per core, limit {limit} "
                                f"({core.dendrites} >> (LCN {plan.lcn} + width code {core.width_code(plan.width)}))")
        worst, theta_max, (bias_lo, bias_hi) = layer_bounds(layer)
        if worst > core.membrane_max:
            problems.append(f"{name}: membrane: worst case |V| = {worst} needs {worst.bit_length() + 1} bits "
                            f"(signed), limit {core.membrane_bits} bits")
        if theta_max > core.threshold_max:
            problems.append(f"{name}: threshold: needs {theta_max}, limit {core.threshold_max} "
                            f"({core.threshold_bits} bits unsigned)")
        leak_lo, leak_hi = core.leak_range
        if bias_lo < leak_lo or bias_hi > leak_hi:
            problems.append(f"{name}: bias/leak: needs {bias_lo}..{bias_hi}, limit {leak_lo}..{leak_hi}")
    if any(layer.temporal for layer in net.layers):
        from hardware.temporal import check_windows

        problems.extend(check_windows(net, spec, spec.chip.delay_ticks))
    total = sum(p.cores for p in plans) if n_cores is None else n_cores
    capacity = spec.chip.cores_per_chip * spec.chip.max_chips
    if total > capacity:
        problems.append(f"network: cores: needs {total}, limit {capacity} ({spec.chip.max_chips} chips x "
                        f"{spec.chip.cores_per_chip})")
    return problems


def validate(net, plans, spec, n_cores=None):
    problems = check(net, plans, spec, n_cores)
    if problems:
        raise HardwareError(f"does not fit {spec.name}: " + "; ".join(problems))
