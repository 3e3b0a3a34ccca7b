"""Exact and MinHash-LSH near-duplicate removal (Lee et al. 2022; METHODS §5).

Shingles: word ``ngram``-grams (default 5) of the lower-cased, whitespace-split normalised text
(:func:`dqreview.corpus.text.normalise`), joined by one space; a text shorter than ``ngram`` words is
ONE shingle (its words joined by one space; the empty text gives the shingle ``""``). :func:`shingles`
is the plain-Python definition; the compiled path below produces the same words (tested against it).

Compiled path (numba, one pass over a whole shard): every text is lower-cased and UTF-8 encoded into
one byte buffer, and a scanner splits it into words at ``str.split`` whitespace. ``normalise`` only
changes whitespace (which the split discards) unless a text has control/format characters (Cc/Cf
other than newline and tab), lone surrogates or is not NFC: the scanner flags the first kind and
Python checks the others, and only those texts go through ``normalise``; prepared pool shards are
already normalised, so in the workflow none does.

Two signature families:

``legacy``
    Bit-identical to ``datasketch.MinHash(num_perm, seed=seed, scheme="legacy").hashvalues`` after
    ``update(shingle.encode("utf-8"))`` for every shingle: H(s) = first 4 bytes of sha1(s) as
    little-endian uint32; h_i(s) = ((a_i·H + b_i) mod (2^61−1)) & (2^32−1) where a_i·H + b_i is
    computed in uint64 and wraps around 2^64 (as datasketch does); (a_i, b_i) drawn interleaved from
    ``np.random.RandomState(seed)``, a ∈ [1, p), b ∈ [0, p). Values are uint64 (< 2^32). SHA-1 is a
    numba port (FIPS 180-4) run on every shingle occurrence, one-block shingles (≤ 55 bytes)
    SHA1_LANES at a time: interning shingles first to hash each distinct one once cost more (a
    random-access hash table, ~15 µs/doc) than the SHA-1 it saves on a pool with a few % duplicates
    (measured; benchmarks/README.md).
``fast``
    A word's 64-bit hash is FNV-1a over its UTF-8 bytes followed by the murmur3 ``fmix64`` finaliser; a
    shingle's 64-bit hash is a polynomial combination of its word hashes (wrapping uint64, plus the
    word count) followed by ``fmix64``. Permutation i is the multiply-shift family h_i(x) =
    (a_i·x + b_i mod 2^64) >> 32 (Dietzfelbinger et al.), a_i odd, (a_i, b_i) from
    ``np.random.default_rng(seed)``; values are uint32. Not comparable with legacy values, only
    statistically (P[h_i(A) = h_i(B)] ≈ J(A, B)).

Per shard / global split (:func:`shard_features` / :func:`fit`): signatures (and, with ``verify``,
each document's sorted distinct 64-bit shingle hashes) depend only on the document, so the workflow
computes them per pool shard; ``fit`` merges the shards in shard order and does what needs the whole
pool: LSH buckets, verification, union-find, representatives.

LSH: ``b`` bands × ``r`` rows chosen by :func:`optimal_bands` (a port of datasketch's
``_optimal_param``); documents sharing an identical band are candidates; optional verification keeps a
candidate pair only if the Jaccard of the two documents' 64-bit shingle-hash sets is ≥ threshold (the
shingle-set Jaccard unless two distinct shingles of the pair collide in 64 bits); connected components
of the kept pairs are duplicate clusters. ``mode: exact`` instead clusters documents with equal
:func:`dqreview.hashing.text_hash` of the normalised text.

Representative policy: in each cluster the member with the smallest ``stable_hash64(id, seed)``
(ties by id) is kept — score 1.0; every other member gets score 0.0, ``removed`` True and
``duplicate_of`` = the representative's id. The choice depends only on the ids and the seed, never on
row order or sharding. ``score`` is a lookup by id.

Ground truth for the dedup-quality report: :func:`jaccard_pairs` finds every pair of texts whose exact
shingle-set Jaccard is ≥ T (exact shingle ids; prefix-filter join, complete).
"""

from __future__ import annotations

import functools
import sys
import unicodedata

import numpy as np
import pandas as pd
from numba import njit
from scipy.integrate import quad
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from dqreview.corpus.text import normalise
from dqreview.errors import DQError
from dqreview.hashing import stable_hash64, text_hash
from dqreview.metrics.semdedup import scores_from_state

PER_DOCUMENT = True  # scores come from the state fitted once over the whole pool
REMOVES = True
KEEP = ("high",)
NEEDS: tuple[str, ...] = ()
FIT_NEEDS = ("shard_features",)

MODES = ("fast", "legacy", "exact")
MERSENNE = np.uint64((1 << 61) - 1)
#: Candidate groups (identical band) larger than this emit a star (first member – others), not all pairs.
MAX_GROUP_PAIRS = 64

_KEY = "metrics[minhash].variants[].params"
_U = np.uint64
# numba: an int64 literal mixed with uint64 promotes to float64, so every constant is a np.uint64
_M32 = np.uint64(0xFFFFFFFF)
_S8, _S16, _S24, _S32, _S33, _S61 = (np.uint64(k) for k in (8, 16, 24, 32, 33, 61))
_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)
_M1 = np.uint64(0x9E3779B97F4A7C15)
_C1 = np.uint64(0xFF51AFD7ED558CCD)
_C2 = np.uint64(0xC4CEB9FE1A85EC53)
_WORD, _SPACE, _CONTROL = 0, 1, 2

if sys.byteorder != "little":  # pragma: no cover
    raise ImportError("dqreview.metrics.minhash assumes a little-endian machine")


# --- shingles (reference definition) ------------------------------------------------------------


