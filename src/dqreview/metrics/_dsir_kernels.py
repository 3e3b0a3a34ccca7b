"""Compiled (numba) kernels of the DSIR featuriser: tokeniser, SHA-256 buckets, n-gram caches.

Why numba: ``data-selection`` spends its time in one Python-level ``hashlib.sha256`` call per n-gram
and in nltk's regex tokeniser. Here the tokeniser scans UTF-8 bytes, every *distinct* unigram and
bigram is hashed once with a SHA-256 written in numba (checked against ``hashlib`` in the tests), and
the bucket of every later occurrence comes from an open-addressing hash table. Buckets are exactly
``int(sha256(s).hexdigest(), 16) % B``, so the counts equal the package's.

State lives in numpy arrays owned by :class:`NgramCache` (dsir.py); the kernels never grow them:
they stop early and return how far they got, the caller grows the arrays and calls again.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit


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
#: Character classes of the tokeniser table.
SPACE, WORD, OTHER, UNKNOWN = 0, 1, 2, -1
_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)
_MIX = np.uint64(0x9E3779B97F4A7C15)


# ------------------------------------------------------------------------------------------ sha256
_U = np.uint32


@njit(cache=True, inline="always")
def _rotr(x, n):
    return _U((x >> _U(n)) | (x << _U(32 - n)))


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
            W[t] = _U(
                (_U(msg[j]) << _U(24)) | (_U(msg[j + 1]) << _U(16)) | (_U(msg[j + 2]) << _U(8)) | msg[j + 3]
            )
        for t in range(16, 64):
            x = W[t - 15]
            y = W[t - 2]
            s0 = _U(_rotr(x, 7) ^ _rotr(x, 18) ^ (x >> _U(3)))
            s1 = _U(_rotr(y, 17) ^ _rotr(y, 19) ^ (y >> _U(10)))
            W[t] = _U(W[t - 16] + s0 + W[t - 7] + s1)
        a, b, c, d, e, f, g, h = H[0], H[1], H[2], H[3], H[4], H[5], H[6], H[7]
        for t in range(64):
            S1 = _U(_rotr(e, 6) ^ _rotr(e, 11) ^ _rotr(e, 25))
            ch = _U((e & f) ^ (~e & g))
            t1 = _U(h + S1 + ch + _K[t] + W[t])
            S0 = _U(_rotr(a, 2) ^ _rotr(a, 13) ^ _rotr(a, 22))
            maj = _U((a & b) ^ (a & c) ^ (b & c))
            t2 = _U(S0 + maj)
            h = g
            g = f
            f = e
            e = _U(d + t1)
            d = c
            c = b
            b = a
            a = _U(t1 + t2)
        H[0] = _U(H[0] + a)
        H[1] = _U(H[1] + b)
        H[2] = _U(H[2] + c)
        H[3] = _U(H[3] + d)
        H[4] = _U(H[4] + e)
        H[5] = _U(H[5] + f)
        H[6] = _U(H[6] + g)
        H[7] = _U(H[7] + h)
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


# --------------------------------------------------------------------------------------- tokeniser
@njit(cache=True, inline="always")
def _decode(buf, p):
    """(code point, byte length) of the UTF-8 sequence at ``buf[p]`` (input is valid UTF-8)."""
    b0 = np.int64(buf[p])
    if b0 < 0x80:
        return b0, 1
    if b0 < 0xE0:
        return ((b0 & 0x1F) << 6) | (np.int64(buf[p + 1]) & 0x3F), 2
    if b0 < 0xF0:
        return ((b0 & 0x0F) << 12) | ((np.int64(buf[p + 1]) & 0x3F) << 6) | (np.int64(buf[p + 2]) & 0x3F), 3
    return (
        ((b0 & 0x07) << 18)
        | ((np.int64(buf[p + 1]) & 0x3F) << 12)
        | ((np.int64(buf[p + 2]) & 0x3F) << 6)
        | (np.int64(buf[p + 3]) & 0x3F),
        4,
    )


@njit(cache=True)
def tokenize_spans(buf, doc_ends, cls, tok_start, tok_end, n_tok, unknown):
    """Maximal runs of WORD or of OTHER characters (``\\w+|[^\\w\\s]+``) of each document.

    ``buf``: UTF-8 bytes of the documents back to back; document d is ``buf[doc_ends[d-1]:doc_ends[d]]``.
    ``cls``: int8 class of every code point (SPACE, WORD, OTHER, or UNKNOWN = not yet classified).
    Writes token byte spans to ``tok_start``/``tok_end`` (room for ``buf.size`` tokens) and the
    number of tokens of each document to ``n_tok``. Returns the total number of tokens, or −1 if
    an UNKNOWN code point was met: then every unknown code point of the input is flagged in
    ``unknown`` (uint8[0x110000]) and the caller classifies them and calls again.
    """
    k = 0
    s = 0
    for d in range(doc_ends.size):
        e = doc_ends[d]
        k0 = k
        p = s
        while p < e:
            cp, w = _decode(buf, p)
            c = cls[cp]
            if c == 0:
                p += w
                continue
            if c < 0:
                return _collect_unknown(buf, p, cls, unknown)
            ts = p
            p += w
            while p < e:
                b0 = buf[p]
                if b0 < 0x80:
                    c2 = cls[b0]
                    w2 = 1
                else:
                    cp2, w2 = _decode(buf, p)
                    c2 = cls[cp2]
                if c2 != c:
                    if c2 < 0:
                        return _collect_unknown(buf, p, cls, unknown)
                    break
                p += w2
            tok_start[k] = ts
            tok_end[k] = p
            k += 1
        n_tok[d] = k - k0
        s = e
    return k


@njit(cache=True)
def _collect_unknown(buf, p, cls, unknown):
    while p < buf.size:
        cp, w = _decode(buf, p)
        if cls[cp] < 0:
            unknown[cp] = 1
        p += w
    return -1


# ------------------------------------------------------------------------------------ hash tables
@njit(cache=True, inline="always")
def _fnv(buf, s, e):
    h = _FNV_OFFSET
    for i in range(s, e):
        h = (h ^ np.uint64(buf[i])) * _FNV_PRIME
    h ^= h >> np.uint64(29)
    h *= _MIX
    h ^= h >> np.uint64(32)
    return h


@njit(cache=True)
def unigram_ids(buf, tok_start, tok_end, lo, out, B, slots, arena, w_off, w_len, w_bucket, meta):
    """Token id of each span from ``lo`` on, inserting (and hashing) new tokens.

    Table: ``slots`` uint64[2·cap] = (hash, id + 1) pairs, cap a power of two, linear probing.
    ``meta`` = [number of words, bytes used in ``arena``]. Stops before a token that would need more
    room (load > 1/2, full ``arena`` or word arrays) and returns the index reached; the caller grows
    the arrays (:func:`rehash_unigrams`) and calls again from there.
    """
    cap = slots.size // 2
    mask = np.uint64(cap - 1)
    W = np.empty(64, dtype=np.uint32)
    H = np.empty(8, dtype=np.uint32)
    msg = np.empty(256, dtype=np.uint8)
    n = tok_start.size
    nw = meta[0]
    used = meta[1]
    i = lo
    while i < n:
        s = tok_start[i]
        e = tok_end[i]
        L = e - s
        h = _fnv(buf, s, e)
        j = h & mask
        found = -1
        while True:
            jj = np.int64(j) * 2
            v = slots[jj + 1]
            if v == 0:
                break
            if slots[jj] == h:
                wid = np.int64(v) - 1
                if w_len[wid] == L:
                    o = w_off[wid]
                    same = True
                    for q in range(L):
                        if arena[o + q] != buf[s + q]:
                            same = False
                            break
                    if same:
                        found = wid
                        break
            j = (j + np.uint64(1)) & mask
        if found < 0:
            if 2 * (nw + 1) > cap or used + L > arena.size or nw >= w_off.size:
                break
            for q in range(L):
                arena[used + q] = buf[s + q]
            if msg.size < L + 72:
                msg = np.empty(2 * L + 72, dtype=np.uint8)
            for q in range(L):
                msg[q] = buf[s + q]
            w_off[nw] = used
            w_len[nw] = L
            w_bucket[nw] = sha256_mod(msg, L, B, W, H)
            jj = np.int64(j) * 2
            slots[jj] = h
            slots[jj + 1] = np.uint64(nw + 1)
            found = nw
            nw += 1
            used += L
        out[i] = found
        i += 1
    meta[0] = nw
    meta[1] = used
    return i


@njit(cache=True)
def rehash_unigrams(slots, new_slots):
    """Move the (hash, id + 1) pairs of ``slots`` into the empty, larger ``new_slots``."""
    mask = np.uint64(new_slots.size // 2 - 1)
    for j in range(slots.size // 2):
        v = slots[2 * j + 1]
        if v != 0:
            h = slots[2 * j]
            k = h & mask
            while new_slots[np.int64(k) * 2 + 1] != 0:
                k = (k + np.uint64(1)) & mask
            new_slots[np.int64(k) * 2] = h
            new_slots[np.int64(k) * 2 + 1] = v


@njit(cache=True, inline="always")
def _mix64(key):
    h = key * _MIX
    return h ^ (h >> np.uint64(31))


@njit(cache=True)
def bigram_buckets(ids, n_tok, lo_doc, pos, out, B, slots, meta, arena, w_off, w_len):
    """Bucket of each within-document bigram (ids[i], ids[i + 1]), documents from ``lo_doc`` on.

    ``pos`` = index in ``out`` of the first bigram of ``lo_doc``. Table: ``slots`` uint64[2·cap] =
    (key + 1, bucket) with key = a·2**32 + b; ``meta`` = [number of bigrams]. Returns (document reached,
    bigrams written); stops at a document whose bigrams could push the load above 1/2.
    """
    cap = slots.size // 2
    mask = np.uint64(cap - 1)
    shift = np.uint64(32)
    W = np.empty(64, dtype=np.uint32)
    H = np.empty(8, dtype=np.uint32)
    msg = np.empty(256, dtype=np.uint8)
    nb = meta[0]
    start = 0
    for d in range(lo_doc):
        start += n_tok[d]
    k = pos
    d = lo_doc
    while d < n_tok.size:
        m = n_tok[d]
        if m > 1 and 2 * (nb + m - 1) > cap:
            break
        for t in range(start, start + m - 1):
            a = ids[t]
            b = ids[t + 1]
            key = (np.uint64(a) << shift) | np.uint64(b)
            kk = key + np.uint64(1)
            j = (_mix64(key) >> np.uint64(16)) & mask
            while True:
                jj = np.int64(j) * 2
                v = slots[jj]
                if v == kk:
                    out[k] = np.int64(slots[jj + 1])
                    break
                if v == 0:
                    la = w_len[a]
                    lb = w_len[b]
                    L = la + 1 + lb
                    if msg.size < L + 72:
                        msg = np.empty(2 * L + 72, dtype=np.uint8)
                    oa = w_off[a]
                    for q in range(la):
                        msg[q] = arena[oa + q]
                    msg[la] = 32
                    ob = w_off[b]
                    for q in range(lb):
                        msg[la + 1 + q] = arena[ob + q]
                    bk = sha256_mod(msg, L, B, W, H)
                    slots[jj] = kk
                    slots[jj + 1] = np.uint64(bk)
                    nb += 1
                    out[k] = bk
                    break
                j = (j + np.uint64(1)) & mask
            k += 1
        start += m
        d += 1
    meta[0] = nb
    return d, k


@njit(cache=True)
def rehash_bigrams(slots, new_slots):
    mask = np.uint64(new_slots.size // 2 - 1)
    for j in range(slots.size // 2):
        kk = slots[2 * j]
        if kk != 0:
            k = (_mix64(kk - np.uint64(1)) >> np.uint64(16)) & mask
            while new_slots[np.int64(k) * 2] != 0:
                k = (k + np.uint64(1)) & mask
            new_slots[np.int64(k) * 2] = kk
            new_slots[np.int64(k) * 2 + 1] = slots[2 * j + 1]


# ---------------------------------------------------------------------------------- accumulation
@njit(cache=True)
def add_counts(ubk, bbk, counts):
    """``counts[b] += 1`` for every unigram bucket ``ubk`` and bigram bucket ``bbk``."""
    for i in range(ubk.size):
        counts[ubk[i]] += 1
    for i in range(bbk.size):
        counts[bbk[i]] += 1


@njit(cache=True)
def doc_sums(ubk, bbk, n_tok, lr, out):
    """``out[d] = Σ lr[b]`` over the unigram then the bigram buckets of document d (in order)."""
    u = 0
    v = 0
    for d in range(n_tok.size):
        m = n_tok[d]
        acc = 0.0
        for i in range(u, u + m):
            acc += lr[ubk[i]]
        u += m
        if m > 1:
            for i in range(v, v + m - 1):
                acc += lr[bbk[i]]
            v += m - 1
        out[d] = acc


@njit(cache=True)
def doc_rows(ubk, bbk, n_tok, lo, hi, dense):
    """Dense bucket counts of documents ``lo``..``hi-1`` into ``dense`` (rows zeroed here)."""
    u = 0
    v = 0
    for d in range(lo):
        m = n_tok[d]
        u += m
        if m > 1:
            v += m - 1
    for d in range(lo, hi):
        row = dense[d - lo]
        row[:] = 0.0
        m = n_tok[d]
        for i in range(u, u + m):
            row[ubk[i]] += 1.0
        u += m
        if m > 1:
            for i in range(v, v + m - 1):
                row[bbk[i]] += 1.0
            v += m - 1
