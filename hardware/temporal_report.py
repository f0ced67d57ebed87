"""What hardware.json adds for the temporal mapping: windows, registers, controllers, latency.

Controller neurons are timers without input axons, in 1-bit cores of their own (`dendrites`
neurons each). Each timer drives one controller axon address in a multicast cube of its layer's
cores and fires in one run of consecutive ticks, so a controller group needs axons x runs x
(cubes covering the layer's cores) timers (hardware.temporal.Timer). A timer core starts one
tick before its layer's cores (its local tick u lands in their local tick u) and works until the
run's end: the release window's start (the cancel and hold runs before it, from the core's first
tick) or the window's end (the cancel run after the first release tick, the single correction
ticks). Its timers have leak 1 and a threshold T, so they first fire in local tick T; a run to
the core's last tick is a timer reset to T - 1 (it then fires in every tick), a single tick one
reset to 0 (its second
spike would come after the core stops; where it would come sooner, that timer gets a core of its
own run). So the timers of one layer share cores per run end: ceil(timers / dendrites) each.
PAIBox's Simulator runs these registers (hardware.paibox_temporal). The timer cores sit in cores
the layers leave free (another chip only when none is left).
"""
from collections import Counter

from hardware.addressing import chip_space, cube_cover
from hardware.bounds import layer_bound
from hardware.partition import control_weights
from hardware.temporal import latency_ticks, windows
from hardware.temporal_bound import temporal_bound


