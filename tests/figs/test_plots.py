import json
from pathlib import Path

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


def test_seed_figures_show_the_single_two_and_four_spike_models(tmp_path):
    for k, B in ((0, 1), (0, 2), (0, 4), (1, 2), (1, 4)):
        (tmp_path / f"k{k}B{B}").mkdir()
        (tmp_path / f"k{k}B{B}" / "summary.json").write_text(json.dumps(_summary(k, B, 0.99)))
    written = {p.name for p in plot_all(tmp_path, float_runs=tmp_path / "no_runs")}
    assert written == {f"{name}{suffix}.png" for name in ("sparsity", "sops", "accuracy") for suffix in ("", "_all")}
    import matplotlib.image

    # the seed version has three groups of bars, the all-rows version five: it is wider
    assert matplotlib.image.imread(tmp_path / "sops_all.png").shape[1] > \
        matplotlib.image.imread(tmp_path / "sops.png").shape[1]


def test_measured_float_reference_is_preferred(tmp_path):
    (tmp_path / "figs" / "k0B1").mkdir(parents=True)
    (tmp_path / "figs" / "k0B1" / "summary.json").write_text(json.dumps(_summary(0, 1, 0.99)))
    (tmp_path / "runs" / "lenet_fp_mnist").mkdir(parents=True)
    (tmp_path / "runs" / "lenet_fp_mnist" / "metrics.json").write_text(
        json.dumps({"test_accuracy": 0.995, "model": "lenet_fp", "num_test": 10000}))
    from figs.plots import _float_reference

    runs = tmp_path / "runs"
    assert _float_reference("mnist", runs, "lenet") == (0.995, "float baseline (lenet_fp, measured)")
    assert _float_reference("mnist", tmp_path / "none", "lenet")[1] == "float baseline (paper)"
    assert len(plot_all(tmp_path / "figs", float_runs=runs)) == 3


def test_float_reference_is_never_a_smoke_run_or_another_network(tmp_path):
    from figs.plots import _float_reference

    for name, num_test in (("lenet_fp_mnist", 100), ("lenet_readme_fp_mnist", 10000)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "metrics.json").write_text(json.dumps({"test_accuracy": 0.9, "num_test": num_test}))
    assert _float_reference("mnist", tmp_path, "lenet") == (0.9952, "float baseline (paper)")
    assert _float_reference("mnist", tmp_path, "lenet_readme")[0] == 0.9


def test_a_run_whose_files_are_unreadable_is_left_out_and_named(tmp_path, capsys):
    # issue 8 item 3: one damaged run must not stop the figures of the others
    for name, summary in {"k0B1": _summary(0, 1, 0.991), "k1B2": _summary(1, 2, 0.994)}.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / "summary.json").write_text(json.dumps(summary))
    (tmp_path / "k0B2").mkdir()
    (tmp_path / "k0B2" / "summary.json").write_text('{"dataset": "mnist", "k": 0, "B"')  # half-written
    (tmp_path / "k1B4").mkdir()
    (tmp_path / "k1B4" / "summary.json").write_bytes(b"\xff\xfe\x00binary")
    (tmp_path / "k1B2" / "noise_sweep.json").write_text('{"points": []}')  # no noise_model
    skipped = []
    written = plot_all(tmp_path, float_runs=tmp_path / "no_runs", skipped=skipped)
    assert sorted(p.name for p in written) == ["accuracy.png", "sops.png", "sparsity.png"]
    assert [Path(s.split(":")[0]).parent.name for s in skipped] == ["k0B2", "k1B4", "k1B2"]
    assert all("unreadable, left out of the figures" in s for s in skipped)
    printed = capsys.readouterr().out
    assert printed.count("skipped ") == 3 and "k0B2" in printed and "noise_sweep.json" in printed


def test_a_configuration_is_drawn_from_its_full_calibrated_run_before_a_short_one(tmp_path):
    from figs.plots import _one_per_configuration, load_configurations

    runs = {"k1B2_limit100": {**_summary(1, 2, 0.97), "num_images": 100},
            "k1B2_batch50": {**_summary(1, 2, 0.99), "num_images": 10000},
            "k1B2_uncalibrated": {**_summary(1, 2, 0.98), "num_images": 10000, "calibrated": False},
            "k0B1_limit100": {**_summary(0, 1, 0.96), "num_images": 100}}
    for name, summary in runs.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / "summary.json").write_text(json.dumps(summary))
    chosen = _one_per_configuration(load_configurations(tmp_path))
    assert [c["run"] for c in chosen] == ["k0B1_limit100", "k1B2_batch50"]
    assert (plot_all(tmp_path, float_runs=tmp_path / "no_runs")[2]).name == "accuracy.png"  # mixed counts draw
