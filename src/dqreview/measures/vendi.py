"""Vendi score (Friedman & Dieng 2023) and its q-orders (Pasarkar & Dieng 2024).

A *reported quantity* (the diversity of a selection), not a selection metric: this module does not
follow the metric protocol of :mod:`dqreview.metrics` and is not in its registry.

Definitions (docs/methods.md, "Vendi"). For n items with a PSD similarity ``k`` (``k(x, x) = 1``) and kernel
matrix ``K``, let λ be the eigenvalues of ``K / n`` (they sum to 1). Then

* ``VS_1 = exp(-Σ λ log λ)``
* ``VS_q = exp(log(Σ λ^q) / (1 - q))`` for q ≥ 0, q ≠ 1
* ``VS_∞ = 1 / max λ``

``VS`` lies in ``[1, n]``: 1 when all items are identical, n when all are orthogonal; it is
non-increasing in q.

Three ways to compute it:

* :func:`vendi_primal` from an n×n kernel matrix (any PSD kernel; O(n³));
* :func:`vendi_dual` from embeddings, cosine kernel: the non-zero eigenvalues of ``X Xᵀ / n`` equal
  those of the d×d matrix ``Xᵀ X / n`` (O(n d² + d³));
* :class:`GramAccumulator`, the dual form streamed over shards: peak memory O(d²) plus one shard, so a
  million documents never form an n×n (or even n×d) matrix at once.

Round-off: eigenvalues ``λ ≤ 1e-10 · max λ`` (:data:`REL_EIG_THRESHOLD`), including the ±1e-16
values that eigensolvers return for a rank-deficient ``K`` and small negative values, are treated as
exact zeros and dropped, and the rest are renormalised to sum 1. Without this, low orders (q → 0)
would count round-off modes (e.g. VS_0 = 153 instead of 5 for 5 distinct vectors × 60 copies).
"""

from __future__ import annotations

import math

import numpy as np

from dqreview.errors import DQError

#: Eigenvalues at or below this fraction of the largest one are treated as round-off zeros.
REL_EIG_THRESHOLD = 1e-10


def _check_q(q: float) -> float:
    q = float(q)
    if math.isnan(q) or q < 0:
        raise DQError(f"Vendi order q must be a number >= 0 (or inf); got {q!r}")
    return q


def vendi_from_eigenvalues(eigs, q: float = 1) -> float:
    """Vendi score of order ``q`` from the eigenvalues of the (normalised) kernel matrix.

    Parameters
    ----------
    eigs : array_like
        Eigenvalues of ``K / n`` (or of the weighted matrix); they need not sum to 1 exactly.
    q : float, default 1
        Order, any ``q >= 0`` including ``numpy.inf``. ``q = 0`` gives the numerical rank.

    Returns
    -------
    float
        ``VS_q`` in ``[1, number of retained eigenvalues]``.

    Notes
    -----
    Treatment of round-off: eigenvalues ``<= 1e-10 * max(eigs)`` (:data:`REL_EIG_THRESHOLD`), which
    includes small negative ones, are dropped as zeros and the rest are renormalised to sum 1.

    Raises
    ------
    DQError
        If ``q < 0``, or the eigenvalues are empty, non-finite, or have no positive value.
    """
    q = _check_q(q)
    w = np.asarray(eigs, dtype=np.float64).ravel()
    if w.size == 0:
        raise DQError("Vendi score of an empty set is undefined (no eigenvalues)")
    if not np.all(np.isfinite(w)):
        raise DQError("Vendi score: the kernel has non-finite eigenvalues (NaN/inf in the input?)")
    top = w.max()
    if top <= 0:
        raise DQError("Vendi score: the kernel has no positive eigenvalue (is it PSD with k(x,x)=1?)")
    w = w[w > REL_EIG_THRESHOLD * top]
    w = w / w.sum()
    if q == 1:
        return float(np.exp(-np.sum(w * np.log(w))))
    if math.isinf(q):
        return float(1.0 / w.max())
    if q == 0:
        return float(w.size)
    # log Σ λ^q computed stably as logsumexp(q log λ)
    a = q * np.log(w)
    m = a.max()
    log_sum = m + np.log(np.sum(np.exp(a - m)))
    return float(np.exp(log_sum / (1.0 - q)))


