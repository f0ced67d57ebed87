"""Training-step cost of the quantized LeNet against the same network in plain float Keras, on
TensorFlow and on JAX.

Both models (`lenet` k=1 B=2: ternary weights + median-quantized activations; `lenet_fp`: Conv2D,
BatchNormalization, ReLU, Dense) are built, compiled alike and trained on the same batches in one
process per backend, in interleaved rounds; the script prints the median time per step of each,
the ratio quantized / float on each backend, and JAX / TensorFlow for the quantized step.

    python bench/train_speed.py [--steps 100] [--rounds 5] [--batch-size 128] [--backend both]

Each backend runs in its own process (Keras picks its backend at import). The JAX process runs
with the XLA flags train.py sets for JAX (training/backend.py: JAX_XLA_FLAGS); `--backend all`
adds a third process, JAX with XLA's own defaults, to show what those flags change. Uses real MNIST when a
data directory is given (--data-dir or $SNN_DATA_DIR), else random images (the cost of a step
does not depend on the pixel values).
"""
import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--data-dir")
    parser.add_argument("--backend", choices=("both", "all", "tensorflow", "jax", "jax-xla-defaults"), default="both",
                        help="both: tensorflow and jax; all: also jax-xla-defaults (JAX without the project's XLA flags)")
    parser.add_argument("--json", action="store_true", help="print one JSON line (used by --backend both)")
    args = parser.parse_args()
    if args.backend in ("both", "all"):
        names = ("tensorflow", "jax") + (("jax-xla-defaults",) if args.backend == "all" else ())
        results = {name: _in_subprocess(name, args) for name in names}
    else:
        os.environ["KERAS_BACKEND"] = "tensorflow" if args.backend == "tensorflow" else "jax"
        if args.backend == "jax":  # before JAX starts (the subprocesses of `both` have them already)
            from training.backend import add_jax_xla_flags

            add_jax_xla_flags(os.environ)
        results = {args.backend: measure(args)}
        if args.json:
            print(json.dumps(results[args.backend]))
            return
    report(results, args)


def _in_subprocess(name, args):
    command = [sys.executable, __file__, "--backend", name, "--json", "--steps", str(args.steps),
               "--rounds", str(args.rounds), "--batch-size", str(args.batch_size)]
    if args.data_dir:
        command += ["--data-dir", args.data_dir]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("XLA_FLAGS", None)  # each run gets the flags its name says, not this shell's
    if name == "jax":
        from training.backend import add_jax_xla_flags

        add_jax_xla_flags(env)
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        sys.exit(f"the {name} run failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def measure(args):
    """Median seconds per step of each model on the backend this process runs."""
    from cli_utils import import_backend_quietly

    import_backend_quietly()
    import keras
    import numpy as np

    images, labels = _batches(args)
    data = _dataset(images, labels, args.batch_size)
    warm = _dataset(images[: 5 * args.batch_size], labels[: 5 * args.batch_size], args.batch_size)
    models = {"quantized": _compiled("lenet"), "float": _compiled("lenet_fp")}
    for model in models.values():  # warm up: trace and build the train function
        model.fit(warm, epochs=1, verbose=0, shuffle=False)
    times = {name: [] for name in models}
    for _ in range(args.rounds):
        for name, model in models.items():
            start = time.perf_counter()
            model.fit(data, epochs=1, verbose=0, shuffle=False)
            times[name].append((time.perf_counter() - start) / args.steps)
    return ({name: float(np.median(values)) for name, values in times.items()}
            | {"keras": keras.__version__, "xla_flags": os.environ.get("XLA_FLAGS", "")})


def report(results, args):
    for backend, median in results.items():
        flags = f" (XLA_FLAGS: {median['xla_flags']})" if median.get("xla_flags") else ""
        for name in ("quantized", "float"):
            print(f"{backend:16s} {name:9s} lenet step: {median[name] * 1e3:7.2f} ms (median of {args.rounds} "
                  f"rounds of {args.steps} steps, batch {args.batch_size})")
        print(f"{backend:16s} ratio quantized / float: {median['quantized'] / median['float']:.2f} "
              f"(target <= 1.3){flags}")
    if "tensorflow" in results:
        for backend in ("jax", "jax-xla-defaults"):
            if backend in results:
                ratio = results[backend]["quantized"] / results["tensorflow"]["quantized"]
                print(f"quantized step {backend} / tensorflow: {ratio:.2f} (target <= 1.0)")


def _dataset(images, labels, batch_size):
    import keras

    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        return tf.data.Dataset.from_tensor_slices((images, labels)).batch(batch_size).cache()

    class Batches(keras.utils.PyDataset):
        def __len__(self):
            return len(images) // batch_size

        def __getitem__(self, i):
            return images[i * batch_size : (i + 1) * batch_size], labels[i * batch_size : (i + 1) * batch_size]

    return Batches()


def _compiled(name):
    import keras

    from models import build_preset

    keras.utils.set_random_seed(0)
    model = build_preset(name, k=1, B=2)
    model.compile(keras.optimizers.Adam(1e-3),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    return model


def _batches(args):
    import numpy as np

    from snn_data import load_arrays, resolve_data_dir

    count = args.steps * args.batch_size
    if resolve_data_dir(args.data_dir) is not None:
        images, labels = load_arrays("mnist", "train", args.data_dir)
        return images[:count].astype(np.float32), labels[:count]
    rng = np.random.default_rng(0)
    return (rng.integers(0, 256, (count, 28, 28, 1)).astype(np.float32),
            rng.integers(0, 10, count).astype(np.int64))


if __name__ == "__main__":
    main()
