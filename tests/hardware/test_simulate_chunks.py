"""The fast core simulator gives the same counts and statistics in any chunking and on threads."""
import numpy as np

from hardware import CoreSimulator, map_network


def _stats(sim):
    return [sim.images, sim.input_spikes, sim.core_input_spikes, *sim.neuron_spikes]


def test_chunks_on_worker_threads_equal_one_pass_and_the_literal_crossbars(small_snn):
    snn, images = small_snn
    net, _, _, cores, *_ = map_network(snn, "paicore")
    encoded = net.probe.predict(images[:20], verbose=0)[net.encoder_name]
    runs = []
    for kwargs in ({"chunk": 64}, {"chunk": 3, "workers": 2}):
        sim = CoreSimulator(net, cores)
        runs.append((sim.run(encoded, **kwargs)[0], _stats(sim)))
    literal = CoreSimulator(net, cores, compress=False)
    runs.append((literal.run(encoded)[0], _stats(literal)))
    for counts, stats in runs[1:]:
        for a, b in zip(runs[0][0] + runs[0][1], counts + stats):
            np.testing.assert_array_equal(a, b)
