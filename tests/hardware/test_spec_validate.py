"""Core specs (paicorelib, YAML round trip) and the validator's error texts."""
import dataclasses

import pytest

from hardware import (HardwareError, check, dump_spec, extract, load_spec, paicore, partition, resolve_spec,
                      tiny_spec, validate)
from hardware.spec import CORES_DIR


def test_paicore_numbers_come_from_paicorelib():
    from paicorelib import HwConfig, OffCoreCfg

    spec = paicore()
    assert (spec.core.axons, spec.core.dendrites) == (OffCoreCfg.N_FANIN_PER_DENDRITE_SNN, 512) == (1152, 512)
    assert spec.core.weight_widths == (1, 2, 4, 8) and spec.core.max_lcn == 6
    assert (spec.core.membrane_bits, spec.core.threshold_bits) == (30, 29)
    assert spec.chip.cores_per_chip == HwConfig.N_CORE_OFFLINE == 1008
    assert spec.core.neurons_per_core(1, 2) == 128 and spec.core.weight_range(2) == (-2, 1)
    assert spec.core.weight_range(1) == (0, 1)


@pytest.mark.parametrize("spec", [tiny_spec(), paicore()], ids=["tiny", "paicore"])
def test_yaml_round_trip(spec, tmp_path):
    path = tmp_path / "core.yaml"
    dump_spec(spec, path)
    assert load_spec(path) == spec


def test_shipped_crossbar_core_loads():
    spec = resolve_spec("crossbar256")
    assert spec == load_spec(CORES_DIR / "crossbar256.yaml")
    assert (spec.core.axons, spec.core.dendrites, spec.chip.cores_per_chip) == (256, 256, 256)
    assert spec.core.neurons_per_core(0, 8) == 256  # no dendrite combination


def test_bad_yaml_is_one_line_hardware_error(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ncore: {axons: 4, dendrites: 4, wires: 3}\nchip: {}\n")
    with pytest.raises(HardwareError, match="unknown field.*wires") as info:
        load_spec(bad)
    assert "\n" not in str(info.value) and isinstance(info.value, ValueError)
    bad.write_text("core: [1, 2\n")
    with pytest.raises(HardwareError, match="not valid YAML"):
        load_spec(bad)
    with pytest.raises(HardwareError, match="unknown core"):
        resolve_spec(str(tmp_path / "missing.yaml"))


def _core_file(tmp_path, **changes):
    """crossbar256.yaml with some `key: value` lines replaced (value as YAML text)."""
    lines = []
    for line in (CORES_DIR / "crossbar256.yaml").read_text().splitlines():
        key = line.split(":")[0].strip()
        lines.append(f"{line[:len(line) - len(line.lstrip())]}{key}: {changes.pop(key)}" if key in changes else line)
    assert not changes, changes
    path = tmp_path / "core.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_yaml_numbers_written_with_an_exponent_are_numbers(tmp_path):
    # issue 8 item 4: PyYAML's safe_load reads 1e-3 (YAML 1.1) as a string
    spec = load_spec(_core_file(tmp_path, energy_per_sop_pj="1.93e-1", axons="2.56e2"))
    assert spec.energy_per_sop_pj == pytest.approx(0.193) and spec.core.axons == 256


@pytest.mark.parametrize("changes, fragment", [
    ({"axons": "abc"}, "core: axons: expected an integer, got 'abc'"),
    ({"axons": "256.5"}, "core: axons: expected an integer, got 256.5"),
    ({"dendrites": "[256]"}, "core: dendrites: expected an integer, got [256]"),
    ({"max_lcn": ".inf"}, "core: max_lcn: expected an integer, got inf"),
    ({"combine_dendrites": "nope"}, "core: combine_dendrites: expected true or false, got 'nope'"),
    ({"weight_widths": "[2, four, 8]"}, "core: weight_widths: expected an integer, got 'four'"),
    ({"weight_widths": "8"}, "core: weight_widths: expected a list, got 8"),
    ({"energy_per_sop_pj": "lots"}, "energy_per_sop_pj: expected a finite number >= 0, got 'lots'"),
    ({"grid": "[16, x]"}, "chip: grid: expected an integer, got 'x'"),
    ({"reserved": "[[0, 1]]"}, "chip: reserved: expected a list of [[x0, x1], [y0, y1]] rectangles"),
    ({"max_chips": "0"}, "max_chips must be >= 1"),
    ({"name": "[a, b]"}, "name: expected text"),
])
def test_mistyped_core_values_are_one_line_errors(tmp_path, changes, fragment):
    with pytest.raises(HardwareError) as info:
        load_spec(_core_file(tmp_path, **changes))
    assert fragment in str(info.value) and "\n" not in str(info.value)


def test_one_yaml_reader_for_configs_and_core_files():
    import cli_utils
    import hardware.spec
    import training.config

    assert training.config.load_yaml is cli_utils.load_yaml is hardware.spec.load_yaml
    assert cli_utils.load_yaml("a: 1e-3\nb: 7\nc: 1.5\nd: '1e-3'\n") == {"a": 0.001, "b": 7, "c": 1.5, "d": "1e-3"}


def _plans(snn, spec):
    net = extract(snn)
    return net, partition(net, spec, tables=False)[0]


def test_too_many_axons(small_snn):
    snn, _ = small_snn
    with pytest.raises(HardwareError) as info:
        _plans(snn, tiny_spec(axons=8, dendrites=64, max_lcn=0))
    assert str(info.value) == ("layer act1: axons: needs 64 per neuron (receptive field 2x2x4 x L=4), "
                               "limit 8 x LCN 1X = 8")


def test_too_many_neurons(small_snn):
    snn, _ = small_snn
    net, plans = _plans(snn, paicore())
    small = dataclasses.replace(paicore(), core=dataclasses.replace(paicore().core, dendrites=64))
    problems = check(net, plans, small)
    assert any(p.startswith("layer act1: neurons: needs ") and "limit 32 (64 >> (LCN 0 + width code 1))" in p
               for p in problems), problems


def test_weights_too_wide(small_snn):
    snn, _ = small_snn
    with pytest.raises(HardwareError, match=r"^layer act1: weight width: needs values -1\.\.1, widest "
                                            r"supported is 1 bits \(0\.\.1\)$"):
        _plans(snn, tiny_spec(axons=1024, dendrites=1024, weight_widths=(1,)))


def test_membrane_overflow(small_snn):
    snn, _ = small_snn
    spec = tiny_spec(axons=1024, dendrites=1024, membrane_bits=6)
    net, plans = _plans(snn, spec)
    with pytest.raises(HardwareError) as info:
        validate(net, plans, spec)
    message = str(info.value)
    assert message.startswith("does not fit tiny: ") and "\n" not in message
    assert "membrane: worst case |V| = " in message and "limit 6 bits" in message
    worst = max(int(layer.v_max.max()) for layer in net.layers)
    assert worst > 31


def test_small_net_fits_paicore(small_snn):
    snn, _ = small_snn
    net, plans = _plans(snn, paicore())
    validate(net, plans, paicore())  # fits PAICORE
