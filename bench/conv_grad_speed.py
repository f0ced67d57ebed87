"""Where the JAX LeNet step's time went: each convolution of the quantized LeNet, forward, input
gradient and weight gradient, and Keras' BatchNormalization on the largest activation (training
mode, forward + backward), on TensorFlow, on JAX with the project's XLA flags and on JAX with
XLA's own defaults (training/backend.py: JAX_XLA_FLAGS).

    python bench/conv_grad_speed.py [--batch-size 128] [--repeats 15]

Each backend runs in its own process (the XLA flags are read once per process), one after the
other; the script prints the fastest of `--repeats` calls of each jitted / tf.function'd op,
which is the figure least disturbed by other work on a shared CPU.
"""
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from cli_utils import OneLineParser, positive_int, raise_child_user_error, run_cli  # noqa: E402

PROG = "conv_grad_speed.py"

# (input H, W, C), (kernel H, W, in, out), padding, stride: conv0 ... conv5 of the `lenet` preset.
LAYERS = [((28, 28, 1), (5, 5, 1, 16), "SAME", 1), ((28, 28, 16), (5, 5, 16, 16), "VALID", 1),
          ((24, 24, 16), (2, 2, 16, 16), "VALID", 2), ((12, 12, 16), (5, 5, 16, 32), "VALID", 1),
          ((8, 8, 32), (2, 2, 32, 32), "VALID", 2), ((4, 4, 32), (4, 4, 32, 256), "VALID", 1)]
NAMES = ("tensorflow", "jax", "jax-xla-defaults")
BN_SHAPE = (28, 28, 16)  # bn0's input, conv0's output


def parse_args(argv=None):
    parser = OneLineParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=positive_int, default=128)
    parser.add_argument("--repeats", type=positive_int, default=15)
    parser.add_argument("--backend", choices=NAMES)
    return parser.parse_args(argv)


def work(args):
    if args.backend:
        print(json.dumps(measure(args)))
        return
    results = {name: _in_subprocess(name, args) for name in NAMES}
    print(f"fastest of {args.repeats} calls, ms, batch {args.batch_size}: forward / input gradient / weight gradient")
    for i, (shape, kernel, padding, stride) in enumerate(LAYERS):
        cells = "  ".join(f"{name} " + " / ".join(f"{t:6.2f}" for t in results[name]["convs"][i]) for name in NAMES)
        print(f"conv{i} {shape} {kernel[:2]} {padding} s{stride}:  {cells}")
    for name in NAMES:
        print(f"{name:16s} total: " + " / ".join(f"{sum(r[j] for r in results[name]['convs']):6.2f}" for j in range(3)))
    print(f"BatchNormalization {BN_SHAPE}, training, forward + backward: "
          + "  ".join(f"{name} {results[name]['bn']:6.2f}" for name in NAMES))


def _in_subprocess(name, args):
    from training.backend import add_jax_xla_flags

    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("XLA_FLAGS", None)
    if name == "jax":
        add_jax_xla_flags(env)
    command = [sys.executable, __file__, "--backend", name, "--batch-size", str(args.batch_size),
               "--repeats", str(args.repeats)]
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:  # one line: the run's own user error, else the last line it wrote
        lines = [line.strip() for line in result.stderr.splitlines() if line.strip()]
        raise_child_user_error(PROG, result.returncode, lines)
        last = f": {lines[-1][:300]}" if lines else ""
        raise SystemExit(f"{PROG}: error: the {name} run failed (exit code {result.returncode}){last}; "
                         f"run it alone with --backend {name} to see all")
    return json.loads(result.stdout.strip().splitlines()[-1])


