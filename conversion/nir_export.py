"""Export spiking models to NIR, the Neuromorphic Intermediate Representation (nir 1.0.8).

    export_nir(snn, "snn.nir")      # writes the file; returns NirExport(path, bytes, method, fidelity)
    graph = nir_graph(snn)           # the nir.NIRGraph only (raises NirExportError, writes nothing)
    write_nir(graph, "snn.nir")      # ... and later the file (evaluate_snn.py checks first, writes last)

Each conversion method declares in NIR_METHODS whether and how it exports:
  "exact"        the NIR graph computes the same thing as the Keras SNN (scatter-and-gather);
  "approximate"  the graph's nodes cannot state everything, so the rest goes into metadata that a
                 faithful importer must follow (the rate-coded IF method, once it exists);
  "refused"      no NIR nodes can carry it (all-integer); NirExportError says why, and nothing is
                 written.

Scatter-and-gather (exact, docs/nir.md §2). The graph is one chain, evaluated once per image (SG is one
time step; every node is stateless). Layout is PyTorch's: tensors (C, H, W), Conv2d weights
(C_out, C_in, kH, kW), cross-correlation, zero padding of `padding` pixels on both sides of each
spatial axis. Per spiking layer `actN` with C channels and L sub-neurons per neuron:
    synapse   Conv2d / Linear, the layer's weights (ternary integers for hidden layers, stored float32)
    scatter   1x1 Conv2d / Linear (L*C, C): row l*C + c copies channel c times its BN sign (+1/-1)
    spike     Threshold (L*C, ...): z = [sign*V > t]; hidden: t = sign*theta - 0.5 (V is an integer,
              so V > theta - 0.5 <=> V >= theta); encoding: t = the float32 just below sign*theta
    gather    1x1 Conv2d / Linear (C, L*C) of ones: the spike count 0..L of every neuron; this node
              is named `actN` after the Keras layer whose counts it reproduces
Exactness: hidden potentials are integers, so every consumer computes them exactly; the encoding
conv is float, and a potential within float32 rounding of a threshold (Keras sums in its own order)
can fire on one side in Keras and the other in an importer: measured 3 images of the 10000 MNIST
test images, none with a different prediction (tests/conversion/test_nir_export.py, slow test).
The chain continues with Flatten(start_dim=0) where the Keras model flattens (the next weight's
rows are permuted from Keras' (H, W, C) order to NIR's (C, H, W)), and ends with the float
classifier as a Linear before Output.
Preprocessing (rescaling, crop, per-image standardization) has no NIR nodes: the Input node takes
the preprocessed image, and the graph's metadata says what the importer must do to raw images.

Graph metadata (every export): producer, nir_version, method, fidelity, k, B, levels (L),
time_steps, input_shape (C, H, W), input_preprocessing (text) and preprocessing (machine-readable
steps), readout, execution, node_layout, importer_must (what a faithful importer must do).

Approximate exports (the scheme for the rate-coded IF method; nothing produces one yet). The
chain is Input -> Conv2d/Affine -> IF(r=1, v_threshold, v_reset=0) -> ... -> Affine -> Output,
and the graph metadata adds, as flat keys: fidelity "approximate"; reset "subtract" (NIR 1.0.8's
IF resets *to* v_reset; an importer must instead subtract v_threshold after each spike); dt 1 and
time_steps T (NIR nodes have no time step or duration); input_protocol "the preprocessed image as
a constant current at every step"; spike_timing "same step" (a spike reaches the next layer in the
step it is emitted; Spyx delays it by one); spike_rule ">=" or ">" (NIR is strict >); readout "sum
over the T steps of the Output, argmax"; and importer_must, one sentence listing all of these.
Each IF node carries {"reset": "subtract"} in its own metadata too.
"""
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import keras
import nir
import numpy as np

from cli_utils import temporary_path
from layers.base import role_of
from layers.preprocessing import CentralCrop, PerImageStandardization

FORMAT = "qsnn-nir-1"
NIR_FILE = "snn.nir"


class NirExportError(ValueError):
    """The SNN cannot be written to NIR; the message says why (one line)."""


