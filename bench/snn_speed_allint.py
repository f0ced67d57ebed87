"""T-step evaluation cost of the all-integer SNN against T times the quantized ANN's, side by side.

The ANN (`lenet_allint` k=0, or --model PATH) and its all-integer SNN (float and integer mode) run
on the same batches in one process, in interleaved rounds (predict_on_batch, compiled); the
script prints the median time per batch and, per mode, the ratio SNN / (T * ANN) (target <= 1.5).

    python bench/snn_speed_allint.py [--time-steps 4 8 16] [--rounds 5] [--batches 5] [--batch-size 200]
                                     [--model runs/lenet_allint_mnist_k0/model.keras]

Library use: `measure(ann, images, time_steps, rounds, batch_size)` returns the same numbers as a dict.
Uses real MNIST test images when a data directory is given (--data-dir or $SNN_DATA_DIR), else random
images; random BN statistics would not change the cost (dense conv cost does not depend on values).
"""
import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cli_utils import import_tensorflow_quietly  # noqa: E402

import_tensorflow_quietly()

import keras  # noqa: E402
import numpy as np  # noqa: E402

from conversion import convert  # noqa: E402
from models import build_preset  # noqa: E402
from snn_data import load_arrays, resolve_data_dir  # noqa: E402


def measure(ann, images, time_steps=(4, 8, 16), rounds=5, batch_size=200):
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


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--time-steps", type=int, nargs="+", default=[4, 8, 16])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batches", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=200)
    parser.add_argument("--model", help="a trained lenet_allint .keras file (default: random weights)")
    parser.add_argument("--data-dir")
    args = parser.parse_args()

    if args.model:
        ann = keras.models.load_model(args.model)
    else:
        keras.utils.set_random_seed(0)
        ann = build_preset("lenet_allint", k=0)
    count = args.batches * args.batch_size
    if resolve_data_dir(args.data_dir) is not None:
        images = load_arrays("mnist", "test", args.data_dir)[0][:count]
    else:
        images = np.random.default_rng(0).integers(0, 256, (count, 28, 28, 1))
    result = measure(ann, images, args.time_steps, args.rounds, args.batch_size)
    print(f"ANN {ann.name}: {result['ann_s'] * 1e3:8.1f} ms per batch of {args.batch_size} "
          f"(median of {args.rounds} rounds of {args.batches} batches)")
    for t, row in result["T"].items():
        print(f"T={t:3d}  float {row['float_s'] * 1e3:8.1f} ms  ratio {row['float_ratio']:.2f}   "
              f"int {row['int_s'] * 1e3:8.1f} ms  ratio {row['int_ratio']:.2f}   (SNN / (T x ANN), target <= 1.5)")


if __name__ == "__main__":
    main()