def _words(text: str, assume_normalised: bool = False) -> list[str]:
    return (text if assume_normalised else normalise(text)).lower().split()


def shingles(text: str, n: int = 5, assume_normalised: bool = False) -> list[str]:
    """Word ``n``-grams (lower-cased, normalised, space-joined); the whole text as one when shorter."""
    w = _words(text, assume_normalised)
    if len(w) < n:
        return [" ".join(w)]
    return [" ".join(w[i : i + n]) for i in range(len(w) - n + 1)]


# --- compiled word scanner ----------------------------------------------------------------------


@functools.cache
def _char_classes() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Class of each ASCII byte (word / space / control), the sorted non-ASCII ``str.split``
    whitespace code points, and the non-ASCII Cc/Cf code-point ranges (lo, hi), built once."""
    ascii_cls = np.zeros(128, np.uint8)
    for c in range(128):
        ch = chr(c)
        if unicodedata.category(ch) in ("Cc", "Cf") and ch not in "\n\t":
            ascii_cls[c] = _CONTROL
        elif ch.isspace():
            ascii_cls[c] = _SPACE
    spaces: list[int] = []
    lo: list[int] = []
    hi: list[int] = []
    for cp in range(128, sys.maxunicode + 1):
        ch = chr(cp)
        if unicodedata.category(ch) in ("Cc", "Cf"):  # control wins: normalise removes it
            if hi and hi[-1] == cp - 1:
                hi[-1] = cp
            else:
                lo.append(cp)
                hi.append(cp)
        elif ch.isspace():
            spaces.append(cp)
    return ascii_cls, np.array(spaces, np.int64), np.array(lo, np.int64), np.array(hi, np.int64)


@njit(cache=True)
def _nonascii_class(buf, i, spaces, ctrl_lo, ctrl_hi):
    """(class, byte length) of the multi-byte UTF-8 character starting at buf[i]."""
    c = np.int64(buf[i])
    if c < 0xE0:
        n, cp = 2, c & 0x1F
    elif c < 0xF0:
        n, cp = 3, c & 0x0F
    else:
        n, cp = 4, c & 0x07
    for k in range(1, n):
        cp = (cp << 6) | (np.int64(buf[i + k]) & 0x3F)
    j = np.searchsorted(ctrl_hi, cp)
    if j < ctrl_lo.size and ctrl_lo[j] <= cp:
        return _CONTROL, n
    j = np.searchsorted(spaces, cp)
    if j < spaces.size and spaces[j] == cp:
        return _SPACE, n
    return _WORD, n


@njit(cache=True)
def _scan_words(buf, off, ascii_cls, spaces, ctrl_lo, ctrl_hi, start, stop):
    """Words of each text buf[off[d]:off[d+1]]: per-text word counts and control-character flags.

    When ``start``/``stop`` have room (size ≥ the total count) the word byte spans are written too.
    ASCII bytes are classified inline: a call per byte would cost a reference-count update per array.
    """
    n = off.size - 1
    counts = np.zeros(n, np.int64)
    flagged = np.zeros(n, np.bool_)
    write = start.size > 0
    w = 0
    for d in range(n):
        i, end, inword = off[d], off[d + 1], False
        while i < end:
            c = buf[i]
            if c < 128:
                cls, ln = np.int64(ascii_cls[c]), 1
            else:
                cls, ln = _nonascii_class(buf, i, spaces, ctrl_lo, ctrl_hi)
            if cls == _WORD:
                if not inword:
                    inword = True
                    counts[d] += 1
                    if write:
                        start[w] = i
            else:
                if cls == _CONTROL:
                    flagged[d] = True
                if inword:
                    inword = False
                    if write:
                        stop[w] = i
                        w += 1
            i += ln
        if inword and write:
            stop[w] = end
            w += 1
    return counts, flagged


class _Words:
    """Every word of a batch of texts: UTF-8 ``buf`` (lower-cased), word byte spans ``start``/``stop``
    (W,), and ``doc_w`` (n+1,) — text d owns words doc_w[d]:doc_w[d+1]."""

    def __init__(self, texts):
        texts = [str(t) for t in texts]
        parts = [_lower_utf8(t) for t in texts]
        cls = _char_classes()
        buf, off = _join(parts)
        empty = np.zeros(0, np.int64)
        counts, flagged = _scan_words(buf, off, *cls, empty, empty)
        if flagged.any():  # control/format characters: normalise removes them (and may join words)
            for d in np.flatnonzero(flagged):
                parts[d] = normalise(texts[d]).lower().encode("utf-8")
            buf, off = _join(parts)
            counts, flagged = _scan_words(buf, off, *cls, empty, empty)
            assert not flagged.any(), "normalise left a control character"
        self.start = np.empty(int(counts.sum()), np.int64)
        self.stop = np.empty_like(self.start)
        _scan_words(buf, off, *cls, self.start, self.stop)
        self.buf = buf
        self.doc_w = np.zeros(len(texts) + 1, np.int64)
        np.cumsum(counts, out=self.doc_w[1:])

    @property
    def n(self) -> int:
        return self.doc_w.size - 1


def _lower_utf8(t: str) -> bytes:
    if not t.isascii() and not unicodedata.is_normalized("NFC", t):
        t = normalise(t)
    try:
        return t.lower().encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: normalise replaces them with U+FFFD
        return normalise(t).lower().encode("utf-8")


def _join(parts: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
    off = np.zeros(len(parts) + 1, np.int64)
    np.cumsum(np.fromiter(map(len, parts), np.int64, len(parts)), out=off[1:])
    return np.frombuffer(b"".join(parts), np.uint8), off


# --- compiled hashing kernels -------------------------------------------------------------------


@njit(cache=True)
def _fmix64(x):
    x ^= x >> _S33
    x *= _C1
    x ^= x >> _S33
    x *= _C2
    x ^= x >> _S33
    return x


@njit(cache=True)
def _word_hashes(buf, start, stop):
    """64-bit hash of every word: FNV-1a over its bytes, then fmix64."""
    out = np.empty(start.size, np.uint64)
    for w in range(start.size):
        h = _FNV_OFFSET
        for i in range(start[w], stop[w]):
            h = (h ^ _U(buf[i])) * _FNV_PRIME
        out[w] = _fmix64(h)
    return out


@njit(cache=True)
def _shingle_offsets(doc_w, ngram):
    """``doc_s`` (n+1,): text d owns shingles doc_s[d]:doc_s[d+1] (one when shorter than ngram)."""
    n = doc_w.size - 1
    doc_s = np.empty(n + 1, np.int64)
    doc_s[0] = 0
    for d in range(n):
        L = doc_w[d + 1] - doc_w[d]
        doc_s[d + 1] = doc_s[d] + (L - ngram + 1 if L >= ngram else 1)
    return doc_s


@njit(cache=True)
def _shingle_hashes(whash, doc_w, ngram):
    """64-bit hash of every shingle of every text (S,), and ``doc_s`` (n+1,) shingle offsets."""
    n = doc_w.size - 1
    doc_s = _shingle_offsets(doc_w, ngram)
    out = np.empty(doc_s[n], np.uint64)
    for d in range(n):
        L = doc_w[d + 1] - doc_w[d]
        k = ngram if L >= ngram else L
        for s in range(doc_s[d + 1] - doc_s[d]):
            h = _U(0)
            base = doc_w[d] + s
            for j in range(k):
                h = h * _M1 + whash[base + j]
            out[doc_s[d] + s] = _fmix64(h + _U(k))  # the word count tags short texts
    return out, doc_s


@njit(cache=True)
def _grow(table, keys, n):
    """The open-addressing table of ids 0..n-1 (hash keys[id]) rebuilt at twice the size."""
    cap = table.size * 2
    mask = cap - 1
    new = np.full(cap, -1, np.int64)
    for v in range(n):
        slot = np.int64(keys[v] & _U(mask))
        while new[slot] >= 0:
            slot = (slot + 1) & mask
        new[slot] = v
    return new


@njit(cache=True)
def _intern_words(buf, start, stop, whash):
    """Exact word ids: ``tok`` (W,) (equal bytes ⇔ equal id) and ``first`` (V,), each id's first word."""
    W = start.size
    table = np.full(1024, -1, np.int64)
    keys = np.empty(W, np.uint64)
    first = np.empty(W, np.int64)
    tok = np.empty(W, np.int64)
    V = 0
    for w in range(W):
        if 2 * (V + 1) > table.size:  # keep the table at most half full
            table = _grow(table, keys, V)
        mask = table.size - 1
        h = whash[w]
        slot = np.int64(h & _U(mask))
        while True:
            v = table[slot]
            if v < 0:
                table[slot] = V
                keys[V] = h
                first[V] = w
                tok[w] = V
                V += 1
                break
            f = first[v]
            if keys[v] == h and stop[f] - start[f] == stop[w] - start[w]:
                same = True
                for k in range(stop[w] - start[w]):
                    if buf[start[f] + k] != buf[start[w] + k]:
                        same = False
                        break
                if same:
                    tok[w] = v
                    break
            slot = (slot + 1) & mask
    return tok, first[:V].copy()


