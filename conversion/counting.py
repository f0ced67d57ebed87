"""Spike, synaptic-operation and MAC counting of a spiking model (docs/counting.md).

Units are defined in UNITS and travel with every report (summary.json). One row per spiking stage
(synapse + neurons): the encoding layer, each hidden layer, and the readout. Totals follow the
seeds: spikes of all spiking layers (encoding included); SOPs and MACs of the hidden layers only
(the encoding layer's input is analog, the classifier is a non-spiking readout). The excluded
numbers are still in the rows, flagged `counted = False`.

SOPs are linear in the input counts, so each synapse's fan-out is precomputed once as a map over
its input positions; a batch then costs one dot product per layer.
"""
from dataclasses import asdict, dataclass, field

import keras
import numpy as np

from layers.base import role_of
from layers.quantized import conv_output_size

UNITS = {
    "spike": "one firing of one sub-neuron in one time step; a neuron with count n (0..L) emits n spikes",
    "sub_neuron": "one of the L = 2^k * B threshold units that replace an ANN neuron",
    "sop": "synaptic operation: one spike arriving at one synapse of one sub-neuron; an input spike "
           "reaches the L sub-neurons of every connected neuron, zero weights included",
    "sop_nonzero": "SOPs through synapses whose weight is non-zero",
    "sop_seed": "the seeds' formula 2 * L * C_out * S_in (S_in = sum of the im2col of the input counts) "
                "= 2 * sop, for comparison with the papers",
    "mac": "ANN multiply-accumulates of the same layer per image: H_out*W_out*C_out*C_in*K_h*K_w (conv), "
           "in*out (dense)",
    "firing_rate": "spikes / (sub-neurons * time steps * images)",
    "excluded": "totals leave out the encoding layer's input SOPs/MACs (analog pixels, no spikes) and the "
                "classifier (non-spiking readout), as the seeds do; encoding spikes are counted",
}


@dataclass
class LayerCount:
    name: str  # the spiking layer that emits (or, for the readout, receives) the spikes
    synapse: str  # the synapse layer feeding it
    role: str  # "encoding", "hidden" or "readout"
    ann_neurons: int  # per image
    levels: int  # L: sub-neurons per ANN neuron (0 for the readout)
    sub_neurons: int  # ann_neurons * L
    macs: int  # per image
    counted: bool  # included in the totals
    spikes: int = 0  # emitted, summed over images and time steps
    sops: int = None  # received by this layer's sub-neurons (None: analog input)
    sops_nonzero: int = None
    firing_rate: float = 0.0

    @property
    def sops_seed(self):
        return None if self.sops is None else 2 * self.sops


@dataclass
class SpikeReport:
    num_images: int
    time_steps: int
    layers: list
    # One entry per (batch, time step), cumulative over time within a batch, as the seeds' files.
    spike_num: list = field(default_factory=list)
    sop_num: list = field(default_factory=list)  # seed-compatible SOPs (2 * sop)

    def totals(self):
        counted = [row for row in self.layers if row.counted]
        hidden = [row for row in counted if row.role == "hidden"]
        sops = sum(row.sops for row in hidden)
        return {
            "ann_neurons": sum(row.ann_neurons for row in counted),
            "sub_neurons": sum(row.sub_neurons for row in counted),
            "spikes": sum(row.spikes for row in counted),
            "sops": sops,
            "sops_nonzero": sum(row.sops_nonzero for row in hidden),
            "sops_seed": 2 * sops,
            "macs_hidden": sum(row.macs for row in hidden),
            "ann_additions_hidden": 2 * sum(row.macs for row in hidden),
        }

    def to_dict(self):
        per_image = lambda v: v / self.num_images if self.num_images else 0.0  # noqa: E731
        totals = self.totals()
        return {
            "units": UNITS,
            "num_images": self.num_images,
            "time_steps": self.time_steps,
            "layers": [{**asdict(row), "sops_seed": row.sops_seed} for row in self.layers],
            "totals": totals,
            "per_image": {key: per_image(totals[key]) for key in ("spikes", "sops", "sops_nonzero", "sops_seed")},
        }


