"""Export a Keras model as a TensorFlow SavedModel that takes images as they come.

The SavedModel has one endpoint, `serve(images)`: uint8 images, NHWC (MNIST (N, 28, 28, 1),
CIFAR (N, 32, 32, 3)); it returns float32 logits (N, classes). The preprocessing is part of the
model, so nothing has to be done to the images first. Reload with
`tf.saved_model.load(path).serve(images)`; no project code is needed.
"""
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")  # run as a script: a SavedModel needs TensorFlow

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402


def export_saved_model(model, path):
    archive = keras.export.ExportArchive()
    archive.track(model)
    spec = tf.TensorSpec((None, *model.input_shape[1:]), tf.uint8, name="images")

    def serve(images):
        return model(tf.cast(images, tf.float32), training=False)

    archive.add_endpoint(name="serve", fn=serve, input_signature=[spec])
    archive.write_out(str(path), verbose=False)
    return path


def main(argv=None):
    """python -m training.export MODEL.keras DEST: the SavedModel of a .keras file, written by a
    TensorFlow process (train.py on JAX runs this when TensorFlow is installed)."""
    import sys

    import layers  # noqa: F401  (registers the custom layers for loading)

    source, dest = (sys.argv[1:] if argv is None else argv)
    export_saved_model(keras.models.load_model(source), dest)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
