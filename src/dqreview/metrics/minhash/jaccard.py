"""Jaccard similarity of shingle sets: verification of candidate pairs and the exact all-pairs join.

:func:`jaccard_pairs` is the dedup-quality report's ground truth: every pair of texts whose exact
shingle-set Jaccard is ≥ T (exact shingle ids; prefix-filter join, complete).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from dqreview.metrics.minhash.shingling import shingle_ids
from dqreview.textkernels.mix import GOLDEN64, fmix64

_U = np.uint64


def jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if (a or b) else 1.0


@njit(cache=True)
def distinct_sorted(values, off):
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
            h = fmix64(h * GOLDEN64 + _U(values[i]))
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
    vals, off = distinct_sorted(uid, doc_s)
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
