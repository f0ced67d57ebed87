"""Chip address geometry in one place: Morton codes, chip address spaces, multicast cubes.

A chip-local core address is the Morton code of its (x, y): x in the even bits, y in the odd
bits, so a replication mask on the address is a replication mask on x and y (PAICORE's routing).
Global linear address = chip index * space + local address, where `space` is the chip's address
space rounded up to a power of two. A multicast cube is (base, mask): the addresses base XOR any
subset of the mask bits.
"""
import functools

import numpy as np


def pow2(n):
    """The smallest power of two >= n (1 for n <= 1)."""
    return 1 << max(int(n) - 1, 0).bit_length()


def morton(x, y):
    z = 0
    for bit in range(16):
        z |= ((x >> bit) & 1) << (2 * bit) | ((y >> bit) & 1) << (2 * bit + 1)
    return z


def decode(local):
    """The (x, y) of a chip-local Morton address (the inverse of morton)."""
    x = y = 0
    for bit in range(16):
        x |= ((local >> (2 * bit)) & 1) << bit
        y |= ((local >> (2 * bit + 1)) & 1) << bit
    return x, y


@functools.lru_cache(maxsize=64)
def chip_space(chip):
    """(address space per chip (power of two), usable mask, read-only) in Morton addresses of
    (x, y). Cached: the planner asks for every candidate layout (a ChipSpec is frozen)."""
    codes = [morton(x, y) for x, y in chip.usable_coords()]
    space = pow2(max(codes) + 1) if codes else 1
    usable = np.zeros(space, bool)
    usable[codes] = True
    usable.setflags(write=False)
    return space, usable


def cube_cover(addresses, space, multicast=True, spare=()):
    """Multicast cubes [(base, mask)] covering the given linear core addresses.

    A cube is one packet: one chip, base address XOR any subset of the mask bits (the
    replication bits of PAICORE's routing). A cube reaches only the given addresses and
    `spare` ones: addresses the layout keeps empty (no core there, so a packet that reaches
    them is lost harmlessly); with no spare addresses the cover is exact. Per chip, the
    smallest aligned block holding the addresses is split in halves recursively; two halves are
    served by one set of cubes (the split bit joins the mask) where each half's addresses may be
    reached in the other half and that needs fewer cubes than serving them apart. The number of
    cubes therefore does not change when the addresses (and the spare ones) are XORed with a
    constant, which lets placement (hardware/place.py) mirror a layer's layout into another
    layer's free cores without changing any copy count.
    """
    addresses = np.unique(np.asarray(addresses, np.int64))
    if not multicast:
        return [(int(a), 0) for a in addresses]
    spare = np.asarray(spare, np.int64).reshape(-1)  # may hold some of `addresses`: allowed either way
    if spare.size > 1 and np.any(spare[1:] < spare[:-1]):
        spare = np.sort(spare)
    cubes = []
    for chip_i in np.unique(addresses // space):
        local = addresses[addresses // space == chip_i] % space
        lo, hi = int(local[0]), int(local[-1])
        block = pow2(hi - lo + 1)
        while lo // block != hi // block:
            block *= 2
        off = lo // block * block
        start = chip_i * space + off
        free = spare[np.searchsorted(spare, start):np.searchsorted(spare, start + block)] - start
        points = frozenset((local - off).tolist())
        found = _split_cover(points, points | frozenset(free.tolist()), block)  # memoized, like its halves
        cubes.extend((int(chip_i * space + off + base), mask) for base, mask in found)
    return cubes


@functools.lru_cache(maxsize=1 << 16)
def _split_cover(points, allowed, size):
    """Fewest cubes (in this recursive family) covering `points` inside `allowed` (points <= allowed)."""
    if not points:
        return ()
    if len(allowed) == size:
        return ((0, size - 1),)
    half = size // 2
    low = frozenset(p for p in points if p < half)
    high = frozenset(p - half for p in points if p >= half)
    low_ok = frozenset(p for p in allowed if p < half)
    high_ok = frozenset(p - half for p in allowed if p >= half)
    apart = _split_cover(low, low_ok, half) + tuple((base + half, mask)
                                                    for base, mask in _split_cover(high, high_ok, half))
    if low <= high_ok and high <= low_ok:  # each half's cores may be reached in the other half
        joint = tuple((base, mask | half) for base, mask in _split_cover(low | high, low_ok & high_ok, half))
        if len(joint) < len(apart):  # on a tie apart: it reaches fewer kept-empty addresses
            return joint
    return apart


def cube_members(base, mask):
    """Every address of the cube (base, mask)."""
    members = [base]
    bit = 1
    while bit <= mask:
        if mask & bit:
            members += [a ^ bit for a in members]
        bit <<= 1
    return members