@dataclass(frozen=True)
class NirMethod:
    name: str
    fidelity: str  # "exact", "approximate" or "refused"
    build: callable = None  # (list of SnnLayer) -> nir.NIRGraph
    reason: str = ""  # why a refused method cannot be exported


@dataclass(frozen=True)
class NirExport:
    path: Path
    bytes: int
    method: str
    fidelity: str


NIR_METHODS = {}


def nir_method(name, fidelity, reason=""):
    """Declare how method `name` exports; decorates its graph builder (None for refused ones)."""
    if fidelity not in ("exact", "approximate", "refused"):
        raise ValueError(f"unknown NIR fidelity {fidelity!r}")

    def register(build):
        NIR_METHODS[name] = NirMethod(name, fidelity, build, reason)
        return build

    return register


def nir_support(method):
    """The NirMethod of `method`; NirExportError (one line) if NIR cannot carry it."""
    entry = NIR_METHODS.get(method)
    if entry is None:
        raise NirExportError(f"method {method!r} does not declare a NIR export; known: {', '.join(NIR_METHODS)}")
    if entry.fidelity == "refused":
        raise NirExportError(f"method {method!r} cannot be exported to NIR: {entry.reason}")
    return entry


def nir_graph(snn, method=None):
    """The NIRGraph of `snn` (method inferred from its layers unless given). Writes nothing."""
    method = method or method_of(snn)
    entry = nir_support(method)
    return entry.build(list(walk(snn)))


def export_nir(snn, path, method=None):
    """Write `snn` to the NIR file `path` (HDF5). The graph is built and checked before the file is
    opened, and written through a temporary file, so a refused or failed export leaves nothing."""
    return write_nir(nir_graph(snn, method), path)


def write_nir(graph, path):
    """Write a graph from nir_graph() to `path` atomically; returns NirExport with the file size."""
    path = Path(path)
    tmp = temporary_path(path)
    nir.write(tmp, graph)
    os.replace(tmp, path)
    return NirExport(path, path.stat().st_size, graph.metadata["method"], graph.metadata["fidelity"])


# ------------------------------------------------------------------------- reading the SNN
# The only code that knows the project's spiking layer classes: walk() turns the SNN into plain
# SnnLayer records, and method_of() names the method. Adapt these two when the layers change.


@dataclass
class SnnLayer:
    role: str  # "preprocess", "encoding", "synapse", "neurons", "flatten" or "readout"
    name: str
    in_shape: tuple = ()  # without batch and time axes, Keras layout (H, W, C) or (F,)
    out_shape: tuple = ()
    kernel: np.ndarray = None  # Keras layout (kh, kw, in, out) or (in, out)
    strides: tuple = (1, 1)
    padding: str = "valid"
    levels: int = 0  # L of a spike-emitting layer
    scale: float = 1.0  # encoding: V = conv(scale * x, kernel)
    time_steps: int = 1
    thresholds: np.ndarray = None  # (C, L)
    signs: np.ndarray = None  # (C,)
    config: dict = field(default_factory=dict)  # preprocessing: the layer's own parameters


def method_of(snn):
    """"sg" or "allint", from what the SNN's neurons declare (layers.base): signed neurons with
    state are the all-integer SNN's, stateless threshold ladders scatter-and-gather's."""
    neurons = [layer for layer in snn.layers if role_of(layer) == "neuron"]
    if any(layer.signed for layer in neurons):
        return "allint"
    if neurons and all(layer.stateless and hasattr(layer, "thresholds") for layer in neurons):
        return "sg"
    raise NirExportError(f"{snn.name!r} is not a spiking model of a known conversion method")


def walk(snn):
    """Yield one SnnLayer per layer of a scatter-and-gather SNN, in order; refuse others."""
    for layer in snn.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        yield _record(layer)


