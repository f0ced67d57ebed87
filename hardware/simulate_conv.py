"""The fast core simulator's tables evaluated as TensorFlow convolutions (hardware.simulate).

A shared crossbar table (hardware.simulate._Table) holds U columns over R upstream rows, read by K
position blocks at offsets o_k. When the offsets form a rectangular grid of input positions (one
channel, steps sh and sw) and no block's rows wrap around an image row, the table is a VALID
convolution of a crop of the (H, W, C) input counts: row r of block (i, j) reads input
(H_r + i*sh, W_r + j*sw, C_r), where (H_r, W_r, C_r) is the position of o_0 + base_r. Its kernel
(the rows' bounding box, zero where no row is) is built from the table, i.e. from the cores' own
crossbars, never from the Keras model. A single position (K = 1, a dense core) is a 1 x 1 grid.

The whole network (every layer's tables, the threshold comparisons, and the sums over the batch
that the report's spike statistics need) is one tf.function: oneDNN's convolutions use all cores
(numpy's single-threaded matmuls did not), the ladder and the sums are XLA-fused, and the sums are
packed four to a float32 word so that a layer's sums cost one pass over its counts. It is used only
when every layer qualifies (hardware.simulate.CoreSimulator falls back to numpy otherwise).
Values are float32, exact while |V| < 2^24 (the caller checks the layer bound); products and sums
of such integers are exact in any summation order.
"""
import threading

import numpy as np


def table_conv(table, in_shape):
    """-> (crop (3 slices of H, W, C), kernel (kh, kw, kc, U) float32, strides, (nh, nw)) or None
    when the table's blocks are not a grid of one convolution."""
    h_in, w_in, c_in = in_shape
    offsets = np.asarray(table.offsets, np.int64)
    if not len(table.base):
        return None
    oh, ow, oc = np.unravel_index(offsets, in_shape)
    if np.any(oc != oc[0]):
        return None
    hs, ws = np.unique(oh), np.unique(ow)
    nh, nw = len(hs), len(ws)
    sh = int(hs[1] - hs[0]) if nh > 1 else 1
    sw = int(ws[1] - ws[0]) if nw > 1 else 1
    grid_h, grid_w = np.meshgrid(hs[0] + sh * np.arange(nh), ws[0] + sw * np.arange(nw), indexing="ij")
    grid = (grid_h.reshape(-1) * w_in + grid_w.reshape(-1)) * c_in + oc[0]
    if len(grid) != len(offsets) or not np.array_equal(grid, offsets):  # sorted offsets = row-major grid
        return None
    rh, rw, rc = np.unravel_index(offsets[0] + np.asarray(table.base, np.int64), in_shape)
    if int(rw.max()) + (nw - 1) * sw >= w_in:  # a block's rows would wrap into the next image row
        return None
    lo = (int(rh.min()), int(rw.min()), int(rc.min()))
    size = (int(rh.max()) - lo[0] + 1, int(rw.max()) - lo[1] + 1, int(rc.max()) - lo[2] + 1)
    kernel = np.zeros(size + (table.u,), np.float32)
    kernel[rh - lo[0], rw - lo[1], rc - lo[2]] = table.weights.T
    crop = (slice(lo[0], lo[0] + (nh - 1) * sh + size[0]), slice(lo[1], lo[1] + (nw - 1) * sw + size[1]),
            slice(lo[2], lo[2] + size[2]))
    return crop, kernel, (sh, sw), (nh, nw)


def layer_convs(tables, in_shape):
    """[table_conv] of a layer's tables in value-row order, or None if one is not a convolution."""
    convs = [table_conv(t, in_shape) for t in tables.tables]
    return None if any(c is None for c in convs) else convs


FIELDS, BASE = 4, 64  # four sums share one float32 word, base 64: exact below 64^4 = 2^24
GROUP = BASE - 1  # images summed into one word: every digit stays below 64


