"""Lower bounds on the cores a scatter-and-gather network needs, whatever the layout.

No-copy (neuron) bound of one layer: its N = H' W' C' L hardware neurons, each with fan-in
F = kh kw C L_in axons (the largest receptive field: padding only removes axons), need the LCN
lambda = lcn_for(F); a core then holds neurons_per_core(lambda, w) of them, w being the narrowest
weight width that holds the layer's (sign-folded) weights. So cores >= ceil(N / neurons_per_core).
Copies for fan-out (a neuron reaching cores that one multicast cube cannot cover) only add to it.
For the seeds' LeNet at k=1, B=2 on PAICORE (ternary weights: 2-bit) it is 288 + 36 + 64 + 8 + 8
= 404 cores: act1 has N = 24*24*16*4 = 36,864 neurons of fan-in 5*5*16*4 = 1,600 > 1,152 axons, so
LCN 2X and 512 >> (1 + 1) = 128 neurons per core, 288 cores; and so on.
"""
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class LayerBound:
    name: str
    neurons: int  # N = H' W' C' L
    fan_in: int  # F = kh kw C L_in
    lcn: int
    width: int
    neurons_per_core: int
    cores: int


def layer_bound(layer, core, extra_axons=0, width=None):
    """LayerBound of one hardware.network.SGLayer on `core` (a hardware.spec.CoreSpec). `extra_axons`
    (a temporal layer's controller axons, hardware.temporal_report) join every neuron's fan-in;
    `width` overrides the narrowest weight width (a plan's own)."""
    kh, kw, c_in, _ = layer.kernel.shape
    fan_in = int(kh * kw * c_in * layer.levels_in) + int(extra_axons)
    lcn = core.lcn_for(fan_in)
    if width is None:
        width = core.narrowest_width(min(int(np.min(layer.kernel)), 0), max(int(np.max(layer.kernel)), 0))
    per_core = core.neurons_per_core(lcn, width)
    cores = -(-layer.n_out // per_core)
    return LayerBound(layer.name, layer.n_out, fan_in, lcn, width, per_core, cores)


def no_copy_bound(network, spec):
    """[LayerBound] of every on-chip layer of an SGNetwork, and their total cores."""
    bounds = [layer_bound(layer, spec.core) for layer in network.layers]
    return bounds, sum(b.cores for b in bounds)
