"""Training throughput of the CIFAR `vgg` preset on JAX (a GPU check; runs anywhere JAX does).

Trains the quantized `vgg` (k=1 B=2, ternary weights) on synthetic 24x24 CIFAR crops (CIFAR is
not needed: the cost of a step does not depend on the pixels) for a fixed number of steps, after
a warm-up that compiles the step, and prints images per second and the time per step.

    python bench/gpu_vgg_jax.py [--steps 200] [--warmup 10] [--batch-size 128] [--distribute]

--distribute splits each batch over every local device (keras.distribution.DataParallel). Needs
JAX, Keras, numpy and this project; not TensorFlow. Prints the devices it ran on first.
"""
import os
import sys
import time
from pathlib import Path

os.environ["KERAS_BACKEND"] = "jax"
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import jax  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402

from cli_utils import OneLineParser, non_negative_int, positive_int, run_cli  # noqa: E402
from models import build_preset  # noqa: E402
from snn_data.sources import CIFAR_CROP  # noqa: E402


def parse_args(argv=None):
    parser = OneLineParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=positive_int, default=200)
    parser.add_argument("--warmup", type=non_negative_int, default=10, help="steps before the timed ones (0: none)")
    parser.add_argument("--batch-size", type=positive_int, default=128)
    parser.add_argument("--dataset", choices=("cifar10", "cifar100"), default="cifar10")
    parser.add_argument("--distribute", action="store_true", help="data-parallel over every local device")
    return parser.parse_args(argv)


def work(args):
    devices = jax.devices()
    print(f"jax {jax.__version__}, keras {keras.__version__}, {len(devices)} x {devices[0].device_kind} "
          f"({devices[0].platform})", flush=True)
    if args.distribute:
        mesh = keras.distribution.DeviceMesh((len(devices),), ["batch"], keras.distribution.list_devices())
        keras.distribution.set_distribution(keras.distribution.DataParallel(device_mesh=mesh))
    model = _compiled(args.dataset)
    x, y = _synthetic(args.batch_size * (args.warmup + args.steps), args.dataset)
    warm, timed = args.warmup * args.batch_size, args.steps * args.batch_size

    start = time.perf_counter()
    if warm:  # Keras cannot fit zero images
        model.fit(x[:warm], y[:warm], batch_size=args.batch_size, epochs=1, verbose=0, shuffle=False)
    print(f"warm-up ({args.warmup} steps, compile included): {time.perf_counter() - start:.1f} s", flush=True)
    start = time.perf_counter()
    history = model.fit(x[warm:], y[warm:], batch_size=args.batch_size, epochs=1, verbose=0, shuffle=False)
    float(history.history["loss"][-1])  # the last step has finished
    seconds = time.perf_counter() - start
    print(f"vgg on {args.dataset} (synthetic), batch {args.batch_size}, {args.steps} steps: "
          f"{seconds / args.steps * 1e3:.2f} ms/step, {timed / seconds:.0f} images/s, "
          f"final loss {history.history['loss'][-1]:.3f}")


def _compiled(dataset):
    keras.utils.set_random_seed(0)
    model = build_preset("vgg", dataset, k=1, B=2)
    model.compile(keras.optimizers.Adam(1e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    return model


def _synthetic(count, dataset):
    """Augmented-looking crops: float pixels around the byte range, labels of the dataset's classes."""
    rng = np.random.default_rng(0)
    classes = 10 if dataset == "cifar10" else 100
    images = rng.normal(128, 60, (count, CIFAR_CROP, CIFAR_CROP, 3)).astype(np.float32)
    return images, rng.integers(0, classes, count).astype(np.int64)


def main(argv=None):
    return run_cli("gpu_vgg_jax.py", lambda: parse_args(argv), work)


if __name__ == "__main__":
    sys.exit(main())
