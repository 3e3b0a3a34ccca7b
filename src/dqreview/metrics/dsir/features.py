"""DSIR's featuriser: hashed unigram and bigram bucket counts of texts, compiled or pure Python.

Buckets are ``int(sha256(s).hexdigest(), 16) % B`` of each n-gram string (:func:`hash_bucket`), as in
``data-selection``. The compiled path (``ngrams`` ≤ 2, B < 2**31) tokenises with the numba scanner of
:mod:`dqreview.textkernels.scan` (``fast``) or with stdlib ``re`` (``compat``), and hashes each *distinct*
unigram and bigram once through the open-addressing caches of :mod:`dqreview.textkernels.tables`, kept
between calls per ``num_buckets`` (:class:`_NgramCache`); the pure-Python path hashes with ``hashlib``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp
from numba import njit

from dqreview.errors import DQError
from dqreview.textkernels.scan import (
    classify_unknown,
    pack_bytes,
    token_classes,
    unknown_flags,
    wordpunct_spans,
)
from dqreview.textkernels.tables import bigram_buckets, rehash_bigrams, rehash_unigrams, unigram_ids

FEATURIZERS = ("fast", "compat")
#: Tokeniser of nltk's WordPunctTokenizer (stdlib ``re``, as nltk 3.9 uses it).
TOKEN_RE = re.compile(r"\w+|[^\w\s]+", flags=re.UNICODE | re.MULTILINE | re.DOTALL)
#: Documents featurised per block when summing counts (bounds memory at block × nnz).
CHUNK_DOCS = 4096
#: ... and at most this many characters per block (one longer document makes a block of its own).
CHUNK_CHARS = 4_000_000


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
        ids = np.empty(ts.size, dtype=np.int64)
        i = 0
        while True:
            i = unigram_ids(
                buf, ts, te, i, ids, self.B, self.uslots, self.arena,
                self.w_off, self.w_len, self.w_bucket, self.umeta,
            )  # fmt: skip
            if i == ts.size:
                return ids
            nw, used = int(self.umeta[0]), int(self.umeta[1])
            if 2 * (nw + 1) > self.uslots.size // 2:
                new = np.zeros(2 * self.uslots.size, dtype=np.uint64)
                rehash_unigrams(self.uslots, new)
                self.uslots = new
            need = used + int(te[i] - ts[i])
            if need > self.arena.size:
                self.arena = _grown(self.arena, max(2 * self.arena.size, need))
            if nw >= self.w_off.size:
                size = 2 * self.w_off.size
                self.w_off, self.w_len = _grown(self.w_off, size), _grown(self.w_len, size)
                self.w_bucket = _grown(self.w_bucket, size)

    def bigrams(self, ids: np.ndarray, n_tok: np.ndarray) -> np.ndarray:
        out = np.empty(int(np.maximum(n_tok - 1, 0).sum()), dtype=np.int64)
        d, k = 0, 0
        while True:
            d, k = bigram_buckets(
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
            rehash_bigrams(self.bslots, new)
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
        if tokenizer == "re":
            findall = TOKEN_RE.findall
            parts = [" ".join(findall(t.lower())).encode("utf-8", "surrogatepass") for t in texts]
            table = token_classes("split")
        else:
            parts = [t.lower().encode("utf-8", "surrogatepass") for t in texts]
            table = token_classes("re")
        buf, off = pack_bytes(parts)
        ends = off[1:]
        pos = np.int32 if buf.size < 2**31 else np.int64  # token spans: at most one per byte
        ts = np.empty(buf.size, dtype=pos)
        te = np.empty(buf.size, dtype=pos)
        n_tok = np.empty(len(parts), dtype=np.int64)
        while True:
            n = wordpunct_spans(buf, ends, table, ts, te, n_tok, unknown_flags())
            if n >= 0:
                break
            classify_unknown(table, unknown_flags())
        ids = self.unigrams(buf, ts[:n], te[:n])
        ubk = self.w_bucket[ids]
        bbk = self.bigrams(ids, n_tok) if ngrams == 2 else np.zeros(0, dtype=np.int64)
        return ubk, bbk, n_tok


_CACHES: dict[int, _NgramCache] = {}
#: Largest bucket count of the compiled path (the kernels reduce the digest in int64).
_MAX_COMPILED_B = 2**31 - 1


def has_compiled_path(num_buckets: int, ngrams: int) -> bool:
    """Whether ``num_buckets`` and ``ngrams`` can use the compiled featuriser (else pure Python)."""
    return ngrams <= 2 and num_buckets <= _MAX_COMPILED_B


def ngram_buckets(
    texts: Sequence[str], num_buckets: int, ngrams: int, featurizer: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(unigram buckets, bigram buckets, tokens per text) of ``texts`` on the compiled path, through the
    process's n-gram cache for ``num_buckets``."""
    cache = _CACHES.get(num_buckets)
    if cache is None:
        cache = _CACHES[num_buckets] = _NgramCache(num_buckets)
    return cache.buckets(texts, ngrams, "re" if featurizer == "compat" else "compiled")


def _featurize_compiled(
    texts: Sequence[str], num_buckets: int, ngrams: int, featurizer: str
) -> tuple[sp.csr_matrix, np.ndarray]:
    ubk, bbk, n_tok = ngram_buckets(texts, num_buckets, ngrams, featurizer)
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
    if has_compiled_path(B, n):
        parts = [
            _featurize_compiled(texts[lo:hi], B, n, featurizer) for lo, hi in text_blocks(texts, CHUNK_DOCS)
        ]
        if not parts:
            parts = [_featurize_compiled([], B, n, featurizer)]
        X = sp.vstack([x for x, _ in parts], format="csr")
        n_tokens = np.concatenate([t for _, t in parts])
    else:
        X, n_tokens = _featurize_python(texts, B, n)
    return (X, n_tokens) if return_n_tokens else X


def text_blocks(texts: Sequence[Any], chunk_docs: int) -> Iterable[tuple[int, int]]:
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
    if has_compiled_path(B, n):
        counts = np.zeros(B, dtype=np.int64)
        for lo, hi in text_blocks(texts, chunk_docs):
            ubk, bbk, _ = ngram_buckets([str(t) for t in texts[lo:hi]], B, n, featurizer)
            add_counts(ubk, bbk, counts)
        return counts.astype(np.float64)
    total = np.zeros(B, dtype=np.float64)
    for lo, hi in text_blocks(texts, chunk_docs):
        X = featurize(texts[lo:hi], B, n, featurizer)
        total += np.asarray(X.sum(axis=0)).ravel()
    return total


@njit(cache=True)
def add_counts(ubk, bbk, counts):
    """``counts[b] += 1`` for every unigram bucket ``ubk`` and bigram bucket ``bbk``."""
    for i in range(ubk.size):
        counts[ubk[i]] += 1
    for i in range(bbk.size):
        counts[bbk[i]] += 1
