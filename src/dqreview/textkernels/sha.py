"""SHA-1 and SHA-256 in numba (FIPS 180-4), for hashing many short strings without a Python call each.

* :func:`sha1_head32` / :func:`sha1_lanes`: the first 4 bytes of SHA-1 read as a little-endian uint32
  (datasketch's ``sha1_hash32``), one message at a time or :data:`SHA1_LANES` one-block messages side
  by side (checked against datasketch through the MinHash tests);
* :func:`sha256_mod`: ``int(sha256(msg).hexdigest(), 16) % B`` (the ``data-selection`` package's
  n-gram bucket; checked against ``hashlib`` in the DSIR tests).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

# --- SHA-1 (32-bit words kept in uint64, masked after each addition) ----------------------------

_U64 = np.uint64
_M32 = np.uint64(0xFFFFFFFF)
_S8, _S16, _S24 = (np.uint64(k) for k in (8, 16, 24))

#: Shingles hashed side by side by the multi-buffer SHA-1 (one AVX-512 register of 32-bit lanes).
SHA1_LANES = 16


@njit(cache=True)
def _rotl32(x, n):
    return ((x << _U64(n)) | (x >> _U64(32 - n))) & _M32


@njit(cache=True)
def sha1_head32(msg, length, w):
    """First 4 bytes of SHA-1(msg[:length]) read as a little-endian uint32 (FIPS 180-4; msg must have
    room for the padding). 32-bit words live in uint64 and are masked after each addition."""
    total = ((length + 8) // 64 + 1) * 64
    msg[length] = 0x80
    for i in range(length + 1, total - 8):
        msg[i] = 0
    bits = _U64(length) * _S8
    for i in range(8):
        msg[total - 1 - i] = np.uint8((bits >> _U64(8 * i)) & _U64(0xFF))
    h0, h1, h2, h3, h4 = (
        _U64(0x67452301), _U64(0xEFCDAB89), _U64(0x98BADCFE), _U64(0x10325476), _U64(0xC3D2E1F0)
    )  # fmt: skip
    for blk in range(0, total, 64):
        for t in range(16):
            j = blk + 4 * t
            w[t] = (
                (_U64(msg[j]) << _S24)
                | (_U64(msg[j + 1]) << _S16)
                | (_U64(msg[j + 2]) << _S8)
                | _U64(msg[j + 3])
            )
        for t in range(16, 80):
            w[t] = _rotl32(w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16], 1)
        a, b, c, d, e = h0, h1, h2, h3, h4
        for t in range(0, 20):
            tmp = (_rotl32(a, 5) + ((b & c) | ((b ^ _M32) & d)) + e + _U64(0x5A827999) + w[t]) & _M32
            e, d, c, b, a = d, c, _rotl32(b, 30), a, tmp
        for t in range(20, 40):
            tmp = (_rotl32(a, 5) + (b ^ c ^ d) + e + _U64(0x6ED9EBA1) + w[t]) & _M32
            e, d, c, b, a = d, c, _rotl32(b, 30), a, tmp
        for t in range(40, 60):
            tmp = (_rotl32(a, 5) + ((b & c) | (b & d) | (c & d)) + e + _U64(0x8F1BBCDC) + w[t]) & _M32
            e, d, c, b, a = d, c, _rotl32(b, 30), a, tmp
        for t in range(60, 80):
            tmp = (_rotl32(a, 5) + (b ^ c ^ d) + e + _U64(0xCA62C1D6) + w[t]) & _M32
            e, d, c, b, a = d, c, _rotl32(b, 30), a, tmp
        h0 = (h0 + a) & _M32
        h1 = (h1 + b) & _M32
        h2 = (h2 + c) & _M32
        h3 = (h3 + d) & _M32
        h4 = (h4 + e) & _M32
    # digest bytes 0..3 are h0 big-endian; read little-endian, that is h0 byte-swapped
    return (
        ((h0 & _U64(0xFF)) << _S24)
        | ((h0 & _U64(0xFF00)) << _S8)
        | ((h0 >> _S8) & _U64(0xFF00))
        | (h0 >> _S24)
    )


@njit(cache=True)
def sha1_lanes(blocks, out, lanes):
    """sha1-32 of ``lanes`` one-block messages at once; ``blocks`` (64, SHA1_LANES) uint8, already padded,
    column q = message q. Every step is a loop over the independent lanes, which LLVM can partly
    vectorise and the CPU overlap (about 2× the scalar :func:`sha1_head32` per message, measured); the
    five working variables live in rows of ``st`` whose roles rotate by one row per round (no copies)."""
    W = np.empty((80, SHA1_LANES), np.uint32)
    for t in range(16):
        for q in range(SHA1_LANES):
            W[t, q] = (
                (np.uint32(blocks[4 * t, q]) << np.uint32(24))
                | (np.uint32(blocks[4 * t + 1, q]) << np.uint32(16))
                | (np.uint32(blocks[4 * t + 2, q]) << np.uint32(8))
                | np.uint32(blocks[4 * t + 3, q])
            )
    for t in range(16, 80):
        for q in range(SHA1_LANES):
            x = W[t - 3, q] ^ W[t - 8, q] ^ W[t - 14, q] ^ W[t - 16, q]
            W[t, q] = (x << np.uint32(1)) | (x >> np.uint32(31))
    init = (0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0)
    st = np.empty((5, SHA1_LANES), np.uint32)
    for r in range(5):
        st[r, :] = np.uint32(init[r])
    for t in range(80):
        ia, ib, ic, id_, ie = (-t) % 5, (1 - t) % 5, (2 - t) % 5, (3 - t) % 5, (4 - t) % 5
        if t < 20:
            for q in range(SHA1_LANES):
                a, b, c, d = st[ia, q], st[ib, q], st[ic, q], st[id_, q]
                f = (b & c) | (~b & d)
                rot = (a << np.uint32(5)) | (a >> np.uint32(27))
                st[ie, q] = np.uint32(rot + f + st[ie, q] + np.uint32(0x5A827999) + W[t, q])
                st[ib, q] = (b << np.uint32(30)) | (b >> np.uint32(2))
        elif t < 40:
            for q in range(SHA1_LANES):
                a, b, c, d = st[ia, q], st[ib, q], st[ic, q], st[id_, q]
                rot = (a << np.uint32(5)) | (a >> np.uint32(27))
                st[ie, q] = np.uint32(rot + (b ^ c ^ d) + st[ie, q] + np.uint32(0x6ED9EBA1) + W[t, q])
                st[ib, q] = (b << np.uint32(30)) | (b >> np.uint32(2))
        elif t < 60:
            for q in range(SHA1_LANES):
                a, b, c, d = st[ia, q], st[ib, q], st[ic, q], st[id_, q]
                f = (b & c) | (b & d) | (c & d)
                rot = (a << np.uint32(5)) | (a >> np.uint32(27))
                st[ie, q] = np.uint32(rot + f + st[ie, q] + np.uint32(0x8F1BBCDC) + W[t, q])
                st[ib, q] = (b << np.uint32(30)) | (b >> np.uint32(2))
        else:
            for q in range(SHA1_LANES):
                a, b, c, d = st[ia, q], st[ib, q], st[ic, q], st[id_, q]
                rot = (a << np.uint32(5)) | (a >> np.uint32(27))
                st[ie, q] = np.uint32(rot + (b ^ c ^ d) + st[ie, q] + np.uint32(0xCA62C1D6) + W[t, q])
                st[ib, q] = (b << np.uint32(30)) | (b >> np.uint32(2))
    for q in range(lanes):  # after 80 rounds (a multiple of 5) row 0 is a again
        h0 = _U64(np.uint32(st[0, q] + np.uint32(init[0])))
        out[q] = (
            ((h0 & _U64(0xFF)) << _S24)
            | ((h0 & _U64(0xFF00)) << _S8)
            | ((h0 >> _S8) & _U64(0xFF00))
            | (h0 >> _S24)
        )


# --- SHA-256 (32-bit words in uint32, every operation cast back to uint32) ----------------------


def _icbrt(n: int) -> int:
    x = int(round(n ** (1 / 3)))
    while x**3 > n:
        x -= 1
    while (x + 1) ** 3 <= n:
        x += 1
    return x


_PRIMES = [p for p in range(2, 312) if all(p % q for q in range(2, int(p**0.5) + 1))][:64]
#: SHA-256 constants (FIPS 180-4): first 32 fraction bits of the cube roots of the first 64 primes
#: and of the square roots of the first 8 (checked against hashlib by the tests).
_K = np.array([_icbrt(p << 96) & 0xFFFFFFFF for p in _PRIMES], dtype=np.uint32)
_H0 = np.array([math.isqrt(p << 64) & 0xFFFFFFFF for p in _PRIMES[:8]], dtype=np.uint32)
_U32 = np.uint32


@njit(cache=True, inline="always")
def _rotr(x, n):
    return _U32((x >> _U32(n)) | (x << _U32(32 - n)))


@njit(cache=True)
def sha256_mod(msg, L, B, W, H):
    """``int(sha256(msg[:L]).hexdigest(), 16) % B``; ``msg`` needs room for the padding (L + 72 bytes).

    ``W`` (uint32[64]) and ``H`` (uint32[8]) are scratch. ``B`` must be below 2**31. Every 32-bit
    operation is cast back to uint32 (numba widens integer arithmetic to 64 bits).
    """
    nblk = (L + 9 + 63) // 64
    end = nblk * 64
    msg[L] = 0x80
    for i in range(L + 1, end - 8):
        msg[i] = 0
    bits = np.int64(L) * 8
    for i in range(8):
        msg[end - 1 - i] = (bits >> (8 * i)) & 0xFF
    for i in range(8):
        H[i] = _H0[i]
    for blk in range(nblk):
        base = blk * 64
        for t in range(16):
            j = base + 4 * t
            W[t] = _U32(
                (_U32(msg[j]) << _U32(24))
                | (_U32(msg[j + 1]) << _U32(16))
                | (_U32(msg[j + 2]) << _U32(8))
                | msg[j + 3]
            )
        for t in range(16, 64):
            x = W[t - 15]
            y = W[t - 2]
            s0 = _U32(_rotr(x, 7) ^ _rotr(x, 18) ^ (x >> _U32(3)))
            s1 = _U32(_rotr(y, 17) ^ _rotr(y, 19) ^ (y >> _U32(10)))
            W[t] = _U32(W[t - 16] + s0 + W[t - 7] + s1)
        a, b, c, d, e, f, g, h = H[0], H[1], H[2], H[3], H[4], H[5], H[6], H[7]
        for t in range(64):
            S1 = _U32(_rotr(e, 6) ^ _rotr(e, 11) ^ _rotr(e, 25))
            ch = _U32((e & f) ^ (~e & g))
            t1 = _U32(h + S1 + ch + _K[t] + W[t])
            S0 = _U32(_rotr(a, 2) ^ _rotr(a, 13) ^ _rotr(a, 22))
            maj = _U32((a & b) ^ (a & c) ^ (b & c))
            t2 = _U32(S0 + maj)
            h = g
            g = f
            f = e
            e = _U32(d + t1)
            d = c
            c = b
            b = a
            a = _U32(t1 + t2)
        H[0] = _U32(H[0] + a)
        H[1] = _U32(H[1] + b)
        H[2] = _U32(H[2] + c)
        H[3] = _U32(H[3] + d)
        H[4] = _U32(H[4] + e)
        H[5] = _U32(H[5] + f)
        H[6] = _U32(H[6] + g)
        H[7] = _U32(H[7] + h)
    r = np.int64(0)
    for i in range(8):
        r = ((r << 32) | np.int64(H[i])) % B
    return r


@njit(cache=True)
def sha256_mod_many(buf, starts, ends, B):
    """Bucket of each byte string ``buf[starts[i]:ends[i]]`` (for tests and one-off use)."""
    n = starts.size
    out = np.empty(n, dtype=np.int64)
    W = np.empty(64, dtype=np.uint32)
    H = np.empty(8, dtype=np.uint32)
    msg = np.empty(256, dtype=np.uint8)
    for i in range(n):
        L = ends[i] - starts[i]
        if msg.size < L + 72:
            msg = np.empty(2 * L + 72, dtype=np.uint8)
        for j in range(L):
            msg[j] = buf[starts[i] + j]
        out[i] = sha256_mod(msg, L, B, W, H)
    return out
