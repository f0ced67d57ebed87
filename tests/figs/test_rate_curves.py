import json

import pytest

from figs import rate_curves


def _run(folder, timing, settled):
    folder.mkdir()
    accuracy = [0.1] * 5 + [0.98 + 0.0001 * t for t in range(20)]
    (folder / "summary.json").write_text(json.dumps({
        "checkpoint": "pretrained/lenet_binary_mnist/model.keras", "arch": "lenet_binary", "timing": timing,
        "snn_accuracy_per_step": accuracy, "ann_accuracy": 0.982, "within_0.1pt_from_step": settled}))
    return str(folder)


def test_draws_one_curve_per_run(tmp_path):
    runs = [_run(tmp_path / "a", "synchronous", 12), _run(tmp_path / "b", "one-step", None)]
    out = tmp_path / "curves.png"
    rate_curves.main([str(out), *runs])
    assert out.stat().st_size > 10_000


def test_a_folder_without_summary_is_one_line(tmp_path):
    with pytest.raises(SystemExit) as error:
        rate_curves.main([str(tmp_path / "x.png"), str(tmp_path)])
    assert "no summary.json" in str(error.value) and "\n" not in str(error.value)
