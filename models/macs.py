"""ANN multiply-accumulate counts per layer (docs/counting.md §5).

MACs of a conv layer = H_out * W_out * C_out * C_in * K_h * K_w; of a dense layer = in * out.
The papers' "hidden" total excludes the encoding layer (the first conv) and the classifier, which
run off chip; one MAC counts as two additions in their SOP comparisons.
"""
from dataclasses import dataclass

import keras

from layers import QuantConv2D, QuantDense

_CONV_TYPES = (keras.layers.Conv2D, QuantConv2D)
_DENSE_TYPES = (keras.layers.Dense, QuantDense)


@dataclass(frozen=True)
class LayerMacs:
    name: str
    role: str  # "encoding", "hidden" or "classifier"
    macs: int


def layer_macs(model):
    """MACs of every conv and dense layer of `model`, in order, with its role."""
    synapses = [layer for layer in model.layers if isinstance(layer, _CONV_TYPES + _DENSE_TYPES)]
    rows = []
    for index, layer in enumerate(synapses):
        role = "encoding" if index == 0 else "classifier" if index == len(synapses) - 1 else "hidden"
        rows.append(LayerMacs(layer.name, role, _macs(layer)))
    return rows


def hidden_macs(model):
    """The papers' total: every conv/dense layer except the encoding layer and the classifier."""
    return sum(row.macs for row in layer_macs(model) if row.role == "hidden")


def _macs(layer):
    c_in = int(layer.input.shape[-1])
    out_shape = layer.output.shape
    if isinstance(layer, _CONV_TYPES):
        kh, kw = layer.kernel_size
        return int(out_shape[1]) * int(out_shape[2]) * int(out_shape[3]) * c_in * kh * kw
    return c_in * int(out_shape[-1])
