"""Export a spiking model as a TensorFlow SavedModel that takes images as they come.

Endpoints (reload with `tf.saved_model.load(path)`, no project code needed):
  serve(images)        uint8 NHWC images -> float32 logits (T * 2^k times the ANN's logits)
  spike_counts(images) uint8 NHWC images -> {spiking layer name: float32 counts (N, T, ...)}
The `serve` endpoint has the signature of training.export's ANN SavedModel, so the two are
interchangeable for a caller that only wants predictions.

All-integer models (conversion.allint) output logits per step; for them `serve` returns the last
step's logits (N, classes), a third endpoint `logits_per_step(images)` returns (N, T, classes),
and `spike_counts` returns each spiking layer's signed spikes per step as float32 (N, T, ...).
"""
import keras
import tensorflow as tf

from layers.base import emitters, readout_of


def export_snn_saved_model(snn, path):
    names = [layer.name for layer in emitters(snn)]
    counts_model = keras.Model(snn.input, {n: snn.get_layer(n).output for n in names})
    readout = readout_of(snn)
    per_step = readout is not None and readout.logits_per_step  # all-integer: (N, T, classes)
    archive = keras.export.ExportArchive()
    archive.track(snn)
    spec = tf.TensorSpec((None, *snn.input_shape[1:]), tf.uint8, name="images")

    def serve(images):
        logits = snn(tf.cast(images, tf.float32), training=False)
        return logits[:, -1] if per_step else logits

    def spike_counts(images):
        counts = counts_model(tf.cast(images, tf.float32), training=False)
        return {name: tf.cast(value, tf.float32) for name, value in counts.items()}

    def logits_per_step(images):
        return snn(tf.cast(images, tf.float32), training=False)

    archive.add_endpoint(name="serve", fn=serve, input_signature=[spec])
    archive.add_endpoint(name="spike_counts", fn=spike_counts, input_signature=[spec])
    if per_step:
        archive.add_endpoint(name="logits_per_step", fn=logits_per_step, input_signature=[spec])
    archive.write_out(str(path), verbose=False)
    return path
