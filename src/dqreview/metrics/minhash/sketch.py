"""MinHash signatures of texts: permutation families and the compiled min-over-shingles kernels.

``legacy``
    Bit-identical to ``datasketch.MinHash(num_perm, seed=seed, scheme="legacy").hashvalues`` after
    ``update(shingle.encode("utf-8"))`` for every shingle: H(s) = first 4 bytes of sha1(s) as
    little-endian uint32; h_i(s) = ((a_i·H + b_i) mod (2^61−1)) & (2^32−1) where a_i·H + b_i is
    computed in uint64 and wraps around 2^64 (as datasketch does); (a_i, b_i) drawn interleaved from
    ``np.random.RandomState(seed)``, a ∈ [1, p), b ∈ [0, p). Values are uint64 (< 2^32). SHA-1 is a
    numba port (:mod:`dqreview.textkernels.sha`) run on every shingle occurrence, one-block shingles
    (≤ 55 bytes) SHA1_LANES at a time: interning shingles first to hash each distinct one once cost more
    (a random-access hash table, ~15 µs/doc) than the SHA-1 it saves on a pool with a few % duplicates
    (measured; docs/benchmarks.md).
``fast``
    The 64-bit shingle hashes of :func:`~dqreview.metrics.minhash.shingling.shingle_hashes`;
    permutation i is the multiply-shift family h_i(x) = (a_i·x + b_i mod 2^64) >> 32 (Dietzfelbinger
    et al.), a_i odd, (a_i, b_i) from ``np.random.default_rng(seed)``; values are uint32. Not
    comparable with legacy values, only statistically (P[h_i(A) = h_i(B)] ≈ J(A, B)).
"""

from __future__ import annotations

import sys

import numpy as np
from numba import njit

from dqreview.errors import DQError
from dqreview.metrics.minhash.shingling import shingle_hashes, shingle_offsets
from dqreview.textkernels.scan import SplitWords
from dqreview.textkernels.sha import SHA1_LANES, sha1_head32, sha1_lanes

MERSENNE = np.uint64((1 << 61) - 1)

_U = np.uint64
# numba: an int64 literal mixed with uint64 promotes to float64, so every constant is a np.uint64
_M32 = np.uint64(0xFFFFFFFF)
_S32, _S61 = np.uint64(32), np.uint64(61)

if sys.byteorder != "little":  # pragma: no cover
    raise ImportError("dqreview.metrics.minhash assumes a little-endian machine")


