import numpy as np
import pytest
import tensorflow as tf

from layers.noise_training import TrainingSpikeDeletion
from models import build_preset
from training.run import inference_model


def test_identity_at_inference_and_deletion_in_training():
    layer = TrainingSpikeDeletion(0.5, k=1, levels=4, seed=0)
    q = np.random.default_rng(0).integers(0, 5, size=(64, 100)).astype(np.float32) / 2  # levels of k=1, B=2
    np.testing.assert_array_equal(np.asarray(layer(q, training=False)), q)
    kept = np.asarray(layer(q, training=True))
    counts, kept_counts = q * 2, kept * 2
    np.testing.assert_array_equal(kept_counts, np.round(kept_counts))  # still whole spikes
    assert np.all(kept_counts <= counts) and np.all(kept_counts >= 0)
    assert 0.5 < kept_counts.sum() / counts.sum() < 1.0  # rate drawn from U[0, 0.5]


def test_gradient_passes_straight_through():
    layer = TrainingSpikeDeletion(0.3, k=0, levels=2, seed=1)
    x = tf.constant(np.ones((4, 8), np.float32))
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.reduce_sum(layer(x, training=True))
    np.testing.assert_array_equal(tape.gradient(y, x).numpy(), np.ones((4, 8)))


def test_inference_model_drops_the_noise_layer_and_keeps_weights():
    model = build_preset("lenet", k=1, B=2, train_noise=0.2)
    assert "enc_noise" in [layer.name for layer in model.layers]
    clean = inference_model(model)
    assert "enc_noise" not in [layer.name for layer in clean.layers]
    x = np.random.default_rng(2).uniform(0, 255, size=(8, 28, 28, 1)).astype(np.float32)
    np.testing.assert_array_equal(clean.predict(x, verbose=0), model.predict(x, verbose=0))


def test_noise_training_is_for_median_models_only():
    with pytest.raises(ValueError, match="median"):
        build_preset("lenet_allint", k=0, train_noise=0.1)

