"""PAICORE core counts of the shipped MNIST LeNet and of the CIFAR VGG (k=1, B=2), ours next to
PAIBox's `n_core_required` and the no-copy resource bound (hardware/bounds.py), in one process;
then the temporal (store-and-release) mapping of the same models: layer cores + controller cores.
Chips are printed next to ceil(cores / cores per chip) and to the floor of the plan: the
kept-empty addresses multicast cubes reach (docs/hardware.md §5) count like cores;
`--spatial-slots` adds the floor of the layout rules, the fewest such addresses of any plan.

    python bench/core_counts.py [--no-paibox] [--mapping spatial|temporal|both] [--plans] [--spatial-slots]
                                 [--route]

The VGG has random weights and random BN statistics (seeded): core counts depend on the layer
shapes and the L = 2^k B sub-neurons, not on the trained values, as long as the thresholds are
finite. The temporal counts depend on the weights too: the controller axons grow with each
channel's sum of positive weights, and a channel keeps the SG's 2-bit weights where its thresholds
allow it (docs/hardware.md §7). Ours is an estimate-only mapping (no weight tables), neuron copies
included.
"""
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from cli_utils import OneLineParser, import_tensorflow_quietly, run_cli  # noqa: E402

import_tensorflow_quietly()

import keras  # noqa: E402
import numpy as np  # noqa: E402

import layers  # noqa: E402,F401
from conversion import convert  # noqa: E402
from conversion.chain import ConversionError  # noqa: E402
from hardware import map_network  # noqa: E402
from hardware.address_floor import address_floor  # noqa: E402
from hardware.bounds import no_copy_bound  # noqa: E402
from hardware.network import extract  # noqa: E402
from hardware.route import stray_axons  # noqa: E402
from hardware.spec import HardwareError, resolve_spec  # noqa: E402
from models import build_preset  # noqa: E402
from training.run import load_model_file  # noqa: E402


def random_vgg(seed=0):
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    ann = build_preset("vgg", k=1, B=2)
    for layer in ann.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            c = layer.gamma.shape[0]
            layer.set_weights([rng.uniform(0.5, 1.5, c), rng.uniform(0, 1, c), rng.normal(0, 2, c),
                               rng.uniform(5, 20, c)])
    return ann


LAYOUT_LABELS = {None: "ours", "mixed": "ours, each layer's cheapest layout, no chip search",
                 False: "ours, every layer in order", True: "ours, every layer at slots",
                 "exact": "ours, every layer in order, no address kept empty"}


def count(name, ann, paibox, plans_too=False, slot_layouts=None):
    snn = convert(ann, method="sg")
    start = time.perf_counter()
    net, spec, plans, _, chips, _ = map_network(snn, "paicore", estimate_only=True, slot_layouts=slot_layouts)
    seconds = time.perf_counter() - start
    per_layer = ", ".join(f"{p.name} {p.cores}" for p in plans)
    cores = sum(p.cores for p in plans)
    kept = sum(0 if p.spare is None else len(p.spare) for p in plans)
    per_chip = spec.chip.cores_per_chip
    label = LAYOUT_LABELS[slot_layouts]
    line = (f"{name:12s} {label} {cores:6d} cores on {chips} chip(s) (ceil(cores / {per_chip}) = {-(-cores // per_chip)}; "
            f"with the {kept} kept-empty addresses its cubes reach, at least {-(-(cores + kept) // per_chip)}) "
            f"({per_layer}; planned and placed in {seconds:.1f} s)")
    bounds, total = no_copy_bound(net, resolve_spec("paicore"))
    line += f"; no-copy bound {total} ({' + '.join(str(b.cores) for b in bounds)})"
    if paibox and slot_layouts is None:
        from hardware.paibox_export import paibox_count

        try:
            result = paibox_count(net)
            line += f"; PAIBox n_core_required {result['n_core_required']} ({result['per_layer']})"
        except Exception as err:  # PAIBox's own limits
            line += f"; PAIBox fails: {type(err).__name__}: {str(err).splitlines()[0][:160]}"
    print(line)
    if plans_too:
        print_plans(plans)


def print_address_floor(name, ann):
    net = extract(convert(ann, method="sg"), "spatial")
    spec = resolve_spec("paicore")
    start = time.perf_counter()
    floor = address_floor(net, spec)
    print(f"{name:12s} fewest addresses (cores + kept-empty) of any plan of these rules, every layer's shortlisted "
          f"tilings x layouts (hardware/address_floor.py): {floor.addresses} ({floor.cores} cores; greedy pass "
          f"{floor.greedy_addresses}), so no plan of them fits fewer than {floor.chips} chip(s) of "
          f"{spec.chip.cores_per_chip} ({', '.join(floor.layouts)}; {time.perf_counter() - start:.1f} s)")


