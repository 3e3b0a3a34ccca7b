"""64-bit hashing of byte spans and integers: FNV-1a, murmur3 ``fmix64``, multiply-xorshift mixes.

Every constant is a ``np.uint64``: in numba an int64 literal mixed with uint64 promotes to float64.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_U = np.uint64
FNV_OFFSET = np.uint64(0xCBF29CE484222325)
FNV_PRIME = np.uint64(0x100000001B3)
#: 2^64 / golden ratio, odd: the multiplier of the polynomial and multiply-xorshift mixes.
GOLDEN64 = np.uint64(0x9E3779B97F4A7C15)
_C1 = np.uint64(0xFF51AFD7ED558CCD)
_C2 = np.uint64(0xC4CEB9FE1A85EC53)
_S29, _S31, _S32, _S33 = (np.uint64(k) for k in (29, 31, 32, 33))


@njit(cache=True, inline="always")
def fnv1a(buf, s, e):
    """64-bit FNV-1a of the bytes ``buf[s:e]`` (no finaliser)."""
    h = FNV_OFFSET
    for i in range(s, e):
        h = (h ^ _U(buf[i])) * FNV_PRIME
    return h


@njit(cache=True)
def fmix64(x):
    """The murmur3 64-bit finaliser."""
    x ^= x >> _S33
    x *= _C1
    x ^= x >> _S33
    x *= _C2
    x ^= x >> _S33
    return x


@njit(cache=True)
def span_hashes(buf, start, stop):
    """64-bit hash of every byte span ``buf[start[w]:stop[w]]``: FNV-1a, then :func:`fmix64`."""
    out = np.empty(start.size, np.uint64)
    for w in range(start.size):
        out[w] = fmix64(fnv1a(buf, start[w], stop[w]))
    return out


@njit(cache=True, inline="always")
def fnv1a_xmx(buf, s, e):
    """FNV-1a of ``buf[s:e]`` finalised by xorshift-multiply-xorshift (the DSIR unigram table's key)."""
    h = fnv1a(buf, s, e)
    h ^= h >> _S29
    h *= GOLDEN64
    h ^= h >> _S32
    return h


@njit(cache=True, inline="always")
def mul_xorshift(key):
    """``key·GOLDEN64`` xor its top 33 bits shifted down (the DSIR bigram table's slot hash)."""
    h = key * GOLDEN64
    return h ^ (h >> _S31)