@njit(cache=True)
def _intern_shingles(sh, doc_s, tok, doc_w, ngram):
    """Exact shingle ids (S,) (equal word-id tuples ⇔ equal id), and each id's first word and width."""
    n = doc_s.size - 1
    S = sh.size
    table = np.full(1024, -1, np.int64)
    keys = np.empty(S, np.uint64)
    first_pos = np.empty(S, np.int64)
    width = np.empty(S, np.int64)
    uid = np.empty(S, np.int64)
    U = 0
    for d in range(n):
        L = doc_w[d + 1] - doc_w[d]
        k = ngram if L >= ngram else L
        for s in range(doc_s[d], doc_s[d + 1]):
            pos = doc_w[d] + (s - doc_s[d])
            if 2 * (U + 1) > table.size:
                table = _grow(table, keys, U)
            mask = table.size - 1
            h = sh[s]
            slot = np.int64(h & _U(mask))
            while True:
                u = table[slot]
                if u < 0:
                    table[slot] = U
                    keys[U] = h
                    first_pos[U] = pos
                    width[U] = k
                    uid[s] = U
                    U += 1
                    break
                if keys[u] == h and width[u] == k:
                    same = True
                    for j in range(k):
                        if tok[first_pos[u] + j] != tok[pos + j]:
                            same = False
                            break
                    if same:
                        uid[s] = u
                        break
                slot = (slot + 1) & mask
    return uid, first_pos[:U].copy(), width[:U].copy()


@njit(cache=True)
def _rotl32(x, n):
    return ((x << _U(n)) | (x >> _U(32 - n))) & _M32


