"""Training-step cost of the quantized LeNet against the same network in plain float Keras, on
TensorFlow and on JAX.

Both models (`lenet` k=1 B=2: ternary weights + median-quantized activations; `lenet_fp`: Conv2D,
BatchNormalization, ReLU, Dense) are built, compiled alike and trained on the same batches in one
process per backend, in interleaved rounds; the script prints the median time per step of each,
the ratio quantized / float on each backend, and JAX / TensorFlow for the quantized step (also
from the fastest round of each, less sensitive to other work on a shared CPU).

    python bench/train_speed.py [--steps 100] [--rounds 5] [--batch-size 128] [--backend both]

Each backend runs in its own process (Keras picks its backend at import); the processes are
warmed up first, then take turns, one round each, so that other load on a shared CPU falls on all
of them alike. The JAX process runs
with the XLA flags train.py sets for JAX (training/backend.py: JAX_XLA_FLAGS); `--backend all`
adds a third process, JAX with XLA's own defaults, to show what those flags change;
`--xla-flags FLAGS` one more, JAX with XLA_FLAGS=FLAGS ('jax-flags'), to try other flags. Uses real MNIST when a
data directory is given (--data-dir or $SNN_DATA_DIR), else random images (the cost of a step
does not depend on the pixel values).
"""
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from cli_utils import OneLineParser, positive_int, raise_child_user_error, run_cli  # noqa: E402

PROG = "train_speed.py"


def parse_args(argv=None):
    parser = OneLineParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=positive_int, default=100)
    parser.add_argument("--rounds", type=positive_int, default=5)
    parser.add_argument("--batch-size", type=positive_int, default=128)
    parser.add_argument("--data-dir")
    parser.add_argument("--backend", choices=("both", "all", "tensorflow", "jax", "jax-xla-defaults", "jax-flags"),
                        default="both",
                        help="both: tensorflow and jax; all: also jax-xla-defaults (JAX without the project's XLA flags)")
    parser.add_argument("--xla-flags", metavar="FLAGS",
                        help="also time JAX with XLA_FLAGS=FLAGS instead of the project's (as 'jax-flags')")
    parser.add_argument("--serve", action="store_true",
                        help="run one round per line read from stdin, print its times as JSON (used by both/all)")
    return parser.parse_args(argv)


def work(args):
    if args.backend in ("both", "all"):
        names = (("tensorflow", "jax") + (("jax-xla-defaults",) if args.backend == "all" else ())
                 + (("jax-flags",) if args.xla_flags is not None else ()))
        report(_interleaved(names, args), args)
        return
    os.environ["KERAS_BACKEND"] = "tensorflow" if args.backend == "tensorflow" else "jax"
    if args.backend == "jax-flags" and args.xla_flags is not None:  # run alone (the `both` children get it set)
        os.environ["XLA_FLAGS"] = args.xla_flags
    if args.backend == "jax":  # before JAX starts (the subprocesses of `both` have them already)
        from training.backend import add_jax_xla_flags

        add_jax_xla_flags(os.environ)
    bench = Bench(args)
    if args.serve:
        print(json.dumps({"ready": True, "xla_flags": os.environ.get("XLA_FLAGS", "")}), flush=True)
        for _ in sys.stdin:
            print(json.dumps(bench.round()), flush=True)
        return
    report({args.backend: _summary([bench.round() for _ in range(args.rounds)],
                                   os.environ.get("XLA_FLAGS", ""))}, args)


def _interleaved(names, args):
    """One process per backend, all warmed up first; then round r of every process runs before
    round r + 1 of any, so that other work on a shared machine weighs on all of them alike."""
    processes = {}
    try:
        for name in names:
            processes[name] = _start(name, args)
        flags = {name: _reply(name, process)["xla_flags"] for name, process in processes.items()}
        rounds = {name: [] for name in names}
        for _ in range(args.rounds):
            for name, process in processes.items():
                process.stdin.write("round\n")
                process.stdin.flush()
                rounds[name].append(_reply(name, process))
        for process in processes.values():
            process.stdin.close()
            process.wait()
    finally:  # one process failed (or Ctrl-C): end the others, which would wait for rounds forever
        for process in processes.values():
            if process.poll() is None:
                process.kill()
                process.wait()
            process.error_log.close()
    return {name: _summary(rounds[name], flags[name]) for name in names}


