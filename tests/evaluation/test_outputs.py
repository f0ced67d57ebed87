"""Issue 8, item 3: evaluation outputs are never mixed or clobbered.

Default folders are named by every option that changes the results; a run replaces the files an
earlier run left in its folder; two runs writing one folder at once do not collide."""
import json
import threading
from pathlib import Path

import pytest

import evaluate_snn
from cli_utils import temporary_path, write_json_atomic
from evaluation import outputs

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "pretrained" / "lenet_mnist_k1B2"


def _run(data_dir, *args):
    return evaluate_snn.main(["--checkpoint", str(SHIPPED), "--data-dir", str(data_dir), "--paibox", "none",
                              *args])


def _folders(root):
    return sorted(p.parent.name for p in root.glob("*/summary.json"))


def test_runs_that_differ_get_their_own_folders_and_stale_files_go(tmp_path, data_dir, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # default outputs go to figs/ under the current folder
    figs = tmp_path / "figs"
    small = ["--limit-test", "120", "--export", "False"]
    # a run with a hardware report and a noise sweep, then the same run without either
    assert _run(data_dir, *small, "--hardware", "paicore", "--hardware-images", "20", "--noise-sweep", "0,0.5") == 0
    run = figs / "k1B2_limit120"
    assert (run / "hardware.json").is_file() and (run / "noise_sweep.json").is_file()
    assert _run(data_dir, *small) == 0
    summary = json.loads((run / "summary.json").read_text())
    assert "hardware" not in summary and "noise_sweep" not in summary
    for stale in ("hardware.json", "hardware_grid.png", "noise_sweep.json", "noise_sweep.png"):
        assert not (run / stale).exists(), stale  # they belonged to the earlier run
    assert json.loads((run / "outputs.json").read_text())["files"] == sorted(
        ["summary.json", "accuracy.txt", "spike_num.txt", "sop_num.txt", "spike_collect.txt"])
    # each option that changes the results is its own folder
    assert _run(data_dir, *small, "--calibrate", "False") == 0
    assert _run(data_dir, *small, "--noise_ratio", "0.1") == 0
    assert _run(data_dir, *small, "--noise_ratio", "0.1", "--noise-model", "all-layers", "--seeds", "2",
                "--batch-size", "40") == 0
    assert _folders(figs) == ["k1B2_limit120", "k1B2_noise0.1_all-layers_seeds2_limit120_batch40",
                              "k1B2_noise0.1_limit120", "k1B2_uncalibrated_limit120"]
    assert json.loads((run / "summary.json").read_text())["calibrated"] is True  # not overwritten
    noisy = json.loads((figs / "k1B2_noise0.1_all-layers_seeds2_limit120_batch40" / "summary.json").read_text())
    assert noisy["noise_model"] == "all-layers" and len(noisy["snn_accuracies"]) == 2


def test_a_default_folder_that_cannot_be_written_fails_before_the_evaluation(tmp_path, data_dir, monkeypatch,
                                                                             capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "figs").write_text("a file where the default output folder would go")
    assert _run(data_dir, "--limit-test", "50") == 2
    captured = capsys.readouterr()
    assert captured.err.strip().splitlines() == [
        "evaluate_snn.py: error: cannot create output folder figs/k1B2_limit50: figs is a file; "
        "choose another --output-dir"]
    assert "image" not in captured.out  # nothing was evaluated


def test_a_folder_of_an_older_version_loses_its_stale_reports(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    for name in ("summary.json", "hardware.json", "noise_sweep.json", "notes.txt"):
        (out / name).write_text("{}")
    before = outputs.begin(out)
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]  # the user's own file stays
    (out / "summary.json").write_text("{}")
    assert outputs.finish(out, before) == ["summary.json"]


def test_a_damaged_manifest_never_removes_anything_outside_the_folder(tmp_path):
    out, outside = tmp_path / "run", tmp_path / "precious.txt"
    out.mkdir()
    outside.write_text("keep me")
    (out / outputs.MANIFEST).write_text(json.dumps({"files": ["../precious.txt", "/etc/passwd", 3]}))
    outputs.begin(out)
    assert outside.read_text() == "keep me"


def _hammer(work, threads=4, rounds=150):
    errors = []

    def loop(i):
        try:
            for j in range(rounds):
                work(i, j)
        except Exception as err:  # noqa: BLE001  (any crash of a writer is the failure)
            errors.append(f"{type(err).__name__}: {err}")

    pool = [threading.Thread(target=loop, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return errors


def test_two_runs_writing_one_json_at_once_do_not_collide(tmp_path):
    path = tmp_path / "summary.json"
    errors = _hammer(lambda i, j: write_json_atomic(path, {"writer": i, "round": j, "pad": "x" * 20000}))
    assert not errors, errors[:3]
    assert json.loads(path.read_text())["pad"] == "x" * 20000  # whole, from one writer
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]  # no temporary left behind


def test_temporary_names_are_unique_and_keep_the_suffix(tmp_path):
    names = {temporary_path(tmp_path / "snn.keras") for _ in range(20)}
    assert len(names) == 20 and all(n.name.endswith(".keras") and n.parent == tmp_path for n in names)


def test_folders_replaced_at_once_end_whole(tmp_path):
    target = tmp_path / "snn.export"

    def build_and_replace(i, j):
        built = outputs.temporary_folder(target)
        (built / "saved_model.pb").write_text(f"{i} {j}")
        outputs.replace_folder(built, target)

    errors = _hammer(build_and_replace, rounds=60)
    assert not errors, errors[:3]
    assert [p.name for p in target.iterdir()] == ["saved_model.pb"]


@pytest.mark.parametrize("options, name", [
    ({}, "k1B2"),
    ({"noise_ratio": 0.2, "noise_model": "encoding"}, "k1B2_noise0.2"),
    ({"noise_ratio": 0.2, "noise_model": "input", "seed": 3, "seeds": 5}, "k1B2_noise0.2_input_seed3_seeds5"),
    ({"seed": 3, "seeds": 5}, "k1B2"),  # seeds change nothing without noise
    ({"calibrate": False, "limit_test": 100, "batch_size": 50}, "k1B2_uncalibrated_limit100_batch50"),
    ({"hardware": "cores/mine.yaml", "hardware_estimate_only": True}, "k1B2_mine_estimate"),
])
def test_folder_names(options, name):
    from conversion import get_method

    full = {"noise_ratio": 0.0, "noise_model": None, "seed": 0, "seeds": 1, "calibrate": True,
            "limit_test": None, "batch_size": 200, "hardware": None, "hardware_estimate_only": False, **options}
    assert outputs.folder_name(get_method("sg"), {"k": 1, "B": 2}, full) == name