@njit(cache=True)
def _sha1_head32(msg, length, w):
    """First 4 bytes of SHA-1(msg[:length]) read as a little-endian uint32 (FIPS 180-4; msg must have
    room for the padding). 32-bit words live in uint64 and are masked after each addition."""
    total = ((length + 8) // 64 + 1) * 64
    msg[length] = 0x80
    for i in range(length + 1, total - 8):
        msg[i] = 0
    bits = _U(length) * _S8
    for i in range(8):
        msg[total - 1 - i] = np.uint8((bits >> _U(8 * i)) & _U(0xFF))
    h0, h1, h2, h3, h4 = _U(0x67452301), _U(0xEFCDAB89), _U(0x98BADCFE), _U(0x10325476), _U(0xC3D2E1F0)
    for blk in range(0, total, 64):
        for t in range(16):
            j = blk + 4 * t
            w[t] = (_U(msg[j]) << _S24) | (_U(msg[j + 1]) << _S16) | (_U(msg[j + 2]) << _S8) | _U(msg[j + 3])
        for t in range(16, 80):
            w[t] = _rotl32(w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16], 1)
        a, b, c, d, e = h0, h1, h2, h3, h4
        for t in range(0, 20):
            tmp = (_rotl32(a, 5) + ((b & c) | ((b ^ _M32) & d)) + e + _U(0x5A827999) + w[t]) & _M32
            e, d, c, b, a = d, c, _rotl32(b, 30), a, tmp
        for t in range(20, 40):
            tmp = (_rotl32(a, 5) + (b ^ c ^ d) + e + _U(0x6ED9EBA1) + w[t]) & _M32
            e, d, c, b, a = d, c, _rotl32(b, 30), a, tmp
        for t in range(40, 60):
            tmp = (_rotl32(a, 5) + ((b & c) | (b & d) | (c & d)) + e + _U(0x8F1BBCDC) + w[t]) & _M32
            e, d, c, b, a = d, c, _rotl32(b, 30), a, tmp
        for t in range(60, 80):
            tmp = (_rotl32(a, 5) + (b ^ c ^ d) + e + _U(0xCA62C1D6) + w[t]) & _M32
            e, d, c, b, a = d, c, _rotl32(b, 30), a, tmp
        h0 = (h0 + a) & _M32
        h1 = (h1 + b) & _M32
        h2 = (h2 + c) & _M32
        h3 = (h3 + d) & _M32
        h4 = (h4 + e) & _M32
    # digest bytes 0..3 are h0 big-endian; read little-endian, that is h0 byte-swapped
    return ((h0 & _U(0xFF)) << _S24) | ((h0 & _U(0xFF00)) << _S8) | ((h0 >> _S8) & _U(0xFF00)) | (h0 >> _S24)


#: Shingles hashed side by side by the multi-buffer SHA-1 (one AVX-512 register of 32-bit lanes).
SHA1_LANES = 16


@njit(cache=True)
def _sha1_lanes(blocks, out, lanes):
    """sha1-32 of ``lanes`` one-block messages at once; ``blocks`` (64, SHA1_LANES) uint8, already padded,
    column q = message q. Every step is a loop over the independent lanes, which LLVM can partly
    vectorise and the CPU overlap (about 2× the scalar :func:`_sha1_head32` per message, measured); the
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
        h0 = _U(np.uint32(st[0, q] + np.uint32(init[0])))
        out[q] = (
            ((h0 & _U(0xFF)) << _S24) | ((h0 & _U(0xFF00)) << _S8) | ((h0 >> _S8) & _U(0xFF00)) | (h0 >> _S24)
        )


@njit(cache=True)
def _sha1_shingles(buf, start, stop, doc_w, doc_s, ngram):
    """datasketch's ``sha1_hash32`` of every shingle's UTF-8 text (its words joined by one space).

    Shingles of at most 55 bytes (one SHA-1 block) go SHA1_LANES at a time through :func:`_sha1_lanes`;
    longer ones through the scalar :func:`_sha1_head32`.
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
                _sha1_lanes(blocks, lane_out, lanes)
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
        out[s] = _sha1_head32(msg, length, w)
    return out


@njit(cache=True)
def _minhash_multiply_shift(sh, doc_s, a, b):
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


# --- signatures ---------------------------------------------------------------------------------


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


