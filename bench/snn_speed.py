"""SNN evaluation of the MNIST test set against the quantized ANN's, same batch size, one process.

    python bench/snn_speed.py [--checkpoint pretrained/lenet_mnist_k1B2] [--batch-size 200] [--repeats 3]
    python bench/snn_speed.py --method allint [--time-steps 4 8 16] [--batches 5] [--repeats 5]
    python bench/snn_speed.py --method rate [--time-steps 32 128] [--batch-size 100] [--batches 3]

Scatter-and-gather (default), best of --repeats after one warm-up pass each:
  ANN           ann.predict over the 10000 test images
  SNN           snn.predict over the same images (the converted model alone)
  SNN+counting  what evaluate_snn.py does per batch: the probe model (every layer's spikes) and
                the spike/SOP counters
and the ratios to the ANN (target <= 1.1). On a CPU Keras runs neither model through XLA; the
SNN's threshold ladders alone are XLA-compiled inside their layers (layers/spiking.py `_fused`).
(The ANN compiled whole by XLA was slower here than the plain ANN, and it may round its float
encoder differently, so it is not the baseline.)

Rate-coded (--method rate, the shipped lenet_binary): the ANN and its T-step SNN (synchronous
and one-step timing, and the synchronous SNN with evaluate_snn.py's counting probe) on the same
--batches batches, interleaved rounds, median time per batch; the ratio is SNN / (T x ANN)
(target <= 1.2).

All-integer (--method allint, the shipped lenet_allint): the ANN and its T-step SNN in float and
integer mode on the same --batches batches, interleaved rounds, median time per batch; the ratio
is SNN / (T x ANN) (target <= 1.5).
"""
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from cli_utils import OneLineParser, UserError, import_tensorflow_quietly, positive_int, run_cli  # noqa: E402

import_tensorflow_quietly()

import numpy as np  # noqa: E402

import layers  # noqa: E402,F401
from conversion import convert  # noqa: E402
from conversion.chain import ConversionError  # noqa: E402
from evaluation.run import evaluate  # noqa: E402
from snn_data import load_arrays  # noqa: E402
from training.run import load_model_file  # noqa: E402

SHIPPED = {"sg": "lenet_mnist_k1B2", "allint": "lenet_allint_mnist_k0", "rate": "lenet_binary_mnist"}


def parse_args(argv=None):
    parser = OneLineParser(description=__doc__.splitlines()[0])
    parser.add_argument("--method", choices=["sg", "allint", "rate"], default="sg")
    parser.add_argument("--checkpoint", help="default: the shipped model of the method")
    parser.add_argument("--batch-size", type=positive_int, default=200)
    parser.add_argument("--repeats", type=positive_int, default=3)
    parser.add_argument("--time-steps", type=positive_int, nargs="+",
                        help="allint (default 4 8 16) and rate (default 32 128)")
    parser.add_argument("--batches", type=positive_int, default=5, help="allint and rate: batches per round")
    parser.add_argument("--data-dir")
    return parser.parse_args(argv)


def _load_ann(args):
    """The --checkpoint (a run folder means its model.keras), else the shipped model of the method."""
    path = Path(args.checkpoint) if args.checkpoint else REPO / "pretrained" / SHIPPED[args.method] / "model.keras"
    return load_model_file(path / "model.keras" if path.is_dir() else path)


def work(args):
    try:
        _work(args)
    except ConversionError as err:
        which = args.checkpoint or SHIPPED[args.method]
        raise UserError(f"{which} does not suit --method {args.method}: {err}") from None


def _work(args):
    ann = _load_ann(args)
    snn = _first_conversion(ann, args)  # a checkpoint of another method fails here, before any image is read
    images, labels = load_arrays("mnist", "test", args.data_dir)
    images = images.astype(np.float32)
    if args.method == "allint":
        return _allint(args, ann, images)
    if args.method == "rate":
        return _rate(args, ann, images)
    timers = {
        "ANN": lambda: ann.predict(images, batch_size=args.batch_size, verbose=0),
        "SNN": lambda: snn.predict(images, batch_size=args.batch_size, verbose=0),
        "SNN+counting": lambda: evaluate(snn, images, labels, args.batch_size, progress=False),
    }
    seconds = _best_interleaved(timers, args.repeats)
    for name, value in seconds.items():
        print(f"{name:13s} {value:6.2f} s for {len(images)} images (batch {args.batch_size})")
    for name in ("SNN", "SNN+counting"):
        print(f"ratio {name} / ANN: {seconds[name] / seconds['ANN']:.2f} (target <= 1.1)")