class _Stage:
    """One row's counting rule: which tensors to read and the synapse fan-out maps."""

    def __init__(self, row, emitter, synapse, levels_in_sops):
        self.row, self.emitter, self.synapse = row, emitter, synapse
        self.levels = levels_in_sops  # sub-neurons each arriving spike reaches per target neuron
        self.fan_all = self.fan_nonzero = None
        if synapse is not None:
            self.fan_all, self.fan_nonzero = fanout(synapse)


class SpikeCounter:
    """Accumulates counts over batches: `update(outputs)` with the outputs of `probe_model`.

    The probe model sums every counted tensor over the batch inside the graph, so only (T, ...)
    arrays reach numpy (float32 is exact there: a sum of at most batch x L counts per element).
    """

    def __init__(self, snn):
        self.stages = _stages(snn)
        self.time_steps = int(snn.layers[-1].input.shape[1])
        outputs = {}
        for stage in self.stages:
            if stage.emitter is not None:
                outputs[stage.emitter.name] = _batch_sum(stage.emitter.output)
            if stage.fan_all is not None:
                outputs["in:" + stage.synapse.name] = _batch_sum(stage.synapse.input)
        outputs["logits"] = snn.output
        self.probe_model = keras.Model(snn.input, outputs, name=f"{snn.name}_probe")
        self.report = SpikeReport(0, self.time_steps, [stage.row for stage in self.stages])

    def update(self, outputs, labels=None):
        """Add one batch; returns nothing. `outputs` is the probe model's dict (numpy or tensors).

        `labels` is accepted for the common counter shape (the accuracy is the pipeline's)."""
        self.report.num_images += int(np.shape(outputs["logits"])[0])
        spikes_t = np.zeros(self.time_steps)
        sops_t = np.zeros(self.time_steps)
        for stage in self.stages:
            row = stage.row
            if stage.emitter is not None:
                per_t = np.asarray(outputs[stage.emitter.name], np.float64)  # (T, ...)
                per_t = per_t.reshape(self.time_steps, -1).sum(axis=1)
                row.spikes += int(per_t.sum())
                spikes_t += per_t if row.counted else 0
            if stage.fan_all is not None:
                counts = np.asarray(outputs["in:" + stage.synapse.name], np.float64)  # (T, ...)
                all_t = stage.levels * (counts * stage.fan_all).reshape(self.time_steps, -1).sum(axis=1)
                nonzero = stage.levels * float((counts * stage.fan_nonzero).sum())
                row.sops = (row.sops or 0) + int(all_t.sum())
                row.sops_nonzero = (row.sops_nonzero or 0) + int(nonzero)
                sops_t += all_t if (row.counted and row.role == "hidden") else 0
        for row in self.report.layers:
            if row.sub_neurons:
                row.firing_rate = row.spikes / (row.sub_neurons * self.time_steps * self.report.num_images)
        self.report.spike_num.extend(np.cumsum(spikes_t).tolist())
        self.report.sop_num.extend((2 * np.cumsum(sops_t)).tolist())


def _batch_sum(tensor):
    return keras.ops.sum(tensor, axis=0)


def count_spikes(snn, images, batch_size=200):
    """SpikeReport of `snn` on `images` (numpy, the model's input format)."""
    counter = SpikeCounter(snn)
    for start in range(0, len(images), batch_size):
        batch = np.asarray(images[start:start + batch_size], np.float32)
        counter.update(counter.probe_model.predict_on_batch(batch))
    return counter.report


# ------------------------------------------------------------------------------ structure