def print_plans(plans):
    for p in plans:
        kept_p = 0 if p.spare is None else len(p.spare)
        sizes = "/".join(str(int(k)) for k in np.unique(p.tile_cores))
        print(f"    {p.name}: {p.cores} cores, {p.layout}, tiles {p.tile[0]}x{p.tile[1]} of {sizes} cores, LCN {1 << p.lcn}X, "
              f"copies per neuron up to {int(p.copies.max())} ({p.copy_neurons} copy neurons), {kept_p} kept-empty, "
              f"pieces of {p.piece} addresses")


def route_both_orders(name, ann):
    """Full spatial mapping (weight tables, routing and its checks) with the first layer placed like
    the others and poured in last (place.py): chips and the packets the host sends per encoder spike
    (one per multicast cube of its reader cores); then, for the default, what the packets bring to
    the kept-empty addresses."""
    snn = convert(ann, method="sg")
    for label, first_last in (("first layer placed like the others", False),
                              ("first layer poured last where it saves a chip", True)):
        start = time.perf_counter()
        _, spec, plans, cores, chips, routes = map_network(snn, "paicore", first_layer_last=first_last)
        packets = routes[0].packets_per_neuron
        print(f"{name:12s} routed, {label}: {len(cores)} cores on {chips} chip(s); host packets per encoder spike "
              f"max {int(packets.max())}, mean {packets.mean():.2f} ({time.perf_counter() - start:.0f} s)")
    print_strays(name, spec, plans, cores, routes)


def print_strays(name, spec, plans, cores, routes):
    """Whether a kept-empty address could hold a core after all: only one none of whose used axons
    its packets reach. Where the axons they reach and the fewest a core of the network uses add up
    to more than a core has, no core of the network can sit there (pigeonhole)."""
    strays = stray_axons(plans, routes, spec)
    if not strays:
        return
    axons = spec.core.axons
    fewest = min(len(np.unique(np.flatnonzero(c.axon_src >= 0) % axons)) for c in cores)
    parts, blocked, total = [], 0, 0
    for layer, hits in strays.items():
        reached = np.array([len(h) for h in hits])
        parts.append(f"{layer} {len(reached)} (their packets reach {reached.min()} to {reached.max()} of a "
                     f"core's {axons} axons, median {int(np.median(reached))})")
        blocked += int(np.sum(reached + fewest > axons))
        total += len(reached)
    print(f"{name:12s} kept-empty addresses: {', '.join(parts)}; the fewest axons a core of this network uses: "
          f"{fewest}; so at {blocked} of the {total} addresses any core of the network would take stray spikes")


def count_temporal(name, ann, paibox, plans_too=False):
    from hardware.temporal_report import temporal_summary

    snn, report = convert(ann, method="sr", return_report=True)
    net, spec, plans, cores, chips, _ = map_network(snn, "paicore", estimate_only=True, mapping="temporal")
    summary = temporal_summary(net, plans, cores, spec, chips)
    variants = "; ".join(f"{label}: {v['total_cores']} cores on {v['chips']} chip(s)"
                         for label, v in temporal_variants(snn).items())
    bounds, total = no_copy_bound(net, spec)
    per_layer = ", ".join(f"{p.name} {p.cores} ({p.width}-bit, {sum(row['axons'].values())} controller axons "
                          f"for {b.fan_in} data axons)" for p, row, b in zip(plans, summary["controllers"], bounds))
    scaled = ", ".join(f"{n} {r['scaled_channels']}/{r['channels']}" for n, r in report.items()
                       if isinstance(r, dict) and r.get("role") == "hidden")
    kept_scaled = sum(layer.out_shape[2] - layer.unscaled_channels for layer in net.layers)
    print(f"{name:12s} temporal {summary['total_cores']:6d} cores = {summary['layer_cores']} layer + "
          f"{summary['controller_cores']} controller, on {summary['chips']} chip(s) ({per_layer}); latency "
          f"{summary['latency_ticks']} ticks; no-copy neuron bound at these widths {total}; with the controller "
          f"axons, before any copy, {summary['no_copy_cores_with_controllers']} ("
          f"{' + '.join(str(r['no_copy_cores_with_controllers']) for r in summary['controllers'])}); "
          f"any construction under our tile rule (rectangles with their receptive fields, controllers on "
          f"axons of their own: hardware/temporal_bound.py) needs at least {summary['any_construction_bound_cores']} "
          f"layer cores ({' + '.join(_bound_cores(r) for r in summary['controllers'])}); "
          f"channels the SR converter scaled: {scaled}; channels that keep a scale on the cores: {kept_scaled}; "
          f"{variants}"
          + (_paibox_temporal(net, spec) if paibox else ""))
    if plans_too:
        print_plans(plans)


