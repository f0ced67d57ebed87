"""Partition: split every SG layer into core-sized groups of output neurons (phase 1 of 5).

A tile is a rectangle of output positions (th x tw); its axons are the tile's receptive field,
every input sub-neuron one axon (docs/hardware.md §5), in a modular layout: slot =
((y mod Rh) * Rw + (x mod Rw)) * C * L_in + c * L_in + l with Rh x Rw the largest window, so one
input sub-neuron has the same axon address in every core that needs it.

Neuron copies. A PAICORE neuron has ONE destination: a chip/core/axon address, widened by the
replication bits to a cube of cores (base XOR any subset of the mask bits), all at that same
axon address. A source whose destination cores need k cubes therefore needs k hardware
neurons: the original and k - 1 copies (same crossbar column, same registers, so they fire
together), and every copy takes a neuron slot of a core that has the source's receptive field,
i.e. a core of the source's own tile. The tile's cores are as many as its neurons *with* copies
need, so copies are counted in the cores.

The number of cubes a source needs depends on how the next layer is tiled and laid out on the
chip (`layout_tiles`: each tile's cores in a contiguous aligned block, tiles of a row in
power-of-two strides, so neighbouring tiles form cubes). The planner therefore goes from the
last layer to the first: for layer l it knows the copies its neurons need (from layer l + 1's
chosen plan) and picks the tiling minimizing its own cores plus the cores layer l - 1 then
needs for the copies this tiling asks of it (one-step look-ahead). The off-chip encoder needs
no copies (the host sends one packet per cube) and the last layer's spikes go to the off-chip
readout (one destination).
"""
from dataclasses import dataclass, field

import numpy as np

from hardware.addressing import chip_space, cube_cover, cube_members, pow2
from hardware.network import register_encoding
from hardware.slots import window_slots, window_slots_in_parts
from hardware.spec import HardwareError

CANDIDATES = 10  # tilings per layer kept for the copy-aware search (fewest own cores first)
# A layer's layout choices (_option): its tiles in order, at hardware.slots' slots, or in order
# with multicast cubes that reach none of its tile blocks' holes (which other layers may then take).
LAYOUTS = ("in order", "slots", "exact")


@dataclass
class LayerPlan:
    name: str
    tile: tuple  # (th, tw) output positions per tile
    grid: tuple  # (tile rows, tile cols)
    window: tuple  # (Rh, Rw) input positions of the axon layout
    lcn: int
    width: int  # weight bits
    weight_lo: int
    weight_hi: int
    axon_slots: int  # axons per core (modular layout)
    neuron_limit: int  # neurons per core at this LCN and width
    cores: int
    tile_cores: np.ndarray = None  # (R, C) cores of each tile
    copies: np.ndarray = None  # (ho, wo) hardware neurons per output sub-neuron at each position (>= 1)
    neurons: int = 0  # hardware neurons, copies included
    max_neurons: int = 0  # most hardware neurons in one core
    addresses: np.ndarray = None  # (R, C, Kmax) relative linear core address (chip * space + local), -1 none

    @property
    def neurons_per_core(self):
        return self.max_neurons

    @property
    def copy_neurons(self):
        return int(self.neurons - int(np.prod(self.copies.shape)) * self.cl_out) if self.copies is not None else 0

    cl_out: int = 0
    spare: np.ndarray = None  # relative addresses kept empty for multicast cubes (layout_tiles(spare=True)), reached by some
    spare_placed: np.ndarray = None  # the same, global, after placement
    piece: int = None  # aligned blocks of the layout no multicast cube spans: placed independently
    layout: str = LAYOUTS[0]