def _first_conversion(ann, args):
    """The SNN of the method's first setting (rate: without calibration scales, which need the
    training images); ConversionError if the checkpoint does not suit the method. The sg run
    times this SNN; allint and rate convert again per setting."""
    if args.method == "allint":
        args.time_steps = args.time_steps or [4, 8, 16]
        return convert(ann, "allint", time_steps=args.time_steps[0])
    if args.method == "rate":
        from conversion.rate import convert_rate

        args.time_steps = args.time_steps or [32, 128]
        return convert_rate(ann, args.time_steps[0])
    return convert(ann, method="sg")


def _allint(args, ann, images):
    result = measure_allint(ann, images[:args.batches * args.batch_size], args.time_steps, args.repeats,
                            args.batch_size)
    print(f"ANN {ann.name}: {result['ann_s'] * 1e3:8.1f} ms per batch of {args.batch_size} "
          f"(median of {args.repeats} rounds of {args.batches} batches)")
    for t, row in result["T"].items():
        print(f"T={t:3d}  float {row['float_s'] * 1e3:8.1f} ms  ratio {row['float_ratio']:.2f}   "
              f"int {row['int_s'] * 1e3:8.1f} ms  ratio {row['int_ratio']:.2f}   (SNN / (T x ANN), target <= 1.5)")


def _rate(args, ann, images):
    from conversion.rate import convert_rate, percentile_scales
    from conversion.rate_eval import RateCounter

    train, _ = load_arrays("mnist", "train", args.data_dir)
    scales = percentile_scales(ann, train[:128].astype(np.float32), 99.9)
    batches = [images[i:i + args.batch_size] for i in range(0, args.batches * args.batch_size, args.batch_size)]
    runners = {"ann": ann.predict_on_batch}
    for t in args.time_steps:
        sync = convert_rate(ann, t, scales=scales)
        runners[(t, "sync")] = sync.predict_on_batch
        runners[(t, "one-step")] = convert_rate(ann, t, one_step=True, scales=scales).predict_on_batch
        runners[(t, "sync+counting")] = RateCounter(sync).probe_model.predict_on_batch
    median = _median_per_batch(runners, batches, args.repeats)
    print(f"ANN {ann.name}: {median['ann'] * 1e3:8.1f} ms per batch of {args.batch_size} "
          f"(median of {args.repeats} rounds of {len(batches)} batches)")
    for t in args.time_steps:
        print(f"T={t:4d}  " + "   ".join(
            f"{mode} {median[(t, mode)] * 1e3:8.1f} ms ratio {median[(t, mode)] / (t * median['ann']):.2f}"
            for mode in ("sync", "one-step", "sync+counting")) + "   (SNN / (T x ANN), target <= 1.2)")


def _median_per_batch(runners, batches, rounds):
    for run in runners.values():  # warm up: build the predict functions
        run(batches[0])
    times = {key: [] for key in runners}
    for _ in range(rounds):
        for key, run in runners.items():
            start = time.perf_counter()
            for batch in batches:
                run(batch)
            times[key].append((time.perf_counter() - start) / len(batches))
    return {key: float(np.median(v)) for key, v in times.items()}


def measure_allint(ann, images, time_steps=(4, 8, 16), rounds=5, batch_size=200):
    """{"ann_s": s per batch, "T": {T: {"float_s", "int_s", "float_ratio", "int_ratio"}}}."""
    batches = [np.asarray(images[i:i + batch_size], np.float32) for i in range(0, len(images), batch_size)]
    runners = {"ann": ann}
    for t in time_steps:
        for mode in ("float", "int"):
            runners[(t, mode)] = convert(ann, "allint", time_steps=t, use_int=mode == "int")
    for model in runners.values():  # warm up: build the predict function
        model.predict_on_batch(batches[0])
    times = {key: [] for key in runners}
    for _ in range(rounds):
        for key, model in runners.items():
            start = time.perf_counter()
            for batch in batches:
                model.predict_on_batch(batch)
            times[key].append((time.perf_counter() - start) / len(batches))
    median = {key: float(np.median(v)) for key, v in times.items()}
    result = {"ann_s": median["ann"], "T": {}}
    for t in time_steps:
        row = {f"{mode}_s": median[(t, mode)] for mode in ("float", "int")}
        row.update({f"{mode}_ratio": median[(t, mode)] / (t * median["ann"]) for mode in ("float", "int")})
        result["T"][t] = row
    return result


def _best_interleaved(timers, repeats):
    """{name: fastest of `repeats` runs}; the runs of the compared things alternate, so that a
    change in machine load during the bench falls on all of them alike."""
    for fn in timers.values():
        fn()  # warm-up: tracing and graph building are not evaluation cost
    times = {name: [] for name in timers}
    for _ in range(repeats):
        for name, fn in timers.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: min(values) for name, values in times.items()}


def main(argv=None):
    return run_cli("snn_speed.py", lambda: parse_args(argv), work)


if __name__ == "__main__":
    sys.exit(main())