def shingle_hashes(texts, ngram: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """64-bit hash of every shingle of every text (duplicates within a text kept), and the (n+1,)
    offsets: text d owns hashes[offsets[d]:offsets[d+1]]."""
    words = _Words(texts)
    return _shingle_hashes(_word_hashes(words.buf, words.start, words.stop), words.doc_w, ngram)


def shingle_ids(texts, ngram: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Exact shingle ids (equal shingle text ⇔ equal id, within this call) of every shingle of every
    text, and the (n+1,) offsets."""
    words = _Words(texts)
    whash = _word_hashes(words.buf, words.start, words.stop)
    tok, _ = _intern_words(words.buf, words.start, words.stop, whash)
    sh, doc_s = _shingle_hashes(whash, words.doc_w, ngram)
    uid, _, _ = _intern_shingles(sh, doc_s, tok, words.doc_w, ngram)
    return uid, doc_s


def signatures_legacy(texts, num_perm: int = 128, seed: int = 1, ngram: int = 5) -> np.ndarray:
    """(n, num_perm) uint64 MinHash signatures bit-identical to datasketch legacy ``hashvalues``."""
    a, b = legacy_permutations(num_perm, seed)
    words = _Words(texts)
    doc_s = _shingle_offsets(words.doc_w, ngram)
    H = _sha1_shingles(words.buf, words.start, words.stop, words.doc_w, doc_s, ngram)
    return _minhash_legacy(H, doc_s, a, b)


def signatures_fast(texts, num_perm: int = 128, seed: int = 1, ngram: int = 5) -> np.ndarray:
    """(n, num_perm) uint32 MinHash signatures with the multiply-shift family (module docstring)."""
    a, b = fast_permutations(num_perm, seed)
    sh, doc_s = shingle_hashes(texts, ngram)
    return _minhash_multiply_shift(sh, doc_s, a, b)


def signatures(texts, num_perm=128, seed=1, ngram=5, mode="fast") -> np.ndarray:
    if mode == "legacy":
        return signatures_legacy(texts, num_perm, seed, ngram)
    if mode == "fast":
        return signatures_fast(texts, num_perm, seed, ngram)
    raise DQError(f"{_KEY}.mode: {mode!r} has no MinHash signatures; use fast or legacy")


# --- LSH ----------------------------------------------------------------------------------------


def _fp_area(t: float, b: int, r: int) -> float:
    return quad(lambda s: 1 - (1 - s ** float(r)) ** float(b), 0.0, t)[0]


def _fn_area(t: float, b: int, r: int) -> float:
    return quad(lambda s: 1 - (1 - (1 - s ** float(r)) ** float(b)), t, 1.0)[0]


def optimal_bands(threshold: float, num_perm: int, fp_weight: float = 0.5, fn_weight: float = 0.5):
    """(b, r) minimising fp_weight·∫_0^T P + fn_weight·∫_T^1 (1−P), P(s) = 1−(1−s^r)^b, b·r ≤ num_perm.

    Same search order and strict-< tie rule as datasketch ``lsh._optimal_param``.
    """
    best, opt = float("inf"), (0, 0)
    for b in range(1, num_perm + 1):
        for r in range(1, num_perm // b + 1):
            err = _fp_area(threshold, b, r) * fp_weight + _fn_area(threshold, b, r) * fn_weight
            if err < best:
                best, opt = err, (b, r)
    return opt


def _group_pairs(inv: np.ndarray) -> np.ndarray:
    """Pairs (i < j) of rows with equal group label ``inv``; star for groups above MAX_GROUP_PAIRS."""
    order = np.argsort(inv, kind="stable")
    g = inv[order]
    bounds = np.flatnonzero(np.r_[True, g[1:] != g[:-1], True])
    sizes = np.diff(bounds)
    out = []
    for k in np.flatnonzero(sizes > 1):
        m = order[bounds[k] : bounds[k + 1]]
        if m.size <= MAX_GROUP_PAIRS:
            i, j = np.triu_indices(m.size, 1)
            out.append(np.stack([m[i], m[j]], 1))
        else:
            out.append(np.stack([np.full(m.size - 1, m[0]), m[1:]], 1))
    if not out:
        return np.zeros((0, 2), dtype=np.int64)
    p = np.concatenate(out).astype(np.int64)
    return np.sort(p, axis=1)


def lsh_candidates(sigs: np.ndarray, b: int, r: int) -> np.ndarray:
    """(m, 2) int64 unique candidate pairs (i < j): rows identical on at least one band of r values."""
    sigs = np.ascontiguousarray(sigs)
    n = sigs.shape[0]
    if b * r > sigs.shape[1]:
        raise DQError(f"lsh: b·r = {b}·{r} exceeds the {sigs.shape[1]} signature values")
    allp = []
    for j in range(b):
        band = np.ascontiguousarray(sigs[:, j * r : (j + 1) * r])
        key = band.view(np.dtype((np.void, band.dtype.itemsize * r))).ravel()
        _, inv = np.unique(key, return_inverse=True)
        allp.append(_group_pairs(inv.ravel()))
    p = np.concatenate(allp) if allp else np.zeros((0, 2), np.int64)
    if p.size == 0:
        return p
    code = np.unique(p[:, 0] * n + p[:, 1])
    return np.stack([code // n, code % n], 1)


def jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if (a or b) else 1.0


@njit(cache=True)
def _distinct_sorted(values, off):
    """Each segment values[off[d]:off[d+1]] sorted with repeats dropped, and the new offsets."""
    n = off.size - 1
    out = np.empty_like(values)
    new_off = np.zeros(n + 1, np.int64)
    k = 0
    for d in range(n):
        seg = out[k : k + off[d + 1] - off[d]]  # sorted in place in the output, then compacted
        seg[:] = values[off[d] : off[d + 1]]
        seg.sort()
        m = 0
        for i in range(seg.size):
            if m == 0 or seg[i] != seg[m - 1]:
                seg[m] = seg[i]
                m += 1
        k += m
        new_off[d + 1] = k
    return out[:k].copy(), new_off


@njit(cache=True)
def _pair_jaccard(values, off, pairs):
    """Jaccard of the sorted distinct sets of each pair (merge intersection)."""
    J = np.empty(pairs.shape[0])
    for m in range(pairs.shape[0]):
        i, j = pairs[m, 0], pairs[m, 1]
        p, pe, q, qe = off[i], off[i + 1], off[j], off[j + 1]
        inter = 0
        while p < pe and q < qe:
            if values[p] == values[q]:
                inter += 1
                p += 1
                q += 1
            elif values[p] < values[q]:
                p += 1
            else:
                q += 1
        union = (pe - off[i]) + (qe - off[j]) - inter
        J[m] = inter / union if union > 0 else 1.0
    return J


def pair_jaccard(sets: np.ndarray, offsets: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """Jaccard (float64) of each pair (i, j) of documents whose sorted distinct shingle sets (hashes
    or ids) are ``sets[offsets[d]:offsets[d+1]]``."""
    pairs = np.ascontiguousarray(pairs, dtype=np.int64).reshape(-1, 2)
    return _pair_jaccard(sets, np.asarray(offsets, np.int64), pairs)


def verify_pairs(sets: np.ndarray, offsets: np.ndarray, pairs: np.ndarray, threshold: float) -> np.ndarray:
    """The pairs whose shingle-set Jaccard is ≥ threshold."""
    if len(pairs) == 0:
        return np.zeros((0, 2), np.int64)
    return pairs[pair_jaccard(sets, offsets, pairs) >= threshold]


@njit(cache=True)
def _set_hashes(values, off):
    out = np.empty(off.size - 1, np.uint64)
    for d in range(off.size - 1):
        h = _U(off[d + 1] - off[d])
        for i in range(off[d], off[d + 1]):
            h = _fmix64(h * _M1 + _U(values[i]))
        out[d] = h
    return out


@njit(cache=True)
def _prefix_candidates(values, off, rank, docs, threshold):
    """Candidate pairs of the prefix-filter join (Bayardo et al. 2007, "Scaling up all pairs
    similarity search"): with the ids of every set ordered by ``rank``, two sets x, y with
    J(x, y) ≥ t share ≥ ⌈t·max(|x|, |y|)⌉ ids, so their prefixes of length |x| − ⌈t|x|⌉ + 1 (and the
    same for y) intersect. Emits every pair of ``docs`` sharing a prefix id whose sizes pass the
    size filter min/max ≥ t. Pairs (i < j), with repeats."""
    n = docs.size
    total = 0
    plen = np.empty(n, np.int64)
    for k in range(n):
        size = off[docs[k] + 1] - off[docs[k]]
        need = np.int64(np.ceil(threshold * size - 1e-9))  # rounding down errs toward longer prefixes
        plen[k] = size - max(need, 1) + 1
        total += plen[k]
    key = np.empty(total, np.int64)
    owner = np.empty(total, np.int64)
    e = 0
    for k in range(n):
        d = docs[k]
        r = np.sort(rank[values[off[d] : off[d + 1]]])
        for i in range(plen[k]):
            key[e] = r[i]
            owner[e] = d
            e += 1
    order = np.argsort(key, kind="mergesort")
    out = np.empty((max(total, 16), 2), np.int64)
    m = 0
    g = 0
    while g < total:
        h = g
        while h < total and key[order[h]] == key[order[g]]:
            h += 1
        for x in range(g, h):
            a = owner[order[x]]
            sa = off[a + 1] - off[a]
            for y in range(x + 1, h):
                b = owner[order[y]]
                sb = off[b + 1] - off[b]
                if min(sa, sb) < threshold * max(sa, sb) - 1e-9:
                    continue
                if m == out.shape[0]:
                    grown = np.empty((2 * m, 2), np.int64)
                    grown[:m] = out
                    out = grown
                out[m, 0] = min(a, b)
                out[m, 1] = max(a, b)
                m += 1
        g = h
    return out[:m].copy()


def _unique_pairs(pairs: np.ndarray, n: int) -> np.ndarray:
    if len(pairs) == 0:
        return np.zeros((0, 2), np.int64)
    code = np.unique(pairs[:, 0] * n + pairs[:, 1])
    return np.stack([code // n, code % n], 1)


def jaccard_pairs(texts, threshold: float, ngram: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Every pair (i < j) of texts whose exact shingle-set Jaccard is ≥ ``threshold``, and its Jaccard.

    Complete (no sampling, no LSH): shingles get exact ids (:func:`shingle_ids`); texts with
    identical shingle sets are grouped first (J = 1 within a group; grouping by a 64-bit hash of the
    sorted id list, so a hash collision — probability below n²/2^64 — would be the only error); one
    member per group enters a prefix-filter join (:func:`_prefix_candidates`, ids ordered rarest
    first), candidates are verified by exact Jaccard, and the kept group pairs are expanded to their
    members. The cost is the candidate count, near linear for text with few shared rare shingles.
    """
    uid, doc_s = shingle_ids(texts, ngram)
    n = doc_s.size - 1
    if n < 2:
        return np.zeros((0, 2), np.int64), np.zeros(0)
    vals, off = _distinct_sorted(uid, doc_s)
    _, group = np.unique(_set_hashes(vals, off), return_inverse=True)
    group = group.ravel()
    order = np.argsort(group, kind="stable")
    first = np.r_[True, group[order][1:] != group[order][:-1]]
    reps = order[first]  # one member per distinct shingle set, in group order
    members = np.split(order, np.flatnonzero(first)[1:])
    in_reps = np.zeros(n, bool)
    in_reps[reps] = True
    rep_vals = vals[np.repeat(in_reps, np.diff(off))]
    df = np.bincount(rep_vals, minlength=int(uid.max()) + 1)
    rank = np.empty(df.size, np.int64)
    rank[np.lexsort((np.arange(df.size), df))] = np.arange(df.size)
    cand = _unique_pairs(_prefix_candidates(vals, off, rank, reps.astype(np.int64), float(threshold)), n)
    J = pair_jaccard(vals, off, cand)
    keep = J >= threshold
    cand, J = cand[keep], J[keep]
    group_of_rep = np.full(n, -1)
    group_of_rep[reps] = np.arange(reps.size)
    sizes = np.array([m.size for m in members])
    single = (sizes[group_of_rep[cand[:, 0]]] == 1) & (sizes[group_of_rep[cand[:, 1]]] == 1)
    out_p, out_j = [cand[single]], [J[single]]
    for (a, b), j in zip(cand[~single], J[~single], strict=True):  # expand group pairs to member pairs
        ma, mb = members[group_of_rep[a]], members[group_of_rep[b]]
        out_p.append(np.stack(np.meshgrid(ma, mb, indexing="ij"), -1).reshape(-1, 2))
        out_j.append(np.full(ma.size * mb.size, j))
    for m in members:  # identical sets
        if m.size > 1:
            i, k = np.triu_indices(m.size, 1)
            out_p.append(np.stack([m[i], m[k]], 1))
            out_j.append(np.ones(i.size))
    pairs = np.sort(np.concatenate(out_p).astype(np.int64), axis=1)
    Js = np.concatenate(out_j)
    order = np.lexsort((pairs[:, 1], pairs[:, 0]))
    return pairs[order], Js[order]


def union_find_clusters(n: int, pairs: np.ndarray) -> np.ndarray:
    """Connected-component label (int64) of each of n nodes; labels numbered by smallest member index."""
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    g = coo_matrix((np.ones(len(pairs), np.int8), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    _, labels = connected_components(g, directed=False)
    return labels.astype(np.int64)


def exact_clusters(text_hashes) -> np.ndarray:
    """Cluster label (int64) per row: rows with equal text hash share a label."""
    _, inv = np.unique(np.asarray(text_hashes).astype(str), return_inverse=True)
    return inv.ravel().astype(np.int64)


# --- representatives ----------------------------------------------------------------------------


def representatives(labels: np.ndarray, ids: np.ndarray, seed: int) -> np.ndarray:
    """Row of each row's cluster representative: the member with the smallest stable_hash64(id, seed)."""
    ids = np.asarray(ids).astype(str)
    h = np.fromiter((stable_hash64(i, seed) for i in ids), dtype=np.uint64, count=len(ids))
    order = np.lexsort((ids, h, labels))  # by label, then hash, then id
    lab = labels[order]
    first = np.r_[True, lab[1:] != lab[:-1]]
    rep_of_group = order[first]
    group_idx = np.cumsum(first) - 1
    rep = np.empty(len(ids), dtype=np.int64)
    rep[order] = rep_of_group[group_idx]
    return rep


# --- protocol -----------------------------------------------------------------------------------


def check_params(params: dict | None, key: str = _KEY) -> dict:
    """num_perm (128), threshold (0.8), lsh_threshold (= threshold; the (b, r) design point — set it
    lower than threshold together with verify to catch pairs near T, datasketch #105), ngram (5),
    mode ("fast" | "legacy" | "exact"), verify (False: keep a candidate pair only if its shingle-set
    Jaccard is ≥ threshold), seed (1), bands/rows (optional; both or neither, default
    :func:`optimal_bands`)."""
    p = dict(params or {})
    unknown = set(p) - {
        "num_perm",
        "threshold",
        "lsh_threshold",
        "ngram",
        "mode",
        "verify",
        "seed",
        "bands",
        "rows",
    }
    if unknown:
        raise DQError(f"{key}: unknown parameter(s) {sorted(unknown)}")
    out = {}
    for name, default, lo in (("num_perm", 128, 1), ("ngram", 5, 1), ("seed", 1, 0)):
        v = p.get(name, default)
        if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < lo:
            raise DQError(f"{key}.{name} must be an integer ≥ {lo}; got {v!r}")
        out[name] = int(v)
    t = p.get("threshold", 0.8)
    if isinstance(t, bool) or not isinstance(t, int | float) or not 0 < t <= 1:
        raise DQError(f"{key}.threshold must be a number in (0, 1]; got {t!r}")
    out["threshold"] = float(t)
    lt = p.get("lsh_threshold", t)
    if isinstance(lt, bool) or not isinstance(lt, int | float) or not 0 < lt <= 1:
        raise DQError(f"{key}.lsh_threshold must be a number in (0, 1]; got {lt!r}")
    out["lsh_threshold"] = float(lt)
    mode = p.get("mode", "fast")
    if mode not in MODES:
        raise DQError(f"{key}.mode: unknown mode {mode!r}; use one of {', '.join(MODES)}")
    out["mode"] = mode
    v = p.get("verify", False)
    if not isinstance(v, bool):
        raise DQError(f"{key}.verify must be true or false; got {v!r}")
    out["verify"] = v
    bands, rows = p.get("bands"), p.get("rows")
    if (bands is None) != (rows is None):
        raise DQError(f"{key}: give both bands and rows, or neither")
    if bands is not None:
        if not all(isinstance(x, int) and not isinstance(x, bool) and x >= 1 for x in (bands, rows)):
            raise DQError(f"{key}.bands/rows must be integers ≥ 1; got {bands!r}, {rows!r}")
        if bands * rows > out["num_perm"]:
            raise DQError(f"{key}: bands·rows = {bands * rows} exceeds num_perm = {out['num_perm']}")
    out["bands"], out["rows"] = bands, rows
    return out


def shard_features(docs: pd.DataFrame, params: dict | None) -> dict[str, np.ndarray]:
    """Per-document features of one pool shard (no dependence on other shards).

    Returns ``ids`` (str) and, for ``mode: exact``, ``text_hash`` (str, of the normalised text); else
    ``signatures`` (n, num_perm) and, when ``verify`` is on, ``shingle_sets`` / ``shingle_offsets``:
    each document's sorted distinct 64-bit shingle hashes, ``shingle_sets[offsets[d]:offsets[d+1]]``.
    """
    p = check_params(params)
    for col in ("id", "text"):
        if col not in docs.columns:
            raise DQError(f"minhash: the pool shard has no {col!r} column; rebuild the pool shards")
    ids = docs["id"].astype(str).to_numpy().astype(str)
    texts = ["" if t is None else str(t) for t in docs["text"].to_numpy(dtype=object)]
    if p["mode"] == "exact":
        return {"ids": ids, "text_hash": np.array([text_hash(normalise(t)) for t in texts], dtype=str)}
    out = {"ids": ids}
    if p["mode"] == "legacy":
        out["signatures"] = signatures_legacy(texts, p["num_perm"], p["seed"], p["ngram"])
        if p["verify"]:
            sh, doc_s = shingle_hashes(texts, p["ngram"])
    else:
        a, b = fast_permutations(p["num_perm"], p["seed"])
        sh, doc_s = shingle_hashes(texts, p["ngram"])
        out["signatures"] = _minhash_multiply_shift(sh, doc_s, a, b)
    if p["verify"]:
        out["shingle_sets"], out["shingle_offsets"] = _distinct_sorted(sh, doc_s)
    return out


def _merge_features(features: list[dict], p: dict) -> dict[str, np.ndarray]:
    """The shards' features concatenated in shard order (set offsets shifted), checked."""
    if isinstance(features, dict) or not features:
        raise DQError("minhash: fit needs the list of per-shard features (shard_features); got none")
    need = ["ids"] + (
        ["text_hash"]
        if p["mode"] == "exact"
        else ["signatures"] + (["shingle_sets", "shingle_offsets"] if p["verify"] else [])
    )
    for k, f in enumerate(features):
        missing = [name for name in need if name not in f]
        if missing:
            raise DQError(
                f"minhash: shard features {k} lack {missing} for mode={p['mode']}, verify={p['verify']}; "
                "rebuild results/features/minhash/ (the variant's params changed)"
            )
        n = len(f["ids"])
        if p["mode"] != "exact" and f["signatures"].shape != (n, p["num_perm"]):
            raise DQError(
                f"minhash: shard features {k}: signatures of shape {f['signatures'].shape} for {n} ids "
                f"and num_perm {p['num_perm']}; rebuild results/features/minhash/"
            )
    merged = {"ids": np.concatenate([np.asarray(f["ids"]).astype(str) for f in features])}
    if p["mode"] == "exact":
        merged["text_hash"] = np.concatenate([np.asarray(f["text_hash"]).astype(str) for f in features])
        return merged
    merged["signatures"] = np.concatenate([f["signatures"] for f in features])
    if p["verify"]:
        merged["shingle_sets"] = np.concatenate([f["shingle_sets"] for f in features])
        shift = np.cumsum([0] + [len(f["shingle_sets"]) for f in features[:-1]])
        merged["shingle_offsets"] = np.concatenate(
            [[0]]
            + [
                np.asarray(f["shingle_offsets"][1:], np.int64) + s
                for f, s in zip(features, shift, strict=True)
            ]
        ).astype(np.int64)
    return merged


def dedup_labels(features: dict[str, np.ndarray], p: dict) -> tuple[np.ndarray, dict]:
    """Cluster label per document and diagnostics, from merged features and validated params ``p``."""
    if p["mode"] == "exact":
        return exact_clusters(features["text_hash"]), {"bands": 0, "rows": 0, "n_pairs": 0}
    sigs = features["signatures"]
    b, r = (p["bands"], p["rows"]) if p["bands"] else optimal_bands(p["lsh_threshold"], p["num_perm"])
    pairs = lsh_candidates(sigs, b, r)
    n_cand = len(pairs)
    if p["verify"]:
        pairs = verify_pairs(features["shingle_sets"], features["shingle_offsets"], pairs, p["threshold"])
    return union_find_clusters(len(sigs), pairs), {
        "bands": b,
        "rows": r,
        "n_pairs": n_cand,
        "n_verified": len(pairs),
    }


def fit(inputs: dict, params: dict) -> dict[str, np.ndarray]:
    """Cluster the whole pool from ``inputs["shard_features"]`` (the list of :func:`shard_features`
    outputs in shard order); per pool row (keyed by ``ids``) score/removed/duplicate_of/cluster."""
    p = check_params(params)
    features = _merge_features(inputs.get("shard_features"), p)
    ids = features["ids"]
    if len(np.unique(ids)) != len(ids):
        raise DQError("minhash: the pool ids are not unique; rebuild the pool (ids must identify documents)")
    labels, info = dedup_labels(features, p)
    return state_from_labels(labels, ids, p["seed"], info)


def fit_texts(texts, ids, params: dict | None, n_shards: int = 1) -> dict[str, np.ndarray]:
    """:func:`fit` on texts directly (library use, tests, benchmarks): features of ``n_shards``
    contiguous shards, then the global merge — exactly what the workflow does."""
    docs = pd.DataFrame({"id": np.asarray(ids).astype(str), "text": list(texts)})
    parts = np.array_split(np.arange(len(docs)), max(1, n_shards))
    return fit({"shard_features": [shard_features(docs.iloc[i], params) for i in parts]}, params)


def state_from_labels(labels: np.ndarray, ids: np.ndarray, seed: int, info: dict | None = None) -> dict:
    rep = representatives(labels, ids, seed)
    is_rep = rep == np.arange(len(ids))
    sizes = np.bincount(labels, minlength=int(labels.max()) + 1 if labels.size else 0)[labels]
    # cluster number independent of row order: rank of the representative's id among all ids
    id_rank = np.empty(len(ids), np.int64)
    id_rank[np.argsort(ids, kind="stable")] = np.arange(len(ids))
    removed = ~is_rep
    state = {
        "ids": ids,
        "score": np.where(is_rep, 1.0, 0.0),
        "duplicate_of": np.where(removed, ids[rep], "").astype(str),
        "removed": removed,
        "cluster": id_rank[rep],
        "cluster_size": sizes.astype(np.int64),
        "removed_fraction": np.float64(removed.mean() if removed.size else 0.0),
    }
    for k, v in (info or {}).items():
        state[k] = np.int64(v)
    return state


def score(docs: pd.DataFrame, embeddings, state: dict | None, params: dict | None = None) -> pd.DataFrame:
    """Look up each document by id: ``id``, ``score`` (1 kept / 0 duplicate), ``duplicate_of``,
    ``removed``, ``cluster``, ``cluster_size``."""
    out = scores_from_state(docs, state, "minhash")
    out["cluster_size"] = np.asarray(state["cluster_size"], dtype=np.int64)[
        pd.Index(np.asarray(state["ids"]).astype(str)).get_indexer(docs["id"].astype(str).to_numpy())
    ]
    return out
