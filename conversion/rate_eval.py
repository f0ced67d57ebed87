"""Counting for rate-coded SNNs (docs/rate.md §5): spikes and synaptic operations per step and layer.

    counter = RateCounter(snn)
    for images, labels in batches:
        lines = counter.update(counter.probe_model.predict_on_batch(images), labels)
    counter.report.to_dict()

A spike is one 0/1 event of one IF neuron in one step. SOPs of a layer are the spikes it
delivers times their fan-out in the next synapse (conv: C_out x the kernel positions that cover
the input; dense: its units; average pooling: one). The sums are taken inside the probe model,
so a batch returns (batch, T) numbers per layer instead of the spike tensors.
"""
from dataclasses import asdict, dataclass, field

import keras
import numpy as np
from keras import ops

from conversion.counting import fanout, macs
from layers.base import role_of

RATE_UNITS = {
    "spike": "one 0/1 event of one integrate-and-fire neuron in one time step",
    "sop": "synaptic operation: one spike arriving at one synapse of the next layer (conv: C_out times the "
           "kernel positions covering it; dense and the readout: their units; average pooling: one)",
    "mac": "ANN multiply-accumulates of the synapse feeding the layer, per image",
    "accuracy": "correct predictions in the batch with the readout summed up to that step",
}


@dataclass
class RateLayerCount:
    name: str
    neurons: int  # per image
    consumer: str  # the synapse its spikes feed
    macs: int  # of the synapse that feeds this layer, per image (0 for pooling)
    spikes: int = 0
    sops: int = 0
    spikes_per_step: list = None  # summed over images
    sops_per_step: list = None


@dataclass
class RateReport:
    num_images: int
    time_steps: int
    layers: list
    correct_per_step: list = field(default_factory=list)

    def to_dict(self):
        n = max(self.num_images, 1)
        spikes = np.sum([row.spikes_per_step for row in self.layers], axis=0)
        sops = np.sum([row.sops_per_step for row in self.layers], axis=0)
        return {
            "units": RATE_UNITS,
            "num_images": self.num_images,
            "time_steps": self.time_steps,
            "spikes_per_step_per_image": (spikes / n).tolist(),
            "sops_per_step_per_image": (sops / n).tolist(),
            "layers": [{**asdict(row), "spikes_per_step": np.asarray(row.spikes_per_step).tolist(),
                        "sops_per_step": np.asarray(row.sops_per_step).tolist(),
                        "spikes_per_image": row.spikes / n, "sops_per_image": row.sops / n,
                        "firing_rate": row.spikes / max(n * row.neurons * self.time_steps, 1)}
                       for row in self.layers],
        }


def _consumer(snn, layer):
    """The first layer after `layer` that has weights or pools (noise and reshapes pass spikes on)."""
    index = snn.layers.index(layer)
    for later in snn.layers[index + 1:]:
        if role_of(later) in ("synapse", "readout") and getattr(later, "operation", None) in ("conv", "dense", "pool"):
            return later
    return None


def _fan(consumer):
    if consumer.operation == "pool":
        return np.ones(consumer.input.shape[2:], np.float32)  # size == stride: each input feeds one output
    return np.asarray(fanout(consumer)[0], np.float32)


def _feeding_synapse(snn, layer):
    index = snn.layers.index(layer)
    for earlier in reversed(snn.layers[:index]):
        if getattr(earlier, "operation", None) in ("conv", "dense") and role_of(earlier) == "synapse":
            return earlier
        if role_of(earlier) in ("neuron", "encoder"):
            break
    return None


class RateCounter:
    def __init__(self, snn):
        last = snn.layers[-1]
        if not getattr(last, "logits_per_step", False):
            raise ValueError(f"{snn.name!r} is not a rate-coded SNN (no per-step readout at the end)")
        self.time_steps = int(snn.output.shape[1])
        outputs, rows = {"logits": snn.output}, []
        for layer in snn.layers:
            if role_of(layer) not in ("encoder", "neuron"):
                continue
            consumer = _consumer(snn, layer)
            spikes = layer.output
            axes = tuple(range(2, len(spikes.shape)))
            outputs["spikes:" + layer.name] = ops.sum(spikes, axis=axes)
            delivered = consumer.input
            fan = _fan(consumer)
            # a matrix-vector product over the positions, no (batch, T, ...) temporary
            flat = ops.reshape(delivered, (-1, self.time_steps, int(np.prod(delivered.shape[2:]))))
            fan_flat = np.broadcast_to(fan, delivered.shape[2:]).reshape(-1, 1).astype(np.float32)
            outputs["sops:" + layer.name] = ops.squeeze(ops.matmul(flat, fan_flat), -1)
            feeding = layer if role_of(layer) == "encoder" else _feeding_synapse(snn, layer)
            rows.append(RateLayerCount(layer.name, int(np.prod(spikes.shape[2:])), consumer.name,
                                       macs(feeding) if feeding is not None else 0,
                                       spikes_per_step=np.zeros(self.time_steps), sops_per_step=np.zeros(self.time_steps)))
        self.probe_model = keras.Model(snn.input, outputs, name=f"{snn.name}_probe")
        self.report = RateReport(0, self.time_steps, rows, [0] * self.time_steps)

    def update(self, outputs, labels=None):
        """Add one batch; returns the batch's per-step lines: cumulative spikes and SOPs (all
        layers) and, with labels, the correct predictions at each step."""
        logits = np.asarray(outputs["logits"])
        self.report.num_images += len(logits)
        spikes_t, sops_t = np.zeros(self.time_steps), np.zeros(self.time_steps)
        for row in self.report.layers:
            spikes = np.asarray(outputs["spikes:" + row.name], np.float64).sum(axis=0)
            sops = np.asarray(outputs["sops:" + row.name], np.float64).sum(axis=0)
            row.spikes_per_step += spikes
            row.sops_per_step += sops
            row.spikes += int(round(spikes.sum()))
            row.sops += int(round(sops.sum()))
            spikes_t += spikes
            sops_t += sops
        lines = {"spike_num": np.cumsum(spikes_t).tolist(), "sop_num": np.cumsum(sops_t).tolist()}
        if labels is not None:
            correct = (np.argmax(logits, axis=-1) == np.asarray(labels)[:, None]).sum(axis=0)
            self.report.correct_per_step = [a + int(b) for a, b in zip(self.report.correct_per_step, correct)]
            lines["accuracy"] = [int(c) for c in correct]
        return lines
