"""Real MNIST: a LeNet trained here (1 epoch, 10000 images) converts losslessly.

Every prediction and every spike count of the 10000 test images must match the quantized ANN.
When the shipped pretrained model exists, it is checked the same way.
"""
from pathlib import Path

import keras
import numpy as np
import pytest

from conversion import convert, count_spikes, verify
from models import build_preset
from snn_data import load_arrays
from snn_data.pipelines import train_dataset

PRETRAINED = Path(__file__).resolve().parents[2] / "pretrained" / "lenet_mnist_k1B2" / "model.keras"


@pytest.fixture(scope="module")
def trained_lenet(data_dir):
    images, labels = load_arrays("mnist", "train", data_dir)
    keras.utils.set_random_seed(0)
    model = build_preset("lenet_readme", k=1, B=2)  # the smaller network: the shipped test covers lenet
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(train_dataset(images[:10000], labels[:10000], 100, "mnist", seed=0, epoch=0, augment=False),
              epochs=1, verbose=0)
    return model


def _check_lossless(model, mnist_test):
    images, labels = mnist_test
    snn, report = convert(model, return_report=True)
    result = verify(model, snn, images, batch_size=1000)
    differing = {row.name: row.differing for row in result.layers}
    print(f"\nagreement {result.agreement}/{result.num_images}, differing neurons {differing}, "
          f"threshold corrections { {n: r['corrections'] for n, r in report.items()} }")
    assert differing == {name: 0 for name in differing}
    assert result.agreement == len(images) == 10000
    assert result.logit_ratio_exact
    return snn, images, labels


def test_trained_lenet_is_lossless_on_the_full_test_set(trained_lenet, mnist_test):
    snn, images, labels = _check_lossless(trained_lenet, mnist_test)
    ann_logits = trained_lenet.predict(images.astype(np.float32), batch_size=1000, verbose=0)
    accuracy = np.mean(np.argmax(ann_logits, 1) == labels)
    assert accuracy > 0.9  # it did learn: the agreement above is not between two constant models
    report = count_spikes(snn, images[:1000], batch_size=500)
    assert report.totals()["spikes"] > 0 and report.totals()["macs_hidden"] == 1_163_264


@pytest.mark.skipif(not PRETRAINED.is_file(), reason="pretrained/lenet_mnist_k1B2/model.keras not shipped yet")
def test_pretrained_lenet_is_lossless(mnist_test):
    _check_lossless(keras.models.load_model(PRETRAINED), mnist_test)
