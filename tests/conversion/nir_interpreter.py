"""A small NIR interpreter, written from the NIR 1.0.8 specification only.

It reads a file with `nir.read` and executes the graph with numpy, for stateless graphs evaluated
once (one time step). It imports nothing of the project on purpose: it checks our exporter
against the specification, not against our own understanding of our layers.

Semantics implemented (nir/ir/*.py docstrings; shapes exclude the batch axis, which we add first):
  Input / Output   graph ports; the input array must have the Input node's shape
  Linear(W)        y = W x              (W: (out, in))
  Affine(W, b)     y = W x + b
  Scale(s)         y = x * s
  Conv2d           PyTorch semantics: x (C, H, W), W (C_out, C_in / groups, kH, kW), cross-correlation,
                   stride, dilation, symmetric zero padding `padding` per axis ('valid' = 0; 'same' =
                   PyTorch's, stride 1, extra pixel after), plus bias; output size
                   floor((N + 2p - d(k - 1) - 1) / s + 1)
  Flatten          flattens dims start_dim..end_dim of the unbatched tensor
  Threshold(t)     z = 1 if v > t else 0 (strict)
  edges            identity; several edges into one node are summed
Any other node type raises: an interpreter that skipped nodes would hide an exporter's bug.
"""
import math
from collections import defaultdict, deque

import nir
import numpy as np


class UnsupportedNode(NotImplementedError):
    pass


def load(path):
    return nir.read(str(path))


def run(graph, inputs, dtype=np.float64, trace=False):
    """Evaluate `graph` once on a batch. inputs: {input node name: array (N, *shape)} or one array
    for a graph with one Input. Returns {output name: array}, and with trace=True also the output
    of every node, {node name: array}."""
    if not isinstance(inputs, dict):
        (name,) = graph.inputs
        inputs = {name: inputs}
    values = {}
    feeds = defaultdict(list)
    for name in _topological_order(graph):
        node = graph.nodes[name]
        if isinstance(node, nir.Input):
            x = np.asarray(inputs[name], dtype)
            expected = tuple(int(d) for d in node.input_type["input"])
            if x.shape[1:] != expected:
                raise ValueError(f"input {name}: shape {x.shape[1:]} is not the Input node's {expected}")
        else:
            x = sum(feeds[name][1:], feeds[name][0])
        values[name] = _apply(node, x, dtype)
        for src, dst in graph.edges:
            if src == name:
                feeds[dst].append(values[name])
    outputs = {name: values[name] for name in graph.outputs}
    return (outputs, values) if trace else outputs


def _topological_order(graph):
    indegree = {name: 0 for name in graph.nodes}
    for _, dst in graph.edges:
        indegree[dst] += 1
    ready = deque(name for name, d in indegree.items() if d == 0)
    order = []
    while ready:
        name = ready.popleft()
        order.append(name)
        for src, dst in graph.edges:
            if src == name:
                indegree[dst] -= 1
                if indegree[dst] == 0:
                    ready.append(dst)
    if len(order) != len(graph.nodes):
        raise ValueError("the graph has a cycle: a stateless single evaluation cannot run it")
    return order


def _apply(node, x, dtype):
    if isinstance(node, (nir.Input, nir.Output)):
        return x
    if isinstance(node, nir.Linear):
        return x @ np.asarray(node.weight, dtype).T
    if isinstance(node, nir.Affine):
        return x @ np.asarray(node.weight, dtype).T + np.asarray(node.bias, dtype)
    if isinstance(node, nir.Scale):
        return x * np.asarray(node.scale, dtype)
    if isinstance(node, nir.Conv2d):
        return conv2d(x, node, dtype)
    if isinstance(node, nir.Flatten):
        return flatten(x, int(node.start_dim), int(node.end_dim))
    if isinstance(node, nir.Threshold):
        return (x > np.asarray(node.threshold, dtype)).astype(dtype)
    raise UnsupportedNode(f"node type {type(node).__name__} is not implemented by this interpreter")


def flatten(x, start_dim, end_dim):
    rank = x.ndim - 1  # NIR dims exclude the batch axis
    start, end = start_dim % rank + 1, end_dim % rank + 1
    return x.reshape(*x.shape[:start], math.prod(x.shape[start:end + 1]), *x.shape[end + 1:])


def _pair(value):
    value = np.asarray(value).reshape(-1)
    return (int(value[0]), int(value[-1]))


def _padding(padding, kernel, dilation):
    if isinstance(padding, bytes):
        padding = padding.decode()
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0), (0, 0))
        # PyTorch 'same': total d (k - 1), the odd pixel after
        totals = [d * (k - 1) for k, d in zip(kernel, dilation)]
        return tuple((t // 2, t - t // 2) for t in totals)
    ph, pw = _pair(padding)
    return ((ph, ph), (pw, pw))


def conv2d(x, node, dtype):
    weight = np.asarray(node.weight, dtype)
    c_out, c_in_group, kh, kw = weight.shape
    (sh, sw), (dh, dw) = _pair(node.stride), _pair(node.dilation)
    pad = _padding(node.padding, (kh, kw), (dh, dw))
    if isinstance(node.padding, (str, bytes)) and str(node.padding) != "valid" and (sh, sw) != (1, 1):
        raise ValueError("padding 'same' is defined for stride 1 only")
    groups = int(node.groups)
    x = np.pad(x, ((0, 0), (0, 0), *pad))
    n, c_in, h, w = x.shape
    if c_in != c_in_group * groups:
        raise ValueError(f"Conv2d: {c_in} input channels do not match weight {weight.shape} with groups {groups}")
    oh = (h - dh * (kh - 1) - 1) // sh + 1
    ow = (w - dw * (kw - 1) - 1) // sw + 1
    out = np.zeros((n, c_out, oh, ow), dtype)
    per_group = c_out // groups
    for g in range(groups):
        xs = x[:, g * c_in_group:(g + 1) * c_in_group]
        ws = weight[g * per_group:(g + 1) * per_group]
        for i in range(kh):  # one kernel offset at a time: a strided window times a channel matrix
            for j in range(kw):
                window = xs[:, :, i * dh:i * dh + sh * (oh - 1) + 1:sh, j * dw:j * dw + sw * (ow - 1) + 1:sw]
                out[:, g * per_group:(g + 1) * per_group] += np.einsum("nchw,oc->nohw", window, ws[:, :, i, j])
    return out + np.asarray(node.bias, dtype).reshape(1, -1, 1, 1)
