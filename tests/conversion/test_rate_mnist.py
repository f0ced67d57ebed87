"""The shipped rate-coded MNIST networks (docs/rate.md §1, §8): their recorded accuracy, binary
weights, and a short run of the pipeline in both timings."""
import json
from pathlib import Path

import keras
import numpy as np
import pytest

from evaluation.run import run
from training.run import count_correct

REPO = Path(__file__).resolve().parent.parent.parent
BINARY = REPO / "pretrained" / "lenet_binary_mnist"
FLOAT = REPO / "pretrained" / "lenet_avg_fp_mnist"
LAYERS_AFTER_INPUT = 7  # conv0 IF, conv1 pass-through, pool1 IF, conv2 pass-through, pool2 IF, fc3 IF, readout


@pytest.mark.parametrize("folder, target", [(BINARY, 0.993), (FLOAT, 0.993)])
def test_shipped_models_reach_the_target(folder, target, mnist_test):
    images, labels = mnist_test
    recorded = json.loads((folder / "metrics.json").read_text())
    model = keras.models.load_model(folder / "model.keras")
    assert count_correct(model, images, labels) == recorded["test_correct"]
    assert recorded["test_accuracy"] >= target and recorded["num_test"] == 10000


def test_the_binary_network_has_binary_hidden_weights():
    model = keras.models.load_model(BINARY / "model.keras")
    hidden = [layer for layer in model.layers if getattr(layer, "kernel_quantizer", None) == "xnor_net"]
    assert [layer.name for layer in hidden] == ["conv1", "conv2", "fc3"]
    for layer in hidden:
        kernel = np.asarray(layer.quantized_kernel()).reshape(-1, layer.kernel.shape[-1])
        for column in np.abs(kernel).T:
            assert np.allclose(column[column > 0], column.max())  # one magnitude alpha_o per filter
    assert type(model.get_layer("conv0")) is keras.layers.Conv2D  # float first and last layers
    assert type(model.get_layer("classifier")) is keras.layers.Dense


def test_short_run_in_both_timings(data_dir, tmp_path):
    common = dict(checkpoint=str(BINARY), limit_test=100, time=24, norm=200, percentile=99.9, export=False,
                  data_dir=str(data_dir), batch_size=50)
    sync = run("rate", output_dir=str(tmp_path / "sync"), **common)
    one = run("rate", output_dir=str(tmp_path / "one"), one_step=True, **common)
    curve = np.load(tmp_path / "sync" / "voltage_accuracy_lenet_binary_99.9.npy")
    np.testing.assert_allclose(curve, sync["snn_accuracy_per_step"], rtol=1e-6)
    assert sync["timing"] == "synchronous" and one["timing"] == "one-step"
    # synchronous: the readout is empty for the first 7 steps, every prediction is class 0
    chance = sync["snn_accuracy_per_step"][0]
    assert sync["snn_accuracy_per_step"][:LAYERS_AFTER_INPUT] == [chance] * LAYERS_AFTER_INPUT
    # every layer delays by one step and nothing else changes: the synchronous curve is the one-step
    # curve 7 steps later, exactly
    assert sync["snn_accuracy_per_step"][LAYERS_AFTER_INPUT:] == one["snn_accuracy_per_step"][:-LAYERS_AFTER_INPUT]
    assert sync["agreement_per_step"][LAYERS_AFTER_INPUT:] == one["agreement_per_step"][:-LAYERS_AFTER_INPUT]
    for summary in (sync, one):
        assert summary["snn_accuracy"] >= 0.9 and summary["ann_accuracy"] >= 0.95
        assert len(summary["agreement_per_step"]) == 24 and set(summary["lambdas"]) == {"act0", "act1", "act2", "act3"}
        assert summary["layers"][0]["spikes"] > 0 and len(summary["sops_per_step_per_image"]) == 24
    assert (tmp_path / "sync" / "lenet_binary_99.9.png").is_file()
    assert (tmp_path / "one" / "results" / "sim_result.txt").read_text().startswith("seed,simulation time")
