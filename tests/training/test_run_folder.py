"""No work lost: what train.py may do to a run folder that holds a run, and after a failure."""
import hashlib
import json
import shutil
from pathlib import Path

import pytest

import train
from training import run as training_run

TINY = ["--limit-train", "512", "--limit-test", "200", "--batch-size", "128"]


def snapshot(folder):
    """{relative path: sha256} of every file under `folder`: equal snapshots, untouched folder."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(Path(folder).rglob("*")) if p.is_file()}


def one_line_error(capsys, code, fragment):
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0], err
    return lines[0]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, data_dir):
    """A finished one-epoch run (trained once per module; tests copy it)."""
    out = tmp_path_factory.mktemp("finished") / "run"
    assert train.main(["--epochs", "1", "--data-dir", str(data_dir), "--output-dir", str(out), *TINY]) == 0
    return out


@pytest.fixture
def finished(finished_run, tmp_path):
    out = tmp_path / "finished"
    shutil.copytree(finished_run, out)
    return out


@pytest.fixture
def interrupted(finished_run, tmp_path):
    """A run of 2 epochs killed after its first: a checkpoint, no final model or metrics."""
    out = tmp_path / "interrupted"
    shutil.copytree(finished_run, out)
    for name in ("metrics.json", "model.keras"):
        (out / name).unlink()
    shutil.rmtree(out / "model.export")
    state_file = out / "checkpoint" / "state.json"
    state = json.loads(state_file.read_text())
    state["options"]["epochs"] = 2
    state_file.write_text(json.dumps(state))
    return out


def args_for(out, data_dir, *extra, epochs=1):
    return ["--epochs", str(epochs), "--data-dir", str(data_dir), "--output-dir", str(out), *TINY, *extra]


def test_a_finished_run_writes_its_summary_and_tensorboard_log(finished_run):
    log = (finished_run / "train.log").read_text()
    assert "Total params" in log and "warm-up steps" in log
    assert list((finished_run / "tensorboard").rglob("events.out.tfevents.*"))
    assert (finished_run / "history.csv").is_file()


def test_a_fresh_run_over_a_finished_run_is_refused(finished, data_dir, capsys):
    before = snapshot(finished)
    line = one_line_error(capsys, train.main(args_for(finished, data_dir)), "holds a finished run")
    assert "--overwrite" in line
    assert snapshot(finished) == before


def test_a_fresh_run_over_an_interrupted_run_is_refused(interrupted, data_dir, capsys):
    before = snapshot(interrupted)
    line = one_line_error(capsys, train.main(args_for(interrupted, data_dir, epochs=2)),
                          "a run stopped after epoch 1 of 2")
    assert "--resume True" in line and "--overwrite" in line
    assert snapshot(interrupted) == before


@pytest.mark.parametrize("flags, fragment", [
    ([], "holds a run stopped after epoch 1 of 2"),
    (["--resume", "True"], "missing mnist file"),
    (["--overwrite", "True"], "missing mnist file"),
])
def test_a_typo_in_the_data_dir_leaves_the_run_folder_intact(interrupted, tmp_path, capsys, flags, fragment):
    before = snapshot(interrupted)
    one_line_error(capsys, train.main(args_for(interrupted, tmp_path / "no-such-data", *flags, epochs=2)), fragment)
    assert snapshot(interrupted) == before


def test_resume_with_nothing_to_resume_is_an_error(tmp_path, data_dir, capsys):
    out = tmp_path / "runs" / "new"
    one_line_error(capsys, train.main(args_for(out, data_dir, "--resume", "True")), "nothing to resume in")
    assert not (tmp_path / "runs").exists()


def test_resuming_a_finished_run_does_not_rewrite_its_results(finished, data_dir, capsys):
    before = snapshot(finished)
    one_line_error(capsys, train.main(args_for(finished, data_dir, "--resume", "True", "--limit-test", "100")),
                   "started with limit_test=200, not 100")
    assert train.main(args_for(finished, data_dir, "--resume", "True")) == 0
    assert "is a finished run" in capsys.readouterr().out
    assert snapshot(finished) == before


def test_overwrite_starts_a_fresh_run(finished, data_dir):
    assert train.main(args_for(finished, data_dir, "--overwrite")) == 0
    assert (finished / "train.log").read_text().count("epoch 1/1") == 1
    assert [line.split(",")[0] for line in (finished / "history.csv").read_text().splitlines()] == ["epoch", "1"]


def test_damaged_state_and_checkpoint_files_are_named(interrupted, data_dir, capsys):
    state = interrupted / "checkpoint" / "state.json"
    good = state.read_text()
    state.write_text(good[: len(good) // 2])
    line = one_line_error(capsys, train.main(args_for(interrupted, data_dir, "--resume", epochs=2)), "is damaged")
    assert str(state) in line
    state.write_text(good)
    (interrupted / "checkpoint" / "last.keras").write_bytes(b"PK\x03\x04 truncated")
    line = one_line_error(capsys, train.main(args_for(interrupted, data_dir, "--resume", epochs=2)),
                          "checkpoint")
    assert "last.keras is damaged" in line


@pytest.mark.parametrize("where", ["under_a_file", "proc"])
def test_an_unwritable_output_folder_is_one_line(tmp_path, data_dir, capsys, where):
    (tmp_path / "file").write_text("x")
    out = tmp_path / "file" / "run" if where == "under_a_file" else Path("/proc/no-such-run")
    one_line_error(capsys, train.main(args_for(out, data_dir)), str(out if where == "proc" else tmp_path / "file"))


def _nan_images_from_epoch(first_bad_epoch, monkeypatch):
    """Make the training images NaN from `first_bad_epoch` (0-based) on: the loss becomes NaN."""
    from snn_data import pipelines

    real = pipelines.train_dataset

    def poisoned(images, labels, batch_size, dataset, seed, epoch, **kwargs):
        ds = real(images, labels, batch_size, dataset, seed, epoch, **kwargs)
        return ds.map(lambda x, y: (x * float("nan"), y)) if epoch >= first_bad_epoch else ds

    monkeypatch.setattr(pipelines, "train_dataset", poisoned)  # what the TensorFlow inputs call


def test_a_nan_loss_stops_with_an_error_and_keeps_the_last_good_checkpoint(tmp_path, data_dir, capsys,
                                                                           monkeypatch):
    out = tmp_path / "run"
    _nan_images_from_epoch(1, monkeypatch)
    line = one_line_error(capsys, train.main(args_for(out, data_dir, epochs=2)), "the training loss became nan")
    assert "the checkpoint after epoch 1 is kept" in line
    assert json.loads((out / "checkpoint" / "state.json").read_text())["completed_epochs"] == 1
    assert not (out / "model.keras").exists() and not (out / "metrics.json").exists()
    assert [r.split(",")[0] for r in (out / "history.csv").read_text().splitlines()] == ["epoch", "1"]


def test_a_run_that_fails_before_its_first_checkpoint_leaves_no_folder(tmp_path, data_dir, capsys, monkeypatch):
    out = tmp_path / "runs" / "run"
    _nan_images_from_epoch(0, monkeypatch)
    line = one_line_error(capsys, train.main(args_for(out, data_dir)), "the training loss became nan")
    assert "nothing was saved" in line
    assert not (tmp_path / "runs").exists()


def test_a_one_epoch_run_warms_up_in_a_tenth_of_its_steps():
    from training.optimizers import make_schedule

    schedule = make_schedule({"epochs": 1, "learning_rate": 1e-3, "lr_schedule": "cosine"}, 100)
    assert float(schedule(10)) == pytest.approx(1e-3)
    assert float(schedule(5)) == pytest.approx(5e-4)
    # 20 epochs: one epoch of warm-up, as before
    schedule = make_schedule({"epochs": 20, "learning_rate": 1e-3, "lr_schedule": "cosine"}, 100)
    assert float(schedule(50)) == pytest.approx(5e-4) and float(schedule(100)) == pytest.approx(1e-3)
