"""DSIR's weights: bucket distributions, the log ratio, per-document log importance weights, KL, and
the Gumbel keys of resampling ∝ w.

    log w(x) = Σ_j z_j(x) · (log(γ_j + 1e-8) − log(β_j + 1e-8))

for bucket counts z (:mod:`~dqreview.metrics.dsir.features`), target distribution γ and pool
distribution β.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import scipy.sparse as sp
from numba import njit

from dqreview.errors import DQError
from dqreview.hashing import unit_uniform
from dqreview.metrics.dsir.features import (
    CHUNK_DOCS,
    featurize,
    has_compiled_path,
    ngram_buckets,
    text_blocks,
)

#: Smoothing constants of the reference implementation.
LOG_EPS = 1e-8
KL_EPS = 1e-10
#: Memory for the dense per-document count rows of ``compat`` scoring.
DENSE_ROWS_BYTES = 32 * 2**20


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
    for lo, hi in text_blocks(texts, chunk_docs):
        part = [str(t) for t in texts[lo:hi]]
        if not has_compiled_path(B, n):
            X, n_tokens[lo:hi] = featurize(part, B, n, featurizer, True)
            scores[lo:hi] = log_importance_weights(X, lr)
            continue
        ubk, bbk, nt = ngram_buckets(part, B, n, featurizer)
        n_tokens[lo:hi] = nt
        if featurizer == "fast" or 8 * B > DENSE_ROWS_BYTES:  # (huge B: no dense rows; ≈ 1e-12 off)
            doc_sums(ubk, bbk, nt, lr, scores[lo:hi])
            continue
        rows = max(1, min(len(part), DENSE_ROWS_BYTES // (8 * B)))
        dense = np.empty((rows, B), dtype=np.float64)
        for a in range(0, len(part), rows):
            b = min(a + rows, len(part))
            doc_rows(ubk, bbk, nt, a, b, dense)
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