def _normalise_weights(weights, n: int) -> np.ndarray:
    p = np.asarray(weights, dtype=np.float64).ravel()
    if p.shape != (n,):
        raise DQError(f"Vendi weights: expected {n} weights (one per item), got shape {p.shape}")
    if not np.all(np.isfinite(p)) or np.any(p < 0):
        raise DQError("Vendi weights must be finite and >= 0")
    s = p.sum()
    if s <= 0:
        raise DQError("Vendi weights sum to 0; give at least one item a positive weight")
    return p / s


def vendi_primal(K, q: float = 1, weights=None) -> float:
    """Vendi score from a full n×n kernel matrix.

    Parameters
    ----------
    K : array_like, shape (n, n)
        Symmetric PSD similarity matrix with unit diagonal (not checked beyond shape/finiteness).
    q : float, default 1
        Order (``>= 0`` or ``inf``).
    weights : array_like, shape (n,), optional
        Item prevalences p (normalised here to sum 1); the eigenvalues are those of
        ``K ∘ √p √pᵀ`` instead of ``K / n``.

    Returns
    -------
    float
        ``VS_q``; see :func:`vendi_from_eigenvalues` for the round-off treatment.
    """
    K = np.asarray(K, dtype=np.float64)
    if K.ndim != 2 or K.shape[0] != K.shape[1] or K.shape[0] == 0:
        raise DQError(f"Vendi kernel matrix must be square and non-empty; got shape {K.shape}")
    n = K.shape[0]
    if weights is None:
        M = K / n
    else:
        s = np.sqrt(_normalise_weights(weights, n))
        M = K * np.outer(s, s)
    return vendi_from_eigenvalues(np.linalg.eigvalsh(M), q)


#: float32 rows this close to unit norm are used as they are (float32 round-off is ~6e-8 per element).
UNIT_TOL_F32 = 1e-6


def _normalise_rows(X: np.ndarray, dtype, offset: int = 0) -> np.ndarray:
    X = np.asarray(X, dtype=dtype)
    if X.ndim != 2:
        raise DQError(f"Vendi embeddings must be a 2-D array (n, d); got shape {X.shape}")
    norms = np.linalg.norm(X, axis=1)
    bad = np.flatnonzero(~np.isfinite(norms) | (norms == 0))
    if bad.size:
        raise DQError(
            f"Vendi embeddings: row {int(bad[0]) + offset} is all zeros or not finite "
            f"({bad.size} such rows); the cosine kernel needs non-zero finite rows"
        )
    if np.dtype(dtype) == np.float32 and np.all(np.abs(norms - 1.0) <= UNIT_TOL_F32):
        return X  # already unit rows (our embeddings are): skip a copy of the shard
    return X / norms[:, None].astype(dtype, copy=False)


def vendi_dual(X, q: float = 1, weights=None, dtype=np.float64) -> float:
    """Vendi score of the cosine kernel via the d×d dual (``Xᵀ X / n``).

    Parameters
    ----------
    X : array_like, shape (n, d)
        Embeddings. Rows are L2-normalised *inside* this function (the cosine kernel), so callers
        need not normalise.
    q : float, default 1
        Order (``>= 0`` or ``inf``).
    weights : array_like, shape (n,), optional
        Item prevalences p (normalised to sum 1); uses ``Xᵀ diag(p) X``, whose non-zero eigenvalues
        equal those of ``K ∘ √p √pᵀ``.
    dtype : numpy dtype, default float64
        Precision of the normalisation and the ``Xᵀ X`` product; the eigen-decomposition is always
        float64.

    Returns
    -------
    float
        ``VS_q``, equal to :func:`vendi_primal` on ``X Xᵀ`` (normalised rows) up to round-off.
    """
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[0] == 0 or X.shape[1] == 0:
        raise DQError(f"Vendi embeddings must be a non-empty 2-D array (n, d); got shape {X.shape}")
    acc = GramAccumulator(X.shape[1], dtype=dtype)
    acc.add(X, weights=None if weights is None else _normalise_weights(weights, X.shape[0]))
    return acc.vendi(q)


