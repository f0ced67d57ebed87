"""Issue 8, items 4 and 7 on --hardware: a network that does not fit fails before any evaluation,
the hardware line gives cores, latency and energy, --hardware-estimate-only evaluates nothing."""
import json
from pathlib import Path

import evaluate_snn
import evaluation.run

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "pretrained" / "lenet_mnist_k1B2"


def test_a_network_too_big_for_the_cores_fails_before_the_evaluation(tmp_path, data_dir, capsys):
    out = tmp_path / "hw"
    code = evaluate_snn.main(["--checkpoint", str(SHIPPED), "--hardware", "crossbar256", "--noise-sweep", "0,0.1",
                              "--limit-test", "200", "--data-dir", str(data_dir), "--output-dir", str(out)])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.err.strip().splitlines() == [
        "evaluate_snn.py: error: layer act1: axons: needs 1600 per neuron (receptive field 5x5x16 x L=4), "
        "limit 256 x LCN 1X = 256"]
    assert "image" not in captured.out  # no evaluation, no sweep ran (their progress bars count images)
    assert not out.exists()  # and nothing was written


def test_the_hardware_line_gives_latency_and_energy_beside_the_cores(tmp_path, data_dir, capsys):
    out = tmp_path / "hw"
    assert evaluate_snn.main(["--checkpoint", str(SHIPPED), "--hardware", "paicore", "--hardware-images", "20",
                              "--paibox", "none", "--limit-test", "40", "--export", "False",
                              "--data-dir", str(data_dir), "--output-dir", str(out)]) == 0
    report = json.loads((out / "hardware.json").read_text())
    line = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("hardware paicore:"))
    assert f"{report['total_cores']} cores on 1 chip(s)" in line
    assert f"latency {report['latency_ticks']} ticks" in line
    assert f"energy {report['energy_per_image_uj_estimate']:.4g} uJ per image" in line
    hardware = json.loads((out / "summary.json").read_text())["hardware"]
    # the hardware's SOPs are another unit than the SNN table's: labelled where they are kept
    assert hardware["sops_per_image"] == report["sops_per_image"] and "crossbar row" in hardware["sop_definition"]
    assert hardware["latency_ticks"] == 5 and hardware["energy_per_image_uj_estimate"] > 0


def test_estimate_only_evaluates_no_test_image(tmp_path, data_dir, monkeypatch, capsys):
    def no_test_set(*args, **kwargs):
        raise AssertionError("--hardware-estimate-only loaded the test set")

    monkeypatch.setattr(evaluation.run, "load_split", no_test_set)
    monkeypatch.chdir(tmp_path)
    assert evaluate_snn.main(["--checkpoint", str(SHIPPED), "--hardware", "paicore", "--hardware-estimate-only",
                              "--paibox", "none", "--data-dir", str(data_dir)]) == 0
    out = tmp_path / "figs" / "k1B2_paicore_estimate"  # never the folder of the evaluated run
    summary = json.loads((out / "summary.json").read_text())
    assert summary["estimate_only"] and summary["hardware"]["total_cores"] == 432
    assert "snn_accuracy" not in summary and not (out / "accuracy.txt").exists()
    printed = capsys.readouterr().out
    assert "432 cores on 1 chip(s); latency 5 ticks" in printed and "energy not estimated" in printed
