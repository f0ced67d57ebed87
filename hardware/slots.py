"""Where the tiles of one row (or the rows of a layer) sit among the address slots of their block,
so that the readers of every source neuron form one multicast cube.

A source neuron is read by a window of consecutive tiles along each axis (3 for a 3 x 3 kernel
over one-position tiles). Consecutive addresses never form a cube of 3, and a cube of 4 around
them reaches a fourth tile that does not read the neuron, so a plain layout needs two cubes per
axis and up to four copies per neuron. With the tiles at chosen slots of a power-of-two block, and
the slots left empty, every window can be one cube whose extra members are empty slots (a packet
to an address without a core is lost harmlessly): for 12 tiles in 16 slots and windows of 3, for
example, [0, 1, 3, 7, 6, 4, 12, 13, 15, 11, 10, 8] is one such order.

`window_slots` finds such an assignment by depth-first search, or says there is none within its
budget; the caller then keeps the plain order. Each window's cube is the smallest XOR cube around
its tiles' slots (base XOR any subset of the OR of their differences), exactly what
`addressing.cube_cover` takes when the spare slots are the empty ones.
"""
import functools

from hardware.addressing import cube_members

BUDGET = 20000  # search nodes per call; the VGG's and LeNet's windows need far fewer


def window_slots(n, windows, slots, blocked=()):
    """A tuple giving each of the n tiles its slot in range(slots), such that every window (a tuple
    of tile indices) spans a cube holding no other tile and no `blocked` slot (one a cube must
    not reach, e.g. the chip's online cores); None when the search finds none."""
    windows = tuple(sorted({tuple(sorted(w)) for w in windows if len(w) > 1}))
    if n > slots - len(blocked):
        return None
    return _search(n, windows, slots, frozenset(blocked))


def window_slots_in_parts(n, windows, slots, part, blocked=()):
    """Like `window_slots`, for a block that placement cuts into aligned parts of `part` slots
    (partition._row_units: rows whose region is larger than a chip): a window whose tiles sit in
    two parts needs a cube in each, so the tiles go in runs of consecutive ones, one run per part,
    each run at `window_slots`' slots of its part for the windows restricted to it, each as long
    as its part allows (the fewest boundaries). Then only the windows at the runs' ends cross
    parts (one order over the whole block would scatter neighbours over the parts). The plain
    `window_slots` where the block is one part or the runs do not fit."""
    if part >= slots:
        return window_slots(n, windows, slots, blocked)
    windows = tuple(sorted({tuple(sorted(w)) for w in windows if len(w) > 1}))
    slot_of, start = [], 0
    for p in range(slots // part):  # each part takes the longest run from `start` it can place
        for size in range(min(part, n - start), 0, -1):
            inside = [tuple(t - start for t in w if start <= t < start + size) for w in windows]
            found = window_slots(size, inside, part)
            if found is not None:
                slot_of += [p * part + o for o in found]
                start += size
                break
    if start < n or set(slot_of) & set(blocked):
        return window_slots(n, windows, slots, blocked)
    return tuple(slot_of)


@functools.lru_cache(maxsize=256)
def _search(n, windows, slots, blocked):
    ending = [[] for _ in range(n)]
    for w in windows:
        ending[w[-1]].append(w)
    slot_of = [-1] * n
    owner = {b: -1 for b in blocked}  # slot -> tile (-1: blocked)
    forbidden = {}  # slot -> how many windows' cubes need it empty
    budget = BUDGET

    def cube(w):
        base = slot_of[w[0]]
        mask = 0
        for t in w:
            mask |= slot_of[t] ^ base
        return cube_members(base, mask)

    def place(i):
        nonlocal budget
        if i == n:
            return True
        for s in range(slots):
            if s in owner or forbidden.get(s):
                continue
            budget -= 1
            if budget < 0:
                return False
            slot_of[i], owner[s] = s, i
            marked, ok = [], True
            for w in ending[i]:
                members = set(w)
                for m in cube(w):
                    if m >= slots or (m in owner and owner[m] not in members):
                        ok = False
                        break
                    if m not in owner:
                        forbidden[m] = forbidden.get(m, 0) + 1
                        marked.append(m)
                if not ok:
                    break
            if ok and place(i + 1):
                return True
            for m in marked:
                forbidden[m] -= 1
            del owner[s]
            slot_of[i] = -1
            if i == 0:
                break  # XOR symmetry: tile 0 at slot 0 loses nothing
        return False

    return tuple(slot_of) if place(0) else None
