"""Training-step cost of the quantized LeNet against the same network in plain float Keras.

Both models (`lenet` k=1 B=2: ternary weights + median-quantized activations; `lenet_fp`: Conv2D,
BatchNormalization, ReLU, Dense) are built, compiled alike and trained on the same batches in one
process, in interleaved rounds; the script prints the median time per step and the ratio.

    python bench/train_speed.py [--steps 100] [--rounds 5] [--batch-size 128]

Uses real MNIST when a data directory is given (--data-dir or $SNN_DATA_DIR), else random images
(the cost of a step does not depend on the pixel values).
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
import tensorflow as tf  # noqa: E402

from models import build_preset  # noqa: E402
from snn_data import load_arrays, resolve_data_dir  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--data-dir")
    args = parser.parse_args()

    images, labels = _batches(args)
    dataset = tf.data.Dataset.from_tensor_slices((images, labels)).batch(args.batch_size).cache()
    models = {"quantized": _compiled("lenet"), "float": _compiled("lenet_fp")}
    for model in models.values():  # warm up: trace and build the train function
        model.fit(dataset.take(5), epochs=1, verbose=0)

    times = {name: [] for name in models}
    for _ in range(args.rounds):
        for name, model in models.items():
            start = time.perf_counter()
            model.fit(dataset, epochs=1, verbose=0)
            times[name].append((time.perf_counter() - start) / args.steps)
    median = {name: float(np.median(values)) for name, values in times.items()}
    for name in models:
        print(f"{name:9s} lenet step: {median[name] * 1e3:7.2f} ms (median of {args.rounds} rounds "
              f"of {args.steps} steps, batch {args.batch_size})")
    print(f"ratio quantized / float: {median['quantized'] / median['float']:.2f} (target <= 1.3)")


def _compiled(name):
    keras.utils.set_random_seed(0)
    model = build_preset(name, k=1, B=2)
    model.compile(keras.optimizers.Adam(1e-3),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    return model


def _batches(args):
    count = args.steps * args.batch_size
    if resolve_data_dir(args.data_dir) is not None:
        images, labels = load_arrays("mnist", "train", args.data_dir)
        return images[:count].astype(np.float32), labels[:count]
    rng = np.random.default_rng(0)
    return (rng.integers(0, 256, (count, 28, 28, 1)).astype(np.float32),
            rng.integers(0, 10, count).astype(np.int64))


if __name__ == "__main__":
    main()