def controllers(net, plans, cores, spec):
    """Per layer: controller axons per group, cubes, timer neurons and timer cores, and the cores its
    neurons need before any copy once the controller axons join their fan-in (at the plan's weight
    width): what this construction costs whatever the layout."""
    space, _ = chip_space(spec.chip)
    per_timer_core = spec.core.neurons_per_core(0, spec.core.weight_widths[0])
    rows = []
    bounds, _ = temporal_bound(net, spec)
    for li, (layer, plan, window, bound) in enumerate(zip(net.layers, plans, windows(net, spec.chip.delay_ticks),
                                                          bounds)):
        control = control_weights(layer, spec, plan.width)
        addresses = [c.address for c in cores if c.layer == li and c.address is not None]
        kept = () if plan.spare_placed is None else plan.spare_placed  # kept empty for this layer's cubes
        cubes = len(cube_cover(addresses, space, spec.chip.multicast, kept)) if addresses else plan.cores
        timers = [{"group": group.name, "core_group": timer.name, "neurons": int(weights.shape[1] * cubes),
                   "tick_wait_start": timer.tick_wait_start, "tick_wait_end": timer.last,
                   "threshold": timer.first, "reset_v": timer.reset_v, "leak": 1}
                  for group, weights in control for timer in group.timers(window)]
        runs = Counter()
        for timer in timers:
            runs[timer["core_group"]] += timer["neurons"]
        n_control = sum(weights.shape[1] for _, weights in control)
        rows.append({"layer": layer.name, "axons": {group.name: int(w.shape[1]) for group, w in control},
                     "cubes": int(cubes), "timers": int(sum(runs.values())),
                     "timer_cores": int(sum(-(-n // per_timer_core) for n in runs.values())),
                     "timer_registers": timers,
                     "unscaled_channels": f"{layer.unscaled_channels}/{layer.out_shape[2]}",
                     "no_copy_cores_with_controllers": layer_bound(layer, spec.core, n_control, plan.width).cores,
                     "any_construction_bound": None if bound is None else {
                         "cores": bound.cores, "neurons_per_core": [bound.cap_min, bound.cap_max],
                         "controller_axons_at_least": [bound.control_min, bound.control_max]}})
    return rows


def temporal_summary(net, plans, cores, spec, chips):
    delay = spec.chip.delay_ticks
    ctl = controllers(net, plans, cores, spec)
    ctl_cores = sum(row["timer_cores"] for row in ctl)
    layer_cores = sum(p.cores for p in plans)
    free = chips * spec.chip.cores_per_chip - layer_cores
    extra_chips = 0 if ctl_cores <= free else -(-(ctl_cores - free) // spec.chip.cores_per_chip)
    wins = windows(net, delay)
    return {
        "latency_ticks": latency_ticks(net, delay),
        "latency_note": "the host sends the encoder's burst in ticks 1..L0; the l-th hidden layer's cores "
                        "start at tick l + 2 (a spike is read at the receiver's local tick equal to the sender's, "
                        "plus the delay; its timer cores start one tick earlier, and tick_wait_start 0 never "
                        "works), idle until their input arrives, store for L_in ticks and release for L; "
                        "the readout reads the last release window. One image per run: tick_wait_start/end "
                        "are one-shot",
        "windows": [{"layer": layer.name, "tick_wait_start": w.tick_wait_start, "tick_wait_end": w.tick_wait_end,
                     "first_input_tick": w.start, "store": w.store, "release": w.release}
                    for layer, w in zip(net.layers, wins)],
        "neuron_mode": "PAICORE SNN mode, linear reset (subtract theta_pos = the step s), leak lambda = s - T_0 "
                       "+ h (idle + L_in) per neuron, membranes start at 0; cancel controllers take lambda back in "
                       "every working tick but the first release tick, hold controllers take h in every working "
                       "tick before the release (idle ticks and store) so that every partial sum stays below the "
                       "threshold while storing, correct<j> controllers move uneven thresholds T_j",
        "threshold_encoding": "theta_pos = step s per neuron; the first threshold T_0 lives in the leak; weights "
                              "are the SG's own where a channel's thresholds allow it (unscaled_channels)",
        "controllers": ctl,
        "controller_cores": int(ctl_cores),
        "no_copy_cores_with_controllers": int(sum(row["no_copy_cores_with_controllers"] for row in ctl)),
        "any_construction_bound_cores": _total_bound(ctl),
        "any_construction_bound_note": "layer cores any temporal mapping needs with one neuron per ANN neuron, the "
                                       "SR SNN's ticks, controllers on axons of their own and our tile rule "
                                       "(rectangles of positions with their whole receptive fields): "
                                       "hardware/temporal_bound.py",
        "layer_cores": int(layer_cores),
        "total_cores": int(layer_cores + ctl_cores),
        "chips": int(chips + extra_chips),
        "weight_bits_per_layer": {p.name: p.width for p in plans},
    }


def _total_bound(rows):
    cores = [row["any_construction_bound"] for row in rows]
    return None if any(c is None for c in cores) else int(sum(c["cores"] for c in cores))


def lines(summary):
    """Short text of the temporal mapping for the run's output."""
    out = [f"temporal mapping: {summary['layer_cores']} layer cores + {summary['controller_cores']} controller "
           f"core(s) = {summary['total_cores']} cores on {summary['chips']} chip(s); latency "
           f"{summary['latency_ticks']} ticks; any construction under our tile rule needs at least "
           f"{summary['any_construction_bound_cores']} layer cores"]
    for row, w, ctl in zip(summary["layers"], summary["windows"], summary["controllers"]):
        axons = sum(ctl["axons"].values())
        bound = ctl["any_construction_bound"]
        least = f"at least {bound['cores']}" if bound else "no core holds one of its neurons"
        out.append(f"  {row['layer']}: {row['cores']} cores ({least}), "
                   f"{row['weight_bits']}-bit (SG weights in "
                   f"{ctl['unscaled_channels']} channels), LCN {row['lcn']}, {axons} controller axons, works in "
                   f"ticks {w['tick_wait_start']}..{w['tick_wait_start'] + w['tick_wait_end'] - 1}, stores from "
                   f"tick {w['first_input_tick']}")
    return out


__all__ = ["controllers", "temporal_summary", "lines"]