@njit(cache=True)
def _sha1_shingles(buf, start, stop, doc_w, doc_s, ngram):
    """datasketch's ``sha1_hash32`` of every shingle's UTF-8 text (its words joined by one space).

    Shingles of at most 55 bytes (one SHA-1 block) go SHA1_LANES at a time through :func:`sha1_lanes`;
    longer ones through the scalar :func:`sha1_head32`.
    """
    S = doc_s[-1]
    out = np.empty(S, np.uint64)
    first = np.empty(S, np.int64)
    width = np.empty(S, np.int64)
    for d in range(doc_s.size - 1):
        L = doc_w[d + 1] - doc_w[d]
        k = ngram if L >= ngram else L
        for s in range(doc_s[d], doc_s[d + 1]):
            first[s] = doc_w[d] + (s - doc_s[d])
            width[s] = k
    msg = np.empty(128, np.uint8)
    w = np.empty(80, np.uint64)
    blocks = np.zeros((64, SHA1_LANES), np.uint8)
    lane_of = np.empty(SHA1_LANES, np.int64)
    lane_out = np.empty(SHA1_LANES, np.uint64)
    lanes = 0
    for s in range(S + 1):
        if s == S or lanes == SHA1_LANES:  # a full (or the last) set of lanes
            if lanes:
                sha1_lanes(blocks, lane_out, lanes)
                for q in range(lanes):
                    out[lane_of[q]] = lane_out[q]
                lanes = 0
            if s == S:
                break
        f, k = first[s], width[s]
        length = k - 1 if k else 0
        for j in range(f, f + k):
            length += stop[j] - start[j]
        if length <= 55:
            col = lanes
            p = 0
            for j in range(f, f + k):
                if j > f:
                    blocks[p, col] = 32
                    p += 1
                for i in range(start[j], stop[j]):
                    blocks[p, col] = buf[i]
                    p += 1
            blocks[p, col] = 0x80
            for i in range(p + 1, 62):
                blocks[i, col] = 0
            blocks[62, col] = np.uint8((length * 8) >> 8)  # bit length, big-endian (< 2^16 here)
            blocks[63, col] = np.uint8((length * 8) & 0xFF)
            lane_of[col] = s
            lanes += 1
            continue
        need = ((length + 8) // 64 + 1) * 64
        if need > msg.size:
            msg = np.empty(need, np.uint8)
        p = 0
        for j in range(f, f + k):
            if j > f:
                msg[p] = 32
                p += 1
            for i in range(start[j], stop[j]):
                msg[p] = buf[i]
                p += 1
        out[s] = sha1_head32(msg, length, w)
    return out


@njit(cache=True)
def minhash_multiply_shift(sh, doc_s, a, b):
    """(n, P) uint32 ``fast`` signatures: for text d and permutation p, the min over its shingle hashes x
    (``sh[doc_s[d]:doc_s[d+1]]``) of (a_p·x + b_p mod 2^64) >> 32."""
    n, P = doc_s.size - 1, a.size
    out = np.empty((n, P), np.uint32)
    mins = np.empty(P, np.uint64)
    for d in range(n):
        mins[:] = _U(0xFFFFFFFFFFFFFFFF)
        for s in range(doc_s[d], doc_s[d + 1]):
            x = sh[s]
            for p in range(P):
                v = a[p] * x + b[p]  # wraps around 2^64
                if v < mins[p]:  # min of the high halves = high half of the min
                    mins[p] = v
        for p in range(P):
            out[d, p] = mins[p] >> _S32
    return out


@njit(cache=True)
def _minhash_legacy(H, doc_s, a, b):
    n, P = doc_s.size - 1, a.size
    out = np.empty((n, P), np.uint64)
    mins = np.empty(P, np.uint64)
    for d in range(n):
        mins[:] = _M32
        for s in range(doc_s[d], doc_s[d + 1]):
            h = H[s]
            for p in range(P):
                x = a[p] * h + b[p]  # wraps around 2^64, as in datasketch
                r = (x & MERSENNE) + (x >> _S61)  # ≡ x mod 2^61 − 1, and < 2·(2^61 − 1)
                if r >= MERSENNE:
                    r -= MERSENNE
                r &= _M32
                if r < mins[p]:
                    mins[p] = r
        out[d] = mins
    return out


def legacy_permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(a, b) uint64 arrays exactly as datasketch ``scheme="legacy"`` draws them (interleaved)."""
    gen = np.random.RandomState(seed)
    ab = np.array(
        [
            (gen.randint(1, MERSENNE, dtype=np.uint64), gen.randint(0, MERSENNE, dtype=np.uint64))
            for _ in range(num_perm)
        ],
        dtype=np.uint64,
    ).T
    return ab[0].copy(), ab[1].copy()


def fast_permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(a odd, b) uint64 for the multiply-shift family (a·x + b mod 2^64) >> 32."""
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 2**64, size=num_perm, dtype=np.uint64, endpoint=False) | _U(1)
    b = rng.integers(0, 2**64, size=num_perm, dtype=np.uint64, endpoint=False)
    return a, b


def signatures_legacy(texts, num_perm: int = 128, seed: int = 1, ngram: int = 5) -> np.ndarray:
    """(n, num_perm) uint64 MinHash signatures bit-identical to datasketch legacy ``hashvalues``."""
    a, b = legacy_permutations(num_perm, seed)
    words = SplitWords(texts)
    doc_s = shingle_offsets(words.doc_w, ngram)
    H = _sha1_shingles(words.buf, words.start, words.stop, words.doc_w, doc_s, ngram)
    return _minhash_legacy(H, doc_s, a, b)


def signatures_fast(texts, num_perm: int = 128, seed: int = 1, ngram: int = 5) -> np.ndarray:
    """(n, num_perm) uint32 MinHash signatures with the multiply-shift family (module docstring)."""
    a, b = fast_permutations(num_perm, seed)
    sh, doc_s = shingle_hashes(texts, ngram)
    return minhash_multiply_shift(sh, doc_s, a, b)


def signatures(texts, num_perm=128, seed=1, ngram=5, mode="fast") -> np.ndarray:
    if mode == "legacy":
        return signatures_legacy(texts, num_perm, seed, ngram)
    if mode == "fast":
        return signatures_fast(texts, num_perm, seed, ngram)
    raise DQError(f"minhash: mode {mode!r} has no MinHash signatures; use fast or legacy")
