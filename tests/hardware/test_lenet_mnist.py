"""The shipped MNIST LeNet (k=1, B=2) on PAICORE cores: bit-exact with the Keras SNN."""
import json

import keras
import pytest

import layers  # noqa: F401  (registers the custom layers)
from conversion import convert
from hardware import run_hardware
from tests.conftest import REPO

MODEL = REPO / "pretrained" / "lenet_mnist_k1B2" / "model.keras"


@pytest.fixture(scope="module")
def lenet_snn():
    return convert(keras.models.load_model(MODEL), method="sg")


def _check(summary, n):
    assert summary["num_images"] == n and summary["agreement"] == n
    assert all(v == 0 for v in summary["images_with_count_mismatch"].values())
    # act2 holds the copies its spikes need (one multicast cube per copy): 36 (its no-copy bound) -> 64
    assert summary["total_cores"] == 432 and summary["chips"] == 1
    assert [row["cores"] for row in summary["layers"]] == [288, 64, 64, 8, 8]
    assert [row["copy_neurons"] for row in summary["layers"]] == [0, 7168, 0, 0, 0]
    assert [row["no_copy_bound_cores"] for row in summary["layers"]] == [288, 36, 64, 8, 8]
    assert summary["no_copy_bound_cores"] == 404


def test_lenet_500_images_bit_exact(lenet_snn, mnist_test, tmp_path):
    x, y = mnist_test
    summary = run_hardware(lenet_snn, x.astype("float32"), y, out_dir=tmp_path, num_images=500, paibox=False)
    _check(summary, 500)
    saved = json.loads((tmp_path / "hardware.json").read_text())
    assert {"total_cores", "chips", "n_core_required", "agreement", "num_images", "layers"} <= set(saved)
    assert (tmp_path / "hardware_grid.png").stat().st_size > 1000
    assert saved["energy_per_image_uj_estimate"] > 0 and "estimate" in saved["energy_source"]


@pytest.mark.slow
def test_lenet_all_10000_images_bit_exact(lenet_snn, mnist_test, tmp_path):
    x, y = mnist_test
    summary = run_hardware(lenet_snn, x.astype("float32"), y, out_dir=tmp_path, paibox=False)
    _check(summary, 10000)


def test_lenet_temporal_500_images_bit_exact_on_2bit_cores(mnist_test, tmp_path):
    """The shipped model as a store-and-release SNN, mapped temporally: every layer keeps the SG's
    2-bit weights (docs/hardware.md §7), and the spike trains equal the Keras SR SNN's tick by tick."""
    x, y = mnist_test
    snn = convert(keras.models.load_model(MODEL), method="sr")
    summary = run_hardware(snn, x[:500].astype("float32"), y[:500], out_dir=tmp_path, num_images=500, paibox=False,
                           mapping="temporal")
    assert summary["bit_exact"] and summary["store_spikes"] == 0 and summary["agreement"] == 500
    assert set(summary["weight_bits_per_layer"].values()) == {2}
    assert summary["total_cores"] == summary["layer_cores"] + summary["controller_cores"] and summary["chips"] == 1
    assert summary["no_copy_cores_with_controllers"] <= summary["layer_cores"]
