"""SNN evaluation of the MNIST test set against the quantized ANN's, same batch size, one process.

    python bench/snn_speed.py [--checkpoint pretrained/lenet_mnist_k1B2] [--batch-size 200] [--repeats 3]

Times (best of --repeats, after one warm-up pass each):
  ANN           ann.predict over the test images
  SNN           snn.predict over the same images (the converted model alone)
  SNN+counting  what evaluate_snn.py does per batch: the probe model (every layer's spikes) and
                the spike/SOP counters
and prints the ratios to the ANN (target <= 1.5).
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

import layers  # noqa: E402,F401
from conversion import convert  # noqa: E402
from evaluation.run import evaluate  # noqa: E402
from snn_data import load_arrays  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default="pretrained/lenet_mnist_k1B2/model.keras")
    parser.add_argument("--batch-size", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--data-dir")
    args = parser.parse_args()

    images, labels = load_arrays("mnist", "test", args.data_dir)
    images = images.astype(np.float32)
    ann = keras.models.load_model(args.checkpoint)
    snn = convert(ann, method="sg")
    timers = {
        "ANN": lambda: ann.predict(images, batch_size=args.batch_size, verbose=0),
        "SNN": lambda: snn.predict(images, batch_size=args.batch_size, verbose=0),
        "SNN+counting": lambda: evaluate(snn, images, labels, args.batch_size, progress=False),
    }
    seconds = {name: _best(fn, args.repeats) for name, fn in timers.items()}
    for name, value in seconds.items():
        print(f"{name:13s} {value:6.2f} s for {len(images)} images (batch {args.batch_size})")
    for name in ("SNN", "SNN+counting"):
        print(f"ratio {name} / ANN: {seconds[name] / seconds['ANN']:.2f} (target <= 1.5)")


def _best(fn, repeats):
    fn()  # warm-up: tracing and graph building are not evaluation cost
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


if __name__ == "__main__":
    main()
