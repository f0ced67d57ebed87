"""What hardware.json adds for the temporal mapping: windows, registers, controllers, latency.

Controller neurons are timers without input axons (1-bit cores: `dendrites` neurons each):
a hold timer works `store` ticks with leak 1 and threshold 1 (a spike every tick), a lift timer
works one tick. Each drives one axon address in a multicast cube of its layer's cores, so a
layer needs (hold axons + lift axons) x (cubes covering its cores) timers. They are counted in
the cores; they sit in cores the layers leave free (another chip only when none is left).
"""
import numpy as np

from hardware.addressing import chip_space, cube_cover
from hardware.bounds import layer_bound
from hardware.partition import control_weights
from hardware.temporal import latency_ticks, windows


def controllers(net, plans, cores, spec):
    """Per layer: hold axons, lift axons, cubes, timer neurons, and the cores its neurons need before
    any copy once the controller axons join their fan-in (at the plan's weight width): what this
    construction costs whatever the layout."""
    space, _ = chip_space(spec.chip)
    rows = []
    for li, (layer, plan) in enumerate(zip(net.layers, plans)):
        hold, lift = control_weights(layer, spec, plan.width)
        addresses = [c.address for c in cores if c.layer == li and c.address is not None]
        kept = () if plan.spare_placed is None else plan.spare_placed  # kept empty for this layer's cubes
        cubes = len(cube_cover(addresses, space, spec.chip.multicast, kept)) if addresses else plan.cores
        n_control = hold.shape[1] + lift.shape[1]
        rows.append({"layer": layer.name, "hold_axons": int(hold.shape[1]), "lift_axons": int(lift.shape[1]),
                     "cubes": int(cubes), "timers": int(n_control * cubes),
                     "no_copy_cores_with_controllers": layer_bound(layer, spec.core, n_control, plan.width).cores})
    return rows


def temporal_summary(net, plans, cores, spec, chips):
    delay = spec.chip.delay_ticks
    ctl = controllers(net, plans, cores, spec)
    timers = sum(row["timers"] for row in ctl)
    ctl_cores = -(-timers // spec.core.neurons_per_core(0, spec.core.weight_widths[0]))
    layer_cores = sum(p.cores for p in plans)
    free = chips * spec.chip.cores_per_chip - layer_cores
    extra_chips = 0 if ctl_cores <= free else -(-(ctl_cores - free) // spec.chip.cores_per_chip)
    wins = windows(net, delay)
    return {
        "latency_ticks": latency_ticks(net, delay),
        "latency_note": "the host sends the encoder's burst in ticks 0..L0-1; the l-th hidden layer's cores "
                        "start at tick l + 1 (a spike is read at the receiver's local tick equal to the sender's, "
                        "plus the delay), idle until their input arrives, store for L_in ticks and release for L; "
                        "the readout reads the last release window. One image per run: tick_wait_start/end "
                        "are one-shot",
        "windows": [{"layer": layer.name, "tick_wait_start": w.tick_wait_start, "tick_wait_end": w.tick_wait_end,
                     "first_input_tick": w.start, "store": w.store, "release": w.release}
                    for layer, w in zip(net.layers, wins)],
        "neuron_mode": "PAICORE SNN mode, linear reset (subtract theta_pos = the step d), leak 0, membranes "
                       "start at 0; hold controllers keep every partial sum below the threshold while storing, "
                       "lift controllers add d + L_in a - theta at the first release tick",
        "threshold_encoding": "theta_pos = step d per neuron; the first threshold theta lives in the lift weights",
        "controllers": ctl,
        "controller_cores": int(ctl_cores),
        "no_copy_cores_with_controllers": int(sum(row["no_copy_cores_with_controllers"] for row in ctl)),
        "layer_cores": int(layer_cores),
        "total_cores": int(layer_cores + ctl_cores),
        "chips": int(chips + extra_chips),
        "weight_bits_per_layer": {p.name: p.width for p in plans},
    }


def lines(summary):
    """Short text of the temporal mapping for the run's output."""
    out = [f"temporal mapping: {summary['layer_cores']} layer cores + {summary['controller_cores']} controller "
           f"core(s) = {summary['total_cores']} cores on {summary['chips']} chip(s); latency "
           f"{summary['latency_ticks']} ticks"]
    for row, w in zip(summary["layers"], summary["windows"]):
        out.append(f"  {row['layer']}: {row['cores']} cores, {row['weight_bits']}-bit, LCN {row['lcn']}, works in "
                   f"ticks {w['tick_wait_start']}..{w['tick_wait_start'] + w['tick_wait_end'] - 1}, stores from "
                   f"tick {w['first_input_tick']}")
    return out


__all__ = ["controllers", "temporal_summary", "lines", "np"]