def temporal_variants(snn):
    """{label: temporal_summary} of the temporal mapping with the first layer placed like the others
    (not poured in last, place.py), and with each layer's cheapest layout in cores plus kept-empty
    addresses instead of slots for every layer (partition.plan_network's "mixed")."""
    from hardware.temporal_report import temporal_summary

    out = {}
    for label, options in (("in network order", {"first_layer_last": False}),
                           ("each layer's cheapest layout", {"slot_layouts": "mixed"})):
        net, spec, plans, cores, chips, _ = map_network(snn, "paicore", estimate_only=True, mapping="temporal",
                                                        **options)
        out[label] = temporal_summary(net, plans, cores, spec, chips)
    return out


def _bound_cores(row):
    bound = row["any_construction_bound"]
    return "none fits" if bound is None else str(bound["cores"])


def _paibox_temporal(net, spec):
    """PAIBox's Mapper on the same neurons, synapses and timers, and with host controllers instead
    (hardware.paibox_temporal): two compiles, about 2 minutes on the VGG."""
    from hardware.paibox_temporal import paibox_temporal_count

    try:
        result = paibox_temporal_count(net, spec.chip.delay_ticks)
    except Exception as err:  # PAIBox's own limits
        return f"; PAIBox fails: {type(err).__name__}: {str(err).splitlines()[0][:160]}"
    return (f"; PAIBox n_core_required {result['n_core_required']} with the timers, "
            f"{result['n_core_required_host_controllers']} with the controllers sent by the host "
            f"({result['construction']}; {result['seconds']} s)")


def shipped_lenet(preset):
    return REPO / "pretrained" / f"{preset}_mnist_k1B2" / "model.keras"


def parse_args(argv=None):
    parser = OneLineParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-paibox", action="store_true")
    parser.add_argument("--mapping", choices=["spatial", "temporal", "both"], default="both")
    parser.add_argument("--plans", action="store_true",
                        help="also print each layer's spatial plan: tiles, cores per tile, copies, kept-empty, pieces")
    parser.add_argument("--lenet", action="append", metavar="PRESET",
                        help="shipped LeNet(s) to count: pretrained/<PRESET>_mnist_k1B2 (default lenet; "
                        "repeat the flag for more, e.g. --lenet lenet --lenet lenet_readme)")
    parser.add_argument("--spatial-slots", action="store_true",
                        help="also count the spatial mapping with each layer's cheapest layout in cores plus "
                        "kept-empty addresses but no search for fewer chips (hardware/layout_search.py), and with one "
                        "layout for every layer: in order, at the temporal one's slots (hardware/slots.py: fewer "
                        "copies, more kept-empty addresses), in order with no address kept empty (more copies); then the fewest "
                        "addresses of any plan of these rules and the chips that floor allows (hardware/address_floor.py, "
                        "about 1.5 minutes for the VGG)")
    parser.add_argument("--route", action="store_true",
                        help="also map every spatial network with its weight tables and route it, with the first layer "
                        "placed like the others and poured in last where that saves a chip (hardware/place.py), and "
                        "print chips and the host's packets per encoder spike (about 2 minutes each for the VGG)")
    args = parser.parse_args(argv)
    missing = [preset for preset in args.lenet or [] if not shipped_lenet(preset).is_file()]
    if missing:
        shipped = sorted(path.parent.name[: -len("_mnist_k1B2")]
                         for path in (REPO / "pretrained").glob("*_mnist_k1B2/model.keras"))
        parser.error(f"--lenet {missing[0]}: there is no pretrained/{missing[0]}_mnist_k1B2/model.keras; "
                     f"shipped: {', '.join(shipped)}")
    return args


def work(args):
    models = [(f"{preset} k1B2", load_model_file(shipped_lenet(preset))) for preset in args.lenet or ["lenet"]]
    models.append(("vgg k1B2", random_vgg()))
    for name, ann in models:
        if args.mapping in ("spatial", "both"):
            count(name, ann, not args.no_paibox, args.plans)
            if args.spatial_slots:
                for rule in ("mixed", False, True, "exact"):
                    count(name, ann, False, args.plans, slot_layouts=rule)
                print_address_floor(name, ann)
            if args.route:
                route_both_orders(name, ann)
        if args.mapping in ("temporal", "both"):
            count_temporal(name, ann, not args.no_paibox, args.plans)


def main(argv=None):
    return run_cli("core_counts.py", lambda: parse_args(argv), work, errors=(ConversionError, HardwareError))


if __name__ == "__main__":
    sys.exit(main())
