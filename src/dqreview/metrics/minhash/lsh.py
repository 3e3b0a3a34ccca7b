"""Locality-sensitive hashing of MinHash signatures: the (bands, rows) design and candidate pairs.

``b`` bands × ``r`` rows chosen by :func:`optimal_bands` (a port of datasketch's ``_optimal_param``);
documents sharing an identical band are candidates (:func:`lsh_candidates`).
"""

from __future__ import annotations

import numpy as np
from scipy.integrate import quad

from dqreview.errors import DQError

#: Candidate groups (identical band) larger than this emit a star (first member – others), not all pairs.
MAX_GROUP_PAIRS = 64


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
