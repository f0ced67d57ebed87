"""PAIBox's own Simulator as a referee for the temporal mapping (docs/hardware.md §8).

What our tick simulator (hardware.temporal_sim) assumes of a PAICORE neuron in the temporal
mapping is built here in PAIBox and run by PAIBox's `Simulator`:
- every hidden layer is split into PAIBox `LIF` groups, one per distinct step s (PAIBox takes one
  threshold per group; a channel's threshold register holds its step): threshold s, linear
  ("soft") reset V -= s, the per-neuron leak lambda as PAIBox's `bias` (added before the
  comparison in every working tick), membranes from 0, with the cores' own tick_wait_start and
  tick_wait_end (hardware.temporal: PAIBox reads a spike at the receiver's local tick equal to
  the sender's, so these registers are what sets the one-tick hop);
- data synapses are the layer's own integer kernels (`Conv2d` per pair of groups, `FullConn`
  for dense layers in PAIBox's (C, H, W) order);
- every controller group (hardware.temporal.Control: cancel, hold, correct<j>) is driven by its
  timers as on the chip (hardware.temporal.Timer): per run one PAIBox `LIF` group without inputs,
  one neuron per controller axon, leak 1, threshold and hard reset of the Timer, starting one
  tick before its layer, through a `FullConn` whose weights are each channel's total split into
  int8 pieces. So PAIBox checks the timers' registers too, not only the ticks we want from them.
  Each timer group also gets a zero-weight synapse from one silent input neuron: PAIBox's Mapper
  gives cores only to neurons a synapse ends at. With `timers=False` the controllers are InputProj
  spike sources firing at those ticks instead (controllers sent by the host).
The encoder's burst enters through an InputProj at the ticks the host sends it (an InputProj's
spikes are read in the same tick). Per layer the release spike trains are read back in our
(H', W', C') order, and spikes in a store tick are counted.
"""
import contextlib
import io
import time

import numpy as np

from hardware.paibox_export import _BUILDS, _dense_weights, _kernel_oihw
from hardware.temporal import _split, control_ticks, latency_ticks, windows


def timer_group(pb, timer, count, name):
    """A PAIBox LIF group of `count` timers with the registers of `timer` (hardware.temporal.Timer)."""
    return pb.LIF((count,), threshold=timer.first, reset_v=timer.reset_v, leak_v=1,
                  tick_wait_start=timer.tick_wait_start, tick_wait_end=timer.last, name=name)


def burst_at(image, window, t):
    """The encoder's spikes (L0, ...) of `image` that the first layer reads at PAIBox tick t (from its
    first store tick on), None outside the burst."""
    tick = t - window.start
    return image[tick] if image is not None and 0 <= tick < len(image) else None


def store_and_release(data, window):
    """(spikes in idle and store ticks, (L, ...) release ticks) of a probe's (ticks, ...) spikes, the
    spikes of tick t at t - 1; no spike may leave before the release."""
    first = window.release_start - 1
    return int(data[:first].sum()), data[first:first + window.release]


def _groups(steps):
    """[(step, channel indices)] of one layer, one per distinct step."""
    return [(int(d), np.flatnonzero(steps == d)) for d in np.unique(steps)]


def _controller_weights(total, channels, positions, weight_range=(-128, 127)):
    """(K, channels * positions) weights in `weight_range` summing per neuron to `total[channel]`,
    in PAIBox's (C, H, W) neuron order."""
    pieces = _split(np.asarray(total)[channels], *weight_range)  # (C_g, K)
    return np.repeat(pieces.T, positions, axis=1).astype(np.int8)


def paibox_temporal_count(net, delay=1):
    """PAIBox's Mapper on the referee's network (core estimate only): its n_core_required for the
    same neurons, thresholds, leaks, synapses and timers, and (`n_core_required_host_controllers`)
    for the same network with the controllers as input projections, i.e. sent by the host. The
    controllers' weights are split into 2-bit pieces (-2 each), as on our cores, so that PAIBox
    sees the chip's weight width."""
    t0 = time.time()
    counts = {timers: _mapper_cores(net, delay, timers) for timers in (True, False)}
    return {"n_core_required": counts[True], "n_core_required_host_controllers": counts[False],
            "construction": "the PAIBox referee's network (docs/hardware.md §8): one LIF group per layer and "
                            "step, one per timer run, controllers' weights in 2 bits",
            "seconds": round(time.time() - t0, 1)}


def _mapper_cores(net, delay, timers):
    import paibox as pb

    with contextlib.redirect_stdout(io.StringIO()):  # PAIBox prints its build steps
        referee = PaiboxTemporalReferee(net, delay, control_range=(-2, 1), timers=timers)
        mapper = pb.Mapper()
        mapper.build(referee.network)
        return int(mapper.compile(core_estimate_only=True)["n_core_required"])