class GramAccumulator:
    """Streaming dual Vendi: accumulate ``Σ xᵢ xᵢᵀ`` (rows L2-normalised) shard by shard.

    Peak memory is O(d²) plus one shard; n×n is never formed.

    Parameters
    ----------
    d : int
        Embedding dimension.
    dtype : numpy dtype, default float64
        Precision of the per-shard normalisation and ``Xᵀ X`` product (float32 is ~2× faster); each
        shard's product is added to a float64 accumulator and the eigen-decomposition is float64.

    Examples
    --------
    >>> acc = GramAccumulator(384)
    >>> for shard in shards:              # doctest: +SKIP
    ...     acc.add(shard)
    >>> acc.vendi(q=1)                     # doctest: +SKIP
    """

    def __init__(self, d: int, dtype=np.float64):
        if int(d) <= 0:
            raise DQError(f"GramAccumulator: dimension d must be positive; got {d}")
        self.d = int(d)
        self.dtype = np.dtype(dtype)
        self.gram = np.zeros((self.d, self.d), dtype=np.float64)
        self.total_weight = 0.0
        self.n = 0

    def add(self, X_shard, weights=None) -> GramAccumulator:
        """Add one shard of embeddings (rows are L2-normalised here).

        Parameters
        ----------
        X_shard : array_like, shape (m, d)
        weights : array_like, shape (m,), optional
            Non-negative, *unnormalised* item weights (prevalences); the accumulator divides by the
            total weight over all shards at the end. Unweighted rows count with weight 1, so do not
            mix weighted and unweighted shards unless that is meant.
        """
        Xn = _normalise_rows(X_shard, self.dtype, offset=self.n)
        m, d = Xn.shape
        if d != self.d:
            raise DQError(f"GramAccumulator: shard has dimension {d}, expected {self.d}")
        if m == 0:
            return self
        if weights is None:
            self.gram += (Xn.T @ Xn).astype(np.float64, copy=False)
            self.total_weight += float(m)
        else:
            w = np.asarray(weights, dtype=np.float64).ravel()
            if w.shape != (m,) or not np.all(np.isfinite(w)) or np.any(w < 0):
                raise DQError(f"GramAccumulator: weights must be {m} finite values >= 0")
            Xw = Xn * w.astype(self.dtype)[:, None]
            self.gram += (Xw.T @ Xn).astype(np.float64, copy=False)
            self.total_weight += float(w.sum())
        self.n += m
        return self

    def eigenvalues(self) -> np.ndarray:
        """Eigenvalues of the normalised Gram matrix (sum 1), before round-off clipping."""
        if self.total_weight <= 0:
            raise DQError("GramAccumulator: no items (or zero total weight) were added")
        G = (self.gram + self.gram.T) / (2.0 * self.total_weight)
        return np.linalg.eigvalsh(G)

    def vendi(self, q: float = 1) -> float:
        """``VS_q`` of everything added so far (see :func:`vendi_from_eigenvalues`)."""
        return vendi_from_eigenvalues(self.eigenvalues(), q)


def vendi_of_sets(sets, q: float = 1, dtype=np.float64, shard_rows: int = 100_000) -> dict:
    """Dual Vendi score of several embedding sets, e.g. ``{"method_a": X_a, "method_b": X_b}``.

    Each set is streamed through a :class:`GramAccumulator` in chunks of ``shard_rows`` rows.
    Returns ``{name: VS_q}``.
    """
    out = {}
    for name, X in sets.items():
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[0] == 0:
            raise DQError(f"Vendi set {name!r}: expected a non-empty (n, d) array; got shape {X.shape}")
        acc = GramAccumulator(X.shape[1], dtype=dtype)
        for start in range(0, X.shape[0], shard_rows):
            acc.add(X[start : start + shard_rows])
        out[name] = acc.vendi(q)
    return out
