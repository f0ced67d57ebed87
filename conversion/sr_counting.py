"""Spike, SOP and MAC counting of a store-and-release SNN, on the network's tick timeline.

The same rows, units and totals as scatter-and-gather (conversion.counting: SpikeReport,
LayerCount), with what differs in time: every layer's tensor is its own window of L ticks
(burst code), placed at its `window_start` (the encoder's at tick 0), so the per-tick lines
(spike_num, sop_num) follow the real timeline; an ANN neuron is one neuron (sub_neurons =
neurons) and an input spike reaches one synapse of every connected neuron (SOP multiplicity 1).
SOPs are booked at the ticks the input spikes arrive, i.e. in the window of the layer below.
"""
import keras
import numpy as np

from conversion.counting import LayerCount, SpikeReport, fanout, macs, spiking_stages

SR_UNITS_NOTE = {
    "spike": "one firing of one neuron in one tick; a neuron with count n fires in the first n ticks of its window",
    "sub_neuron": "store-and-release keeps one neuron per ANN neuron (sub_neurons = ANN neurons)",
    "sop": "one spike arriving at one synapse of one neuron (zero weights included)",
    "time_step": "one tick of the network timeline (the windows of all layers, one after another)",
}


class _Row:
    def __init__(self, row, emitter, synapse, start, source_start):
        self.row, self.emitter, self.synapse = row, emitter, synapse
        self.start, self.source_start = start, source_start  # window starts (own, the input's)
        self.fan_all = self.fan_nonzero = None
        if synapse is not None:
            self.fan_all, self.fan_nonzero = fanout(synapse)


def window_start(layer):
    """Tick at which a layer's window opens (encoders: 0)."""
    return int(getattr(layer, "window_start", 0))


class SRCounter:
    """Counter with `probe_model`, `update(outputs, labels)` and `report`, as SpikeCounter."""

    def __init__(self, snn):
        self.rows, outputs, previous = [], {}, None
        for stage in spiking_stages(snn, delivered=True):
            layer = stage.layer
            counted = stage.role != "readout"
            neurons = int(np.prod(layer.output.shape[2:])) if counted else layer.units
            synapse = stage.synapse
            levels = layer.levels if counted else 0
            row = LayerCount(layer.name, synapse.name if synapse is not None else layer.name, stage.role, neurons,
                             levels, neurons, macs(synapse if synapse is not None else layer), counted)
            start = window_start(layer) if counted else None
            self.rows.append(_Row(row, stage.emitter, synapse, start, previous))
            if stage.emitter is not None:
                outputs[stage.emitter.name] = keras.ops.sum(stage.emitter.output, axis=0)
            if synapse is not None:
                outputs["in:" + synapse.name] = keras.ops.sum(synapse.input, axis=0)
            previous = start
        ends = [r.start + r.row.levels for r in self.rows if r.start is not None]
        self.ticks = max(ends, default=1)
        outputs["logits"] = snn.output
        self.probe_model = keras.Model(snn.input, outputs, name=f"{snn.name}_probe")
        self.report = SpikeReport(0, self.ticks, [r.row for r in self.rows])

    def update(self, outputs, labels=None):
        self.report.num_images += int(np.shape(outputs["logits"])[0])
        spikes_t, sops_t = np.zeros(self.ticks), np.zeros(self.ticks)
        for r in self.rows:
            row = r.row
            if r.emitter is not None:
                per_t = np.asarray(outputs[r.emitter.name], np.float64)
                per_t = per_t.reshape(len(per_t), -1).sum(axis=1)
                row.spikes += int(per_t.sum())
                spikes_t[r.start:r.start + len(per_t)] += per_t
            if r.fan_all is not None:
                counts = np.asarray(outputs["in:" + r.synapse.name], np.float64)  # (T_in, ...)
                all_t = (counts * r.fan_all).reshape(len(counts), -1).sum(axis=1)
                row.sops = (row.sops or 0) + int(all_t.sum())
                row.sops_nonzero = (row.sops_nonzero or 0) + int((counts * r.fan_nonzero).sum())
                if row.role == "hidden":
                    sops_t[r.source_start:r.source_start + len(all_t)] += all_t
        for row in self.report.layers:
            if row.sub_neurons:
                row.firing_rate = row.spikes / (row.sub_neurons * max(row.levels, 1) * self.report.num_images)
        self.report.spike_num.extend(np.cumsum(spikes_t).tolist())
        self.report.sop_num.extend((2 * np.cumsum(sops_t)).tolist())
