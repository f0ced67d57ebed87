"""The core simulator's tables as convolutions equal its numpy matmuls, counts and statistics."""
from types import SimpleNamespace

import numpy as np

from hardware import CoreSimulator, map_network
from hardware.simulate_conv import GROUP, table_conv


def _stats(sim):
    return [sim.images, sim.input_spikes, sim.core_input_spikes, *sim.neuron_spikes]


def test_convolutions_equal_the_numpy_tables_over_several_sum_groups(small_snn):
    snn, images = small_snn
    net, _, _, cores, *_ = map_network(snn, "paicore")
    encoded = net.probe.predict(images, verbose=0)[net.encoder_name]
    encoded = np.concatenate([encoded, encoded[::-1], encoded[:GROUP + 5 - len(encoded)]])  # > GROUP images
    conv, numpy = CoreSimulator(net, cores), CoreSimulator(net, cores, convolutions=False)
    assert conv.conv is not None and numpy.conv is None
    ours = conv.run(encoded)[0] + conv.run(encoded, chunk=7)[0]
    theirs = numpy.run(encoded)[0] + numpy.run(encoded, chunk=7)[0]
    for a, b in zip(ours + _stats(conv), theirs + _stats(numpy)):
        np.testing.assert_array_equal(a, b)


def test_a_tensor_of_encoder_counts_gives_what_its_array_gives(small_snn):
    """The convolution engine reads a TensorFlow tensor where it lies (bench/hardware_speed.py's
    encoder hands it over so, without a copy into numpy), in whole and in chunks."""
    import tensorflow as tf

    snn, images = small_snn
    net, _, _, cores, *_ = map_network(snn, "paicore")
    encoded = net.probe.predict(images, verbose=0)[net.encoder_name]
    from_array, from_tensor = CoreSimulator(net, cores), CoreSimulator(net, cores)
    ours = from_tensor.run(tf.constant(encoded))[0] + from_tensor.run(tf.constant(encoded), chunk=3)[0]
    theirs = from_array.run(encoded)[0] + from_array.run(encoded, chunk=3)[0]
    for a, b in zip(ours + _stats(from_tensor), theirs + _stats(from_array)):
        np.testing.assert_array_equal(a, b)


def test_table_conv_reads_a_grid_and_refuses_irregular_blocks():
    weights = np.array([[1, -1, 2, 1]])  # one column over rows (h, w, c) = (0,0,0) (0,0,1) (0,1,1) (1,0,1)
    base = np.array([0, 1, 3, 7])  # in a (3, 3, 2) input: (h * 3 + w) * 2 + c
    grid = SimpleNamespace(u=1, weights=weights, base=base, offsets=[0, 2, 6, 8])  # 2 x 2 positions
    crop, kernel, strides, shape = table_conv(grid, (3, 3, 2))
    assert shape == (2, 2) and strides == (1, 1) and kernel.shape == (2, 2, 2, 1)
    x = np.random.default_rng(0).integers(0, 5, (3, 3, 2))
    flat = x.reshape(-1)
    expected = [weights[0] @ flat[o + base] for o in grid.offsets]
    patches = [x[i:i + 2, j:j + 2][crop[2]] for i in range(2) for j in range(2)]
    assert [float(np.sum(p * kernel[..., 0])) for p in patches] == expected
    assert table_conv(SimpleNamespace(u=1, weights=weights, base=base, offsets=[0, 2, 8]), (3, 3, 2)) is None
    # the second block's rows would wrap from the end of an image row into the next
    assert table_conv(SimpleNamespace(u=1, weights=weights, base=base, offsets=[0, 4]), (3, 3, 2)) is None
