"""Simulate: a tick-based integer simulator of the mapped cores (phase 4 of 5).

Neuron model (PAICORE SNN mode, docs/hardware.md §4-5, each layer active for one tick per image,
membranes start at 0): V = sum_axons x * w + bias (the leak register, added before the
comparison); spike iff V >= theta_pos; hard reset. Ticks: the off-chip encoder's spikes are
injected at tick 0; with the chip's one-tick delay the cores of hidden layer l fire at tick l
and the readout (off-chip) reads the last layer's spikes after tick D (D = hidden layers).

Two evaluations of the same cores, equal by construction (tests compare them):

- fast (default): every core's crossbar is read off its own table in a compressed but equal
  form: the L_in axons of one upstream neuron carry identical weight rows (checked), so their
  sum is that neuron's spike count; a core's neurons are split into blocks by output position
  and the rows that are zero for every neuron of a block are dropped (they add nothing);
  identical columns (the L sub-neurons of one neuron, and its copies) are computed once. Blocks
  of a layer (from any of its cores) whose tables are equal and whose rows are the same pattern
  shifted (a conv's tiles) share one table. A table's rows are cut into runs of consecutive
  upstream neurons, which are contiguous slices of the input counts, and its blocks into
  arithmetic progressions of offsets, so one batched matmul over a strided view evaluates a run
  for a whole progression without any gathering copy (the time went into those copies before).
  Every hardware neuron then compares its own column with its own registers (V + bias >= theta,
  as V >= theta - bias in integers). Copies (identical column and registers) fire with their
  original; the original's spikes are the layer output.
  Two engines evaluate these tables. Convolutions (default when TensorFlow is importable, every
  layer is float32-exact, every table's blocks form a grid of input positions and the L
  sub-neurons of a neuron share one column; hardware.simulate_conv): each table becomes a VALID
  convolution whose kernel is built from the table, the whole network one tf.function (oneDNN
  convolutions on all cores, an XLA-fused ladder, the report's spike sums packed four to a
  float32 word so that a layer's sums are one pass). It also takes the encoder counts as a
  TensorFlow tensor and reads them where they lie. On the shipped LeNet k1B2
  (bench/hardware_speed.py, 10000 images) the cores side, off-chip encoder included, takes
  0.67-0.77 s against 0.45-0.60 s for the Keras SNN's predict_on_batch (1.35x-1.49x in three
  runs; the numpy engine took 2.40 s and 2.74 s in alternate runs). Numpy
  (`convolutions=False`, or any layer that does not qualify): the strided matmuls above, BLAS
  single-threaded (numpy/OpenBLAS at 50-75 GFLOP/s on one core, where oneDNN reaches about 145
  GFLOP/s on both). Chunks of images can run on worker threads (`workers`; numpy's matmuls and
  TensorFlow release the GIL); the default is one (with the numpy engine on the shared 2-core
  machine two did not help).
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
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from hardware.simulate_conv import ConvNetwork, layer_convs
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


def _upstream_rows(core, levels_in):
    """(upstream neuron per row (R,), weights (R, neurons)): the core's crossbar with the L_in axons
    of one upstream neuron merged into one row (they must carry identical weights)."""
    used = core.axon_src >= 0
    up = core.axon_src[used] // levels_in
    w = core.weights[used]
    order = np.argsort(up, kind="stable")
    up, w = up[order], w[order]
    first = np.concatenate([[True], up[1:] != up[:-1]])
    if np.any(w != w[first][np.cumsum(first) - 1]):
        raise AssertionError("the axons of one upstream neuron must carry identical weights")
    return up[first], w[first]


def _position_blocks(core, layer):
    """The core's primary neurons, one block per output position: (rows, W (U, R), dest, col, thr).

    rows: the upstream neurons with a non-zero weight for some neuron of the block (the others
    add nothing); W: the distinct columns, in the order of their first neuron; dest: the
    neurons' logical sub-neuron ids; col: each one's column of W; thr: theta - bias."""
    rows, w = _upstream_rows(core, layer.levels_in)
    primary = core.copy == 0
    dest, w = core.neuron_ids[primary], w[:, primary]
    thr = core.theta[primary].astype(np.int64) - core.bias[primary]
    position = dest // (layer.out_shape[2] * layer.levels)
    for p in np.unique(position):
        sel = position == p
        wp = w[:, sel]
        keep = np.any(wp != 0, axis=1)
        unique, first, inverse = np.unique(wp[keep].T, axis=0, return_index=True, return_inverse=True)
        order = np.argsort(first, kind="stable")
        rank = np.empty(len(first), np.int64)
        rank[order] = np.arange(len(first))
        yield rows[keep], unique[order], dest[sel], rank[inverse.reshape(-1)], thr[sel]


def _runs(rows):
    """[(a, b)]: index ranges of `rows` holding consecutive upstream ids (contiguous input slices)."""
    cut = np.flatnonzero(np.diff(rows) != 1) + 1
    bounds = np.concatenate([[0], cut, [len(rows)]])
    return [(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]


def _progressions(offsets):
    """Sorted offsets -> [(first index, count, first offset, step)]: maximal arithmetic runs."""
    out, i, n = [], 0, len(offsets)
    while i < n:
        j, step = i + 1, 0
        if j < n:
            step = int(offsets[j] - offsets[i])
            while j + 1 < n and offsets[j + 1] - offsets[j] == step:
                j += 1
            j += 1
        out.append((i, j - i, int(offsets[i]), step))
        i = j
    return out


class _Table:
    """One crossbar table (U columns over R upstream rows) shared by K position blocks: block k
    reads the upstream neurons base + offsets[k]. Its values are rows start .. start + K * U of
    the layer's value array, block after block."""

    def __init__(self, weights, base, offsets, start, dtype):
        self.u, self.k, self.start = len(weights), len(offsets), start
        self.weights, self.base, self.offsets = weights, base, offsets  # for hardware.simulate_conv
        # runs of consecutive upstream ids: each is a contiguous slice of the input counts
        self.runs = [(int(base[a]), np.ascontiguousarray(weights[:, a:b], dtype)) for a, b in _runs(base)]
        self.progressions = _progressions(np.asarray(offsets))
        self.max_count = max(c for _, c, _, _ in self.progressions)

    def evaluate(self, x, v, tmp):
        """x (upstream neurons, B) spike counts -> v (K, U, B), the values of every block."""
        if not self.runs:  # no non-zero weight: V = 0
            v[:] = 0
            return
        row, col = x.strides
        batch = x.shape[1]
        for k0, count, o0, step in self.progressions:
            out = v[k0:k0 + count]
            for j, (s, w) in enumerate(self.runs):
                # the run's input rows for `count` blocks at once: a view (count, n, B), no copy
                view = np.lib.stride_tricks.as_strided(x[o0 + s:], (count, w.shape[1], batch),
                                                       (step * row, row, col), writeable=False)
                if j == 0:
                    np.matmul(w, view, out=out)
                else:
                    np.matmul(w, view, out=tmp[:count])
                    out += tmp[:count]


