"""Models saved before `lenet` became the seeds' code network still load and run.

Until then the `lenet` preset was the README's formula network (now `lenet_readme`), so older
.keras files and run folders say `lenet` for that architecture. They carry their own graph, so
nothing is rebuilt from the preset name: they must evaluate as before.
"""
import json

import numpy as np

from models import PRESETS, build_model


def _old_lenet(path):
    preset = PRESETS["lenet_readme"]
    model = build_model(preset.arch, dataset="mnist", k=1, B=2, padding=preset.padding, name="lenet")
    model.save(path)
    return model


def test_an_old_lenet_file_converts_and_evaluates(tmp_path, data_dir):
    import evaluate_snn

    _old_lenet(tmp_path / "old.keras")
    out = tmp_path / "eval"
    code = evaluate_snn.main(["--checkpoint", str(tmp_path / "old.keras"), "--model", "lenet", "--limit-test", "50",
                              "--export", "False", "--output-dir", str(out), "--data-dir", str(data_dir)])
    summary = json.loads((out / "summary.json").read_text())
    assert code == 0 and summary["agreement"] == 50
    assert summary["totals"]["macs_hidden"] == 1_163_264  # its own (formula) network, not the new preset


def test_an_old_lenet_file_runs_in_train_inference(tmp_path, data_dir, capsys):
    import train

    model = _old_lenet(tmp_path / "old.keras")
    assert train.main(["--mode", "inference", "--checkpoint", str(tmp_path / "old.keras"), "--limit-test", "50",
                       "--data-dir", str(data_dir)]) == 0
    assert "test_accuracy" in capsys.readouterr().out
    assert np.asarray(model.get_layer("fc4").kernel).shape == (512, 256)
