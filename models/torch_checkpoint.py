"""Read PyTorch checkpoints without torch, and load the binary-SNN seed's into vgg15ab (docs/rate.md §6).

    tensors = read_torch_checkpoint("bin_cifar100.pth.tar")    # {key: numpy array}
    ann = import_vgg15ab("bin_cifar100.pth.tar", "cifar100")     # the Keras vgg15ab with those weights

Both file formats of torch.save: the zip archive (PyTorch >= 1.6: <name>/data.pkl plus one raw
file per storage) and the legacy one (PyTorch < 1.6, the seed's 1.3: pickled magic number,
protocol, system info, the main pickle, the storage keys, then each storage as an int64 element
count and its raw little-endian bytes). The pickles are read by a restricted unpickler: it
rebuilds tensors, storages and plain containers and refuses every other global, so a checkpoint
cannot run code.
"""
import collections
import io
import pickle
import struct
import zipfile
from pathlib import Path

import numpy as np

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
STORAGE_DTYPES = {
    "DoubleStorage": np.float64, "FloatStorage": np.float32, "HalfStorage": np.float16,
    "BFloat16Storage": None, "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16,
    "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_,
}


class CheckpointError(ValueError):
    """A checkpoint that cannot be read or does not fit; the message is one line for the user."""


class _StorageType:
    def __init__(self, name):
        if STORAGE_DTYPES.get(name) is None:
            raise CheckpointError(f"storage type torch.{name} is not supported")
        self.name, self.dtype = name, np.dtype(STORAGE_DTYPES[name]).newbyteorder("<")


class _Storage:
    """A storage's dtype and key; its data is attached once read (legacy files store it after the pickle)."""

    def __init__(self, storage_type, key):
        self.dtype, self.key, self.data = storage_type.dtype, key, None


class _Tensor:
    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, tuple(size), tuple(stride)

    def numpy(self):
        data = self.storage.data
        if not self.size:
            return np.array(data[self.offset])
        itemsize = data.dtype.itemsize
        view = np.lib.stride_tricks.as_strided(data[self.offset:], self.size, [s * itemsize for s in self.stride])
        return np.array(view, dtype=data.dtype.newbyteorder("="))


def _rebuild_tensor(storage, offset, size, stride, *rest):
    return _Tensor(storage, offset, size, stride)


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None, *rest):
    return data


def _numpy_scalar(dtype, data=None):
    return np.frombuffer(data, dtype=dtype)[0] if data is not None else dtype.type()


def _numpy_dtype(name, *args):
    return np.dtype(name)


_ALLOWED = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("numpy.core.multiarray", "scalar"): _numpy_scalar,
    ("numpy._core.multiarray", "scalar"): _numpy_scalar,
    ("numpy", "dtype"): _numpy_dtype,
}


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, handle, storages):
        super().__init__(handle)
        self.storages = storages

    def find_class(self, module, name):
        if module in ("torch", "torch.cuda") and name in STORAGE_DTYPES:
            return _StorageType(name)
        if (module, name) in _ALLOWED:
            return _ALLOWED[(module, name)]
        raise CheckpointError(f"refused to load {module}.{name}: a checkpoint may hold only tensors, storages "
                              f"and plain containers")

    def persistent_load(self, pid):
        if not isinstance(pid, tuple) or not pid or pid[0] != "storage":
            raise CheckpointError(f"unexpected persistent id {pid!r:.60}")
        storage_type, key = pid[1], str(pid[2])
        if not isinstance(storage_type, _StorageType):
            raise CheckpointError("a storage without a known storage type")
        if key not in self.storages:
            self.storages[key] = _Storage(storage_type, key)
        return self.storages[key]


def _load(handle, storages):
    try:
        return _RestrictedUnpickler(handle, storages).load()
    except CheckpointError:
        raise
    except Exception as err:  # a damaged pickle fails in many ways
        raise CheckpointError(f"not a readable PyTorch pickle ({type(err).__name__}: {err})") from None


