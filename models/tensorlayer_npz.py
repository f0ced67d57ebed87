"""TensorLayer `.npz` checkpoints of the seeds' networks (`tl.files.save_npz`): read, assign, write.

`save_npz` stores one object array `params` holding every parameter of the network in creation
order. For every Zou network (SG / Spatio_temporal LeNet and VGG, ALL_INT LeNet and CNN1) that order
is, layer by layer from the input:

    kernel of the conv or dense layer (HWIO for convs, (in, out) for dense layers; no biases)
    beta, gamma, moving_mean, moving_variance of the BatchNormLayer that follows it
    ...
    kernel of the float classifier (no bias, no BN), last

which is exactly the order in which `models.builder` creates the same layers, so `tensorlayer_order`
derives it from the Keras model instead of keeping a table per preset. Two layouts differ only in
shape and are accepted: the seeds write the 256/1000/1024-unit layers as VALID convs whose window
covers the whole input (LeNet's 4x4x32 -> 256, ALL_INT's 4x4x64 -> 1000, CNN1's 3x3x256 -> 1024 and
1x1 -> 1024), where a preset may have Flatten + Dense: an HWIO kernel reshaped to (H*W*I, O) is the
dense kernel of the NHWC-flattened input, element for element. Quantized kernels are stored
ternarized ({-1, 0, 1}); ternarizing them again returns them unchanged, so they are assigned as the
latent kernel.
"""
import pickle
import zipfile
from pathlib import Path

import numpy as np

BN_FIELDS = ("beta", "gamma", "moving_mean", "moving_variance")


class NpzError(ValueError):
    """A .npz file that is damaged, not TensorLayer's layout, or does not fit the preset."""


def tensorlayer_order(model):
    """[(label, keras variable)] in TensorLayer's parameter order for a model of models.builder."""
    import keras

    order = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            order += [(f"{layer.name}.{field}", getattr(layer, field)) for field in BN_FIELDS]
        elif hasattr(layer, "kernel") and layer.weights:
            if getattr(layer, "use_bias", False):
                raise NpzError(f"layer {layer.name} has a bias; the seeds' networks have none")
            order.append((f"{layer.name}.kernel", layer.kernel))
    return order


def read_npz(path):
    """The parameter arrays of a TensorLayer .npz, in stored order."""
    path = Path(path)
    if not path.is_file():
        raise NpzError(f"{path} does not exist")
    if not zipfile.is_zipfile(path):  # else np.load would read the file as a pickle
        raise NpzError(f"{path} is damaged or not a .npz file (not a zip archive)")
    try:
        with np.load(path, allow_pickle=True) as data:
            if "params" not in data.files:
                raise NpzError(f"{path} holds {', '.join(data.files) or 'no arrays'}, not TensorLayer's "
                               f"'params' (tl.files.save_npz)")
            params = data["params"]
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, pickle.UnpicklingError) as err:
        if isinstance(err, NpzError):
            raise
        raise NpzError(f"{path} is damaged or not a .npz file ({type(err).__name__})") from None
    arrays = [np.asarray(p) for p in params]
    bad = [i for i, a in enumerate(arrays) if a.dtype.kind != "f"]
    if bad:
        raise NpzError(f"{path}: parameter {bad[0]} is {arrays[bad[0]].dtype}, not a float array")
    return arrays


def assign_npz(model, arrays, source="npz"):
    """Assign TensorLayer-ordered `arrays` to `model`; every shape is checked before any is set."""
    order = tensorlayer_order(model)
    if len(arrays) != len(order):
        raise NpzError(f"{source} has {len(arrays)} parameters, {model.name} expects {len(order)} "
                       f"({_count_hint(len(arrays), len(order))})")
    fitted = []
    for index, ((label, variable), array) in enumerate(zip(order, arrays)):
        expected = tuple(variable.shape)
        value = _fit(array, expected)
        if value is None:
            raise NpzError(f"{source}: parameter {index} has shape {tuple(array.shape)}, {model.name} "
                           f"expects {expected} for {label}")
        fitted.append(value)
    for (_, variable), value in zip(order, fitted):
        variable.assign(value.astype(np.float32))
    return model


def write_npz(model, path):
    """Write `model`'s parameters as tl.files.save_npz does (quantized kernels ternarized)."""
    arrays = [_as_saved(model, label, variable) for label, variable in tensorlayer_order(model)]
    params = np.empty(len(arrays), dtype=object)
    params[:] = arrays
    np.savez(path, params=params)


def import_npz(path, preset, dataset=None, k=1, B=2, use_ternary=True):
    """Build `preset` and assign the TensorLayer checkpoint at `path` to it."""
    from models.builder import build_preset

    model = build_preset(preset, dataset=dataset, k=k, B=B, use_ternary=use_ternary)
    return assign_npz(model, read_npz(path), source=str(path))


def _fit(array, expected):
    if tuple(array.shape) == expected:
        return array
    # conv-as-dense: an HWIO kernel covering its whole input is the dense kernel of the flattened input
    if array.ndim == 4 and len(expected) == 2 and array.shape[3] == expected[1] \
            and int(np.prod(array.shape[:3])) == expected[0]:
        return array.reshape(expected)
    return None


def _as_saved(model, label, variable):
    layer = model.get_layer(label.split(".")[0])
    if label.endswith(".kernel") and getattr(layer, "kernel_quantizer", None):
        return np.asarray(layer.quantized_kernel())  # TensorLayer saves the ternarized tensor
    return np.asarray(variable.numpy())


def _count_hint(got, expected):
    if got == expected + 4:
        return "4 more: a BN after the classifier, as the original SG commit's LeNet has?"
    if got > expected:
        return "a deeper network, or another preset?"
    return "a shallower network, or another preset?"
