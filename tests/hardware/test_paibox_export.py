"""PAIBox's configuration export covers every on-chip layer, the first one included (the tiled
construction of hardware.paibox_export), and that network computes what our cores compute."""
import contextlib
import io
import json

import numpy as np

from hardware import CoreSimulator, map_network
from hardware.paibox_export import build_tiled_network, paibox_export_tiled
from hardware.paibox_sim import TiledPaiboxReferee


def test_no_source_node_is_shared_between_two_reading_tiles(small_snn):
    net, _, plans, cores, *_ = map_network(small_snn[0], "paicore")
    with contextlib.redirect_stdout(io.StringIO()):
        network, input_map, outputs, nodes = build_tiled_network(net, cores)
    assert len(input_map) == plans[0].grid[0] * plans[0].grid[1] > 1  # one input projection per tile
    targets = {}
    for syn in network.nodes().values():
        if hasattr(syn, "source") and hasattr(syn, "target"):
            targets.setdefault(syn.source.name, set()).add(syn.target.name.split("_for")[0])
    # every source (input projection or tile copy) feeds the copies of one tile only
    assert targets and all(len(t) == 1 for t in targets.values())
    for layer, tiles, n in zip(net.layers, outputs, nodes):
        ids = np.concatenate([i for _, i in tiles])
        assert np.array_equal(np.sort(ids), np.arange(layer.n_out)) and n >= len(tiles)


def test_export_writes_every_layer_first_included(small_snn, tmp_path):
    net, *_, cores, _, _ = map_network(small_snn[0], "paicore")
    with contextlib.redirect_stdout(io.StringIO()):
        result = paibox_export_tiled(net, cores, tmp_path)
    assert result["exported_layers"] == [layer.name for layer in net.layers]
    folder = tmp_path / "paibox"
    assert (folder / "config_all.bin").stat().st_size > 0
    inputs = json.loads((folder / "input_proj_info.json").read_text())
    assert set(inputs) == set(np.load(folder / "input_map.npz").files) and len(inputs) == result["input_projections"]
    # the cores PAIBox configured, by working tick (layer i works in tick i + 1): every layer has
    # at least its own neurons on cores, the first one too
    params = json.loads((folder / "core_params.json").read_text())
    neurons = {}
    for chip in params.values():
        for core in chip.values():
            neurons[core["tick_wait_start"]] = neurons.get(core["tick_wait_start"], 0) + core["neuron_num"]
    assert sorted(neurons) == list(range(1, len(net.layers) + 1))
    assert all(neurons[i + 1] >= layer.n_out for i, layer in enumerate(net.layers))


def test_tiled_network_in_paibox_simulator_equals_our_cores(small_snn):
    snn, images = small_snn
    net, _, _, cores, *_ = map_network(snn, "paicore")
    encoded = net.probe.predict(images[:4], verbose=0)[net.encoder_name]
    ours, _ = CoreSimulator(net, cores).run(encoded)
    theirs = TiledPaiboxReferee(net, cores).run(encoded)
    for a, b in zip(ours, theirs):
        np.testing.assert_array_equal(a, b)


def test_run_hardware_exports_every_layer(small_snn, tmp_path):
    from hardware import run_hardware

    snn, images = small_snn
    summary = run_hardware(snn, images[:4], out_dir=tmp_path, paibox=True, paibox_export_files=True)
    assert "paibox_export_error" not in summary
    assert summary["paibox_export"]["exported_layers"] == [row["layer"] for row in summary["layers"]]
    assert (tmp_path / "paibox" / "input_map.npz").is_file()
