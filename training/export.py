"""Export a Keras model as a TensorFlow SavedModel that takes images as they come.

The SavedModel has one endpoint, `serve(images)`: uint8 images, NHWC (MNIST (N, 28, 28, 1),
CIFAR (N, 32, 32, 3)); it returns float32 logits (N, classes). The preprocessing is part of the
model, so nothing has to be done to the images first. Reload with
`tf.saved_model.load(path).serve(images)`; no project code is needed.
"""
import keras
import tensorflow as tf


def export_saved_model(model, path):
    archive = keras.export.ExportArchive()
    archive.track(model)
    spec = tf.TensorSpec((None, *model.input_shape[1:]), tf.uint8, name="images")

    def serve(images):
        return model(tf.cast(images, tf.float32), training=False)

    archive.add_endpoint(name="serve", fn=serve, input_signature=[spec])
    archive.write_out(str(path), verbose=False)
    return path
