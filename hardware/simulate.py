"""Simulate: a tick-based integer simulator of the mapped cores (phase 4 of 5).

Neuron model (PAICORE SNN mode, docs/hardware.md §4-5, each layer active for one tick per image,
membranes start at 0): V = sum_axons x * w + bias (the leak register, added before the
comparison); spike iff V >= theta_pos; hard reset. Ticks: the off-chip encoder's spikes are
injected at tick 0; with the chip's one-tick delay the cores of hidden layer l fire at tick l
and the readout (off-chip) reads the last layer's spikes after tick D (D = hidden layers).

Two evaluations of the same cores, equal by construction (tests compare them):

- fast (default): vectorized over the batch and over all crossbars of a layer. Per core the
  crossbar is read off its own table in a compressed but equal form: the L_in axons of one
  upstream neuron carry identical weight rows (checked), so their sum is that neuron's spike
  count; all-zero rows are dropped; identical columns (the L sub-neurons of one neuron, and its
  copies) are computed once. Cores of one layer with the same compressed shape are stacked and
  evaluated with one batched matmul (np.matmul over (cores, rows, batch)); every hardware neuron
  then compares its own column + bias with its own theta. Copies (identical column and
  registers) fire with their original; the original's spikes are the layer output.
- literal (`compress=False`): every core computes x @ W for all its neurons (copies too), and
  its axons are fed by the exact hardware neuron copy the routing names
  (core.extra["axon_src_core"/"axon_src_col"]), the encoder's n spikes on the axons of
  sub-neurons 0..n-1.

Arithmetic is exact: float32 while the worst-case |V + bias| < 2^24 (checked per layer), else
float64.
"""
import contextlib
import ctypes
import glob
import os

import numpy as np

from hardware.validate import layer_bounds
from layers.base import FLOAT32_EXACT



def _openblas():
    """(get, set) of the OpenBLAS numpy is linked with, or None (then nothing is changed)."""
    libs = glob.glob(os.path.join(os.path.dirname(np.__file__) + ".libs", "*openblas*"))
    for path in libs:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for get, set_ in (("scipy_openblas_get_num_threads64_", "scipy_openblas_set_num_threads64_"),
                          ("openblas_get_num_threads64_", "openblas_set_num_threads64_"),
                          ("openblas_get_num_threads", "openblas_set_num_threads")):
            if hasattr(lib, get) and hasattr(lib, set_):
                getattr(lib, set_).argtypes = [ctypes.c_int]
                return getattr(lib, get), getattr(lib, set_)
    return None


_BLAS = _openblas()


@contextlib.contextmanager
def blas_threads(n):
    """Run numpy's BLAS with n threads inside the block (the crossbars are many small GEMMs; on
    a small machine where TensorFlow's thread pools also live, BLAS threads spin against them and
    make the simulator several times slower). No-op when the BLAS is not OpenBLAS."""
    if _BLAS is None:
        yield
        return
    get, set_ = _BLAS
    before = get()
    set_(n)
    try:
        yield
    finally:
        set_(before)


def thermometer(counts, levels):
    """(B, ...) counts 0..L -> (B, prod(...) * L) binary sub-neuron spikes."""
    counts = counts.reshape(len(counts), -1)
    return (counts[:, :, None] > np.arange(levels)).reshape(len(counts), -1)


class _Group:
    """Cores of one layer with the same compressed crossbar shape, stacked."""

    def __init__(self, rows, weights_t, cols, theta, bias, dest, dtype):
        self.rows = np.stack(rows)  # (G, R) upstream neuron per row (the zero row when padded)
        self.weights_t = np.stack(weights_t).astype(dtype)  # (G, U, R)
        n = max(len(c) for c in cols)
        pad = lambda arrs, fill: np.stack([np.concatenate([a, np.full(n - len(a), fill, a.dtype)]) for a in arrs])
        u = self.weights_t.shape[1]
        self.cols = (pad(cols, 0) + np.arange(len(cols))[:, None] * u).reshape(-1)  # into (G * U) rows
        self.theta = pad([t.astype(dtype) for t in theta], np.inf).reshape(-1, 1)  # padding never fires
        self.bias = pad([b.astype(dtype) for b in bias], 0).reshape(-1, 1)
        self.dest = pad(dest, -1).reshape(-1)  # logical sub-neuron per output row, -1 = padding


