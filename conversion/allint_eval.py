"""Evaluation of all-integer spiking models: per-step counting (docs/counting.md §4) and ANN agreement.

    counter = AllIntCounter(snn, classifier_sops=True)    # MNIST seed counts classifier SOPs
    for images, labels in batches:
        rows = counter.update(counter.probe_model.predict_on_batch(images), labels)
        # rows[name] is a list of T numbers, one line per (batch, step), for name in SEED_FILES
    report = counter.report                                # totals per layer and per step
    check = verify_allint(ann, snn, images)               # per-step agreement, convergence

Units (ALLINT_UNITS): a spike is one +1 or -1 event of one neuron in one step; "hidden layers" are
the dynamic-threshold layers (the encoding layer is excluded from the spike counts, as in the seed,
but its spikes are inputs of the first hidden synapse and count as SOP sources).
"""
from dataclasses import asdict, dataclass, field

import keras
import numpy as np

from conversion.counting import fanout, macs, spiking_stages
from layers.base import emitters, readout_of

SEED_FILES = ("accuracy", "spike_num", "spike_collect", "sop_num", "abs_spike", "sum_spike")

ALLINT_UNITS = {
    "spike": "one +1 or -1 event of one neuron in one time step",
    "accuracy": "correct predictions in the batch with the logits of that step",
    "spike_num": "cumulative |spikes| of the hidden (dynamic-threshold) layers, encoding layer excluded",
    "spike_collect": "sum over the same layers of the cumulative signed (net) spike counts",
    "sop_num": "cumulative sum over the same layers of C_out * sum |im2col(input spikes of the step)| "
               "(inputs include the encoding layer's spikes); plus units * cumulative |spikes| of the last "
               "hidden layer when classifier_sops is set (the seed's MNIST script does, its CIFAR script not)",
    "abs_spike": "|spikes| of the hidden layers emitted at this step only",
    "sum_spike": "signed sum of the hidden layers' spikes at this step only",
}


@dataclass
class AllIntLayerCount:
    name: str
    synapse: str
    role: str  # "encoding" or "hidden"
    neurons: int  # per image
    macs: int  # ANN MACs of the synapse per image
    counted: bool  # part of the seed's totals (hidden layers)
    spikes: int = 0  # |spikes|, all images and steps
    net_spikes: int = 0  # signed sum
    negative_spikes: int = 0
    sops: int = 0  # C_out * |im2col(input spikes)| summed over steps and images (0 for the encoding)


@dataclass
class AllIntReport:
    num_images: int
    time_steps: int
    layers: list
    classifier_sops: bool
    # Per step, summed over all images (the per-batch lines summed): the same quantities as the files.
    per_step: dict = field(default_factory=dict)

    def to_dict(self):
        n = max(self.num_images, 1)
        per_step = {key: list(map(float, values)) for key, values in self.per_step.items()}
        return {
            "units": ALLINT_UNITS,
            "num_images": self.num_images,
            "time_steps": self.time_steps,
            "classifier_sops": self.classifier_sops,
            "accuracy_per_step": [c / n for c in per_step.get("accuracy", [])],
            "per_step_totals": per_step,
            "per_image_at_last_step": {k: v[-1] / n for k, v in per_step.items() if v and k != "accuracy"},
            "layers": [asdict(row) for row in self.layers],
        }


class _Stage:
    def __init__(self, row, emitter, synapse):
        self.row, self.emitter, self.synapse = row, emitter, synapse
        self.fan = None
        if synapse is not None:
            self.fan = fanout(synapse)[0]


