"""Duplicate clusters and their representatives: connected components, exact-hash groups, the kept member."""

from __future__ import annotations

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from dqreview.hashing import stable_hash64


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
