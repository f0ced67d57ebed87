"""MNIST / CIFAR-10 / CIFAR-100: official-file readers, md5 checks and tf.data pipelines."""
from snn_data.readers import SPLITS, load_arrays
from snn_data.sources import ENV_VAR, DataError, resolve_data_dir

__all__ = ["ENV_VAR", "SPLITS", "DataError", "load_arrays", "resolve_data_dir"]