class PaiboxTemporalReferee:
    """Builds the PAIBox network once; `run(encoder_spikes)` -> per-layer release spike trains
    (B, L, n_out), as TemporalSimulator.run."""

    def __init__(self, net, delay=1, control_range=(-128, 127), timers=True):
        import paibox as pb

        self.net, self.delay, self.control_range, self.timers = net, delay, control_range, timers
        self.windows = windows(net, delay)
        self.ticks = latency_ticks(net, delay)
        self._image = None  # (L0, C, H, W) of the image being simulated
        self.store_spikes = 0
        self.seconds = 0.0
        with contextlib.redirect_stdout(io.StringIO()):
            self.network, self.groups = self._build(pb)
        self.sim = pb.Simulator(self.network)
        self.probes = []
        for layer_groups in self.groups:
            row = [pb.Probe(neuron, "spike") for _, _, neuron in layer_groups]
            for probe in row:
                self.sim.add_probe(probe)
            self.probes.append(row)

    def _encoder_at(self, t):
        spikes = burst_at(self._image, self.windows[0], t)
        return np.zeros(self._enc_shape, np.uint8) if spikes is None else spikes

    def _build(self, pb):
        net, wins, tag = self.net, self.windows, f"_t{next(_BUILDS)}"
        first = net.layers[0]
        h, w, c = first.in_shape
        self._enc_shape = (c, h, w)
        referee = self
        groups = []

        def window_source(name, count, ticks):
            def fire(t):
                return np.full(count, int(t in ticks), np.uint8)
            return pb.InputProj(input=fire, shape_out=(count,), name=name)

        ground = []  # [InputProj]: one silent neuron, created with the first timer

        def drivers(control, win, count, name):
            """[(driver, [other nodes])] firing `count` controller axons in the group's ticks. PAIBox's
            Mapper gives cores only to neurons a synapse ends at, so every timer group also gets a
            zero-weight synapse from a silent one-neuron input."""
            if not referee.timers:
                return [(window_source(name, count, set(control_ticks(control, win))), [])]
            out = []
            for ti, timer in enumerate(control.timers(win)):
                neuron = timer_group(pb, timer, count, f"{name}_{ti}")
                if not ground:
                    ground.append(pb.InputProj(input=np.zeros(1, np.uint8), shape_out=(1,), name="ground" + tag))
                out.append((neuron, [pb.FullConn(ground[0], neuron, np.zeros((1, count), np.int8),
                                                 name=f"{name}_{ti}_ground")]))
            return out

        class TemporalNet(pb.DynSysGroup):
            def __init__(self):
                super().__init__()
                self.inp = pb.InputProj(input=referee._encoder_at, shape_out=(c, h, w), name="encoder" + tag)
                sources = [(self.inp, np.arange(c))]
                prev_shape = first.in_shape
                nodes = []
                for li, (layer, win) in enumerate(zip(net.layers, wins)):
                    ho, wo, _ = layer.out_shape
                    positions = ho * wo
                    layer_groups = []
                    for gi, (step, channels) in enumerate(_groups(layer.steps)):
                        shape = (len(channels), ho, wo) if layer.kind == "conv" else (len(channels),)
                        leak = np.repeat(layer.leak[channels], positions)  # (C, H, W) order
                        leak = int(leak[0]) if leak.size == 1 else leak  # PAIBox 1.3 takes one as an int only
                        neuron = pb.LIF(shape, threshold=step, reset_v=None, bias=leak,
                                        tick_wait_start=win.tick_wait_start, tick_wait_end=win.tick_wait_end,
                                        name=f"{layer.name}_d{step}{tag}")
                        nodes.append(neuron)
                        for si, (src, src_channels) in enumerate(sources):
                            nodes.append(_data_synapse(pb, layer, prev_shape, src, src_channels, neuron, channels,
                                                       f"{layer.synapse}_{gi}_{si}{tag}"))
                        for control in layer.controls:
                            weights = _controller_weights(control.total, channels, positions, referee.control_range)
                            if not len(weights):
                                continue
                            kind = control.name
                            for di, (driver, others) in enumerate(drivers(control, win, len(weights),
                                                                          f"{kind}_{layer.name}_{gi}{tag}")):
                                nodes += [driver, *others, pb.FullConn(driver, neuron, weights,
                                                                       name=f"{kind}_syn_{layer.name}_{gi}_{di}{tag}")]
                        layer_groups.append((step, channels, neuron))
                    groups.append(layer_groups)
                    sources = [(neuron, channels) for _, channels, neuron in layer_groups]
                    prev_shape = layer.out_shape
                nodes += ground
                for i, node in enumerate(nodes):  # PAIBox finds the nodes among the group's attributes
                    setattr(self, f"node{i}", node)

        return TemporalNet(), groups

    def run(self, encoder_spikes):
        """encoder_spikes (B, L0, H, W, C) 0/1 -> [per layer (B, L, n_out) release spike trains]."""
        spikes = np.asarray(encoder_spikes).astype(np.uint8)
        out = [[] for _ in self.net.layers]
        started = time.perf_counter()
        for image in spikes:
            self._image = image.transpose(0, 3, 1, 2)  # (L0, C, H, W)
            self.sim.reset()
            self.sim.run(self.ticks)
            for li, (layer, win) in enumerate(zip(self.net.layers, self.windows)):
                out[li].append(self._trains(li, layer, win))
        self.seconds += time.perf_counter() - started
        self._image = None
        return [np.stack(trains) for trains in out]

    def _trains(self, li, layer, win):
        ho, wo, co = layer.out_shape
        trains = np.zeros((win.release, ho, wo, co), np.int64)
        for (step, channels, _), probe in zip(self.groups[li], self.probes[li]):
            data = np.asarray(self.sim.data[probe])  # (ticks, neurons of the group), timestamp t at t - 1
            early, release = store_and_release(data.reshape(len(data), len(channels), ho, wo), win)
            self.store_spikes += early
            trains[:, :, :, channels] = release.transpose(0, 2, 3, 1)
        return trains.reshape(win.release, -1)


def _data_synapse(pb, layer, prev_shape, src, src_channels, neuron, channels, name):
    if layer.kind == "conv":
        kernel = _kernel_oihw(layer)[np.ix_(channels, src_channels)]
        return pb.Conv2d(src, neuron, kernel, stride=layer.strides, padding=layer.pads, name=name)
    c = prev_shape[2]
    weights = _dense_weights(layer, prev_shape)  # (C * H * W, units), C-major
    weights = weights.reshape(c, -1, weights.shape[1])[src_channels].reshape(-1, weights.shape[1])
    return pb.FullConn(src, neuron, weights[:, channels], name=name)
