"""PAIBox's own Simulator as the referee of our core simulators, on MNIST test images.

    SNN_DATA_DIR=../shared/data python bench/paibox_referee.py [--checkpoint M.keras] [--images 100]
        [--mapping spatial|temporal] [--tiled]

The shipped LeNet k1B2 (default) is converted with scatter-and-gather and mapped onto PAICORE;
the first N test images go through the off-chip encoder (the SNN's own), then through our core
simulator (hardware.simulate, every crossbar from its own tables) and through PAIBox's Simulator
on the network PAIBox's export builds (hardware.paibox_sim). Printed: per layer the neuron
counts that differ (expected 0 of N x neurons), and the seconds of each simulator on the same
images with their ratio (PAIBox / ours).

With --mapping temporal the model is converted with store-and-release and mapped temporally; our
tick simulator (hardware.temporal_sim) and PAIBox's Simulator on the network of
hardware.paibox_temporal are compared spike train by spike train (every release tick of every
neuron), and PAIBox's spikes inside store windows are counted (expected 0).

With --tiled PAIBox runs the network that `--paibox export` compiles instead (one PAIBox group per
tile of our partition, per reading tile, and for the temporal mapping per step, with timers of its
own per tile: hardware.paibox_export.build_tiled_network, hardware.paibox_temporal_tiled), so the
exported configuration is checked the same way.
"""
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from cli_utils import OneLineParser, import_tensorflow_quietly, positive_int, run_cli  # noqa: E402

import_tensorflow_quietly()

import numpy as np  # noqa: E402

import layers  # noqa: E402,F401
from conversion import convert  # noqa: E402
from conversion.chain import ConversionError  # noqa: E402
from hardware import CoreSimulator, map_network  # noqa: E402
from hardware.paibox_sim import PaiboxReferee  # noqa: E402
from hardware.spec import HardwareError  # noqa: E402
from snn_data import load_arrays  # noqa: E402
from training.run import load_model_file  # noqa: E402


def parse_args(argv=None):
    parser = OneLineParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default=str(REPO / "pretrained" / "lenet_mnist_k1B2" / "model.keras"))
    parser.add_argument("--images", type=positive_int, default=100)
    parser.add_argument("--mapping", choices=("spatial", "temporal"), default="spatial")
    parser.add_argument("--tiled", action="store_true",
                        help="referee the network the configuration export compiles (--paibox export: one PAIBox "
                        "group per tile of our partition, timers per tile in the temporal one) instead of one "
                        "group per layer")
    return parser.parse_args(argv)


def work(args):
    method, ours_of, referee_of, unit = MAPPINGS[args.mapping]
    snn = convert(load_model_file(args.checkpoint), method=method)
    images = load_arrays("mnist", "test")[0][:args.images].astype(np.float32)
    net, spec, plans, cores, chips, routes = map_network(snn, "paicore", mapping=args.mapping)
    encoded = net.probe.predict(images, verbose=0)[net.encoder_name]
    t0 = time.perf_counter()
    ours = ours_of(net, cores, encoded)
    ours_s = time.perf_counter() - t0
    referee = TILED[args.mapping](net, cores) if args.tiled else referee_of(net)
    t1 = time.perf_counter()
    theirs = referee.run(encoded)
    theirs_s = time.perf_counter() - t1
    total = 0
    for index, (layer, a, b) in enumerate(zip(net.layers, ours, theirs)):
        differ = int(np.sum(a != b))
        total += differ
        groups = f", {len(referee.groups[index])} LIF groups" if hasattr(referee, "groups") else ""
        print(f"{layer.name}: {differ} of {a.size:,} {unit} differ (ours vs PAIBox Simulator{groups}); "
              f"spikes ours {int(a.sum()):,}, PAIBox {int(b.sum()):,}")
    store = (f", {referee.store_spikes} PAIBox spikes in store windows" if hasattr(referee, "store_spikes")
             else "")
    built = "tiled, as exported" if args.tiled else "one group per layer"
    print(f"{len(images)} images, {args.mapping} ({built}): {total} differing {unit} in total{store}; our "
          f"simulator {ours_s:.2f} s, PAIBox Simulator {theirs_s:.2f} s; ratio PAIBox / ours "
          f"{theirs_s / max(ours_s, 1e-9):.1f}")


def _spatial_counts(net, cores, encoded):
    return CoreSimulator(net, cores).run(encoded)[0]


def _temporal_trains(net, cores, encoded):
    from hardware.temporal_sim import TemporalSimulator

    return TemporalSimulator(net, cores).run(encoded)


def _temporal_referee(net):
    from hardware.paibox_temporal import PaiboxTemporalReferee

    return PaiboxTemporalReferee(net)


def _tiled_spatial_referee(net, cores):
    from hardware.paibox_sim import TiledPaiboxReferee

    return TiledPaiboxReferee(net, cores)


def _tiled_temporal_referee(net, cores):
    from hardware.paibox_temporal_tiled import TiledTemporalReferee

    return TiledTemporalReferee(net, cores)


TILED = {"spatial": _tiled_spatial_referee, "temporal": _tiled_temporal_referee}
# mapping -> (conversion method, our simulator, PAIBox referee, what is compared)
MAPPINGS = {"spatial": ("sg", _spatial_counts, PaiboxReferee, "neuron counts"),
            "temporal": ("sr", _temporal_trains, _temporal_referee, "spike-train entries (neuron x release tick)")}


def main(argv=None):
    return run_cli("paibox_referee.py", lambda: parse_args(argv), work, errors=(ConversionError, HardwareError))


if __name__ == "__main__":
    sys.exit(main())