def _start(name, args):
    command = [sys.executable, __file__, "--backend", name, "--serve", "--steps", str(args.steps),
               "--batch-size", str(args.batch_size)]
    if args.data_dir:
        command += ["--data-dir", args.data_dir]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("XLA_FLAGS", None)  # each process gets the flags its name says, not this shell's
    if name == "jax-flags":
        env["XLA_FLAGS"] = args.xla_flags
    if name == "jax":
        from training.backend import add_jax_xla_flags

        add_jax_xla_flags(env)
    # stderr to a file, not a pipe nobody reads while the process runs: Keras and XLA write there
    error_log = tempfile.TemporaryFile("w+")
    process = subprocess.Popen(command, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=error_log, text=True)
    process.error_log = error_log
    return process


def _reply(name, process):
    """The next JSON line the process prints (Keras and XLA may print other lines first)."""
    for line in process.stdout:
        if line.startswith("{"):
            return json.loads(line)
    code = process.wait()
    process.error_log.seek(0)
    raise_child_user_error(PROG, code, process.error_log)  # e.g. a data folder without MNIST
    raise SystemExit(f"{PROG}: error: the {name} process ended early (exit code {code}); run it alone with "
                     f"--backend {name} to see why")


def _summary(rounds, xla_flags):
    import numpy as np

    names = rounds[0].keys()
    return ({name: float(np.median([r[name] for r in rounds])) for name in names}
            | {f"{name}_min": float(np.min([r[name] for r in rounds])) for name in names}
            | {"xla_flags": xla_flags})


class Bench:
    """The two compiled models and the data, on the backend this process runs; `round()` trains
    each for one epoch of `--steps` batches and returns its seconds per step."""

    def __init__(self, args):
        from cli_utils import import_backend_quietly

        import_backend_quietly()
        images, labels = _batches(args)
        self.steps = args.steps
        self.data = _dataset(images, labels, args.batch_size)
        warm = _dataset(images[: 5 * args.batch_size], labels[: 5 * args.batch_size], args.batch_size)
        self.models = {"quantized": _compiled("lenet"), "float": _compiled("lenet_fp")}
        for model in self.models.values():  # warm up: trace and build the train function
            model.fit(warm, epochs=1, verbose=0, shuffle=False)

    def round(self):
        times = {}
        for name, model in self.models.items():
            start = time.perf_counter()
            model.fit(self.data, epochs=1, verbose=0, shuffle=False)
            times[name] = (time.perf_counter() - start) / self.steps
        return times


def report(results, args):
    for backend, median in results.items():
        flags = f" (XLA_FLAGS: {median['xla_flags']})" if median.get("xla_flags") else ""
        for name in ("quantized", "float"):
            print(f"{backend:16s} {name:9s} lenet step: {median[name] * 1e3:7.2f} ms (median of {args.rounds} "
                  f"rounds of {args.steps} steps, batch {args.batch_size}; fastest round "
                  f"{median[name + '_min'] * 1e3:.2f} ms)")
        print(f"{backend:16s} ratio quantized / float: {median['quantized'] / median['float']:.2f} "
              f"(target <= 1.3){flags}")
    if "tensorflow" in results:
        for backend in ("jax", "jax-xla-defaults", "jax-flags"):
            if backend in results:
                ratio = results[backend]["quantized"] / results["tensorflow"]["quantized"]
                fastest = results[backend]["quantized_min"] / results["tensorflow"]["quantized_min"]
                print(f"quantized step {backend} / tensorflow: {ratio:.2f} (target <= 1.0); "
                      f"fastest rounds: {fastest:.2f}")


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


def main(argv=None):
    # the backend is chosen in work(): Bench imports it, after KERAS_BACKEND is set
    return run_cli(PROG, lambda: parse_args(argv), work, import_backend=False)


if __name__ == "__main__":
    sys.exit(main())
