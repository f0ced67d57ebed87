"""What train.py and evaluate_snn.py share: a quiet TensorFlow import and one-line user errors."""
import contextlib
import os
import sys


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


def run_cli(prog, parse, work, interrupted_hint=""):
    """parse() the command line, then load TensorFlow and work(options); user errors end in one
    line on stderr and exit code 2 (a bad flag fails before TensorFlow loads)."""
    from snn_data import DataError
    from training.config import UserError

    try:
        options = parse()
        import_tensorflow_quietly()
        work(options)
    except (UserError, DataError) as err:
        sys.stderr.write(f"{prog}: error: {err}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write(f"{prog}: interrupted{interrupted_hint}\n")
        return 130
    return 0