class _LayerTables:
    """A layer's cores as shared tables, and each logical sub-neuron's value row and threshold."""

    def __init__(self, cores, layer, dtype):
        shared, blocks = {}, []
        for core in cores:
            for rows, w, dest, col, thr in _position_blocks(core, layer):
                offset = int(rows[0]) if len(rows) else 0
                base = rows - offset
                shared.setdefault((w.shape, w.tobytes(), base.tobytes()), (w, base, []))[2].append(len(blocks))
                blocks.append((offset, dest, col, thr))
        n_out = layer.n_out
        row_of, thr_of = np.full(n_out, -1, np.int64), np.zeros(n_out, np.int64)
        self.tables, self.rows = [], 0
        for w, base, members in shared.values():
            members.sort(key=lambda b: blocks[b][0])
            table = _Table(w, base, [blocks[b][0] for b in members], self.rows, dtype)
            for k, b in enumerate(members):
                _, dest, col, thr = blocks[b]
                if np.any(row_of[dest] >= 0):
                    raise AssertionError("a logical sub-neuron has two primary hardware neurons")
                row_of[dest], thr_of[dest] = self.rows + k * table.u + col, thr
            self.tables.append(table)
            self.rows += table.k * table.u
        if np.any(row_of < 0):
            raise AssertionError("a logical sub-neuron has no hardware neuron")
        self.dtype, self.levels = dtype, layer.levels
        self.row_of = row_of.reshape(-1, layer.levels)  # (neurons, L)
        self.thr = [thr_of.reshape(-1, layer.levels)[:, l, None].astype(dtype) for l in range(layer.levels)]
        # the common case: the L sub-neurons of a neuron share one value row, rows in neuron order
        self.shared_row = bool(np.all(self.row_of == self.row_of[:, :1]))
        self.identity = self.shared_row and np.array_equal(self.row_of[:, 0], np.arange(self.rows))
        self.tmp = max((t.u * t.max_count for t in self.tables), default=0)

    def values(self, x):
        """(rows, B) membrane potentials (before the leak) of every table column."""
        batch = x.shape[1]
        v = np.empty((self.rows, batch), self.dtype)
        tmp = np.empty(self.tmp * batch, self.dtype)
        for t in self.tables:
            block = v[t.start:t.start + t.k * t.u].reshape(t.k, t.u, batch)
            t.evaluate(x, block, tmp[:t.u * t.max_count * batch].reshape(t.max_count, t.u, batch))
        return v

    def fire(self, v):
        """-> (spike counts (neurons, B) int32, spikes of every sub-neuron summed over the batch)."""
        neurons, batch = self.row_of.shape[0], v.shape[1]
        counts = np.zeros((neurons, batch), np.int8 if self.levels < 128 else np.int32)
        totals = np.zeros((neurons, self.levels), np.int64)
        fired = np.empty((neurons, batch), bool)
        shared = v if self.identity else (v[self.row_of[:, 0]] if self.shared_row else None)
        for level in range(self.levels):
            vl = shared if shared is not None else v[self.row_of[:, level]]
            np.greater_equal(vl, self.thr[level], out=fired)
            np.add(counts, fired, out=counts, casting="unsafe")
            totals[:, level] = np.add.reduce(fired, axis=1, dtype=np.int32)
        return counts, totals.reshape(-1)


