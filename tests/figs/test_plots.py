import json

from figs.plots import plot_all


def _summary(k, B, accuracy, noise=0.0):
    levels = 2**k * B
    return {
        "dataset": "mnist", "k": k, "B": B, "levels": levels, "num_images": 100, "noise_ratio": noise,
        "ann_accuracy": accuracy, "snn_accuracy": accuracy,
        "totals": {"sub_neurons": 14336 * levels, "ann_additions_hidden": 2326528},
        "per_image": {"spikes": 500.0 * levels, "sops": 1e5 * levels, "sops_seed": 2e5 * levels},
    }


def test_plot_all_draws_one_bar_per_configuration(tmp_path):
    for name, summary in {"k0B1": _summary(0, 1, 0.991), "k1B2": _summary(1, 2, 0.994),
                          "k1B2_noise0.1": _summary(1, 2, 0.98, noise=0.1)}.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / "summary.json").write_text(json.dumps(summary))
    sweep = {"noise_model": "encoding", "num_images": 100,
             "points": [{"noise_ratio": r, "mean": 0.99 - r, "std": 0.01, "accuracies": [0.99 - r]} for r in (0, 0.1)]}
    (tmp_path / "k1B2" / "noise_sweep.json").write_text(json.dumps(sweep))
    written = plot_all(tmp_path, float_runs=tmp_path / "no_runs")
    assert sorted(p.name for p in written) == ["accuracy.png", "noise_sweep.png", "sops.png", "sparsity.png"]
    assert all(p.stat().st_size > 5000 for p in written)


def test_measured_float_reference_is_preferred(tmp_path):
    (tmp_path / "figs" / "k0B1").mkdir(parents=True)
    (tmp_path / "figs" / "k0B1" / "summary.json").write_text(json.dumps(_summary(0, 1, 0.99)))
    (tmp_path / "runs" / "lenet_fp_mnist").mkdir(parents=True)
    (tmp_path / "runs" / "lenet_fp_mnist" / "metrics.json").write_text(
        json.dumps({"test_accuracy": 0.995, "model": "lenet_fp"}))
    from figs.plots import _float_reference

    assert _float_reference("mnist", tmp_path / "runs") == (0.995, "float baseline (lenet_fp, measured)")
    assert _float_reference("mnist", tmp_path / "none")[1] == "float baseline (paper)"
    assert len(plot_all(tmp_path / "figs", float_runs=tmp_path / "runs")) == 3