def _compress(core, levels_in, n_up):
    """(rows, W (R, U), col per neuron) of one core: upstream-neuron rows, unique columns."""
    used = core.axon_src >= 0
    up = np.where(used, core.axon_src // levels_in, -1)
    w = core.weights
    order = np.argsort(up, kind="stable")
    up_sorted = up[order]
    keep = up_sorted >= 0
    order, up_sorted = order[keep], up_sorted[keep]
    first = np.concatenate([[True], up_sorted[1:] != up_sorted[:-1]])
    group_first = order[first][np.cumsum(first) - 1]
    if np.any(w[order] != w[group_first]):
        raise AssertionError("the axons of one upstream neuron must carry identical weights")
    rows = up_sorted[first]
    w_rows = w[order[first]]
    nonzero = np.any(w_rows != 0, axis=1)
    rows, w_rows = rows[nonzero], w_rows[nonzero]
    if len(rows) == 0:
        rows, w_rows = np.array([n_up]), np.zeros((1, w.shape[1]), w.dtype)
    unique, cols = np.unique(w_rows, axis=1, return_inverse=True)
    return rows, unique, cols.reshape(-1)


class CoreSimulator:
    def __init__(self, net, cores, compress=True):
        self.net, self.cores, self.compress = net, cores, compress
        self.by_layer = [[i for i, c in enumerate(cores) if c.layer == li] for li in range(len(net.layers))]
        self.dtypes = [np.float32 if layer_bounds(layer)[0] < FLOAT32_EXACT else np.float64 for layer in net.layers]
        self.core_input_spikes = np.zeros(len(cores), np.int64)  # spikes arriving on each core's axons
        self.neuron_spikes = [np.zeros(layer.n_out, np.int64) for layer in net.layers]
        self.input_spikes = np.zeros(net.layers[0].n_in, np.int64)
        self.images = 0
        # upstream neurons in each core's window, for the axon spike statistics
        self.window = []
        for li, layer in enumerate(net.layers):
            n_up = layer.n_in // layer.levels_in
            member = np.zeros((len(self.by_layer[li]), n_up), np.float32)
            for k, ci in enumerate(self.by_layer[li]):
                src = cores[ci].axon_src
                member[k, np.unique(src[src >= 0] // layer.levels_in)] = 1
            self.window.append(member)
        if compress:
            self.groups = [self._groups(li) for li in range(len(net.layers))]

    def _groups(self, li):
        layer = self.net.layers[li]
        n_up = layer.n_in // layer.levels_in
        shapes = {}
        for ci in self.by_layer[li]:
            core = self.cores[ci]
            rows, unique, cols = _compress(core, layer.levels_in, n_up)
            primary = core.copy == 0
            entry = (rows, unique.T, cols[primary], core.theta[primary], core.bias[primary], core.neuron_ids[primary])
            shapes.setdefault(unique.T.shape, []).append(entry)
        return [_Group(*zip(*entries), self.dtypes[li]) for entries in shapes.values()]

    def run(self, encoder_counts, threads=1, chunk=128):
        """encoder_counts (B, 1, H, W, C) -> ([counts per layer], [tick of each layer]).

        `threads`: BLAS threads while simulating (default 1: parallel over crossbars does not pay
        for small GEMMs; None leaves the BLAS setting alone). `chunk`: images simulated at once;
        small chunks keep each layer's gathered crossbar inputs in cache (measured: 128 images at
        a time is about 1.4x faster than 1000 on the shipped LeNet)."""
        with blas_threads(threads) if threads is not None else contextlib.nullcontext():
            parts = [self._run(encoder_counts[i:i + chunk]) for i in range(0, len(encoder_counts), chunk)]
        outputs = [np.concatenate(layer_parts) for layer_parts in zip(*(p[0] for p in parts))]
        return outputs, parts[0][1]

    def _run(self, encoder_counts):
        counts = np.asarray(encoder_counts)[:, 0]
        batch = len(counts)
        self.images += batch
        flat = counts.reshape(batch, -1)
        for level in range(self.net.encoder_levels):  # encoder sub-neuron l fires iff count > l
            self.input_spikes[level::self.net.encoder_levels] += np.count_nonzero(flat > level, axis=0)
        if not self.compress:
            return self._run_literal(counts)
        up = flat.T.astype(np.float32)  # (upstream neurons, B) spike counts
        outputs, ticks = [], []
        for tick, layer in enumerate(self.net.layers, start=1):  # one tick per layer (delay 1)
            li = tick - 1
            self.core_input_spikes[self.by_layer[li]] += (self.window[li] @ up.sum(axis=1)).astype(np.int64)
            x = np.concatenate([up, np.zeros((1, batch), up.dtype)]).astype(self.dtypes[li], copy=False)
            spikes = np.zeros((layer.n_out + 1, batch), bool)  # last row: padding sink
            for g in self.groups[li]:
                xg = x[g.rows]  # (G, R, B): each crossbar's input rows, gathered for the group at once
                v = np.empty((len(xg), g.weights_t.shape[1], batch), xg.dtype)
                for i in range(len(xg)):  # one GEMM per crossbar (np.matmul on the stack is slower
                    np.matmul(g.weights_t[i], xg[i], out=v[i])  # with threaded BLAS on few cores)
                v = v.reshape(-1, batch)[g.cols]  # (G * N, B): each hardware neuron's column
                spikes[g.dest] = (v + g.bias) >= g.theta
            spikes = spikes[:-1]
            self.neuron_spikes[li] += spikes.sum(axis=1, dtype=np.int64)
            c = spikes.reshape(-1, layer.levels, batch).sum(axis=1, dtype=np.int32)  # (neurons, B)
            up = c.astype(np.float32)
            outputs.append(c.T.reshape(batch, *layer.out_shape) if layer.kind == "conv" else c.T.copy())
            ticks.append(tick)
        return outputs, ticks

    def _run_literal(self, counts):
        batch = len(counts)
        x_in = thermometer(counts, self.net.encoder_levels)
        prev = None  # {core index: (B, neurons) spikes of every hardware neuron, copies included}
        outputs, ticks = [], []
        for tick, layer in enumerate(self.net.layers, start=1):
            li = tick - 1
            dtype = self.dtypes[li]
            fired, spikes = {}, np.zeros((batch, layer.n_out), bool)
            for ci in self.by_layer[li]:
                core = self.cores[ci]
                used = core.axon_src >= 0
                x = np.zeros((batch, len(core.axon_src)), dtype)
                if li == 0:
                    x[:, used] = x_in[:, core.axon_src[used]]
                elif "axon_src_core" in core.extra:
                    sc, col = core.extra["axon_src_core"], core.extra["axon_src_col"]
                    for s in np.unique(sc[used]):
                        sel = used & (sc == s)
                        x[:, sel] = prev[s][:, col[sel]]
                else:  # not routed: the logical sub-neuron's spikes
                    x[:, used] = prev_logical[:, core.axon_src[used]]
                self.core_input_spikes[ci] += int(x.sum())
                out = (x @ core.weights.astype(dtype) + core.bias) >= core.theta
                fired[ci] = out
                primary = core.copy == 0
                spikes[:, core.neuron_ids[primary]] = out[:, primary]
            self.neuron_spikes[li] += spikes.sum(axis=0, dtype=np.int64)
            c = spikes.reshape(batch, -1, layer.levels).sum(axis=2, dtype=np.int32)
            outputs.append(c.reshape(batch, *layer.out_shape) if layer.kind == "conv" else c)
            ticks.append(tick)
            prev, prev_logical = fired, spikes
        return outputs, ticks
