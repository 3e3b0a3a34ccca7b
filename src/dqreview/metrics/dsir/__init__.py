"""DSIR (Xie et al. 2023): importance resampling on hashed n-gram features.

Each document is lower-cased, tokenised with the regex ``\\w+|[^\\w\\s]+`` (nltk's WordPunctTokenizer,
the package's default), and its unigrams and bigrams (``"a b"``) are hashed into ``num_buckets``
buckets. Two bag-of-buckets distributions are fitted by counting: γ on the target reference
(``target_texts``) and β on the pool (``pool_texts``). The log importance weight of a document is linear in its bucket counts z:

    log w(x) = Σ_j z_j(x) · (log(γ_j + 1e-8) − log(β_j + 1e-8))

The score is log w (HIGH = more target-like). Sampling ∝ w without replacement is the Gumbel top-k
trick: keep the k largest ``log w + G`` with G from :func:`gumbel_keys` (keyed by hash(id, seed), not a
global RNG); the workflow's selection applies it. ``keep=low`` is the reversed ablation.

Featurisers (``featurizer`` parameter)
--------------------------------------
Both give the package's buckets, bucket = ``int(sha256(s).hexdigest(), 16) % B`` of the n-gram string
(``hash_bucket('alice') == 6720``), hence the package's counts, distributions and (to rounding) log
weights. Both run on compiled kernels (:mod:`dqreview.metrics._dsir_kernels`, numba): a SHA-256 in
numba, run once per *distinct* unigram and bigram and cached in open-addressing tables kept between
calls (per ``num_buckets``), so that later occurrences cost a table look-up instead of a Python
``hashlib`` call. They differ in the tokeniser and in how a document's log weight is summed:

``"compat"``
    Reproduces ``data-selection`` 1.0.3 bit for bit: tokens from the package's own call
    (stdlib ``re.findall`` of :data:`TOKEN_RE` on the lower-cased text), and log w =
    ``np.dot(log_ratio, counts)`` on each document's dense count vector, as the package computes it.
``"fast"`` (default)
    A compiled scanner of the same character classes on the UTF-8 bytes (classes decided by
    stdlib ``re`` per code point, so the tokens are the same; tested on text from all of Unicode) and
    log w summed over the document's n-grams in token order: equal to ``compat`` within ≈ 1e-12
    relative (summation order only).

Why numba (a declared dependency, widely used for numeric kernels): the package's time goes to one
``hashlib.sha256`` call per n-gram occurrence and to nltk's regex; a vectorised numpy version still
paid one Python-level hash per distinct n-gram. A different hash (scikit-learn's MurmurHash
``HashingVectorizer``) was tried and rejected: with B = 10,000 the changed collision pattern moves the
weights too much (against sha256 buckets: Spearman 0.91–0.98, top-100 Jaccard 0.6–0.8 on stdlib
docstrings; Spearman 0.987, top-10% Jaccard 0.71 on the wiki + chat text of the benchmark).
``ngrams > 2`` and ``num_buckets`` ≥ 2**31 use a pure-Python path (same buckets, slower).

Traps (see METHODS.md §2): log w grows with document length (the paper scores fixed 128-word
chunks); target buckets that are empty cost ≈ −18 per occurrence — ``laplace`` adds a pseudo-count to
every target bucket before normalising (the package's later ``target_laplace_smoothing``; 0 = 1.0.3).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from dqreview.errors import DQError
from dqreview.hashing import unit_uniform

PER_DOCUMENT = True
KEEP = ("high", "low")
NEEDS: tuple[str, ...] = ()
FIT_NEEDS = ("target_texts", "pool_texts")

FEATURIZERS = ("fast", "compat")
DEFAULTS: dict[str, Any] = {
    "num_buckets": 10000,
    "ngrams": 2,
    "featurizer": "fast",
    "laplace": 0.0,
    "sampling": "gumbel",  # resample without replacement ∝ w (the paper); "top_k" = deterministic
}
SAMPLINGS = ("gumbel", "top_k")

#: Tokeniser of nltk's WordPunctTokenizer (stdlib ``re``, as nltk 3.9 uses it).
TOKEN_RE = re.compile(r"\w+|[^\w\s]+", flags=re.UNICODE | re.MULTILINE | re.DOTALL)
#: Smoothing constants of the reference implementation.
LOG_EPS = 1e-8
KL_EPS = 1e-10
#: Documents featurised per block when summing counts (bounds memory at block × nnz).
CHUNK_DOCS = 4096
#: ... and at most this many characters per block (one longer document makes a block of its own).
CHUNK_CHARS = 4_000_000
#: Memory for the dense per-document count rows of ``compat`` scoring.
DENSE_ROWS_BYTES = 32 * 2**20

_KEY = "metrics[dsir].variants[].params."


# --------------------------------------------------------------------------------------- params
def _params(params: dict[str, Any] | None) -> dict[str, Any]:
    """Parameters with defaults filled in, validated; errors name the config key."""
    p = dict(DEFAULTS)
    p.update(params or {})
    B = p["num_buckets"]
    if isinstance(B, bool) or not isinstance(B, int | np.integer) or B < 1:
        raise DQError(f"{_KEY}num_buckets: expected a positive integer such as 10000; got {B!r}")
    n = p["ngrams"]
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise DQError(f"{_KEY}ngrams: expected a positive integer (2 = unigrams + bigrams); got {n!r}")
    if p["featurizer"] not in FEATURIZERS:
        raise DQError(f"{_KEY}featurizer: {p['featurizer']!r} is not one of {', '.join(FEATURIZERS)}")
    lap = p["laplace"]
    if (
        isinstance(lap, bool)
        or not isinstance(lap, int | float | np.number)
        or not np.isfinite(lap)
        or lap < 0
    ):
        raise DQError(f"{_KEY}laplace: expected a pseudo-count >= 0 (0 = none); got {lap!r}")
    if p["sampling"] not in SAMPLINGS:
        raise DQError(f"{_KEY}sampling: {p['sampling']!r} is not one of {', '.join(SAMPLINGS)}")
    p["num_buckets"], p["ngrams"], p["laplace"] = int(B), int(n), float(lap)
    return p


# ------------------------------------------------------------------------------------ features
def hash_bucket(text: str, num_buckets: int = 10000) -> int:
    """Bucket of one n-gram string, as ``data_selection.hash_buckets``: sha256 mod ``num_buckets``."""
    return int(hashlib.sha256(text.encode("utf-8")).hexdigest(), 16) % num_buckets


def tokenize(text: str) -> list[str]:
    """Lower-case ``text`` and split it with ``\\w+|[^\\w\\s]+`` (nltk WordPunctTokenizer)."""
    return TOKEN_RE.findall(text.lower())


def _ngram_strings(words: list[str], ngrams: int) -> Iterable[str]:
    yield from words
    for k in range(2, ngrams + 1):
        for i in range(len(words) - k + 1):
            yield " ".join(words[i : i + k])


def _featurize_python(
    texts: Sequence[str], num_buckets: int, ngrams: int
) -> tuple[sp.csr_matrix, np.ndarray]:
    cache: dict[str, int] = {}
    cols: list[int] = []
    indptr = [0]
    n_tokens = np.empty(len(texts), dtype=np.int64)
    for r, text in enumerate(texts):
        words = tokenize(text)
        n_tokens[r] = len(words)
        for s in _ngram_strings(words, ngrams):
            b = cache.get(s)
            if b is None:
                b = cache[s] = hash_bucket(s, num_buckets)
            cols.append(b)
        indptr.append(len(cols))
        if len(cache) > 2_000_000:  # bound memory on very large inputs
            cache.clear()
    indices = np.asarray(cols, dtype=np.int64)
    X = sp.csr_matrix(
        (np.ones(indices.size, dtype=np.float64), indices, np.asarray(indptr, dtype=np.int64)),
        shape=(len(texts), num_buckets),
    )
    X.sum_duplicates()
    return X, n_tokens


# ------------------------------------------------------------------- compiled featuriser (numba)
def _kernels() -> Any:
    """The numba kernels, imported on first use (compiling them, or loading numba's on-disk cache)."""
    from dqreview.metrics import _dsir_kernels

    return _dsir_kernels


_WORD_RE = re.compile(r"\w", flags=re.UNICODE)
_SPACE_RE = re.compile(r"\s", flags=re.UNICODE)
_CLS: dict[str, np.ndarray] = {}


def _class_of(ch: str) -> int:
    """Tokeniser class of one character under :data:`TOKEN_RE` (stdlib ``re`` decides)."""
    if _WORD_RE.match(ch):
        return 1  # WORD: part of \w+
    if _SPACE_RE.match(ch):
        return 0  # SPACE: separates tokens
    return 2  # OTHER: part of [^\w\s]+


def _class_table(mode: str) -> np.ndarray:
    """int8 class per code point. ``"re"``: :data:`TOKEN_RE`'s classes, filled lazily (−1 = not yet);
    ``"split"``: only U+0020 separates (for tokens already joined by single spaces)."""
    t = _CLS.get(mode)
    if t is None:
        if mode == "split":
            t = np.full(0x110000, 1, dtype=np.int8)
            t[32] = 0
        else:
            t = np.full(0x110000, -1, dtype=np.int8)
            t[:128] = [_class_of(chr(c)) for c in range(128)]
        _CLS[mode] = t
    return t


def _classify(table: np.ndarray, flags: np.ndarray) -> None:
    cps = np.flatnonzero(flags)
    flags[cps] = 0
    table[cps] = [_class_of(chr(c)) for c in cps.tolist()]


def _grown(a: np.ndarray, size: int) -> np.ndarray:
    out = np.zeros(size, dtype=a.dtype)
    out[: a.size] = a
    return out


class _NgramCache:
    """n-gram → SHA-256 bucket caches for one ``num_buckets``, kept between calls.

    Distinct tokens (their UTF-8 bytes in an arena) and distinct bigrams (pairs of token ids) are
    each hashed once; later occurrences are table look-ups. The bigram table is emptied when it would
    need more than ``MAX_BIGRAM_SLOTS`` slots (16 bytes each), everything when a block starts with
    more than ``MAX_WORDS`` tokens known: a cache only, the buckets do not depend on it.
    """

    MAX_WORDS = 4_000_000
    MAX_BIGRAM_SLOTS = 2**24  # 256 MB of bigram table
    #: Initial sizes (powers of two); the arrays double as needed.
    INIT_WORDS = 2**15
    INIT_ARENA = 2**20
    INIT_BIGRAM_SLOTS = 2**17

    def __init__(self, num_buckets: int) -> None:
        self.B = num_buckets
        self.clear()

    def clear(self) -> None:
        self.uslots = np.zeros(4 * self.INIT_WORDS, dtype=np.uint64)  # 2·INIT_WORDS (hash, id) slots
        self.arena = np.zeros(self.INIT_ARENA, dtype=np.uint8)
        self.w_off = np.zeros(self.INIT_WORDS, dtype=np.int64)
        self.w_len = np.zeros(self.INIT_WORDS, dtype=np.int64)
        self.w_bucket = np.zeros(self.INIT_WORDS, dtype=np.int64)
        self.umeta = np.zeros(2, dtype=np.int64)  # words, arena bytes used
        self.bslots = np.zeros(2 * self.INIT_BIGRAM_SLOTS, dtype=np.uint64)
        self.bmeta = np.zeros(1, dtype=np.int64)  # bigrams

    def unigrams(self, buf: np.ndarray, ts: np.ndarray, te: np.ndarray) -> np.ndarray:
        K = _kernels()
        ids = np.empty(ts.size, dtype=np.int64)
        i = 0
        while True:
            i = K.unigram_ids(
                buf, ts, te, i, ids, self.B, self.uslots, self.arena,
                self.w_off, self.w_len, self.w_bucket, self.umeta,
            )  # fmt: skip
            if i == ts.size:
                return ids
            nw, used = int(self.umeta[0]), int(self.umeta[1])
            if 2 * (nw + 1) > self.uslots.size // 2:
                new = np.zeros(2 * self.uslots.size, dtype=np.uint64)
                K.rehash_unigrams(self.uslots, new)
                self.uslots = new
            need = used + int(te[i] - ts[i])
            if need > self.arena.size:
                self.arena = _grown(self.arena, max(2 * self.arena.size, need))
            if nw >= self.w_off.size:
                size = 2 * self.w_off.size
                self.w_off, self.w_len = _grown(self.w_off, size), _grown(self.w_len, size)
                self.w_bucket = _grown(self.w_bucket, size)

    def bigrams(self, ids: np.ndarray, n_tok: np.ndarray) -> np.ndarray:
        K = _kernels()
        out = np.empty(int(np.maximum(n_tok - 1, 0).sum()), dtype=np.int64)
        d, k = 0, 0
        while True:
            d, k = K.bigram_buckets(
                ids, n_tok, d, k, out, self.B, self.bslots, self.bmeta, self.arena, self.w_off, self.w_len
            )
            if d == n_tok.size:
                return out
            need = 2 * (int(self.bmeta[0]) + int(n_tok[d]) - 1)
            cap = self.bslots.size // 2
            if need > self.MAX_BIGRAM_SLOTS:  # full: forget the bigrams (the buckets stay exact)
                self.bslots[:] = 0
                self.bmeta[0] = 0
                need = 2 * (int(n_tok[d]) - 1)
            while cap < need:
                cap *= 2
            if cap == self.bslots.size // 2:
                continue
            new = np.zeros(2 * cap, dtype=np.uint64)
            K.rehash_bigrams(self.bslots, new)
            self.bslots = new

    def buckets(
        self, texts: Sequence[str], ngrams: int, tokenizer: str
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(unigram buckets, bigram buckets, tokens per text), each in text and token order.

        ``tokenizer="re"``: :data:`TOKEN_RE` via stdlib ``re`` (the package's own call), tokens re-joined
        by spaces for the kernels; ``"compiled"``: the numba scanner of the same classes.
        """
        if self.umeta[0] > self.MAX_WORDS:
            self.clear()
        K = _kernels()
        if tokenizer == "re":
            findall = TOKEN_RE.findall
            parts = [" ".join(findall(t.lower())).encode("utf-8", "surrogatepass") for t in texts]
            table = _class_table("split")
        else:
            parts = [t.lower().encode("utf-8", "surrogatepass") for t in texts]
            table = _class_table("re")
        ends = np.cumsum(np.fromiter(map(len, parts), dtype=np.int64, count=len(parts)))
        buf = np.frombuffer(b"".join(parts), dtype=np.uint8)
        pos = np.int32 if buf.size < 2**31 else np.int64  # token spans: at most one per byte
        ts = np.empty(buf.size, dtype=pos)
        te = np.empty(buf.size, dtype=pos)
        n_tok = np.empty(len(parts), dtype=np.int64)
        while True:
            n = K.tokenize_spans(buf, ends, table, ts, te, n_tok, _unknown_flags())
            if n >= 0:
                break
            _classify(table, _unknown_flags())
        ids = self.unigrams(buf, ts[:n], te[:n])
        ubk = self.w_bucket[ids]
        bbk = self.bigrams(ids, n_tok) if ngrams == 2 else np.zeros(0, dtype=np.int64)
        return ubk, bbk, n_tok


_FLAGS: list[np.ndarray] = []


def _unknown_flags() -> np.ndarray:
    if not _FLAGS:
        _FLAGS.append(np.zeros(0x110000, dtype=np.uint8))
    return _FLAGS[0]


_CACHES: dict[int, _NgramCache] = {}
#: Largest bucket count of the compiled path (the kernels reduce the digest in int64).
_MAX_COMPILED_B = 2**31 - 1


def _compiled(num_buckets: int, ngrams: int) -> bool:
    return ngrams <= 2 and num_buckets <= _MAX_COMPILED_B


def _buckets(
    texts: Sequence[str], num_buckets: int, ngrams: int, featurizer: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    cache = _CACHES.get(num_buckets)
    if cache is None:
        cache = _CACHES[num_buckets] = _NgramCache(num_buckets)
    return cache.buckets(texts, ngrams, "re" if featurizer == "compat" else "compiled")


def _featurize_compiled(
    texts: Sequence[str], num_buckets: int, ngrams: int, featurizer: str
) -> tuple[sp.csr_matrix, np.ndarray]:
    ubk, bbk, n_tok = _buckets(texts, num_buckets, ngrams, featurizer)
    rows = np.repeat(np.arange(len(texts)), n_tok)
    if bbk.size:
        rows = np.concatenate([rows, np.repeat(np.arange(len(texts)), np.maximum(n_tok - 1, 0))])
    cols = np.concatenate([ubk, bbk])
    X = sp.coo_matrix(
        (np.ones(cols.size, dtype=np.float64), (rows, cols)), shape=(len(texts), num_buckets)
    ).tocsr()  # sums duplicates
    return X, n_tok


def featurize(
    texts: Sequence[str],
    num_buckets: int = 10000,
    ngrams: int = 2,
    featurizer: str = "fast",
    return_n_tokens: bool = False,
) -> sp.csr_matrix | tuple[sp.csr_matrix, np.ndarray]:
    """Hashed n-gram counts of each text.

    Parameters
    ----------
    texts : sequence of str
        Documents.
    num_buckets : int
        Number of hash buckets B.
    ngrams : int
        Largest n-gram order (2 = unigrams and bigrams).
    featurizer : {"fast", "compat"}
        Tokeniser and summation order (see the module docstring); the buckets are the same.
    return_n_tokens : bool
        Also return the number of tokens of each text.

    Returns
    -------
    counts : scipy.sparse.csr_matrix of shape (n, B), float64
        Integer-valued counts.
    n_tokens : ndarray (n,), int64
        Only when ``return_n_tokens``.
    """
    if featurizer not in FEATURIZERS:
        raise DQError(f"unknown featurizer {featurizer!r}; known: {', '.join(FEATURIZERS)}")
    texts = [str(t) for t in texts]
    B, n = int(num_buckets), int(ngrams)
    if _compiled(B, n):
        parts = [_featurize_compiled(texts[lo:hi], B, n, featurizer) for lo, hi in _blocks(texts, CHUNK_DOCS)]
        if not parts:
            parts = [_featurize_compiled([], B, n, featurizer)]
        X = sp.vstack([x for x, _ in parts], format="csr")
        n_tokens = np.concatenate([t for _, t in parts])
    else:
        X, n_tokens = _featurize_python(texts, B, n)
    return (X, n_tokens) if return_n_tokens else X


def _blocks(texts: Sequence[Any], chunk_docs: int) -> Iterable[tuple[int, int]]:
    """(lo, hi) ranges of at most ``chunk_docs`` texts and, unless one text is longer, ``CHUNK_CHARS``
    characters (bounds the featuriser's memory: ≈ 10–30 bytes per byte of UTF-8)."""
    step = max(1, int(chunk_docs))
    lo, n = 0, len(texts)
    while lo < n:
        hi, size = lo, 0
        while hi < min(n, lo + step):
            size += len(texts[hi]) if isinstance(texts[hi], str) else len(str(texts[hi]))
            if size > CHUNK_CHARS and hi > lo:
                break
            hi += 1
        yield lo, hi
        lo = hi


def bucket_counts(
    texts: Sequence[str],
    num_buckets: int = 10000,
    ngrams: int = 2,
    featurizer: str = "fast",
    chunk_docs: int = CHUNK_DOCS,
) -> np.ndarray:
    """Summed bucket counts of ``texts`` (B,), featurised in blocks of ``chunk_docs`` documents.

    Sums of shards add up: ``bucket_counts(a + b) == bucket_counts(a) + bucket_counts(b)``.
    """
    B, n = int(num_buckets), int(ngrams)
    texts = list(texts) if not isinstance(texts, list | np.ndarray) else texts
    if _compiled(B, n):
        counts = np.zeros(B, dtype=np.int64)
        for lo, hi in _blocks(texts, chunk_docs):
            ubk, bbk, _ = _buckets([str(t) for t in texts[lo:hi]], B, n, featurizer)
            _kernels().add_counts(ubk, bbk, counts)
        return counts.astype(np.float64)
    total = np.zeros(B, dtype=np.float64)
    for lo, hi in _blocks(texts, chunk_docs):
        X = featurize(texts[lo:hi], B, n, featurizer)
        total += np.asarray(X.sum(axis=0)).ravel()
    return total


def fit_distribution(counts: np.ndarray | sp.spmatrix, smoothing: float = 0.0) -> np.ndarray:
    """Bucket probabilities from counts.

    Parameters
    ----------
    counts : ndarray (B,) or (n, B), or sparse (n, B)
        Per-document counts (summed over rows) or already summed counts — to stream, sum the counts
        of each shard and pass the total.
    smoothing : float
        Laplace pseudo-count added to every bucket before normalising.

    Returns
    -------
    ndarray (B,), float64
        Probabilities summing to 1 (all zero if there are no counts and no smoothing).
    """
    if sp.issparse(counts):
        c = np.asarray(counts.sum(axis=0)).ravel().astype(np.float64)
    else:
        c = np.asarray(counts, dtype=np.float64)
        if c.ndim == 2:
            c = c.sum(axis=0)
    c = c + float(smoothing)
    total = c.sum()
    return c / total if total > 0 else c


def log_ratio(target_dist: np.ndarray, pool_dist: np.ndarray) -> np.ndarray:
    """Per-bucket ``log(γ + 1e-8) − log(β + 1e-8)``, as the reference implementation."""
    return np.log(np.asarray(target_dist, dtype=np.float64) + LOG_EPS) - np.log(
        np.asarray(pool_dist, dtype=np.float64) + LOG_EPS
    )


def log_importance_weights(counts: np.ndarray | sp.spmatrix, log_ratio: np.ndarray) -> np.ndarray:
    """log w = counts @ log_ratio, one value per document (row of ``counts``)."""
    lr = np.asarray(log_ratio, dtype=np.float64)
    out = counts @ lr
    return np.asarray(out, dtype=np.float64).ravel()


def document_log_weights(
    texts: Sequence[str],
    log_ratio: np.ndarray,
    num_buckets: int = 10000,
    ngrams: int = 2,
    featurizer: str = "fast",
    chunk_docs: int = CHUNK_DOCS,
) -> tuple[np.ndarray, np.ndarray]:
    """(log w, number of tokens) of each text, featurised in blocks of ``chunk_docs`` documents.

    ``fast`` sums ``log_ratio[b]`` over each document's n-grams in token order; ``compat`` forms
    each document's dense count vector and takes ``np.dot(log_ratio, counts)`` as the package does,
    so that the floating-point result is the package's bit for bit (unless a dense row would exceed
    ``DENSE_ROWS_BYTES``: then it sums as ``fast`` does).
    """
    B, n = int(num_buckets), int(ngrams)
    lr = np.ascontiguousarray(log_ratio, dtype=np.float64)
    scores = np.empty(len(texts), dtype=np.float64)
    n_tokens = np.empty(len(texts), dtype=np.int64)
    for lo, hi in _blocks(texts, chunk_docs):
        part = [str(t) for t in texts[lo:hi]]
        if not _compiled(B, n):
            X, n_tokens[lo:hi] = featurize(part, B, n, featurizer, True)
            scores[lo:hi] = log_importance_weights(X, lr)
            continue
        ubk, bbk, nt = _buckets(part, B, n, featurizer)
        n_tokens[lo:hi] = nt
        if featurizer == "fast" or 8 * B > DENSE_ROWS_BYTES:  # (huge B: no dense rows; ≈ 1e-12 off)
            _kernels().doc_sums(ubk, bbk, nt, lr, scores[lo:hi])
            continue
        rows = max(1, min(len(part), DENSE_ROWS_BYTES // (8 * B)))
        dense = np.empty((rows, B), dtype=np.float64)
        for a in range(0, len(part), rows):
            b = min(a + rows, len(part))
            _kernels().doc_rows(ubk, bbk, nt, a, b, dense)
            for r in range(b - a):
                scores[lo + a + r] = np.dot(lr, dense[r])
    return scores, n_tokens


def _as_dist(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=np.float64).ravel()
    s = v.sum()
    return v / s if s > 0 else v


def kl_divergence(p: np.ndarray, q: np.ndarray) -> float:
    """KL(p‖q) = Σ p_j (log(p_j + 1e-10) − log(q_j + 1e-10)) on bucket distributions.

    ``p`` and ``q`` are normalised to sum 1 first (so counts are accepted).
    """
    p, q = _as_dist(p), _as_dist(q)
    if p.shape != q.shape:
        raise DQError(f"kl_divergence: shapes differ, {p.shape} vs {q.shape}")
    return float(np.sum(p * (np.log(p + KL_EPS) - np.log(q + KL_EPS))))


def kl_reduction(target: np.ndarray, pool: np.ndarray, selected: np.ndarray) -> float:
    """The paper's data metric: KL(target‖pool) − KL(target‖selected) (positive = closer to target).

    Each argument is a bucket distribution or bucket counts (B,).
    """
    return kl_divergence(target, pool) - kl_divergence(target, selected)


def gumbel_keys(ids: Iterable[str], seed: int) -> np.ndarray:
    """Gumbel(0, 1) noise per document, G = −log(−log U) with U keyed by hash(id, seed).

    The k largest ``log w + G`` are a sample of k documents without replacement with probability
    ∝ w. U lies strictly inside (0, 1), so G is finite; it depends only on the id and the seed.
    """
    u = unit_uniform(ids, seed) + 2.0**-54
    return -np.log(-np.log(u))


# ------------------------------------------------------------------------------------ protocol
def _texts(x: Any, name: str) -> list[str]:
    if x is None:
        raise DQError(f"dsir: fit input {name!r} is missing")
    arr = list(x)
    if not arr:
        raise DQError(f"dsir: fit input {name!r} has no documents")
    return [str(t) for t in arr]


def fit(inputs: dict[str, Any], params: dict[str, Any] | None = None) -> dict[str, np.ndarray]:
    """Fit γ on ``inputs["target_texts"]`` and β on ``inputs["pool_texts"]``.

    Returns
    -------
    dict
        ``log_ratio``, ``target_dist``, ``pool_dist``: float64 arrays of shape (num_buckets,).
    """
    p = _params(params)
    B, n, f = p["num_buckets"], p["ngrams"], p["featurizer"]
    target = bucket_counts(_texts(inputs.get("target_texts"), "target_texts"), B, n, f)
    pool = bucket_counts(_texts(inputs.get("pool_texts"), "pool_texts"), B, n, f)
    if target.sum() == 0:
        raise DQError("dsir: the target texts contain no tokens; check target_texts")
    if pool.sum() == 0:
        raise DQError("dsir: the pool texts contain no tokens; check pool_texts")
    target_dist = fit_distribution(target, p["laplace"])
    pool_dist = fit_distribution(pool)
    return {
        "log_ratio": log_ratio(target_dist, pool_dist),
        "target_dist": target_dist,
        "pool_dist": pool_dist,
    }


def score(
    docs: pd.DataFrame,
    embeddings: Any,
    state: dict[str, np.ndarray] | None,
    params: dict[str, Any] | None = None,
) -> pd.DataFrame:
    """Log importance weight of each document (``score``; HIGH = more target-like) and ``n_tokens``."""
    p = _params(params)
    if state is None or "log_ratio" not in state:
        raise DQError("dsir: score needs the fitted state (log_ratio); run fit first")
    lr = np.asarray(state["log_ratio"], dtype=np.float64)
    if lr.shape != (p["num_buckets"],):
        raise DQError(
            f"{_KEY}num_buckets: {p['num_buckets']} does not match the fitted state ({lr.shape[0]} buckets); refit"
        )
    if "text" not in docs.columns:
        raise DQError("dsir: the documents have no 'text' column")
    texts = docs["text"].fillna("").astype(str).tolist()
    scores, n_tokens = document_log_weights(texts, lr, p["num_buckets"], p["ngrams"], p["featurizer"])
    return pd.DataFrame({"id": docs["id"].to_numpy(), "score": scores, "n_tokens": n_tokens})


def selection_score(scores: pd.DataFrame, seed: int, params: dict | None, keep: str) -> np.ndarray:
    """The per-seed ordering key: log w plus Gumbel noise keyed by hash(id, seed) (``sampling: gumbel``).

    Taking the top k of ``log w + G`` samples k documents without replacement with probability ∝ w
    (the Gumbel top-k trick). For keep=low the noise is subtracted, so the ascending order samples ∝ 1/w.
    ``sampling: top_k`` returns log w unchanged.
    """
    p = _params(params)
    log_w = scores["score"].to_numpy(dtype=np.float64)
    if p["sampling"] == "top_k":
        return log_w
    noise = gumbel_keys(scores["id"].to_numpy(), seed)
    return log_w + noise if keep == "high" else log_w - noise