def _record(layer):
    in_shape = tuple(int(d) for d in layer.input.shape[1:])
    out_shape = tuple(int(d) for d in layer.output.shape[1:])
    weight = lambda w: np.asarray(keras.ops.convert_to_numpy(w))  # noqa: E731
    if isinstance(layer, (keras.layers.Rescaling, CentralCrop, PerImageStandardization)):
        config = {key: value for key, value in layer.get_config().items() if key in ("scale", "offset", "size")}
        return SnnLayer("preprocess", layer.name, in_shape, out_shape, config={"type": type(layer).__name__, **config})
    role = role_of(layer)
    if role == "encoder" and hasattr(layer, "thresholds"):  # a threshold ladder on the analog image
        return SnnLayer("encoding", layer.name, in_shape, out_shape[1:], weight(layer.kernel), layer.strides,
                        layer.padding, layer.levels, layer.scale, layer.time_steps,
                        weight(layer.thresholds), weight(layer.signs))
    if role == "synapse" and layer.operation == "conv":
        return SnnLayer("synapse", layer.name, in_shape[1:], out_shape[1:], weight(layer.kernel), layer.strides,
                        layer.padding)
    if role == "synapse" and layer.operation == "dense":
        return SnnLayer("synapse", layer.name, in_shape[1:], out_shape[1:], weight(layer.kernel))
    if role == "neuron" and layer.stateless and hasattr(layer, "thresholds"):
        return SnnLayer("neurons", layer.name, in_shape[1:], out_shape[1:], levels=layer.levels,
                        thresholds=weight(layer.thresholds), signs=weight(layer.signs))
    if isinstance(layer, keras.layers.Reshape):  # the converter's Flatten keeps the time axis
        return SnnLayer("flatten", layer.name, in_shape[1:], out_shape[1:])
    if role == "readout" and not layer.logits_per_step:
        return SnnLayer("readout", layer.name, in_shape[1:], out_shape, weight(layer.kernel))
    raise NirExportError(f"layer {layer.name} ({type(layer).__name__}) has no NIR mapping "
                         "(noise layers are not exported: export the noise-free SNN)")


# ---------------------------------------------------------------- scatter-and-gather: exact

NIR_METHODS["allint"] = NirMethod(
    "allint", "refused",
    reason="its spikes are signed (+1/-1) while NIR spikes are 0/1, its thresholds move after every "
           "spike, its membranes are clamped (max(V, b)), its input is burst-coded over time and its "
           "arithmetic is fixed-point integer; NIR 1.0.8 has no nodes for any of these",
)


@nir_method("sg", "exact")
def sg_graph(records):
    """One chain of nodes for a scatter-and-gather SNN (see the module docstring)."""
    chain = _SgChain()
    for record in records:
        chain.add(record)
    return chain.graph()


