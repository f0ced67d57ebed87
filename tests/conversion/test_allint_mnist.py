"""Real MNIST: a lenet_allint k=0 trained here (1 epoch, 10000 images) converts exactly.

Integer and float mode take the same decisions at every step, and after enough steps every net
spike count equals the ANN's quantized activation (the first 1000 test images, to stay fast). The shipped
model, when it exists, is checked on all 10000 test images (slow: run with -m slow).
"""
from pathlib import Path

import keras
import numpy as np
import pytest

from conversion import convert, verify_allint
from models import build_preset
from snn_data import load_arrays
from snn_data.pipelines import train_dataset

REPO = Path(__file__).resolve().parents[2]
SHIPPED = [REPO / "pretrained" / "lenet_allint_mnist_k0" / "model.keras",
           REPO / "runs" / "lenet_allint_mnist_k0" / "model.keras"]
T = 16


@pytest.fixture(scope="module")
def trained_lenet_allint(data_dir):
    images, labels = load_arrays("mnist", "train", data_dir)
    keras.utils.set_random_seed(0)
    model = build_preset("lenet_allint", k=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(train_dataset(images[:10000], labels[:10000], 100, "mnist", seed=0, epoch=0, augment=False),
              epochs=1, verbose=0)
    return model


def _check_exact(model, images, labels, time_steps):
    checks, preds = {}, {}
    for use_int in (False, True):
        snn, report = convert(model, "allint", time_steps=time_steps, use_int=use_int, return_report=True)
        checks[use_int] = check = verify_allint(model, snn, images, batch_size=200)
        preds[use_int] = check.agreement_per_step
        assert all(r["exact"] for r in report.values() if r["role"] == "hidden")
        if use_int:
            assert all(r["int_dtype"] == "int32" and r["worst_abs_value"] < 2**31
                       for r in report.values() if r["role"] == "hidden")
    print(f"\nagreement with the ANN per step: {checks[True].agreement_per_step}; first step with all "
          f"{len(images)} equal: {checks[True].first_equal_step}; converged steps per layer: "
          f"{ {row.name: row.converged_step for row in checks[True].layers} }")
    assert checks[False].agreement_per_step == checks[True].agreement_per_step
    # float and integer mode predict the same class for every image at every step
    np.testing.assert_array_equal(checks[False].predictions, checks[True].predictions)
    for use_int, check in checks.items():
        # Counts are exact; the logits need not be bit-identical: the readout's float32 matmul on
        # (batch, T, units) sums in another order than the ANN's Dense on (batch, units).
        assert check.differing == 0, [row for row in check.layers if row.differing]
        assert check.agreement_per_step[-1] == len(images)
    return checks[True]


def test_trained_lenet_allint_is_exact_in_both_modes(trained_lenet_allint, mnist_test):
    images, labels = mnist_test
    x = images[:1000].astype(np.float32)
    accuracy = np.mean(np.argmax(trained_lenet_allint.predict(x, batch_size=500, verbose=0), 1) == labels[:1000])
    assert accuracy > 0.9
    _check_exact(trained_lenet_allint, x, labels[:1000], T)


@pytest.mark.slow
@pytest.mark.skipif(not any(p.is_file() for p in SHIPPED), reason="no trained lenet_allint k=0 model yet")
def test_shipped_lenet_allint_is_exact_on_the_full_test_set(mnist_test):
    model = keras.models.load_model(next(p for p in SHIPPED if p.is_file()))
    images, labels = mnist_test
    check = _check_exact(model, images.astype(np.float32), labels, 30)
    assert check.stable_from_step is not None