def _is_tensor(array):
    """A TensorFlow tensor (never imports TensorFlow)."""
    return type(array).__module__.startswith("tensorflow")


def _tensorflow():
    try:
        import tensorflow  # noqa: F401
    except ImportError:
        return False
    return True


class CoreSimulator:
    def __init__(self, net, cores, compress=True, convolutions=True):
        self.net, self.cores, self.compress = net, cores, compress
        self.by_layer = [[i for i, c in enumerate(cores) if c.layer == li] for li in range(len(net.layers))]
        self.dtypes = [np.float32 if layer_bounds(layer)[0] < FLOAT32_EXACT else np.float64 for layer in net.layers]
        self.core_input_spikes = np.zeros(len(cores), np.int64)  # spikes arriving on each core's axons
        self.neuron_spikes = [np.zeros(layer.n_out, np.int64) for layer in net.layers]
        self.input_spikes = np.zeros(net.layers[0].n_in, np.int64)
        self.images = 0
        # upstream neurons in each core's window, for the axon spike statistics: all cores' lists
        # end to end, and where each core's starts
        self.window = []
        for li, layer in enumerate(net.layers):
            ids = [np.unique(src[src >= 0] // layer.levels_in) for src in (cores[ci].axon_src for ci in self.by_layer[li])]
            sizes = np.array([len(i) for i in ids], np.int64)
            self.window.append((np.concatenate(ids + [np.zeros(0, np.int64)]).astype(np.int64),
                                np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64), sizes))
        if compress:
            self.tables = [_LayerTables([cores[ci] for ci in self.by_layer[li]], layer, self.dtypes[li])
                           for li, layer in enumerate(net.layers)]
        # every layer's tables as TensorFlow convolutions when they all are (else numpy's matmuls)
        self.conv = None
        if compress and convolutions and all(d == np.float32 for d in self.dtypes) and _tensorflow():
            convs = [layer_convs(t, layer.in_shape) for t, layer in zip(self.tables, net.layers)]
            if all(c is not None for c in convs) and all(t.shared_row for t in self.tables):
                self.conv = ConvNetwork(net.layers, self.tables, convs, net.encoder_levels)

    def run(self, encoder_counts, threads=1, chunk=None, workers=1):
        """encoder_counts (B, 1, H, W, C) -> ([counts per layer], [tick of each layer]).

        `threads`: BLAS threads while simulating (default 1: the matmuls are many and small;
        None leaves the BLAS setting alone). `chunk`: images simulated at once (default 250 on
        numpy, 1000 with the convolutions); `workers`: threads over the chunks (fast evaluation
        only). The convolution engine's count arrays may be read-only views of its tensors.
        With the convolutions, encoder_counts may be a TensorFlow tensor, read where it lies."""
        counts = encoder_counts if self.conv is not None and _is_tensor(encoder_counts) else np.asarray(encoder_counts)
        chunk = chunk or (1000 if self.conv is not None else 250)
        ticks = list(range(1, len(self.net.layers) + 1))  # layer l fires at tick l (delay 1)
        with blas_threads(threads) if threads is not None else contextlib.nullcontext():
            if not self.compress:
                parts = [self._run(counts[i:i + chunk]) for i in range(0, len(counts), chunk)]
                return [np.concatenate(layer_parts) for layer_parts in zip(*(p[0] for p in parts))], ticks
            shapes = [layer.out_shape if layer.kind == "conv" else layer.out_shape[2:] for layer in self.net.layers]
            starts = range(0, len(counts), chunk)
            if self.conv is not None:  # each chunk returns its own count arrays
                work = lambda i: self._run_conv(counts[i:i + chunk])  # noqa: E731
            else:  # each chunk fills its rows of the outputs
                outputs = [np.empty((len(counts),) + shape, np.int32) for shape in shapes]
                work = lambda i: self._run_fast(counts[i:i + chunk], [out[i:i + chunk] for out in outputs])  # noqa: E731
            workers = (os.cpu_count() or 1) if workers is None else workers
            if workers <= 1 or len(starts) == 1:
                stats = [work(i) for i in starts]
            else:
                with ThreadPoolExecutor(min(workers, len(starts))) as pool:
                    stats = list(pool.map(work, starts))
        if self.conv is not None:
            parts, stats = [s[0] for s in stats], [s[1:] for s in stats]
            outputs = [(p[0] if len(p) == 1 else np.concatenate(p)).reshape((len(counts),) + shape)
                       for p, shape in zip(zip(*parts), shapes)]
        for chunk_stats in stats:
            self._add_statistics(*chunk_stats)
        return outputs, ticks

    def _add_statistics(self, images, input_spikes, core_input_spikes, neuron_spikes):
        self.images += images
        self.input_spikes += input_spikes
        self.core_input_spikes += core_input_spikes
        for mine, theirs in zip(self.neuron_spikes, neuron_spikes):
            mine += theirs

    def _run(self, encoder_counts):
        counts = np.asarray(encoder_counts)[:, 0]
        self.images += len(counts)
        self.input_spikes += self._input_spikes(counts)
        return self._run_literal(counts)

    def _input_spikes(self, counts, neuron_major=False):
        """Spikes of every encoder sub-neuron summed over the images (counts (B, ...), or
        (neurons, B) when neuron_major)."""
        flat = counts if neuron_major else counts.reshape(len(counts), -1).T
        out = np.zeros(self.net.layers[0].n_in, np.int64)
        fired = np.empty(flat.shape, bool)
        for level in range(self.net.encoder_levels):  # encoder sub-neuron l fires iff count > l
            out[level::self.net.encoder_levels] = np.add.reduce(np.greater(flat, level, out=fired), axis=1,
                                                                dtype=np.int32)
        return out

    def _window_sums(self, li, spikes):
        """Per core of layer li: the sum of `spikes` (per upstream neuron) over its window."""
        ids, starts, sizes = self.window[li]
        sums = np.add.reduceat(np.concatenate([spikes[ids], [0.0]]), starts) if len(starts) else np.zeros(0)
        return np.where(sizes > 0, sums, 0).astype(np.int64)

    def _run_fast(self, encoder_counts, outputs):
        """One chunk into `outputs` (per layer, its rows of the chunk); touches no shared state:
        -> (images, *statistics)."""
        counts = np.asarray(encoder_counts)[:, 0]
        batch = len(counts)
        core_input = np.zeros(len(self.cores), np.int64)
        neuron_spikes = []
        up = counts.reshape(batch, -1).T  # (upstream neurons, B) spike counts
        input_spikes = None
        for li, (tables, out) in enumerate(zip(self.tables, outputs)):  # one tick per layer
            x = np.ascontiguousarray(up, tables.dtype)  # row-major: the tables' runs are slices of it
            if input_spikes is None:
                input_spikes = self._input_spikes(x, neuron_major=True)
            core_input[self.by_layer[li]] += self._window_sums(li, x.sum(axis=1, dtype=np.float64))
            up, totals = tables.fire(tables.values(x))
            neuron_spikes.append(totals)
            out.reshape(batch, -1)[:] = up.T
        return batch, input_spikes, core_input, neuron_spikes

    def _run_conv(self, encoder_counts):
        """One chunk on the convolutions: -> ([counts (B, neurons) per layer], images, *statistics)."""
        counts = encoder_counts if _is_tensor(encoder_counts) else np.asarray(encoder_counts)[:, 0]
        core_input = np.zeros(len(self.cores), np.int64)
        layer_counts, totals, encoder_spikes, upstream = self.conv(counts)
        for li in range(len(layer_counts)):
            core_input[self.by_layer[li]] += self._window_sums(li, upstream)
            # the counts a layer receives are the previous layer's spikes (sum over its levels)
            upstream = totals[li].sum(axis=1)
        return layer_counts, len(counts), encoder_spikes.reshape(-1), core_input, [t.reshape(-1) for t in totals]

    def _run_literal(self, counts):
        batch = len(counts)
        x_in = thermometer(counts, self.net.encoder_levels)
        prev = None  # {core index: (B, neurons) spikes of every hardware neuron, copies included}
        prev_logical = None  # (B, sub-neurons) spikes of the layer below, for cores not routed
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
