"""The temporal mapping's tiled PAIBox build: what `--paibox export` compiles runs in PAIBox's
Simulator with our tick simulator's spike trains, and its configuration is written."""
import numpy as np

from hardware import map_network, run_hardware
from hardware.temporal_sim import TemporalSimulator


def test_tiled_network_gives_our_spike_trains_in_paibox(small_sr):
    from hardware.paibox_temporal_tiled import TiledTemporalReferee

    snn, images = small_sr
    net, spec, plans, cores, *_ = map_network(snn, "paicore", mapping="temporal")
    assert all(p.cores > 1 for p in plans[:-1])  # several tiles, so timers and copies per tile matter
    encoded = net.probe.predict(images[:2], verbose=0)[net.encoder_name]
    ours = TemporalSimulator(net, cores).run(encoded)
    referee = TiledTemporalReferee(net, cores)
    theirs = referee.run(encoded)
    assert referee.store_spikes == 0
    for a, b in zip(ours, theirs):
        assert a.sum() > 0
        np.testing.assert_array_equal(a, b)


def test_paibox_export_of_the_temporal_mapping_writes_every_layer(small_sr, tmp_path):
    from evaluation.tables import hardware_line

    snn, images = small_sr
    summary = run_hardware(snn, images[:2], out_dir=tmp_path, mapping="temporal", paibox=True,
                           paibox_export_files=True)
    assert "paibox_export_error" not in summary
    export = summary["paibox_export"]
    assert export["exported_layers"] == [row["layer"] for row in summary["controllers"]]
    assert {"config_all.bin", "core_params.json", "input_proj_info.json", "input_map.npz"} <= set(export["files"])
    inputs = np.load(tmp_path / "paibox" / "input_map.npz")
    assert len(inputs.files) == export["input_projections"] > 1  # one per first-layer tile
    assert "PAIBox configuration in" in hardware_line("paicore", summary, tmp_path / "hardware.json")