class _SgChain:
    def __init__(self):
        self.nodes = {}  # insertion order is the chain order
        self.preprocess = []
        self.input_shape = None  # (H, W, C) of the Input node
        self.encoding = None
        self.levels_in = None  # L of the counts the next synapse receives
        self.pending_flatten = None  # (H, W, C) of the last Flatten, until a Linear consumes it
        self.synapse = None  # last synapse record, for the potential bound of its neurons
        self.readout = None

    def add(self, record):
        getattr(self, "_" + record.role)(record)

    # --- one method per record role
    def _preprocess(self, record):
        if self.encoding is not None:
            raise NirExportError(f"{record.name}: preprocessing after the encoding layer has no NIR mapping")
        self.preprocess.append(record.config)

    def _encoding(self, record):
        if record.time_steps != 1:
            raise NirExportError(f"{record.name}: scatter-and-gather exports one time step; this SNN repeats "
                                 f"its counts over T={record.time_steps} (convert with time_steps=1)")
        self.encoding = record
        self.input_shape = record.in_shape
        kernel = record.kernel * np.float32(record.scale)  # scale = 2^k: exact in float32
        self._conv(f"{record.name}_synapse", record, kernel.astype(np.float32))
        # float32 V fires iff sign*V >= sign*theta  <=>  sign*V > (the float32 just below it)
        signed = (record.thresholds * record.signs[:, None]).astype(np.float32)
        self._ladder(record, np.nextafter(signed, np.float32(-np.inf)))

    def _synapse(self, record):
        if record.kernel.ndim == 4:
            self._conv(record.name, record, record.kernel.astype(np.float32))
        else:
            self._linear(record.name, record.kernel.astype(np.float32))
        self.synapse = record

    def _neurons(self, record):
        # Clip thresholds to the reachable potentials, so that theta - 0.5 is exact in float32 and
        # the constant channels' int32 extremes (never/always fire) stay outside every potential.
        bound = _potential_bound(self.synapse.kernel, self.levels_in)
        if bound + 1.5 >= 2.0**23:
            raise NirExportError(f"{record.name}: potentials up to {bound:.0f} leave no float32 room for "
                                 "thresholds at theta - 0.5 (needs < 2^23)")
        signed = np.clip(record.thresholds.astype(np.float64) * record.signs[:, None], -bound - 1, bound + 1)
        self._ladder(record, (signed - 0.5).astype(np.float32))

    def _flatten(self, record):
        if len(record.in_shape) == 3:
            h, w, c = record.in_shape
            self.nodes[record.name] = nir.Flatten(input_type=np.array([c, h, w]), start_dim=0)
            self.pending_flatten = record.in_shape

    def _readout(self, record):
        self._linear(record.name, record.kernel.astype(np.float32))
        self.readout = record

    # --- node builders
    def _conv(self, name, record, kernel):
        h, w = record.in_shape[:2]
        padding = _symmetric_padding(name, (h, w), kernel.shape[:2], record.strides, record.padding)
        self.nodes[name] = nir.Conv2d(
            input_shape=(h, w), weight=np.ascontiguousarray(kernel.transpose(3, 2, 0, 1)),
            stride=tuple(int(s) for s in record.strides), padding=padding, dilation=(1, 1), groups=1,
            bias=np.zeros(kernel.shape[3], np.float32))

    def _linear(self, name, kernel):
        if self.pending_flatten is not None:  # rows in Keras (h, w, c) order -> NIR (c, h, w)
            h, w, c = self.pending_flatten
            kernel = kernel.reshape(h, w, c, -1).transpose(2, 0, 1, 3).reshape(h * w * c, -1)
            self.pending_flatten = None
        self.nodes[name] = nir.Linear(weight=np.ascontiguousarray(kernel.T))

    def _ladder(self, record, signed_thresholds):
        """scatter -> Threshold -> gather for a layer with thresholds (C, L) already signed and shifted."""
        channels, levels = record.thresholds.shape
        spatial = record.out_shape[:-1]  # (H, W) for conv layers, () for dense ones
        scatter = np.zeros((levels * channels, channels), np.float32)
        rows = np.arange(levels * channels)
        scatter[rows, rows % channels] = np.tile(record.signs.astype(np.float32), levels)
        gather = np.zeros((channels, levels * channels), np.float32)
        gather[rows % channels, rows] = 1.0  # neuron c sums its L sub-neurons l*C + c
        # sub-neuron l*C + c gets threshold [c, l]
        per_unit = signed_thresholds.T.reshape(-1).astype(np.float32)
        threshold = np.broadcast_to(per_unit.reshape(-1, *[1] * len(spatial)), (levels * channels, *spatial))
        meta = {"keras_layer": record.name, "levels": int(levels), "channels": int(channels)}
        if spatial:
            self.nodes[f"{record.name}_scatter"] = _pointwise(scatter, spatial, {**meta, "role": "scatter"})
        else:
            self.nodes[f"{record.name}_scatter"] = nir.Linear(weight=scatter, metadata={**meta, "role": "scatter"})
        self.nodes[f"{record.name}_threshold"] = nir.Threshold(
            threshold=np.ascontiguousarray(threshold), metadata={**meta, "role": "spike"})
        if spatial:
            self.nodes[record.name] = _pointwise(gather, spatial, {**meta, "role": "gather: spike counts 0..L"})
        else:
            self.nodes[record.name] = nir.Linear(weight=gather, metadata={**meta, "role": "gather: spike counts 0..L"})
        self.levels_in = levels

    # --- the graph
    def graph(self):
        if self.encoding is None or self.readout is None:
            raise NirExportError("a scatter-and-gather SNN needs an encoding layer and a readout")
        h, w, c = self.input_shape
        names = ["input", *self.nodes, "output"]
        nodes = {"input": nir.Input(input_type=np.array([c, h, w])), **self.nodes,
                 "output": nir.Output(output_type=np.array([self.readout.out_shape[-1]]))}
        edges = list(zip(names[:-1], names[1:]))
        return nir.NIRGraph(nodes=nodes, edges=edges, metadata=self.metadata(), type_check=True)

    def metadata(self):
        enc = self.encoding
        k = int(round(np.log2(enc.scale)))
        B = enc.levels / enc.scale
        h, w, c = self.input_shape
        return {
            "producer": "qsnn conversion.export_nir",
            "format": FORMAT,
            "nir_version": nir.version,
            "method": "sg",
            "method_name": "scatter-and-gather (one time step, stateless multi-threshold neurons)",
            "fidelity": "exact",
            "k": k,
            "B": int(B) if float(B).is_integer() else float(B),
            "levels": int(enc.levels),
            "time_steps": 1,
            "input_shape": np.array([c, h, w]),
            "input_preprocessing": _describe_preprocessing(self.preprocess),
            "preprocessing": json.dumps(self.preprocess),
            "readout": "class = argmax of the Output node (2^k times the quantized ANN's logits); "
                       "the graph is evaluated once per image",
            "execution": "one evaluation per image, no time dynamics: Conv2d, Linear and Flatten are linear maps, "
                         "Threshold is z = 1 if v > threshold else 0 (strict); edges form one chain",
            "node_layout": "PyTorch layout: tensors (C, H, W), Conv2d weight (C_out, C_in, kH, kW), "
                           "cross-correlation, symmetric zero padding; node <layer> outputs that layer's "
                           "spike counts 0..L (the gather of <layer>_scatter -> <layer>_threshold)",
            "exactness": "hidden layers have integer potentials (below 2^23), exact in any float32 or float64 "
                         "consumer; the float encoding conv and the readout are exact up to float rounding, so an "
                         "encoding potential within rounding of its threshold may fire differently",
            "importer_must": "feed the preprocessed image (see input_preprocessing) in (C, H, W) order, run the "
                             "chain once with a strict v > threshold and stateless Threshold nodes, and take "
                             "argmax of the output; no time steps, reset or leak are involved",
        }


