"""bench/compare_outputs.py, the restructuring check: it must notice every changed byte and number,
and only timings and the checkpoint's path may differ."""
import importlib.util
import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("compare_outputs", REPO / "bench" / "compare_outputs.py")
compare_outputs = importlib.util.module_from_spec(spec)
spec.loader.exec_module(compare_outputs)


def _record(root, spikes="1.0\n", accuracy=0.99, seconds=3.0, checkpoint="a.keras"):
    for folder in compare_outputs.RUNS:
        out = root / folder
        out.mkdir(parents=True)
        (out / "spike_num.txt").write_text(spikes)
        summary = {"checkpoint": checkpoint, "snn_seconds": seconds, "snn_accuracy": accuracy,
                   "layers": [{"name": "act0", "spikes": 5}]}
        (out / "summary.json").write_text(json.dumps(summary))
    (root / "hardware" / "hardware.json").write_text(json.dumps({"total_cores": 144, "timings": {"map_s": seconds}}))


def test_identical_records_compare_equal_except_timings_and_paths(tmp_path):
    _record(tmp_path / "a")
    _record(tmp_path / "b", seconds=9.0, checkpoint="/tmp/other.keras")
    problems, compared = compare_outputs.compare(tmp_path / "a", tmp_path / "b")
    assert problems == [] and compared == 4 * 2 + 1


def test_a_changed_byte_or_number_is_reported(tmp_path):
    _record(tmp_path / "a")
    _record(tmp_path / "b", spikes="1.0000000000000002\n", accuracy=0.9901)
    problems, _ = compare_outputs.compare(tmp_path / "a", tmp_path / "b")
    assert "default/spike_num.txt: not byte-identical" in problems
    assert any(p.startswith("noise/summary.json.snn_accuracy: 0.99 != 0.9901") for p in problems)


def test_an_int_is_not_equal_to_a_float_and_a_missing_record_fails(tmp_path):
    _record(tmp_path / "a")
    _record(tmp_path / "b")
    path = tmp_path / "b" / "hardware" / "hardware.json"
    path.write_text(json.dumps({"total_cores": 144.0, "timings": {}}))
    problems, _ = compare_outputs.compare(tmp_path / "a", tmp_path / "b")
    assert problems == ["hardware/hardware.json.total_cores: 144 != 144.0"]
    assert compare_outputs.compare(tmp_path / "nothing", tmp_path / "b")[0][-1].startswith("nothing to compare")
