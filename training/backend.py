"""Which Keras backend a train.py process runs on; plain Python, imports no Keras.

Keras reads its backend once, when it is first imported (from $KERAS_BACKEND, else
~/.keras/keras.json, else TensorFlow), so `--backend` has to be seen before anything imports
keras: train.py parses its options (plain Python) and calls `select_backend` before any Keras
import. On JAX nothing in the training path
imports TensorFlow; conversion, SNN evaluation and SavedModel export stay on TensorFlow.

On JAX, `select_backend` also adds the project's XLA flags (`JAX_XLA_FLAGS`) to $XLA_FLAGS, which
XLA reads once per process, when JAX starts its first backend. XLA:CPU's default kernel for the
gradient of a convolution's weights is slow at LeNet's shapes (the 16C5 VALID layer on
28 x 28 x 16: 67.5 ms of a ~150 ms step on 2 shared cores); YNNPACK, which XLA:CPU can call for
dot and convolution fusions, takes 11.3 ms for it (bench/conv_grad_speed.py). Its reductions
replace the reduce-window loops XLA:CPU runs the step's channel sums on (BatchNormalization's
statistics and their gradients): the quantized step 51.7 -> 48.6 ms, median of 7 rounds taking
turns (`bench/train_speed.py --xla-flags=--xla_cpu_experimental_ynn_fusion_type=dot`).
`bench/train_speed.py --backend all` measures the whole step with and without the flags. The flag is experimental
in jaxlib 0.10, so a user who names it in $XLA_FLAGS keeps their value
(`--xla_cpu_experimental_ynn_fusion_type=` turns it off). docs/training.md §4.
"""
import importlib.util
import os
import sys

from cli_utils import UserError

BACKENDS = ("tensorflow", "jax")
ENV = "KERAS_BACKEND"
# name -> value; CPU-only flags (a GPU ignores them).
JAX_XLA_FLAGS = {"--xla_cpu_experimental_ynn_fusion_type": "dot,reduce"}


def select_backend(requested=None):
    """Set $KERAS_BACKEND to `requested` (--backend or the config file's `backend`), else keep the
    variable, else TensorFlow, before keras is imported. Returns the backend name; a UserError if
    it is unknown, or if keras is already loaded on another one (possible only when train.main is
    called from a process that imported keras)."""
    chosen = requested or os.environ.get(ENV) or "tensorflow"
    if chosen not in BACKENDS:
        raise UserError(f"unknown backend {chosen!r}; valid: {', '.join(BACKENDS)}")
    keras = sys.modules.get("keras")
    if keras is not None:
        loaded = keras.backend.backend()
        if loaded != chosen:
            raise UserError(f"keras is already loaded on {loaded} in this process, so it cannot train "
                            f"on {chosen}; run train.py --backend {chosen} as its own process")
        return chosen
    os.environ[ENV] = chosen
    if chosen == "jax":
        add_jax_xla_flags(os.environ)
    return chosen


def add_jax_xla_flags(environ):
    """Append JAX_XLA_FLAGS to environ["XLA_FLAGS"], each unless the variable names it already.
    Only before JAX starts a backend (XLA reads the variable once)."""
    present = environ.get("XLA_FLAGS", "").split()
    named = {flag.split("=")[0] for flag in present}
    added = [f"{name}={value}" for name, value in JAX_XLA_FLAGS.items() if name not in named]
    if added:
        environ["XLA_FLAGS"] = " ".join(present + added)


def tensorflow_available():
    """Whether `import tensorflow` can work here, without importing it."""
    try:
        return importlib.util.find_spec("tensorflow") is not None
    except (ImportError, ValueError):  # a blocked or half-installed package
        return False