def measure(args):
    import numpy as np

    ops = _tf_ops if args.backend == "tensorflow" else _jax_ops
    rng = np.random.default_rng(0)
    rows = []
    for shape, kernel, padding, stride in LAYERS:
        x = rng.standard_normal((args.batch_size, *shape), np.float32)
        k = rng.standard_normal(kernel, np.float32)
        rows.append([_fastest(f, args.repeats) for f in ops(x, k, padding, stride)])
    x = rng.standard_normal((args.batch_size, *BN_SHAPE), np.float32)
    return {"convs": rows, "bn": _fastest(_batch_norm_step(args.backend, x), args.repeats)}


def _batch_norm_step(backend, x):
    """Keras' own BatchNormalization layer, training mode: the loss sum(relu(bn(x))^2) and its
    gradients with respect to x, gamma and beta, as the train step computes them."""
    os.environ["KERAS_BACKEND"] = "tensorflow" if backend == "tensorflow" else "jax"
    from cli_utils import import_backend_quietly

    import_backend_quietly()
    import keras

    layer = keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5)
    layer.build(x.shape)
    if backend == "tensorflow":
        import tensorflow as tf

        x = tf.constant(x)

        @tf.function
        def step():
            with tf.GradientTape() as tape:
                tape.watch(x)
                loss = tf.reduce_sum(tf.nn.relu(layer(x, training=True)) ** 2)
            return tape.gradient(loss, [x, *layer.trainable_variables])

        return lambda: [g.numpy() for g in step()]
    import jax

    trainable = [v.value for v in layer.trainable_variables]
    other = [v.value for v in layer.non_trainable_variables]

    def loss(x, trainable):
        y, _ = layer.stateless_call(trainable, other, x, training=True)
        return jax.numpy.sum(jax.nn.relu(y) ** 2)

    grad = jax.jit(jax.grad(loss, argnums=(0, 1)))
    x = jax.numpy.asarray(x)
    return lambda: jax.block_until_ready(grad(x, trainable))


def _jax_ops(x, k, padding, stride):
    import jax
    from jax import lax

    def conv(x, k):
        return lax.conv_general_dilated(x, k, (stride, stride), padding, dimension_numbers=("NHWC", "HWIO", "NHWC"))

    x, k = jax.numpy.asarray(x), jax.numpy.asarray(k)
    cotangent = jax.numpy.ones_like(conv(x, k))
    forward = jax.jit(conv)
    d_input = jax.jit(lambda x, k, c: jax.vjp(lambda x: conv(x, k), x)[1](c)[0])
    d_kernel = jax.jit(lambda x, k, c: jax.vjp(lambda k: conv(x, k), k)[1](c)[0])
    return [lambda: forward(x, k).block_until_ready(), lambda: d_input(x, k, cotangent).block_until_ready(),
            lambda: d_kernel(x, k, cotangent).block_until_ready()]


def _tf_ops(x, k, padding, stride):
    from cli_utils import import_tensorflow_quietly

    import_tensorflow_quietly()
    import tensorflow as tf

    x, k = tf.constant(x), tf.constant(k)
    strides = [1, stride, stride, 1]
    cotangent = tf.ones_like(tf.nn.conv2d(x, k, strides, padding))
    forward = tf.function(lambda: tf.nn.conv2d(x, k, strides, padding))
    d_input = tf.function(lambda: tf.raw_ops.Conv2DBackpropInput(
        input_sizes=tf.shape(x), filter=k, out_backprop=cotangent, strides=strides, padding=padding))
    d_kernel = tf.function(lambda: tf.raw_ops.Conv2DBackpropFilter(
        input=x, filter_sizes=tf.shape(k), out_backprop=cotangent, strides=strides, padding=padding))
    return [lambda f=f: f().numpy() for f in (forward, d_input, d_kernel)]


def _fastest(call, repeats):
    call()  # compile
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - start)
    return best * 1e3


def main(argv=None):
    # each backend is imported in its own process (measure), after KERAS_BACKEND is set
    return run_cli(PROG, lambda: parse_args(argv), work, import_backend=False)


if __name__ == "__main__":
    sys.exit(main())
