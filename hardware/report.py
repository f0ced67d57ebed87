"""Report: resources per layer, latency, packets, energy estimate; hardware.json and the grid PNG."""
from pathlib import Path

import numpy as np

from cli_utils import write_json_atomic
from hardware.bounds import layer_bound
from hardware.validate import layer_bounds

OFF_CHIP = ("the encoding layer (float conv + threshold ladder on pixels) and the float classifier run "
            "off-chip, as in the papers; only the hidden spiking layers are mapped")


def layer_rows(net, plans, cores, spec):
    rows = []
    for li, (layer, plan) in enumerate(zip(net.layers, plans)):
        mine = [c for c in cores if c.layer == li]
        used_axons = sum(c.n_axons_used for c in mine)
        neurons = sum(len(c.neuron_ids) for c in mine)
        worst, theta_max, _ = layer_bounds(layer)
        rows.append({
            "layer": layer.name, "synapse": layer.synapse, "kind": layer.kind,
            "cores": plan.cores, "no_copy_bound_cores": layer_bound(layer, spec.core).cores,
            "tile": list(plan.tile), "grid": list(plan.grid),
            "cores_per_tile": sorted({int(k) for k in np.unique(plan.tile_cores)}),
            "copy_neurons": plan.copy_neurons,
            "copies_per_neuron_max": int(plan.copies.max()),
            "kept_empty_cores": 0 if plan.spare is None else int(len(plan.spare)),
            "layout": plan.layout,
            "lcn": f"{1 << plan.lcn}X", "weight_bits": plan.width,
            "neurons": neurons, "axons_per_core": plan.axon_slots,
            "neurons_per_core": plan.neurons_per_core, "neuron_limit": plan.neuron_limit,
            "utilization": {
                "axons": used_axons / (plan.cores * spec.core.fan_in(plan.lcn)),
                "neurons": neurons / (plan.cores * plan.neuron_limit),
                # a core's weight RAM is axons x dendrites bits; a neuron of width w at LCN n uses
                # fan_in(n) x w bits of it (its dendrites combined)
                "weight_memory": neurons * spec.core.fan_in(plan.lcn) * plan.width
                / (plan.cores * spec.core.axons * spec.core.dendrites),
            },
            "worst_membrane": worst, "max_threshold": theta_max,
        })
    return rows