def _pointwise(weight, spatial, metadata):
    """A 1x1 Conv2d applying the channel matrix `weight` (out, in) at every position."""
    return nir.Conv2d(input_shape=tuple(int(d) for d in spatial), weight=weight[:, :, None, None],
                      stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1,
                      bias=np.zeros(weight.shape[0], np.float32), metadata=metadata)


def _symmetric_padding(name, in_hw, kernel_hw, strides, padding):
    """Keras padding as NIR's symmetric (pad_h, pad_w); NirExportError if Keras pads asymmetrically."""
    if padding == "valid":
        return (0, 0)
    pads = []
    for size, k, s in zip(in_hw, kernel_hw, strides):
        out = -(-size // s)
        total = max((out - 1) * s + k - size, 0)
        if total % 2:
            raise NirExportError(
                f"{name}: Keras SAME padding of a {k}-wide kernel with stride {s} on {size} pixels pads "
                f"{total // 2} before and {total - total // 2} after; NIR Conv2d padding is symmetric")
        pads.append(total // 2)
    return tuple(pads)


def _potential_bound(kernel, levels_in):
    """max |V| of a hidden synapse: L_in times the largest sum of |w| over one neuron's fan-in."""
    fan_in = np.abs(kernel.astype(np.float64)).reshape(-1, kernel.shape[-1]).sum(axis=0)
    return float(levels_in * fan_in.max(initial=0))


def _describe_preprocessing(steps):
    """What an importer must apply to raw images (N, H, W, C as the dataset stores them)."""
    text = []
    for step in steps:
        if step["type"] == "Rescaling":
            offset = f" + {step['offset']:g}" if step.get("offset") else ""
            text.append(f"x = raw * {step['scale']!r}{offset} (MNIST: bytes / 256)")
        elif step["type"] == "CentralCrop":
            text.append(f"central {step['size']}x{step['size']} crop")
        elif step["type"] == "PerImageStandardization":
            text.append("per image: (x - mean) / max(std, 1/sqrt(H*W*C)) over all pixels and channels")
    text.append("then transpose (H, W, C) -> (C, H, W)")
    return "; ".join(text)