@dataclass
class Stage:
    """One spiking stage of a model, read from the layers' declared roles (layers.base)."""

    role: str  # "encoding", "hidden" or "readout"
    layer: object  # the encoder, neuron or readout layer
    synapse: object  # the layer whose input spikes this stage's SOPs count (None: analog input)
    emitter: object  # the layer whose output holds the stage's spikes (None for the readout)


def spiking_stages(snn, delivered=True):
    """The stages of `snn` in order. With `delivered`, a noise layer right after an emitter
    becomes that stage's emitter: the spikes counted are the ones that arrive, not the deleted."""
    stages, synapse = [], None
    for layer in snn.layers:
        role = role_of(layer)
        if role == "synapse":
            synapse = layer
        elif role == "encoder":
            stages.append(Stage("encoding", layer, None, layer))
        elif role == "neuron":
            stages.append(Stage("hidden", layer, synapse, layer))
        elif role == "noise" and delivered and stages:
            stages[-1].emitter = layer
        elif role == "readout":
            stages.append(Stage("readout", layer, layer, None))
    return stages


def _stages(snn):
    stages = []
    for stage in spiking_stages(snn, delivered=True):
        layer = stage.layer
        if stage.role == "encoding":
            row = _row(layer, layer, "encoding", layer.levels, macs(layer), counted=True)
            stages.append(_Stage(row, stage.emitter, None, 0))
        elif stage.role == "hidden":
            row = _row(layer, stage.synapse, "hidden", layer.levels, macs(stage.synapse), counted=True)
            stages.append(_Stage(row, stage.emitter, stage.synapse, layer.levels))
        else:
            # The readout's neurons are accumulators, not sub-neurons: one SOP per spike and synapse.
            row = _row(layer, layer, "readout", 0, macs(layer), counted=False)
            row.ann_neurons = layer.units
            stages.append(_Stage(row, None, layer, 1))
    return stages


def _row(layer, synapse, role, levels, macs, counted):
    neurons = int(np.prod(layer.output.shape[2:]))
    return LayerCount(layer.name, synapse.name, role, neurons, levels, neurons * levels, macs, counted)


def macs(synapse):
    """ANN multiply-accumulates per image of a layer with a kernel (conv or dense)."""
    c_in = int(synapse.input.shape[-1])
    if synapse.operation == "conv":
        _, _, h, w, c_out = synapse.output.shape
        return int(h * w * c_out * c_in * synapse.kernel_size[0] * synapse.kernel_size[1])
    return c_in * synapse.units


def fanout(synapse):
    """(all, nonzero): per input position and channel, the synapses an input spike reaches."""
    kernel = np.asarray(keras.ops.convert_to_numpy(synapse.kernel))
    if synapse.operation != "conv":  # dense / readout: every input reaches every unit
        return np.full(kernel.shape[0], kernel.shape[1], np.float64), np.count_nonzero(kernel, axis=1)
    _, _, h, w, _ = synapse.input.shape
    kh, kw, _, c_out = kernel.shape
    (sh, sw), (oh, ow) = synapse.strides, conv_output_size((h, w), (kh, kw), synapse.strides, synapse.padding)
    top = max((oh - 1) * sh + kh - h, 0) // 2 if synapse.padding == "same" else 0
    left = max((ow - 1) * sw + kw - w, 0) // 2 if synapse.padding == "same" else 0
    cover = np.zeros((h, w))
    nonzero = np.zeros((h, w, kernel.shape[2]))
    nnz = np.count_nonzero(kernel, axis=3)  # (kh, kw, C_in)
    # Loop over kernel offsets only: each offset maps all output positions to distinct inputs.
    for dy in range(kh):
        rows = np.arange(oh) * sh + dy - top
        rows = rows[(rows >= 0) & (rows < h)]
        for dx in range(kw):
            cols = np.arange(ow) * sw + dx - left
            cols = cols[(cols >= 0) & (cols < w)]
            cover[np.ix_(rows, cols)] += 1
            nonzero[np.ix_(rows, cols)] += nnz[dy, dx]
    return cover[..., None] * c_out, nonzero