def read_torch_checkpoint(path):
    """{state_dict key: numpy array} of a torch.save file; `state_dict` wrapping is undone."""
    path = Path(path)
    try:
        head = path.open("rb").read(4)
    except OSError as err:
        raise CheckpointError(f"cannot read {path}: {err.strerror}") from None
    obj = _read_zip(path) if head == b"PK\x03\x04" else _read_legacy(path)
    if isinstance(obj, dict) and "state_dict" in obj:
        obj = obj["state_dict"]
    if not isinstance(obj, dict):
        raise CheckpointError(f"{path}: holds a {type(obj).__name__}, not a state_dict")
    return {key: value.numpy() for key, value in obj.items() if isinstance(value, _Tensor)}


def _read_zip(path):
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        pickles = [n for n in names if n.endswith("/data.pkl") or n == "data.pkl"]
        if not pickles:
            raise CheckpointError(f"{path}: a zip file without data.pkl is not a PyTorch checkpoint")
        prefix = pickles[0][: -len("data.pkl")]
        storages = {}
        obj = _load(io.BytesIO(archive.read(pickles[0])), storages)
        for key, storage in storages.items():
            storage.data = np.frombuffer(archive.read(f"{prefix}data/{key}"), dtype=storage.dtype)
    return obj


def _read_legacy(path):
    with open(path, "rb") as handle:
        storages = {}
        if _load(handle, storages) != LEGACY_MAGIC:
            raise CheckpointError(f"{path}: neither a zip nor a legacy PyTorch checkpoint (no magic number)")
        _load(handle, storages)  # protocol version
        _load(handle, storages)  # system info
        obj = _load(handle, storages)
        keys = _load(handle, storages)
        for key in keys:
            storage = storages[str(key)]
            (count,) = struct.unpack("<q", handle.read(8))
            raw = handle.read(count * storage.dtype.itemsize)
            if len(raw) != count * storage.dtype.itemsize:
                raise CheckpointError(f"{path}: truncated storage {key}")
            storage.data = np.frombuffer(raw, dtype=storage.dtype)
    return obj


# ------------------------------------------------------------------------ vgg15ab mapping


SEED_CONVS = (0, 3, 6, 9, 12, 15, 18, 21, 24, 27, 30, 33, 36)  # features indices of the 13 convs
SEED_KEYS = [f"features.{i}.weight" for i in SEED_CONVS] + ["classifier.1.weight", "classifier.4.weight"]
SEED_WIDTHS = (64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512)
POOLED = (1, 3, 6, 9, 12)  # convs followed by average pooling


def normalize_keys(tensors):
    """The keys without `module.` (DataParallel around the features, as the seed, the model, or none)."""
    return {".".join(p for p in key.split(".") if p != "module"): value for key, value in tensors.items()}


def check_keys(tensors, path):
    for key in tensors:
        if key not in SEED_KEYS:
            raise CheckpointError(f"{path}: unexpected key {key}; the seed's vgg15ab has exactly "
                                  f"features.module.{{{','.join(map(str, SEED_CONVS))}}}.weight, classifier.1.weight "
                                  f"and classifier.4.weight")
    for key in SEED_KEYS:
        if key not in tensors:
            raise CheckpointError(f"{path}: missing key {key}")


def vgg15ab_notation(widths=SEED_WIDTHS, units=4096):
    """The vgg15ab notation with the given conv widths and FC1 units (the seed's by default)."""
    tokens = []
    for j, width in enumerate(widths):
        tokens.append(f"{width}C3s")
        tokens.append("A2" if j in POOLED else "D0.1")
    return "-".join(tokens) + f"-D0.1-{units}-D0.1"


def is_binarized(weight):
    """Every output filter (row) takes only the values +-alpha_o (and 0, torch.sign(0))."""
    flat = np.abs(weight.reshape(weight.shape[0], -1)).astype(np.float64)
    for row in flat:
        values = row[row > 0]
        if values.size and not np.allclose(values, values[0], rtol=1e-6, atol=0):
            return False
    return True