@dataclass
class Core:
    layer: int  # index into the network's layers
    index: tuple  # (tile row, tile col, k-th core of the tile)
    neuron_ids: np.ndarray  # flat output sub-neuron id of each hardware neuron (copies repeat an id)
    n_axons_used: int
    copy: np.ndarray = None  # copy number of each hardware neuron (0 = the original)
    axon_src: np.ndarray = None  # (axon_slots,) flat input sub-neuron id per slot, -1 unused
    weights: np.ndarray = None  # (axon_slots, neurons) int8
    theta: np.ndarray = None  # (neurons,) unsigned positive threshold
    bias: np.ndarray = None  # (neurons,) leak register (added before comparison)
    address: int = None  # relative linear address in the layer's layout
    coord: tuple = None  # (chip, x, y), set by placement
    extra: dict = field(default_factory=dict)


def _window(t, s, k, size):
    return min((t - 1) * s + k, size)


def layout_tiles(tile_cores, chip, dense=False, row_slots=None, col_slots=None, spare=False):
    """(R, C, Kmax) relative linear addresses for the cores of each tile (-1: none).

    Each tile's K cores are consecutive, in a block aligned to the next power of two of the
    largest K; the tiles of a row follow at that stride and rows at the next power of two of
    (cols x block), all inside one chip, skipping unusable (reserved) addresses. When a row does
    not fit a chip's usable cores, tiles are laid out one block at a time; when a tile does not,
    core by core. `dense`: core by core anyway, for a layer whose layout no copy depends on (the
    first one: the off-chip host sends one packet per cube itself).

    `col_slots` (C,): the block of its row each tile column takes, below pow2(C) (hardware.slots;
    default in order). `row_slots` (R,): the same for rows, inside one aligned region of pow2(R)
    row strides, cut into aligned parts where the region does not fit a chip's usable cores.
    `spare`: also return the usable addresses each block (a tile's, a row's or a part's) leaves
    empty: multicast cubes may reach them (`addressing.cube_cover`'s spare addresses) as long as
    placement keeps them empty, which lets tiles with fewer cores than their block, and tiles at
    chosen slots (hardware.slots), pair up.
    """
    space, usable = chip_space(chip)
    rows, cols = tile_cores.shape
    kmax = int(tile_cores.max(initial=1))
    kpad = pow2(kmax)
    if dense or kpad > space or not _fits_somewhere(np.arange(kmax), kpad, usable):
        out = _core_by_core(tile_cores, kmax, space, usable)
        return (out, np.zeros(0, np.int64)) if spare else out
    out = np.full((rows, cols, kmax), -1, np.int64)
    stride = pow2(cols) * kpad
    col_at = np.arange(cols) if col_slots is None else np.asarray(col_slots, np.int64)
    row_local = [np.concatenate([col_at[ci] * kpad + np.arange(tile_cores[r, ci]) for ci in range(cols)])
                 for r in range(rows)]
    by_row = stride <= space and all(_fits_somewhere(local, stride, usable) for local in row_local)
    if by_row:
        units = _row_units(row_local, row_slots, stride, space, usable)
    else:
        units = [(kpad, [((r, c), np.arange(tile_cores[r, c]))]) for r in range(rows) for c in range(cols)]
    holes, slotted = [], row_slots is not None or col_slots is not None
    chip_i, offset = 0, 0
    for unit, members in units:
        local = np.concatenate([m for _, m in members])
        wraps = 0
        while True:
            if offset + unit > space:
                chip_i, offset, wraps = chip_i + 1, 0, wraps + 1
                if wraps > 1:
                    raise HardwareError("chip: a block of cores does not fit the usable cores of one chip")
            if np.all(usable[offset + local]):
                break
            offset += unit
        for (r, c), m in members:
            cs = range(cols) if c is None else [c]
            k = 0
            for ci in cs:
                n = tile_cores[r, ci]
                out[r, ci, :n] = chip_i * space + offset + m[k:k + n]
                k += n
        # a plain layout offers only its tiles' blocks (as many cores as before the slots); a slotted one its units
        block = np.arange(unit) if slotted else np.unique(local // kpad * kpad)[:, None] + np.arange(kpad)
        free = np.setdiff1d(block, local)
        holes.append(chip_i * space + offset + free[usable[offset + free]])
        offset += unit
    return (out, np.concatenate(holes)) if spare else out


def _row_units(row_local, row_slots, stride, space, usable):
    """[(unit size, [((row, None), core offsets in the unit)])] of a layout by rows: one row per
    stride, or, with row slots, the rows at their slots of aligned parts of one region (the largest
    power-of-two part that fits a chip's usable cores; a window of rows across two parts then needs
    a cube in each)."""
    if row_slots is None:
        return [(stride, [((r, None), local)]) for r, local in enumerate(row_local)]
    row_at = np.asarray(row_slots, np.int64)

    def parts(per):  # [[(row, its offsets in the part)]] per part of `per` row slots
        return [[(int(r), row_at[r] % per * stride + row_local[r]) for r in np.flatnonzero(row_at // per == p)]
                for p in np.unique(row_at // per)]

    part = pow2(int(row_at.max()) + 1) * stride
    while part > stride and not (part <= space and all(
            _fits_somewhere(np.concatenate([local for _, local in rows]), part, usable)
            for rows in parts(part // stride))):
        part //= 2
    return [(part, [((r, None), local) for r, local in rows]) for rows in parts(part // stride)]


def _core_by_core(tile_cores, kmax, space, usable):
    """Addresses of the tiles' cores one after another over the usable addresses of the chips."""
    free = np.flatnonzero(usable)
    n = np.arange(int(tile_cores.sum()))
    flat = (n // len(free)) * space + free[n % len(free)]
    out = np.full(tile_cores.shape + (kmax,), -1, np.int64)
    ends = np.cumsum(tile_cores.reshape(-1))
    for i, (start, end) in enumerate(zip(ends - tile_cores.reshape(-1), ends)):
        out.reshape(-1, kmax)[i, : end - start] = flat[start:end]
    return out


def _fits_somewhere(local, unit, usable):
    """Whether a unit's cores (offsets below `unit`) land on usable cores at some aligned offset."""
    return any(np.all(usable[offset + local]) for offset in range(0, len(usable) - unit + 1, unit))


# ------------------------------------------------------------------------------------ planning


@dataclass
class _Tiling:
    th: int
    tw: int
    rh: int
    rw: int
    lcn: int
    limit: int
    slots: int


def control_weights(layer, spec, width):
    """[(Control, weights (C', K))] of a temporal layer's controller axons at `width` bits
    (hardware.temporal), or None for a spatial layer. Their axons follow the data axons."""
    if not layer.temporal:
        return None
    from hardware.temporal import control_axons

    return control_axons(layer, spec.core.weight_range(width))


def _n_control(layer, spec, width):
    control = control_weights(layer, spec, width)
    return 0 if control is None else sum(weights.shape[1] for _, weights in control)


def _tilings(layer, spec, width):
    core = spec.core
    extra = _n_control(layer, spec, width)
    kh, kw = layer.kernel.shape[:2]
    h_in, w_in, c_in = layer.in_shape
    ho, wo, _ = layer.out_shape
    cl_in = c_in * layer.levels_in
    out = []
    for th in range(1, ho + 1):
        rh = _window(th, layer.strides[0], kh, h_in)
        for tw in range(1, wo + 1):
            rw = _window(tw, layer.strides[1], kw, w_in)
            slots = rh * rw * cl_in + extra
            lcn = core.lcn_for(slots)
            if lcn > core.max_lcn:
                break  # wider tiles only need more axons
            limit = core.neurons_per_core(lcn, width)
            if limit < 1:
                break
            out.append(_Tiling(th, tw, rh, rw, lcn, limit, slots))
    return out


def _tile_cores(layer, t, copies):
    """(R, C) cores per tile and the most neurons one core of each tile holds."""
    cl_out = layer.out_shape[2] * layer.levels
    ho, wo = copies.shape
    rows, cols = np.arange(0, ho, t.th), np.arange(0, wo, t.tw)
    per_tile = np.add.reduceat(np.add.reduceat(copies, rows, axis=0), cols, axis=1) * cl_out
    k = -(-per_tile // t.limit)
    return k, -(-per_tile // k)


def _input_ranges(layer, t, axis):
    """Per tile index along axis (0 rows, 1 cols): the input positions in its window."""
    size_out, size_in = layer.out_shape[axis], layer.in_shape[axis]
    step = (t.th, t.tw)[axis]
    s, p, k = layer.strides[axis], layer.pads[axis], layer.kernel.shape[axis]
    out = []
    for start in range(0, size_out, step):
        end = min(start + step, size_out) - 1
        out.append((max(start * s - p, 0), min(end * s - p + k, size_in)))
    return out


def induced_copies(layer, addresses, t, space, source_shape, multicast=True, spare=()):
    """((h, w) hardware neurons each source sub-neuron (at each position of the previous layer's
    output) needs: the multicast cubes covering the cores that read it (at least 1); the spare
    addresses those cubes reach; the OR of their masks, i.e. the address bits a cube spans)."""
    h, w = source_shape
    reached, masks = set(), 0

    def cover(sel):
        nonlocal masks
        cubes = cube_cover(sel, space, multicast, spare)
        reached.update(m for base, mask in cubes if mask for m in cube_members(base, mask))
        for _, mask in cubes:
            masks |= mask
        return max(len(cubes), 1)

    if layer.kind == "dense":
        n = cover(addresses[addresses >= 0])
        return np.full((h, w), n, np.int64), _spare_reached(reached, addresses), masks
    row_sets, col_sets = reader_sets(layer, t, source_shape)
    memo, out = {}, np.ones((h, w), np.int64)
    for y in range(h):
        for x in range(w):
            key = (row_sets[y], col_sets[x])
            if key not in memo:
                sel = addresses[np.ix_(key[0], key[1])] if key[0] and key[1] else np.zeros(0, np.int64)
                memo[key] = cover(sel[sel >= 0])
            out[y, x] = memo[key]
    return out, _spare_reached(reached, addresses), masks


def reader_sets(layer, t, source_shape):
    """Per source row and per source column: the tile rows / columns of `layer` (tiled by t)
    that read it."""
    h, w = source_shape
    rows = _input_ranges(layer, t, 0)
    cols = _input_ranges(layer, t, 1)
    row_sets = [tuple(r for r, (a, b) in enumerate(rows) if a <= y < b) for y in range(h)]
    col_sets = [tuple(c for c, (a, b) in enumerate(cols) if a <= x < b) for x in range(w)]
    return row_sets, col_sets


def _slots(layer, t, k, source_shape, chip, one_axis=False):
    """[(row_slots, col_slots)] putting every source's readers in one cube (hardware.slots), each
    None where no such order is found or none is needed: the rows in one order over their whole
    region, and in runs per part where placement cuts the region into parts; with `one_axis`, each
    of these also with only one axis at slots, the other in order (fewer kept-empty addresses, more
    copies). Distinct orders only; _option keeps the cheapest. When the rows' region is a
    whole chip, a row slot holding unusable addresses is blocked (no tile, and no cube may reach
    it)."""
    if layer.kind == "dense":
        return [(None, None)]
    space, usable = chip_space(chip)
    rows, cols = k.shape
    row_sets, col_sets = reader_sets(layer, t, source_shape)
    stride = pow2(cols) * pow2(int(k.max(initial=1)))
    blocked = ()
    if pow2(rows) * stride == space:
        blocked = tuple(r for r in range(pow2(rows)) if not usable[r * stride:(r + 1) * stride].all())
    col_slots = window_slots(cols, col_sets, pow2(cols))
    row_orders = [window_slots(rows, row_sets, pow2(rows), blocked),
                  window_slots_in_parts(rows, row_sets, pow2(rows), _row_part(pow2(rows), stride, space, usable),
                                        blocked)]
    orders = [(row_slots, col_slots) for row_slots in row_orders]
    if one_axis:
        orders += [(None, col_slots)] + [(row_slots, None) for row_slots in row_orders]
    return list(dict.fromkeys(o for o in orders if o != (None, None))) or [(None, None)]


def _row_part(region, stride, space, usable):
    """Row slots per part of a layout by rows whose `region` row slots are larger than a chip: the
    most (a power of two) whose block of addresses is all usable somewhere on a chip, as
    _row_units cuts it (at least one row)."""
    part = region
    while part > 1 and (part * stride > space or not _fits_somewhere(np.arange(part * stride), part * stride, usable)):
        part //= 2
    return part


def _spare_reached(reached, addresses):
    return np.setdiff1d(np.array(sorted(reached), np.int64), addresses[addresses >= 0])


def _source_shape(net, li):
    prev = net.layers[li - 1]
    return prev.out_shape[:2]


def _width(layer, spec):
    core = spec.core
    lo, hi = int(layer.kernel.min(initial=0)), int(layer.kernel.max(initial=0))
    width = core.narrowest_width(min(lo, 0), hi)
    if width is None:
        widest = core.weight_widths[-1]
        raise HardwareError(f"layer {layer.name}: weight width: needs values {lo}..{hi}, widest supported is "
                            f"{widest} bits ({core.weight_range(widest)[0]}..{core.weight_range(widest)[1]})")
    return width, lo, hi


def _shortlist(layer, tilings, copies):
    scored = []
    for t in tilings:
        k, _ = _tile_cores(layer, t, copies)
        scored.append((int(k.sum()), int(k.sum()) * t.slots, t.lcn, t))
    scored.sort(key=lambda s: s[:3])
    return scored[:CANDIDATES]


def plan_network(net, spec, slot_layouts=None):
    """One LayerPlan per layer, copies included, chosen back to front with one-step look-ahead.

    `slot_layouts`, the layouts of LAYOUTS the layers may take: True: at the slots of
    hardware.slots (fewer copies, more addresses kept empty); False: in order; "exact": in order,
    no address kept empty (more copies); "mixed": each layer the one with the fewest cores plus
    kept-empty addresses (both take a chip's addresses); "search": "mixed", then, where placement
    needs more chips than those addresses fill, hardware.layout_search's search over the layers'
    layouts for fewer chips; None: True for a temporal network, else "search" (docs/hardware.md §5)."""
    if slot_layouts is None:
        slot_layouts = True if any(layer.temporal for layer in net.layers) else "search"
    rules = {False: LAYOUTS[:1], True: LAYOUTS[1:2], "exact": LAYOUTS[2:], "mixed": LAYOUTS, "search": LAYOUTS}
    if slot_layouts not in rules:
        raise HardwareError(f"slot_layouts: expected one of {sorted(map(str, rules))} or None, got {slot_layouts!r}")
    allowed = rules[slot_layouts]
    planner = Planner(net, spec, allowed)
    plans = planner.plan()
    if slot_layouts == "search":
        from hardware.layout_search import search_layouts

        plans = search_layouts(planner, plans)
    return plans


class Planner:
    """plan_network's back-to-front pass over one network, resumable below any layer with that
    layer's layout forced (what hardware.layout_search varies)."""

    def __init__(self, net, spec, allowed):
        self.net, self.spec, self.allowed = net, spec, allowed
        self.space = chip_space(spec.chip)[0]
        self.tilings, self.widths = {}, {}
        for li, layer in enumerate(net.layers):  # first problem in network order
            self.widths[li] = _width(layer, spec)
            self.tilings[li] = _tilings(layer, spec, self.widths[li][0])
            if not self.tilings[li]:
                _no_fit(layer, spec, self.widths[li][0])

    def plan(self, above=None, at=None, layout=None):
        """Plans of every layer, or None where `layout` does not exist for layer `at`. `above`,
        `at`: keep the plans above layer `at` of `above` (the copies they ask of it with them),
        re-plan layer `at` with `layout` forced and the layers below afresh."""
        n = len(self.net.layers)
        plans = [None] * n
        copies = np.ones(self.net.layers[-1].out_shape[:2], np.int64)  # the readout is off-chip: one destination
        top = n - 1
        if above is not None:
            top, plans[at + 1:], copies = at, above[at + 1:], above[at].copies
        for li in range(top, -1, -1):
            allowed = self.allowed if li < top or layout is None else (layout,)
            best = self._best(li, copies, allowed if li > 0 else LAYOUTS[:1])
            if best is None:
                return None
            _, plans[li], copies = best
        return plans

    def _best(self, li, copies, allowed):
        mixed = len(self.allowed) > 1
        best = None
        for own, _, _, t in _shortlist(self.net.layers[li], self.tilings[li], copies):
            for layout in allowed:
                option = _option(self.net, li, self.spec, self.widths[li], t, copies, layout, self.space,
                                 self.tilings, skip_plain=mixed)
                if option is None:
                    continue
                plan, induced, look = option
                key = (own + look + (len(plan.spare) if mixed else 0), own, own * t.slots, t.lcn)
                if best is None or key < best[0]:
                    best = (key, plan, induced)
        return best


def _option(net, li, spec, width, t, copies, layout, space, tilings, skip_plain=False):
    """(LayerPlan, copies it asks of layer li - 1, that layer's fewest cores for them) of layer li
    tiled by t, its weights `width` (_width's), laid out by `layout` (LAYOUTS: its tiles in order,
    at hardware.slots' slots, or in order with cubes that reach only its cores, its tile blocks'
    holes then free for other layers). Where slots or holes are missing, that layout is the
    in-order one: None instead if `skip_plain`, when the in-order layout is a candidate of its own.
    Of several slot orders (_slots; with `skip_plain` also those with one axis alone at slots) the
    one whose look-ahead plus kept-empty addresses is least."""
    layer = net.layers[li]
    k, per_core = _tile_cores(layer, t, copies)
    slotted = layout == LAYOUTS[1]
    # one axis alone at slots only where the planner weighs layouts (skip_plain): a layer the rule puts at
    # slots (the temporal default) is there for the copies
    orders = _slots(layer, t, k, _source_shape(net, li), spec.chip, skip_plain) if slotted else [(None, None)]
    if slotted and skip_plain and orders == [(None, None)]:
        return None
    best = None
    for slots in orders:
        option = _laid_out(net, li, spec, width, t, copies, layout, space, tilings, k, per_core, slots, skip_plain)
        if option is not None and (best is None or _order_cost(option) < _order_cost(best)):
            best = option
    return best


def _order_cost(option):
    plan, _, look = option
    return look + len(plan.spare), look


def _laid_out(net, li, spec, width, t, copies, layout, space, tilings, k, per_core, slots, skip_plain):
    """_option's plan for one slot order (row_slots, col_slots)."""
    layer = net.layers[li]
    width, lo, hi = width
    addresses, holes = layout_tiles(k, spec.chip, dense=li == 0, row_slots=slots[0], col_slots=slots[1], spare=True)
    if layout == LAYOUTS[2]:
        if skip_plain and not holes.size:  # the in-order candidate itself: its cubes reach no hole
            return None
        holes = np.zeros(0, np.int64)
    induced, reached, masks = (induced_copies(layer, addresses, t, space, _source_shape(net, li),
                                              spec.chip.multicast, holes)
                               if li > 0 else (None, np.zeros(0, np.int64), space - 1))
    look = 0
    if li > 0 and tilings[li - 1]:
        look = min(int(_tile_cores(net.layers[li - 1], tp, induced)[0].sum()) for tp in tilings[li - 1])
    cl_out = layer.out_shape[2] * layer.levels
    plan = LayerPlan(layer.name, (t.th, t.tw), k.shape, (t.rh, t.rw), t.lcn, width, lo, hi, t.slots, t.limit,
                     int(k.sum()), k, copies, int(copies.sum()) * cl_out, int(per_core.max()), addresses, cl_out,
                     reached, None, min(pow2(masks + 1), space), layout)
    return plan, induced, look


def plan_layer(layer, spec, copies=None):
    """The plan of one layer on its own (copies per output position given, default none)."""
    width, lo, hi = _width(layer, spec)
    tilings = _tilings(layer, spec, width)
    if not tilings:
        _no_fit(layer, spec, width)
    copies = np.ones(layer.out_shape[:2], np.int64) if copies is None else copies
    _, _, _, t = _shortlist(layer, tilings, copies)[0]
    k, per_core = _tile_cores(layer, t, copies)
    cl_out = layer.out_shape[2] * layer.levels
    return LayerPlan(layer.name, (t.th, t.tw), k.shape, (t.rh, t.rw), t.lcn, width, lo, hi, t.slots, t.limit,
                     int(k.sum()), k, copies, int(copies.sum()) * cl_out, int(per_core.max()),
                     layout_tiles(k, spec.chip), cl_out)


def _no_fit(layer, spec, width):
    core = spec.core
    kh, kw = layer.kernel.shape[:2]
    cl_in = layer.in_shape[2] * layer.levels_in
    rf = min(kh, layer.in_shape[0]) * min(kw, layer.in_shape[1]) * cl_in
    lcn = core.lcn_for(rf)
    if lcn > core.max_lcn:
        raise HardwareError(f"layer {layer.name}: axons: needs {rf} per neuron (receptive field {kh}x{kw}x"
                            f"{layer.in_shape[2]} x L={layer.levels_in}), limit {core.axons} x LCN "
                            f"{1 << core.max_lcn}X = {core.fan_in(core.max_lcn)}")
    raise HardwareError(f"layer {layer.name}: neurons: needs at least 1 per core, limit {core.dendrites} >> "
                        f"(LCN {lcn} + width code {core.width_code(width)}) = {core.neurons_per_core(lcn, width)}")


def partition(net, spec, tables=True, slot_layouts=None):
    """(plans, cores): one LayerPlan per layer and the list of Cores (tables only if `tables`)."""
    plans = plan_network(net, spec, slot_layouts)
    cores = []
    for index, (layer, plan) in enumerate(zip(net.layers, plans)):
        cores.extend(_layer_cores(index, layer, plan, tables, spec))
    return plans, cores


def _layer_cores(index, layer, plan, tables, spec):
    h_in, w_in, c_in = layer.in_shape
    ho, wo, c_out = layer.out_shape
    cl_out = c_out * layer.levels
    th, tw = plan.tile
    sh, sw = layer.strides
    ph, pw = layer.pads
    kh, kw = layer.kernel.shape[:2]
    theta_all, bias_all = register_encoding(layer.thresholds.reshape(-1))  # per (c', l) = c' * L + l
    control = control_weights(layer, spec, plan.width)
    if control is not None:  # temporal: threshold register = the step, leak lambda (hardware.temporal)
        theta_all, bias_all = layer.steps.astype(np.int64), layer.leak.astype(np.int64)
    out = []
    for r in range(plan.grid[0]):
        ys = np.arange(r * th, min((r + 1) * th, ho))
        yin = np.arange(max(ys[0] * sh - ph, 0), min(ys[-1] * sh - ph + kh, h_in))
        for c in range(plan.grid[1]):
            xs = np.arange(c * tw, min((c + 1) * tw, wo))
            xin = np.arange(max(xs[0] * sw - pw, 0), min(xs[-1] * sw - pw + kw, w_in))
            # hardware neurons of the tile: (position, sub-neuron, copy), copies of a neuron adjacent
            m = plan.copies[np.ix_(ys, xs)].reshape(-1)
            local = np.repeat(np.arange(len(m) * cl_out), np.repeat(m, cl_out))  # tile column per neuron
            copy = np.arange(len(local)) - np.repeat(np.cumsum(np.repeat(m, cl_out)) - np.repeat(m, cl_out),
                                                     np.repeat(m, cl_out))
            pos = (ys[:, None] * wo + xs[None, :]).reshape(-1)
            ids = pos[local // cl_out] * cl_out + local % cl_out
            used = len(yin) * len(xin) * c_in * layer.levels_in
            table = _tile_tables(layer, plan, ys, xs, yin, xin) if tables else None
            if control is not None:
                used += sum(weights.shape[1] for _, weights in control)
                if tables:
                    table = _with_control(table, control, len(ys) * len(xs))
            k = plan.tile_cores[r, c]
            for kk, part in enumerate(np.array_split(np.arange(len(local)), k)):
                core = Core(index, (r, c, kk), ids[part], used, copy=copy[part],
                            address=int(plan.addresses[r, c, kk]))
                if tables:
                    axon_src, weights = table
                    core.axon_src = axon_src
                    core.weights = weights[:, local[part]]
                    j = local[part] % cl_out
                    core.theta, core.bias = theta_all[j], bias_all[j]
                out.append(core)
    return out


CONTROL_BASE = -2  # axon_src of the g-th controller group's axons: CONTROL_BASE - g (not a layer neuron)


def control_group(axon_src):
    """Index of the controller group of each axon slot (-1: a data or unused slot)."""
    return np.where(axon_src <= CONTROL_BASE, CONTROL_BASE - axon_src, -1)


def _with_control(table, control, positions):
    """Append the controller axons to a tile's table: weights per column (position, channel)."""
    axon_src, weights = table
    rows = np.concatenate([w for _, w in control], axis=1).T  # (K, C')
    rows = np.tile(rows, (1, positions))  # columns in (position, channel) order
    src = np.concatenate([np.full(w.shape[1], CONTROL_BASE - g) for g, (_, w) in enumerate(control)])
    return np.concatenate([axon_src, src]), np.concatenate([weights, rows.astype(weights.dtype)])


def _tile_tables(layer, plan, ys, xs, yin, xin):
    """(axon_src, weights (slots, positions * C' * L)) of one tile, columns in (position, j) order."""
    h_in, w_in, c_in = layer.in_shape
    (rh, rw), l_in, l_out = plan.window, layer.levels_in, layer.levels
    sh, sw = layer.strides
    ph, pw = layer.pads
    kh, kw = layer.kernel.shape[:2]
    cl_in = c_in * l_in
    js = np.arange(layer.out_shape[2] * l_out)
    # Slot positions of the modular layout: input position (y, x) -> (y mod Rh, x mod Rw).
    slot_y = np.full(rh, -1)
    slot_x = np.full(rw, -1)
    slot_y[yin % rh] = yin
    slot_x[xin % rw] = xin
    sy, sx = np.meshgrid(slot_y, slot_x, indexing="ij")
    sy, sx = sy.reshape(-1), sx.reshape(-1)  # (Rh*Rw,)
    valid = (sy >= 0) & (sx >= 0)
    src_pos = np.where(valid, sy * w_in + sx, -1)
    sub = np.arange(cl_in)
    axon_src = np.where(valid[:, None], src_pos[:, None] * cl_in + sub[None, :], -1).reshape(-1)
    # Weights: w[(slot, ci, li), (pos, j)] = kernel[y - (yo*sh - ph), x - (xo*sw - pw), ci, j // L].
    oy, ox = np.meshgrid(ys, xs, indexing="ij")
    oy, ox = oy.reshape(-1), ox.reshape(-1)
    ky = sy[:, None] - (oy * sh - ph)[None, :]
    kx = sx[:, None] - (ox * sw - pw)[None, :]
    inside = valid[:, None] & (ky >= 0) & (ky < kh) & (kx >= 0) & (kx < kw)
    channels = js // l_out
    k = layer.kernel[np.clip(ky, 0, kh - 1), np.clip(kx, 0, kw - 1)][..., channels]  # (S, P, C, J)
    k = np.where(inside[:, :, None, None], k, 0).astype(np.int8)
    k = np.repeat(k.transpose(0, 2, 1, 3), l_in, axis=1)  # (S, C*L_in, P, J)
    return axon_src, k.reshape(len(sy) * cl_in, len(oy) * len(js))
