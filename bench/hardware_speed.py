"""Simulating the MNIST test set on the mapped PAICORE cores vs the Keras SNN, side by side.

    SNN_DATA_DIR=../shared/data python bench/hardware_speed.py [--checkpoint M.keras] [--images 10000] [--repeats 3]

Both sides take the same images in the same batches, after a warm-up, and are timed `--repeats`
times (min and median printed; the machine load from /proc/loadavg is printed with them):

- Keras SNN: the converted model on the images, as `snn.predict(x)` and as per-batch
  `snn.predict_on_batch` (what evaluate_snn.py runs).
- Mapped cores: the off-chip encoder (the SNN's own encoding layer, Keras, one compiled call
  per batch whose output the simulator reads in place) -> the core simulator (every hidden layer on its cores, copies and all)
  -> the off-chip readout (the SNN's SpikingReadout). The encoder counts the simulator gets are
  the SNN's own encoder counts; predictions are compared with the Keras SNN's.

Ratio = cores / Keras (target <= 1.5x vs `predict_on_batch`). Core table loading (once per mapping) is timed apart.
Each repeat also times the two per batch, taking turns (`predict_on_batch` then the cores on one
batch, the other order on the next), so that a burst of other work on a shared machine falls on
both alike: the "interleaved" ratio.
"""
import os
import statistics
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
from hardware.spec import HardwareError  # noqa: E402
from snn_data import load_arrays  # noqa: E402
from training.run import load_model_file  # noqa: E402


def _load():
    return " ".join(Path("/proc/loadavg").read_text().split()[:3]) if Path("/proc/loadavg").exists() else "?"


def keras_predict(snn, x, batch):
    return snn.predict(x, batch_size=batch, verbose=0)


def keras_on_batch(snn, x, batch):
    return np.concatenate([np.asarray(snn.predict_on_batch(x[i:i + batch])) for i in range(0, len(x), batch)])


def encoder_function(net):
    """The off-chip encoder (the SNN's own encoding layers) as one compiled call whose output
    tensor the simulator reads in place: `predict_on_batch` would copy its 50 MB of counts per
    1000 MNIST images into a new numpy array (26 ms of the ~95 ms the cores took per batch)."""
    import tensorflow as tf

    encode = tf.function(lambda x: net.encoder(x, training=False), autograph=False)
    return lambda x: encode(tf.constant(x))


def cores_run(net, sim, x, batch, workers=1, encode=None):
    encode = encode or encoder_function(net)
    return np.concatenate([_cores_batch(net, sim, x[i:i + batch], workers, encode) for i in range(0, len(x), batch)])


def _cores_batch(net, sim, x, workers, encode):
    encoded = encode(x)  # off-chip encoder
    counts, _ = sim.run(encoded, workers=workers)  # the cores
    last = counts[-1].reshape(len(encoded), 1, -1).astype(np.float32)
    return np.argmax(np.asarray(net.readout(last)), 1)  # off-chip readout


def interleaved(snn, net, sim, x, batch, workers, encode):
    """(Keras predict_on_batch seconds, cores seconds) over all batches, the two taking turns."""
    spent = {"keras": 0.0, "cores": 0.0}
    runs = {"keras": lambda b: snn.predict_on_batch(b), "cores": lambda b: _cores_batch(net, sim, b, workers, encode)}
    for n, i in enumerate(range(0, len(x), batch)):
        for name in (("keras", "cores") if n % 2 == 0 else ("cores", "keras")):
            t0 = time.perf_counter()
            np.asarray(runs[name](x[i:i + batch]))
            spent[name] += time.perf_counter() - t0
    return spent["keras"], spent["cores"]


def parse_args(argv=None):
    parser = OneLineParser()
    parser.add_argument("--checkpoint", default=str(REPO / "pretrained" / "lenet_mnist_k1B2" / "model.keras"),
                        help="the quantized .keras model (default: the shipped lenet k1B2)")
    parser.add_argument("--images", type=positive_int, default=10000)
    parser.add_argument("--batch", type=positive_int, default=1000)
    parser.add_argument("--repeats", type=positive_int, default=3)
    parser.add_argument("--workers", type=positive_int, default=1,
                        help="threads of the core simulator over chunks of images (default 1, its default)")
    parser.add_argument("--data-dir", default=os.environ.get("SNN_DATA_DIR", str(REPO.parent / "shared" / "data")))
    return parser.parse_args(argv)


def work(args):
    snn = convert(load_model_file(args.checkpoint), method="sg")
    x, _ = load_arrays("mnist", "test", args.data_dir)
    x = x[:args.images].astype("float32")
    net, spec, plans, cores, chips, routes = map_network(snn, "paicore")
    t0 = time.perf_counter()
    sim = CoreSimulator(net, cores)  # loading the core tables: once per mapping, timed apart
    t_load = time.perf_counter() - t0
    warm = x[:args.batch]
    encode = encoder_function(net)
    keras_predict(snn, warm, args.batch), keras_on_batch(snn, warm, args.batch)
    cores_run(net, sim, warm, args.batch, args.workers, encode)

    times = {"keras predict": [], "keras predict_on_batch": [], "cores": []}
    turns = []  # (keras, cores) seconds of the interleaved timing, per repeat
    for _ in range(args.repeats):
        turns.append(interleaved(snn, net, sim, x, args.batch, args.workers, encode))
        for name, fn in (("keras predict", lambda: keras_predict(snn, x, args.batch)),
                         ("keras predict_on_batch", lambda: keras_on_batch(snn, x, args.batch)),
                         ("cores", lambda: cores_run(net, sim, x, args.batch, args.workers, encode))):
            load = _load()
            t0 = time.perf_counter()
            out = fn()
            times[name].append((time.perf_counter() - t0, load))
            if name == "keras predict":
                keras_pred = np.argmax(out, 1)
            elif name == "cores":
                agree = int(np.sum(out == keras_pred))
    print(f"images {len(x)}, batch {args.batch}, cores {len(cores)}, chips {chips}, repeats {args.repeats}, "
          f"simulator workers {args.workers}")
    for name, runs in times.items():
        secs = [t for t, _ in runs]
        print(f"{name:24s} min {min(secs):6.2f} s  median {statistics.median(secs):6.2f} s  runs "
              + ", ".join(f"{t:.2f} s (load {load})" for t, load in runs))
    cores_s = [t for t, _ in times["cores"]]
    for name in ("keras predict", "keras predict_on_batch"):
        ks = [t for t, _ in times[name]]
        ratios = [c / k for c, k in zip(cores_s, ks)]
        print(f"ratio vs {name:22s} min {min(ratios):5.2f} x  median {statistics.median(ratios):5.2f} x  "
              f"(per repeat: {', '.join(f'{r:.2f}' for r in ratios)}; target <= 1.5x vs predict_on_batch)")
    ratios = [c / k for k, c in turns]
    print(f"interleaved per batch: predict_on_batch {', '.join(f'{k:.2f}' for k, _ in turns)} s, cores "
          f"{', '.join(f'{c:.2f}' for _, c in turns)} s; ratio median {statistics.median(ratios):5.2f} x "
          f"(per repeat: {', '.join(f'{r:.2f}' for r in ratios)}; target <= 1.5x)")
    print(f"table loading            {t_load:6.2f} s  (once per mapping, not in the ratio)")
    print(f"agreement                {agree}/{len(x)} core-simulated predictions equal the Keras SNN's")


def main(argv=None):
    return run_cli("hardware_speed.py", lambda: parse_args(argv), work, errors=(ConversionError, HardwareError))


if __name__ == "__main__":
    sys.exit(main())
