"""Layer-by-layer check of a spiking model against its source ANN: which layer diverges?

For every spiking layer (named after the ANN activation it replaces), the spike count of each
neuron at each time step must equal 2^k times the ANN's quantized activation; for a burst-coded
layer (layers.base: unit spikes over its window) the count is the sum over the time axis. The ANN and the SNN
are both run through Keras' compiled predict path (`predict_on_batch`), as in an evaluation.
"""
from dataclasses import dataclass

import keras
import numpy as np

from layers.base import emitters


@dataclass
class LayerAgreement:
    name: str
    neurons: int  # ANN neurons per image
    differing: int  # (image, neuron, time step) triples whose count differs
    images_affected: int  # images with at least one differing neuron in this layer
    max_abs_diff: float


@dataclass
class Verification:
    num_images: int
    agreement: int  # images whose ANN and SNN predictions (argmax) are identical
    layers: list  # LayerAgreement per spiking layer, in order
    logit_ratio_exact: bool  # SNN logits == T * 2^k * ANN logits bit for bit, on every image

    @property
    def differing(self):
        return sum(row.differing for row in self.layers)


def verify(ann, snn, images, batch_size=500):
    """Compare `snn` with `ann` on `images` (numpy, the models' common input format)."""
    names = [layer.name for layer in emitters(snn)]
    scales = [2.0 ** ann.get_layer(name).k for name in names]
    ann_probe = keras.Model(ann.input, [ann.get_layer(n).output for n in names] + [ann.output])
    snn_probe = keras.Model(snn.input, [snn.get_layer(n).output for n in names] + [snn.output])
    bursts = [snn.get_layer(name).burst_code for name in names]
    time_steps = int(snn.get_layer(names[-1]).output.shape[1])
    # The readout's factor: T * 2^k of the counts it reads (2^k: a burst's spikes sum to its count).
    logit_scale = (1 if bursts[-1] else time_steps) * scales[-1]
    rows = [LayerAgreement(n, int(np.prod(snn.get_layer(n).output.shape[2:])), 0, 0, 0.0) for n in names]
    agreement, exact = 0, True
    for start in range(0, len(images), batch_size):
        batch = np.asarray(images[start:start + batch_size], np.float32)
        ann_out = ann_probe.predict_on_batch(batch)
        snn_out = snn_probe.predict_on_batch(batch)
        for row, scale, burst, a, s in zip(rows, scales, bursts, ann_out[:-1], snn_out[:-1]):
            s, a = np.asarray(s), np.asarray(a)
            diff = np.abs(s.sum(axis=1) - scale * a) if burst else np.abs(s - scale * a[:, None])
            bad = diff.reshape(len(batch), -1) > 0
            row.differing += int(bad.sum())
            row.images_affected += int(bad.any(axis=1).sum())
            row.max_abs_diff = max(row.max_abs_diff, float(diff.max(initial=0.0)))
        agreement += int(np.sum(np.argmax(ann_out[-1], axis=1) == np.argmax(snn_out[-1], axis=1)))
        exact = exact and np.array_equal(np.asarray(snn_out[-1]), logit_scale * np.asarray(ann_out[-1]))
    return Verification(len(images), agreement, rows, bool(exact))
