"""Chip address geometry in one place: Morton codes, chip address spaces, multicast cubes.

A chip-local core address is the Morton code of its (x, y): x in the even bits, y in the odd
bits, so a replication mask on the address is a replication mask on x and y (PAICORE's routing).
Global linear address = chip index * space + local address, where `space` is the chip's address
space rounded up to a power of two. A multicast cube is (base, mask): the addresses base XOR any
subset of the mask bits.
"""
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


def chip_space(chip):
    """(address space per chip (power of two), usable mask) in Morton addresses of (x, y)."""
    codes = [morton(x, y) for x, y in chip.usable_coords()]
    space = pow2(max(codes) + 1) if codes else 1
    usable = np.zeros(space, bool)
    usable[codes] = True
    return space, usable


_COVER_CACHE = {}


def cube_cover(addresses, space, multicast=True):
    """Multicast cubes [(base, mask)] covering exactly the given linear core addresses.

    A cube is one packet: one chip, base address XOR any subset of the mask bits (the
    replication bits of PAICORE's routing). Greedy from the lowest address, widening one bit at
    a time while the flipped half is wanted too; exact for aligned blocks and their unions.
    """
    addresses = np.unique(np.asarray(addresses, np.int64))
    if not multicast:
        return [(int(a), 0) for a in addresses]
    cubes = []
    for chip_i in np.unique(addresses // space):
        local = addresses[addresses // space == chip_i] % space
        lo, hi = int(local[0]), int(local[-1])
        block = pow2(hi - lo + 1)
        while lo // block != hi // block:
            block *= 2
        off = lo // block * block
        key = tuple((local - off).tolist())
        if key not in _COVER_CACHE:
            _COVER_CACHE[key] = _greedy_cover(set(key), block)
        cubes.extend((int(chip_i * space + off + base), mask) for base, mask in _COVER_CACHE[key])
    return cubes


def _greedy_cover(remaining, block):
    cubes = []
    bits = [1 << b for b in range(max(block - 1, 0).bit_length())]
    while remaining:
        base = min(remaining)
        cube, mask = [base], 0
        for bit in bits:
            flipped = [a ^ bit for a in cube]
            if all(a in remaining for a in flipped):
                cube += flipped
                mask |= bit
        remaining.difference_update(cube)
        cubes.append((base, mask))
    return cubes


def cube_members(base, mask):
    """Every address of the cube (base, mask)."""
    members = [base]
    bit = 1
    while bit <= mask:
        if mask & bit:
            members += [a ^ bit for a in members]
        bit <<= 1
    return members