def summarize(net, plans, cores, spec, chips, routes=None, sim=None):
    rows = layer_rows(net, plans, cores, spec)
    total = sum(p.cores for p in plans)
    summary = {
        "hardware": spec.name, "spec_source": spec.source, "off_chip": OFF_CHIP,
        "total_cores": total, "chips": chips, "cores_per_chip": spec.chip.cores_per_chip,
        "latency_ticks": len(net.layers) * spec.chip.delay_ticks,
        "latency_note": "encoder spikes enter at tick 0; hidden layer l fires at tick l (delay 1 per layer); "
                        "the off-chip readout reads after the last tick",
        "threshold_encoding": "negative-sign channels: weights and thresholds negated; theta_pos = max(t, 1) "
                              "(unsigned), bias/leak = theta_pos - t >= 0 added before the comparison; "
                              "thresholds outside the reachable membrane range clipped to it",
        "neuron_mode": "PAICORE SNN mode (1-bit in/out), hard reset to 0, leak before comparison, each layer "
                       "active for one tick per image (membranes start at 0)",
        "no_copy_bound_cores": sum(row["no_copy_bound_cores"] for row in rows),
        "no_copy_bound_note": "per layer ceil(N / neurons per core) at the LCN its fan-in needs and its weight "
                              "width, whatever the layout (hardware/bounds.py); copies for fan-out only add",
        "layers": rows,
    }
    if routes is not None:
        for row, r in zip(rows, routes):
            row["routes_in"] = int(len(r.routes))
            row["multicast_packets_per_spike_max"] = int(r.packets_per_neuron.max(initial=0))
    summary["copies_note"] = ("a PAICORE neuron has one destination (chip, core, axon; the replication bits widen "
                              "the core to a cube of cores at the same axon). A source whose readers need k cubes "
                              "is k hardware neurons (the original + k - 1 copies with the same column and "
                              "registers) in its own tile's cores; `copy_neurons` counts them and `cores` "
                              "includes what they cost. The off-chip encoder sends its packets itself. "
                              "`kept_empty_cores`: addresses inside a layer's tile blocks that hold no core and "
                              "that its cubes may reach (so tiles with fewer cores than their block still pair "
                              "into one cube); placement gives them to no other layer. `layout`: the tiles "
                              "'in order', at 'slots' (every 3 x 3 window one cube), or 'exact' (in order, cubes "
                              "reach only cores; docs/hardware.md §5)")
    if sim is not None and sim.images:
        n = sim.images
        sops = 0
        packets_total = 0.0
        for li, (row, layer) in enumerate(zip(rows, net.layers)):
            mine = [i for i, c in enumerate(cores) if c.layer == li]
            layer_sops = sum(int(sim.core_input_spikes[i]) * len(cores[i].neuron_ids) for i in mine)
            src_spikes = sim.input_spikes if li == 0 else sim.neuron_spikes[li - 1]
            packets = float((src_spikes * routes[li].packets_per_neuron).sum()) / n if routes else None
            row["sops_per_image"] = layer_sops / n
            row["spikes_per_image"] = float(sim.neuron_spikes[li].sum()) / n
            row["packets_in_per_image"] = packets
            if routes:
                link_spikes = src_spikes[routes[li].links_src_neuron]
                per_route = np.bincount(routes[li].route_of_link, weights=link_spikes) / n
                row["spike_packets_per_route"] = [
                    {"src_core": int(s), "dst_core": int(d), "axons": int(a), "spikes_per_image": float(p)}
                    for (s, d), a, p in zip(routes[li].routes, routes[li].route_axons, per_route)]
                packets_total += packets
            sops += layer_sops
        summary["sops_per_image"] = sops / n
        summary["sop_definition"] = ("one spike arriving on one axon of a core reaches every neuron of that "
                                     "core's crossbar row (zero weights included)")
        summary["spike_packets_per_image"] = packets_total
        if spec.energy_per_sop_pj:
            summary["energy_per_image_uj_estimate"] = sops / n * spec.energy_per_sop_pj * 1e-6
            summary["energy_per_sop_pj"] = spec.energy_per_sop_pj
            summary["energy_source"] = spec.energy_source + " (model-based estimate, not a measurement)"
    return summary


def write_json(summary, out_dir):
    return write_json_atomic(Path(out_dir) / "hardware.json", summary)


def plot_grid(cores, net, spec, chips, out_dir):
    """PNG of the chip grid(s), each core coloured by its layer; reserved cores hatched grey."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    gx, gy = spec.chip.grid
    n = max(chips, 1)
    cols = min(n, 4)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols + 1.5, 4.2 * rows), squeeze=False)
    cmap = plt.get_cmap("tab10" if len(net.layers) <= 10 else "tab20")
    for chip in range(rows * cols):
        ax = axes[chip // cols][chip % cols]
        if chip >= n:
            ax.axis("off")
            continue
        grid = np.full((gy, gx, 3), 0.95)
        for x in range(gx):
            for y in range(gy):
                if spec.chip._reserved(x, y):
                    grid[y, x] = 0.6
        for core in cores:
            if core.coord and core.coord[0] == chip:
                grid[core.coord[2], core.coord[1]] = cmap(core.layer % cmap.N)[:3]
        ax.imshow(grid, origin="lower", interpolation="nearest")
        ax.set_title(f"chip {chip}")
        ax.set_xlabel("core x")
        ax.set_ylabel("core y")
        ax.set_xticks(np.arange(-0.5, gx, max(gx // 8, 1)), minor=False)
        ax.set_yticks(np.arange(-0.5, gy, max(gy // 8, 1)), minor=False)
        ax.set_xticklabels([])
        ax.set_yticklabels([])
        ax.grid(color="white", linewidth=0.3)
    counts = [sum(1 for c in cores if c.layer == li) for li in range(len(net.layers))]
    handles = [Patch(color=cmap(li % cmap.N), label=f"{layer.name} ({counts[li]} cores)")
               for li, layer in enumerate(net.layers)]
    handles.append(Patch(color=(0.6, 0.6, 0.6), label="reserved (online cores)"))
    fig.legend(handles=handles, loc="center right", fontsize=8)
    fig.suptitle(f"{spec.name}: {len(cores)} cores on {n} chip(s)")
    fig.subplots_adjust(right=0.78)
    path = Path(out_dir) / "hardware_grid.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
