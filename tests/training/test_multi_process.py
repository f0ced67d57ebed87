"""Two JAX processes on 127.0.0.1 (gloo collectives): identical weights, a killed process ends the
job with one line on the survivor, and relaunching resumes (slow: three two-process runs)."""
import csv
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ARGS = ["--backend", "jax", "--epochs", "2", "--limit-train", "800", "--limit-test", "200", "--batch-size", "100"]
BOUND_SECONDS = 120  # a lost peer must end the survivor within this


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _launch(out, data_dir, port, extra=()):
    env = {k: v for k, v in os.environ.items() if k not in ("XLA_FLAGS",)}
    env.update(TF_CPP_MIN_LOG_LEVEL="3", KERAS_BACKEND="jax")
    procs = []
    for i in range(2):
        command = [sys.executable, str(REPO / "train.py"), *ARGS, "--data-dir", str(data_dir), "--output-dir", str(out),
                   "--coordinator", f"127.0.0.1:{port}", "--num-processes", "2", "--process-id", str(i), *extra]
        procs.append(subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      text=True))
    return procs


def _finish(procs, timeout=900):
    return [(p.wait(timeout=timeout), *p.communicate()) for p in procs]


def _digest(stdout):
    return re.search(r"weights digest ([0-9a-f]{32})", stdout).group(1)


@pytest.mark.slow
def test_two_processes_train_identically_and_a_killed_job_resumes(tmp_path, data_dir):
    whole = tmp_path / "whole"
    results = _finish(_launch(whole, data_dir, _free_port()))
    for code, stdout, stderr in results:
        assert code == 0, stderr[-3000:]
    assert _digest(results[0][1]) == _digest(results[1][1])  # bit-identical on both processes
    reference = json.loads((whole / "metrics.json").read_text())
    assert reference["processes"] == 2 and reference["devices"] == 2

    out = tmp_path / "killed"
    procs = _launch(out, data_dir, _free_port())
    state = out / "checkpoint" / "state.json"
    deadline = time.time() + 900
    while time.time() < deadline and not state.is_file():
        time.sleep(0.05)
    assert state.is_file(), "no checkpoint after the first epoch"
    procs[1].send_signal(signal.SIGKILL)  # in epoch 2
    killed_at = time.time()
    code, stdout, stderr = _finish(procs[:1], timeout=BOUND_SECONDS + 60)[0]
    procs[1].wait()
    assert time.time() - killed_at < BOUND_SECONDS
    if json.loads(state.read_text())["completed_epochs"] < 2:  # (else the kill came after the training)
        assert code == 2
        lines = [line for line in stderr.splitlines() if line.startswith("train.py: error:")]
        assert len(lines) == 1 and "another process of the job stopped" in lines[0], stderr[-3000:]

    results = _finish(_launch(out, data_dir, _free_port(), ["--resume", "True"]))
    for code, stdout, stderr in results:
        assert code == 0, stderr[-3000:]
    assert "resuming" in results[0][1]
    metrics = json.loads((out / "metrics.json").read_text())
    assert abs(metrics["test_accuracy"] - reference["test_accuracy"]) <= 0.001
    assert [int(r["epoch"]) for r in csv.DictReader(open(out / "history.csv"))] == [1, 2]
