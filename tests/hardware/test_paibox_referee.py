"""PAIBox's own Simulator agrees with our core simulator neuron by neuron (spatial mapping)."""
import numpy as np

from hardware import CoreSimulator, map_network
from hardware.paibox_sim import PaiboxReferee, _paibox_input


def test_paibox_input_is_the_thermometer_in_paibox_channel_order():
    counts = np.array([[[0, 2], [1, 0]]])  # (H=1, W=2, C=2), L = 2
    spikes = _paibox_input(counts, 2)  # (C * L, H, W)
    assert spikes[:, 0, 0].tolist() == [0, 0, 1, 1] and spikes[:, 0, 1].tolist() == [1, 0, 0, 0]


def test_paibox_simulator_counts_equal_ours(small_snn):
    snn, images = small_snn
    net, spec, plans, cores, *_ = map_network(snn, "paicore")
    encoded = net.probe.predict(images[:6], verbose=0)[net.encoder_name]
    ours, _ = CoreSimulator(net, cores).run(encoded)
    theirs = PaiboxReferee(net).run(encoded)
    for a, b in zip(ours, theirs):
        np.testing.assert_array_equal(a, b)