def import_vgg15ab(path, dataset="cifar100", binary=True, binarize=False):
    """(Keras vgg15ab with the checkpoint's weights, facts). Widths come from the checkpoint, so a
    reduced-width file with the seed's keys loads too.

    The seed's conversion uses the weights as they are. A binary checkpoint whose hidden weights
    are already +-alpha_o per filter is loaded as they are (a float model holding binary values);
    one that holds latent real weights is converted as float, as the seed does, unless `binarize`,
    which loads them into XNOR-Net layers (mean-centre, clamp, sign * alpha_o)."""
    return model_from_tensors(normalize_keys(read_torch_checkpoint(path)), dataset, binary, binarize, path)


def model_from_tensors(tensors, dataset="cifar100", binary=True, binarize=False, path="checkpoint"):
    """import_vgg15ab on tensors already read ({key without module.: numpy array})."""
    from models.rate_builder import build_rate_model

    check_keys(tensors, path)
    hidden = SEED_KEYS[1:-1]
    binarized = {key: is_binarized(tensors[key]) for key in hidden}
    widths = [int(tensors[key].shape[0]) for key in SEED_KEYS[:13]]
    units = int(tensors["classifier.1.weight"].shape[0])
    xnor = bool(binary and binarize and not all(binarized.values()))
    name = {"cifar100": "vgg15ab", "imagenet": "vgg15ab_imagenet"}[dataset] + ("" if binary else "_fp")
    model = build_rate_model(vgg15ab_notation(widths, units), dataset, binary=xnor, name=name)
    assign_seed_weights(model, tensors, path)
    facts = {"binarized_layers": sum(binarized.values()), "hidden_layers": len(hidden),
             "xnor_applied": xnor, "widths": widths, "fc_units": units}
    return model, facts


def assign_seed_weights(model, tensors, path="checkpoint"):
    """Copy the 15 seed tensors into the model's synapses; CheckpointError names the first misfit."""
    synapses = [model.get_layer(f"conv{j}") for j in range(13)] + [model.get_layer("fc13"),
                                                                   model.get_layer("classifier")]
    for key, layer in zip(SEED_KEYS, synapses):
        layer.kernel.assign(_to_keras(tensors[key], layer, key, path))


def _to_keras(weight, layer, key, path):
    shape = tuple(layer.kernel.shape)
    if weight.ndim == 4:
        kernel = weight.transpose(2, 3, 1, 0)  # OIHW -> HWIO
    elif weight.ndim == 2:
        kernel = weight.T  # (out, in) -> (in, out)
        spatial = _flatten_source(layer)
        if spatial is not None and kernel.shape == shape:
            h, w, c = spatial
            # torch flattens C,H,W (row c*h*w + y*w + x); Keras flattens H,W,C (row (y*w + x)*c + c)
            kernel = kernel.reshape(c, h, w, -1).transpose(1, 2, 0, 3).reshape(h * w * c, -1)
    else:
        raise CheckpointError(f"{path}: {key} has shape {tuple(weight.shape)}, not a conv or dense weight")
    if kernel.shape != shape:
        raise CheckpointError(f"{path}: {key} has shape {tuple(weight.shape)}; the architecture needs "
                              f"{_torch_shape(shape)} there")
    return kernel.astype(np.float32)


def _torch_shape(shape):
    return (shape[3], shape[2], shape[0], shape[1]) if len(shape) == 4 else (shape[1], shape[0])


def _flatten_source(layer):
    """(H, W, C) of the feature map flattened right before a dense layer, or None."""
    import keras

    node = layer._inbound_nodes[0]
    source = node.parent_nodes[0].operation if node.parent_nodes else None
    while isinstance(source, keras.layers.Dropout):
        node = source._inbound_nodes[0]
        source = node.parent_nodes[0].operation if node.parent_nodes else None
    if isinstance(source, keras.layers.Flatten):
        shape = source.input.shape[1:]
        if len(shape) == 3 and (shape[0] > 1 or shape[1] > 1):
            return tuple(int(s) for s in shape)
    return None
