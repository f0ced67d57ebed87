"""What train.py, evaluate_snn.py and their libraries share: the user-error type, the one-line
argument parser, atomic JSON files, the YAML reader, a quiet TensorFlow import and the CLI wrapper.

Kept free of project imports (numpy aside), so that every package can use it without pulling in
another package's code.
"""
import argparse
import contextlib
import functools
import json
import os
import re
import sys
import tempfile


class UserError(Exception):
    """A mistake the user can fix; reported as one line, exit code 2."""


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports errors in one line (no usage block) and exits with 2."""

    def error(self, message):
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        raise SystemExit(2)


def str2bool(text):
    if isinstance(text, bool):
        return text
    lowered = str(text).strip().strip("'\"").lower()
    if lowered in ("true", "1", "yes", "y", "on"):
        return True
    if lowered in ("false", "0", "no", "n", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected True or False, got {text!r}")


def positive_int(text):
    """argparse type: an integer >= 1."""
    return _int_at_least(text, 1, "a positive integer")


def non_negative_int(text):
    """argparse type: an integer >= 0 (a count where none is meaningful, e.g. warm-up steps)."""
    return _int_at_least(text, 0, "a non-negative integer")


def _int_at_least(text, minimum, what):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text}")
    return value


def temporary_path(path):
    """A new, unique file name beside `path` that ends like it (Keras needs `.keras`), for a write
    that is renamed onto `path` when complete. Unique, so that two runs writing the same folder at
    once never write into (or rename away) each other's half-written file."""
    folder, name = os.path.split(os.fspath(path))
    handle, tmp = tempfile.mkstemp(dir=folder or ".", prefix=f".{name}.", suffix=os.path.splitext(name)[1])
    os.close(handle)
    os.chmod(tmp, 0o644)  # mkstemp's 0600 would make the finished file private
    return tmp if isinstance(path, str) else type(path)(tmp)


def write_json_atomic(path, data):
    """Write `data` as indented JSON; a reader never sees half a file (write, then rename).

    numpy scalars are written as the Python numbers they hold."""
    tmp = temporary_path(path)
    try:
        with open(tmp, "w") as handle:
            handle.write(json.dumps(data, indent=2, default=_json_default) + "\n")
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise
    return path


def _json_default(value):
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def load_yaml(text):
    """yaml.safe_load, but numbers like 1e-3 are numbers (YAML 1.2); every YAML file of the project
    (train.py configs, core files) is read with it."""
    import yaml

    return yaml.load(text, Loader=_yaml12_loader())


@functools.cache
def _yaml12_loader():
    """PyYAML follows YAML 1.1, where `1e-3` (no dot) is a string; YAML 1.2 and every user read it
    as a number, so floats are resolved by the YAML 1.2 rule."""
    import yaml

    class Yaml12Loader(yaml.SafeLoader):
        pass

    Yaml12Loader.yaml_implicit_resolvers = {
        key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:float"]
        for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    Yaml12Loader.add_implicit_resolver(
        "tag:yaml.org,2002:float",
        re.compile(r"""^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?
                       |[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$""", re.X),
        list("-+0123456789."),
    )
    # Integers keep their own resolver, which is tried first for digits-only text.
    for resolvers in Yaml12Loader.yaml_implicit_resolvers.values():
        resolvers.sort(key=lambda pair: pair[0] != "tag:yaml.org,2002:int")
    return Yaml12Loader


@contextlib.contextmanager
def quiet_stderr():
    """Silence file descriptor 2 (C++ code included) for the duration, e.g. TensorFlow's import,
    which prints oneDNN/CUDA/absl notices before TF_CPP_MIN_LOG_LEVEL can take effect."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def import_tensorflow_quietly():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        with quiet_stderr():
            import keras  # noqa: F401
            import tensorflow as tf

            tf.config.list_physical_devices()  # device discovery logs CUDA errors on CPU machines
    except ImportError:
        import tensorflow  # noqa: F401  (again, loudly, so the real import error is shown)


def import_backend_quietly():
    """Keras on the backend $KERAS_BACKEND names: TensorFlow quietly (as above), JAX as it is (JAX
    must not pull in TensorFlow, and it prints nothing on import)."""
    if os.environ.get("KERAS_BACKEND", "tensorflow") == "tensorflow":
        import_tensorflow_quietly()
    else:
        import keras  # noqa: F401


def raise_child_user_error(prog, code, lines):
    """A child process of `prog` that ended with a user error (exit 2) wrote it as one
    "prog: error: ..." line among `lines` (its stderr): raise it again here as a UserError."""
    marker = f"{prog}: error: "
    own = [line.strip() for line in lines if line.startswith(marker)]
    if code == 2 and own:
        raise UserError(own[-1][len(marker):])


def run_cli(prog, parse, work, interrupted_hint="", errors=(), import_backend=True):
    """parse() the command line, then load Keras on its backend (TensorFlow quietly; a parser may
    have loaded it already) and work(options); user errors end in one line on stderr and exit code 2.

    `errors`: more exception types to report that way (a bench's HardwareError, ConversionError);
    `import_backend=False` leaves the import to work() (a script that picks the backend itself)."""
    from snn_data import DataError

    try:
        options = parse()
        if import_backend:
            import_backend_quietly()
        work(options)
    except (UserError, DataError, *errors) as err:
        sys.stderr.write(f"{prog}: error: {err}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write(f"{prog}: interrupted{interrupted_hint}\n")
        return 130
    return 0