def _packed_sums(masks, tf):
    """(N, len(masks)) float32: the (B, N) boolean `masks` summed over the batch.

    Four masks make one float32 word (digits in base 64), summed over groups of GROUP images and
    then taken apart, so that four sums cost one reduction over the batch (XLA makes one pass
    over the data per reduction). Every value is an integer below 2^24: exact in float32."""
    batch = masks[0].shape[0]
    groups = -(-batch // GROUP)
    sums = []
    for first in range(0, len(masks), FIELDS):
        digits = masks[first:first + FIELDS]
        code = tf.add_n([tf.cast(m, tf.float32) * float(BASE ** i) for i, m in enumerate(digits)])
        code = tf.pad(code, [[0, groups * GROUP - batch], [0, 0]])  # 0: adds to no sum
        word = tf.reduce_sum(tf.reshape(code, (groups, GROUP, -1)), 1)  # (groups, N)
        for i in range(len(digits)):
            sums.append(tf.reduce_sum(tf.math.floormod(tf.math.floor(word / float(BASE ** i)), BASE), 0))
    return tf.stack(sums, 1)


def _fire(v, thr):
    """XLA-fused threshold ladder: v (B, N) values, thr (L, N) -> (counts (B, N) float32 and
    int32, the number of images with count > j for each j).

    All L sub-neurons of a neuron compare one value, so those that fire are the ones with the
    smallest thresholds: the sub-neuron with the j-th smallest threshold fires iff count > j, and
    its spikes summed over the batch follow from the counts (ConvNetwork maps j back to levels)."""
    import tensorflow as tf

    counts = tf.add_n([tf.cast(v >= thr[level], tf.float32) for level in range(thr.shape[0])])
    return counts, tf.cast(counts, tf.int32), _packed_sums([counts > j for j in range(thr.shape[0])], tf)


def _encoder_sums(flat, levels):
    """Encoder sub-neuron l of neuron n fires iff its count > l: their spikes and the counts,
    summed over the batch."""
    import tensorflow as tf

    return _packed_sums([flat > level for level in range(levels)], tf), tf.reduce_sum(flat, 0)


def _merge_single_positions(convs):
    """Consecutive single-position tables over the same crop (a dense layer's cores) -> one
    convolution with their kernels side by side (their value rows follow each other)."""
    out = []
    for crop, kernel, strides, grid in convs:
        if out and grid == (1, 1) and out[-1][3] == (1, 1) and out[-1][0] == crop:
            out[-1] = (crop, np.concatenate([out[-1][1], kernel], 3), strides, grid)
        else:
            out.append((crop, kernel, strides, grid))
    return out


ALIGN = 64  # bytes: TensorFlow's CPU kernels (oneDNN) check their inputs' alignment


class ConvNetwork:
    """Every layer as convolutions in one tf.function: encoder counts (B, H, W, C) ->
    (counts (B, neurons) int32 per layer, spikes per sub-neuron summed over the batch per layer (N, L),
    the encoder sub-neurons' spikes summed over the batch (N, L), the encoder counts summed)."""

    def __init__(self, layers, tables, convs, encoder_levels):
        import tensorflow as tf

        self.tf = tf
        self.plan, self.order, self.levels = [], [], [layer.levels for layer in layers]
        for layer, lt, lc in zip(layers, tables, convs):
            rows = None if lt.identity else tf.constant(lt.row_of[:, 0])  # the neurons' value rows
            thr = np.stack([t[:, 0] for t in lt.thr]).astype(np.float32)  # (L, N)
            # level of each neuron's j-th smallest threshold (the j-th to fire, see _fire)
            self.order.append(np.argsort(thr, axis=0, kind="stable").T)
            thr = tf.constant(thr)
            parts = []
            for crop, kernel, strides, (nh, nw) in _merge_single_positions(lc):
                full = all(c.start == 0 and c.stop == n for c, n in zip(crop, layer.in_shape))
                parts.append((None if full else crop, tf.constant(kernel), strides, nh * nw * kernel.shape[-1]))
            self.plan.append((tuple(layer.in_shape), parts, rows, thr))
        self.encoder_levels = encoder_levels
        self.fire = tf.function(_fire, jit_compile=True, autograph=False)
        self.encoder_sums = tf.function(_encoder_sums, jit_compile=True, autograph=False)
        self.fn = tf.function(self._network, autograph=False)
        self._local = threading.local()

    def _network(self, x):
        tf = self.tf
        batch = tf.shape(x)[0]
        counts_out, sums_out = [], []
        encoder = self.encoder_sums(tf.reshape(x, (batch, -1)), self.encoder_levels)
        for in_shape, parts, rows, thr in self.plan:
            image = tf.reshape(x, (batch,) + in_shape)
            values = [tf.reshape(tf.nn.conv2d(image if crop is None else image[:, crop[0], crop[1], crop[2]],
                                              kernel, strides, "VALID"), (batch, size))
                      for crop, kernel, strides, size in parts]
            v = values[0] if len(values) == 1 else tf.concat(values, 1)
            x, counts, sums = self.fire(v if rows is None else tf.gather(v, rows, axis=1), thr)
            counts_out.append(counts)
            sums_out.append(sums)
        return counts_out, sums_out, encoder

    def _tensor(self, array):
        """The float32 counts as a tensor on the same memory when TensorFlow's kernels can read it
        there (64-byte aligned, as the arrays TensorFlow itself returns; DLPack), else a copy
        (copying 50 MB per 1000 MNIST images took about 11 ms, a fifth of the network). A tensor
        (B, 1, H, W, C) or (B, H, W, C) is taken as it is (the network reshapes it)."""
        if isinstance(array, self.tf.Tensor):
            return self.tf.cast(array, self.tf.float32)
        array = np.ascontiguousarray(array, np.float32)
        if not hasattr(array, "__dlpack__"):
            return self.tf.convert_to_tensor(array)
        if array.ctypes.data % ALIGN:  # into this thread's aligned buffer, reused (no new pages)
            buffer = getattr(self._local, "buffer", None)
            if buffer is None or buffer.size < array.size:
                raw = np.empty(array.size + ALIGN // 4, np.float32)
                skip = (-raw.ctypes.data % ALIGN) // 4
                buffer = self._local.buffer = raw[skip:skip + array.size]
            aligned = buffer[:array.size].reshape(array.shape)
            np.copyto(aligned, array)
            array = aligned
        return self.tf.experimental.dlpack.from_dlpack(array.__dlpack__())

    def __call__(self, encoder_counts):
        """encoder_counts (B, H, W, C) -> numpy (counts (B, N) int32 per layer,
        spike sums (N, L) per layer, encoder spike sums (N, L_enc), encoder count sums (N,))."""
        counts, sums, (enc, upstream) = self.fn(self._tensor(encoder_counts))
        totals = []
        for s, n, order in zip(sums, self.levels, self.order):
            above, total = np.asarray(s).astype(np.int64), np.empty((len(order), n), np.int64)
            np.put_along_axis(total, order, above, axis=1)
            totals.append(total)
        # np.asarray reads a tensor's memory in place (.numpy() copies it: 18 ms per 1000 images)
        return [np.asarray(c) for c in counts], totals, np.asarray(enc).astype(np.int64), np.asarray(upstream)
