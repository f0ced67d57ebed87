"""What every spiking layer is: one base class whose class attributes say what a layer does.

Consumers of a spiking model (counting, noise, export, verification, the hardware reader) read
these attributes instead of testing concrete classes, so a new method's layers plug in by
declaring them:

    role      "encoder"  analog images -> spikes (the first layer; absorbs conv0 + bn0)
              "synapse"  spikes -> membrane currents / potentials (weights only, no state)
              "neuron"   potentials -> spikes
              "readout"  spikes -> logits (off-chip float classifier)
              "noise"    spikes -> fewer or perturbed spikes (evaluation only)
    signed    its spikes can be -1 as well as +1 (net counts can be negative)
    levels    L, the threshold levels of each neuron (an instance value where it varies; None
              where the layer has no ladder)
    operation "conv" or "dense", for layers that hold a kernel (encoder, synapse, readout)
    stateless a neuron whose output at step t depends only on its input at step t
    logits_per_step  a readout whose logits are (batch, T, classes) instead of (batch, classes)
    burst_code  an emitter whose time axis holds unit spikes, a neuron's count being their sum over
              the axis (instead of the count at every step)

Constants are non-trainable weights with autocast off: they are exact integers or thresholds, and
a mixed-precision policy must never round them.
"""
import keras

FLOAT32_EXACT = 2**24  # integers below this are exact in float32
ROLES = ("encoder", "synapse", "neuron", "readout", "noise")
EMITTERS = ("encoder", "neuron")  # the roles whose outputs are the spikes that are compared and counted


class SpikingLayer(keras.layers.Layer):
    role = None
    signed = False
    levels = None
    operation = None
    stateless = True
    logits_per_step = False
    burst_code = False

    def __init__(self, **kwargs):
        kwargs.setdefault("trainable", False)
        super().__init__(**kwargs)

    def _constant(self, name, shape, dtype):
        return self.add_weight(name=name, shape=shape, dtype=dtype, initializer="zeros", trainable=False,
                               autocast=False)


def role_of(layer):
    """The layer's role, or None for a layer that is not a spiking layer (input, reshape, ...)."""
    return getattr(layer, "role", None) if isinstance(layer, SpikingLayer) else None


def emitters(snn):
    """The layers whose spikes are the SNN's per-layer result (encoder and neurons), in order."""
    return [layer for layer in snn.layers if role_of(layer) in EMITTERS]


def readout_of(snn):
    """The model's readout layer (its last layer by construction), or None."""
    last = snn.layers[-1]
    return last if role_of(last) == "readout" else None