class AllIntCounter:
    """Accumulates per-step counts over batches; `update` returns the six seed lines of one batch."""

    def __init__(self, snn, classifier_sops=False):
        self.stages = _stages(snn)
        self.readout = readout_of(snn)
        if self.readout is None or not self.readout.logits_per_step:
            raise ValueError(f"{snn.name!r} is not an all-integer spiking model (no AccumulatingReadout at the end)")
        self.time_steps = int(snn.output.shape[1])
        self.classifier_sops = bool(classifier_sops)
        outputs = {"logits": snn.output}
        for stage in self.stages:
            outputs[stage.emitter.name] = stage.emitter.output
            if stage.synapse is not None:
                outputs["in:" + stage.synapse.name] = stage.synapse.input
        self.last_hidden = self.stages[-1].emitter.name
        self.probe_model = keras.Model(snn.input, outputs, name=f"{snn.name}_probe")
        self.report = AllIntReport(0, self.time_steps, [s.row for s in self.stages], self.classifier_sops,
                                   {name: np.zeros(self.time_steps) for name in SEED_FILES})

    def update(self, outputs, labels=None):
        """Add one batch (the probe model's output dict); returns {file name: list of T numbers}.

        "accuracy" is present only when labels are given.
        """
        steps = self.time_steps
        batch = int(np.shape(outputs["logits"])[0])
        self.report.num_images += batch
        abs_t, sum_t, sop_t = np.zeros(steps), np.zeros(steps), np.zeros(steps)
        for stage in self.stages:
            row = stage.row
            spikes = np.asarray(outputs[stage.emitter.name]).reshape(batch, steps, -1)
            per_abs = np.abs(spikes).sum(axis=(0, 2), dtype=np.int64)
            per_sum = spikes.sum(axis=(0, 2), dtype=np.int64)
            row.spikes += int(per_abs.sum())
            row.net_spikes += int(per_sum.sum())
            row.negative_spikes += int((per_abs.sum() - per_sum.sum()) // 2)
            if stage.synapse is not None:
                inputs = np.abs(np.asarray(outputs["in:" + stage.synapse.name], np.float64)).sum(axis=0)
                per_sop = (inputs * stage.fan).reshape(steps, -1).sum(axis=1)
                row.sops += int(per_sop.sum())
            if row.counted:
                abs_t += per_abs
                sum_t += per_sum
                sop_t += per_sop
            if row.name == self.last_hidden and self.classifier_sops:
                sop_t += self.readout.units * per_abs
        rows = {"spike_num": np.cumsum(abs_t), "spike_collect": np.cumsum(sum_t), "sop_num": np.cumsum(sop_t),
                "abs_spike": abs_t, "sum_spike": sum_t}
        if labels is not None:
            predictions = np.argmax(np.asarray(outputs["logits"]), axis=-1)  # (batch, T)
            rows["accuracy"] = (predictions == np.asarray(labels).reshape(-1, 1)).sum(axis=0)
        for name, values in rows.items():
            self.report.per_step[name] += values
        return {name: [int(v) if name == "accuracy" else float(v) for v in values] for name, values in rows.items()}


def count_allint(snn, images, labels=None, batch_size=200, classifier_sops=False):
    """(AllIntReport, [per-batch rows]) of `snn` on `images` (numpy, the model's input format)."""
    counter = AllIntCounter(snn, classifier_sops)
    lines = []
    for start in range(0, len(images), batch_size):
        batch = np.asarray(images[start:start + batch_size], np.float32)
        out = counter.probe_model.predict_on_batch(batch)
        lines.append(counter.update(out, None if labels is None else labels[start:start + batch_size]))
    return counter.report, lines


def _stages(snn):
    # The emitters' own outputs: the seed counts the spikes sent, before any noise deletes them
    # (the synapse inputs, read for SOPs, are what arrives).
    stages = []
    for stage in spiking_stages(snn, delivered=False):
        layer = stage.layer
        if stage.role == "encoding":
            row = AllIntLayerCount(layer.name, layer.name, "encoding", _neurons(layer), macs(layer), False)
            stages.append(_Stage(row, layer, None))
        elif stage.role == "hidden":
            row = AllIntLayerCount(layer.name, stage.synapse.name, "hidden", _neurons(layer),
                                   macs(stage.synapse), True)
            stages.append(_Stage(row, layer, stage.synapse))
    if not stages:
        raise ValueError(f"{snn.name!r} has no all-integer spiking layers")
    return stages


def _neurons(layer):
    return int(np.prod(layer.output.shape[2:]))


# ------------------------------------------------------------------------------- agreement


@dataclass
class AllIntLayerAgreement:
    name: str
    neurons: int
    differing: int  # (image, neuron) pairs whose net count after the last step != 2^k * ANN activation
    images_affected: int
    max_abs_diff: float
    converged_step: int = None  # first step (1-based) from which every count equals the ANN's; None: never


@dataclass
class AllIntVerification:
    num_images: int
    time_steps: int
    agreement_per_step: list  # images whose SNN prediction equals the ANN's, per step
    layers: list
    logits_exact: bool  # last-step logits == 2^k * ANN logits bit for bit (float32 matmul order may differ)
    predictions: np.ndarray = None  # (images, T) the SNN's class at every step
    correct_per_step: list = None  # with labels: correct SNN predictions per step

    @property
    def first_equal_step(self):
        return first_equal_step(self.agreement_per_step, self.num_images)

    @property
    def stable_from_step(self):
        return stable_from_step(self.agreement_per_step, self.num_images)

    @property
    def differing(self):
        return sum(row.differing for row in self.layers)


def first_equal_step(agreement_per_step, num_images):
    """Smallest T (1-based) at which every image's prediction equals the ANN's (None: none)."""
    return next((t + 1 for t, agree in enumerate(agreement_per_step) if agree == num_images), None)


def stable_from_step(agreement_per_step, num_images):
    """Smallest T from which every later step also agrees on every image (None: not at the end)."""
    stable = None
    for t in range(len(agreement_per_step) - 1, -1, -1):
        if agreement_per_step[t] != num_images:
            break
        stable = t + 1
    return stable


def verify_allint(ann, snn, images, batch_size=100, labels=None):
    """Compare the all-integer `snn` with its source `ann` on `images`, step by step (labels optional)."""
    names = [layer.name for layer in emitters(snn)]
    scales = [2.0 ** ann.get_layer(name).k for name in names]
    ann_probe = keras.Model(ann.input, [ann.get_layer(n).output for n in names] + [ann.output])
    # Spikes are -1/0/+1: int8 in the graph keeps the probe's outputs (batch x T x neurons) small.
    spikes_int8 = [keras.ops.cast(snn.get_layer(n).output, "int8") for n in names]
    snn_probe = keras.Model(snn.input, spikes_int8 + [snn.output])
    steps = int(snn.output.shape[1])
    count_dtype = np.int16 if steps < 2**15 else np.int32
    rows = [AllIntLayerAgreement(n, int(np.prod(snn.get_layer(n).output.shape[2:])), 0, 0, 0.0, 0) for n in names]
    agreement, exact = np.zeros(steps, np.int64), True
    predictions = np.zeros((len(images), steps), np.int32)
    for start in range(0, len(images), batch_size):
        batch = np.asarray(images[start:start + batch_size], np.float32)
        ann_out = ann_probe.predict_on_batch(batch)
        snn_out = snn_probe.predict_on_batch(batch)
        for row, scale, a, s in zip(rows, scales, ann_out[:-1], snn_out[:-1]):
            target = np.round(scale * np.asarray(a, np.float64)).reshape(len(batch), 1, -1)
            counts = np.cumsum(np.asarray(s).reshape(len(batch), steps, -1), axis=1, dtype=count_dtype)
            wrong_t = np.zeros(steps, bool)
            for t in range(steps):  # step by step: no (batch, T, neurons) boolean temporary
                wrong_t[t] = not np.array_equal(counts[:, t], target[:, 0])
            diff = np.abs(counts[:, -1].astype(np.float64) - target[:, 0])
            row.differing += int((diff > 0).sum())
            row.images_affected += int((diff > 0).any(axis=1).sum())
            row.max_abs_diff = max(row.max_abs_diff, float(diff.max(initial=0.0)))
            converged = steps + 1 if wrong_t[-1] else int(steps - np.argmax(wrong_t[::-1]) if wrong_t.any() else 1)
            row.converged_step = max(row.converged_step, converged)
        ann_pred = np.argmax(ann_out[-1], axis=1)
        logits = np.asarray(snn_out[-1])
        predictions[start:start + len(batch)] = np.argmax(logits, axis=-1)
        agreement += (predictions[start:start + len(batch)] == ann_pred[:, None]).sum(axis=0)
        exact = exact and np.array_equal(logits[:, -1], scales[-1] * np.asarray(ann_out[-1]))
    for row in rows:
        if row.converged_step is not None and row.converged_step > steps:
            row.converged_step = None
    correct = None
    if labels is not None:
        correct = (predictions == np.asarray(labels).reshape(-1, 1)).sum(axis=0).tolist()
    return AllIntVerification(len(images), steps, agreement.tolist(), rows, bool(exact), predictions, correct)
