"""SemDeDup (Abbas et al. 2023): remove semantic near-duplicates inside spherical k-means clusters.

Algorithm (a transcription of ``facebookresearch/SemDeDup`` ``semdedup.py``, per cluster):

1. L2-normalise the pool embeddings; spherical k-means with ``k`` clusters. Any cluster with more than
   ``max_cluster`` rows is re-clustered (spherical k-means with ``ceil(size / max_cluster)``, at least
   2, clusters) recursively until every cluster fits; when k-means cannot split a cluster (e.g. all
   rows identical) it is cut into ``max_cluster``-row pieces in ranking order (see below). Pairs that
   end up in different clusters are never compared — the same approximation as the paper's.
2. Inside each cluster, rank the members (``keep``): ``"hard"`` = farthest from the centroid first (the
   paper's default, ``which_to_keep=hard``), ``"easy"`` = closest first, ``"random"`` = by
   ``unit_uniform(id, seed)``. Exact ties are broken by id, so the result does not depend on row
   order or on how the pool is sharded.
3. ``M_j`` = max cosine similarity of member j to ANY member ranked before it — kept *or removed*, as
   in the reference code (strict upper triangle of the similarity matrix; docs/methods.md, "SemDeDup").
   Member j is removed iff ``M_j > 1 − ε``.

The greedy rule is order dependent and is NOT connected components. Take a ~ b and b ~ c similar,
a and c not: ranked (a, b, c), b is removed as a duplicate of a and c as a duplicate of b — even
though b itself was removed — so only a survives; ranked (a, c, b), a and c both survive and b is
removed. Connected components would always keep exactly one of {a, b, c}; a rule comparing only with
*kept* members would keep c in the first order. Changing ``keep`` changes which members survive.

Because ``M_j`` does not depend on ε, it is computed once; removal is ``1 − M_j < ε``, so ε for a
requested removal fraction (``remove_fraction``) is a quantile of ``1 − M_j`` (exact up to ties),
and no bisection is needed.

Score = ``1 − M_j`` (HIGH = unique; the first-ranked member of each cluster gets 1.0). ``fit`` does all
the work over the whole pool and stores per-row results keyed by ``pool_ids``; ``score`` is a lookup by
id, so any shard split gives identical scores. Memory: the pool embeddings plus one similarity block
of at most ``block_elems`` float64 per step (the per-cluster matrix is computed in row blocks).
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd

from dqreview.errors import DQError
from dqreview.hashing import unit_uniform
from dqreview.metrics.base import DocumentScorer
from dqreview.metrics.inputs import POOL_EMBEDDINGS, POOL_IDS, Input, in_static_space
from dqreview.metrics.prototypes import (
    assigned_similarity,
    float32_dot_margin,
    l2_normalise,
    nearest_centroid,
    spherical_kmeans,
)
from dqreview.params import Ge, Le, Lt, Params, RunSeed

#: Member-ranking policies inside a cluster.
KEEP_POLICIES = ("hard", "easy", "random")

#: Largest similarity block (elements of float64) computed at once inside a cluster.
BLOCK_ELEMS = 1 << 22


# --- parameters ---------------------------------------------------------------------------------


class ClusterDedupParams(Params):
    """The parameters SemDeDup and D4 share: ``k`` clusters (required), k-means ``seed`` (also of the
    ``random`` ranking), ``n_iter``, ``n_init``; the member ranking ``keep``; giant clusters above
    ``max_cluster`` rows are re-clustered; ``eps``: remove a member whose similarity to an earlier-ranked
    one exceeds 1 − ε."""

    k: Annotated[int, Ge(1)]
    seed: RunSeed = 0
    keep: Literal["hard", "easy", "random"] = "hard"
    max_cluster: Annotated[int, Ge(2)] = 20000
    n_iter: Annotated[int, Ge(1)] = 50
    n_init: Annotated[int, Ge(1)] = 1
    eps: Annotated[float, Ge(0), Le(2)] | None = None


class SemDeDupParams(ClusterDedupParams):
    """:class:`ClusterDedupParams` plus ``remove_fraction`` (in [0, 1)): ε chosen to remove that
    fraction of the pool. Exactly one of ``eps`` and ``remove_fraction`` is given. ``space``: the
    sentence ``encoder``'s embeddings or the distilled ``static`` encoder's (``results/embed-static``)."""

    remove_fraction: Annotated[float, Ge(0), Lt(1)] | None = None
    space: Literal["encoder", "static"] = "encoder"

    def check(self, where: str) -> None:
        if self.eps is not None and self.remove_fraction is not None:
            self.fail(where, "remove_fraction", "give either eps or remove_fraction, not both")
        if self.eps is None and self.remove_fraction is None:
            self.fail(
                where, "eps", "give eps (e.g. eps: 0.01) or remove_fraction (e.g. remove_fraction: 0.25)"
            )


# --- clustering ---------------------------------------------------------------------------------


def _id_rank(ids: np.ndarray) -> np.ndarray:
    """Rank of each id in sorted order (the row-order-free tie-break)."""
    order = np.argsort(ids, kind="stable")
    rank = np.empty(len(ids), dtype=np.int64)
    rank[order] = np.arange(len(ids))
    return rank


def rank_members(
    sim_to_centroid: np.ndarray, ids_rank: np.ndarray, keep: str, rand: np.ndarray | None = None
) -> np.ndarray:
    """Order (positions into the member arrays) in which a cluster's members are ranked.

    ``hard``: ascending similarity to the centroid (farthest first); ``easy``: descending;
    ``random``: ascending ``rand`` (``unit_uniform(id, seed)``). Ties by ``ids_rank``.
    """
    if keep == "hard":
        primary = sim_to_centroid
    elif keep == "easy":
        primary = -sim_to_centroid
    elif keep == "random":
        primary = rand
    else:
        raise DQError(f"semdedup: unknown ranking policy {keep!r}; use one of {', '.join(KEEP_POLICIES)}")
    return np.lexsort((ids_rank, primary))


def cluster_with_split(
    X: np.ndarray,
    k: int,
    seed: int,
    max_cluster: int,
    n_iter: int = 50,
    n_init: int = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """Spherical k-means, then giant clusters re-clustered until none exceeds ``max_cluster`` rows.

    Parameters
    ----------
    X : ndarray (n, d)
        Unit rows.

    Returns
    -------
    labels : ndarray (n,), int64
        Final cluster of each row, 0..m−1 (m ≥ k when clusters were split; empty clusters dropped).
    centroids : ndarray (m, d), float64
        Unit centroid of each final cluster (the k-means centroid that defined it; for a piece cut
        from an unsplittable cluster, its parent's centroid).
    """
    n = X.shape[0]
    C = spherical_kmeans(X, k, seed, n_iter=n_iter, n_init=n_init)  # k > n: a DQError
    _, labels = nearest_centroid(X, C)
    final_members: list[np.ndarray] = []
    final_centroids: list[np.ndarray] = []
    stack = [(np.flatnonzero(labels == j), C[j].astype(np.float64)) for j in range(C.shape[0])]
    stack.reverse()
    while stack:
        members, centroid = stack.pop()
        if members.size == 0:
            continue
        if members.size <= max_cluster:
            final_members.append(members)
            final_centroids.append(centroid)
            continue
        sub_k = max(2, math.ceil(members.size / max_cluster))
        sub = X[members]
        Cs = spherical_kmeans(sub, sub_k, seed, n_iter=n_iter, n_init=n_init)
        _, sub_labels = nearest_centroid(sub, Cs)
        parts = [members[sub_labels == j] for j in range(sub_k)]
        if max(p.size for p in parts) == members.size:  # k-means made no progress: cut in pieces
            sims = sub.astype(np.float64) @ centroid
            order = members[np.lexsort((members, sims))]
            for lo in range(0, order.size, max_cluster):
                final_members.append(np.sort(order[lo : lo + max_cluster]))
                final_centroids.append(centroid)
            continue
        for j in reversed(range(sub_k)):
            stack.append((parts[j], Cs[j].astype(np.float64)))
    out = np.empty(n, dtype=np.int64)
    for c, members in enumerate(final_members):
        out[members] = c
    return out, np.asarray(final_centroids, dtype=np.float64)


# --- the per-cluster rule -----------------------------------------------------------------------


def max_sim_to_earlier(E: np.ndarray, block_elems: int = BLOCK_ELEMS) -> tuple[np.ndarray, np.ndarray]:
    """For rows of ``E`` in ranking order: max cosine similarity to any earlier row, and its position.

    Parameters
    ----------
    E : ndarray (m, d)
        Unit rows of one cluster, already in ranking order.
    block_elems : int
        Largest similarity block (rows × m) computed at once.

    Returns
    -------
    max_sim : ndarray (m,), float64
        ``max_{i<j} E_i·E_j`` in float64; ``-inf`` for the first row.
    argmax : ndarray (m,), int64
        The earlier position attaining it in float64 (first on ties); −1 for the first row.

    Notes
    -----
    float32 rows are compared in float32 (the O(m²d) product at twice float64's speed; the reference
    code's own precision). A product of ``d`` terms of unit vectors is then off by at most ``d·2⁻²⁴``:
    a row whose best and second-best earlier rows are closer than twice that is recomputed in float64,
    and every winner's similarity is recomputed in float64, so the result is float64's.
    """
    m = E.shape[0]
    single = E.dtype == np.float32
    E = E if single else np.asarray(E, dtype=np.float64)
    margin = float32_dot_margin(E.shape[1]) if single else 0.0
    max_sim = np.full(m, -np.inf)
    argmax = np.full(m, -1, dtype=np.int64)
    if m <= 1:
        return max_sim, argmax
    step = max(1, min(m, block_elems // m))
    later = np.triu(np.ones((step, step), dtype=bool))  # column i >= row j inside the diagonal block
    for lo in range(1, m, step):
        hi = min(m, lo + step)
        h = hi - lo
        S = E[lo:hi] @ E[:hi].T  # rows j in [lo, hi), columns i < hi
        S[:, lo:hi][later[:h, :h]] = -np.inf  # keep only i < j
        at = np.arange(h)
        best = np.argmax(S, axis=1)
        if single:
            # candidates: earlier rows within twice the float32 error of the float32 best
            near = S >= (S[at, best] - 2 * margin)[:, None]
            close = np.flatnonzero(near.sum(axis=1) > 1)
            if close.size:
                rows, cols = np.nonzero(near[close])
                exact = np.einsum(
                    "ij,ij->i", E[lo + close[rows]].astype(np.float64), E[cols].astype(np.float64)
                )
                first = np.lexsort((cols, -exact, rows))  # per row: largest, then first column
                keep = first[np.r_[True, rows[first][1:] != rows[first][:-1]]]
                best[close[rows[keep]]] = cols[keep]
            sims = np.einsum("ij,ij->i", E[lo:hi].astype(np.float64), E[best].astype(np.float64))
        else:
            sims = S[at, best]
        max_sim[lo:hi] = sims
        argmax[lo:hi] = best
    return max_sim, argmax


def semdedup_core(
    X: np.ndarray,
    ids: np.ndarray,
    k: int,
    seed: int = 0,
    keep: str = "hard",
    max_cluster: int = 20000,
    n_iter: int = 50,
    n_init: int = 1,
) -> dict[str, np.ndarray]:
    """Everything SemDeDup needs that does not depend on ε, per pool row.

    Returns
    -------
    dict
        ``max_sim`` (float64, −inf for the first-ranked member of a cluster), ``duplicate_of`` (int64
        row of the most similar earlier-ranked member, −1 if none), ``cluster`` (int64),
        ``rank`` (int64 position inside its cluster's ranking), ``sim_to_centroid`` (float64),
        ``centroids`` (m, d).
    """
    X = l2_normalise(X)
    ids = np.asarray(ids).astype(str)
    n = X.shape[0]
    if X.ndim != 2 or n != len(ids):
        raise DQError(f"semdedup: {X.shape} pool embeddings for {len(ids)} pool ids; rebuild the embeddings")
    if len(np.unique(ids)) != n:
        raise DQError("semdedup: the pool ids are not unique; rebuild the pool (ids must identify documents)")
    if k > n:
        raise DQError(
            f"semdedup: k={k} exceeds the number of pool documents n={n}; lower the variant's k to at most {n}"
        )
    labels, centroids = cluster_with_split(X, k, seed, max_cluster, n_iter, n_init)
    id_rank = _id_rank(ids)
    rand = unit_uniform(ids, seed) if keep == "random" else None
    sim_c = assigned_similarity(X, centroids, labels)
    max_sim = np.full(n, -np.inf)
    dup = np.full(n, -1, dtype=np.int64)
    rank = np.zeros(n, dtype=np.int64)
    by_cluster = np.argsort(labels, kind="stable")
    bounds = np.searchsorted(labels[by_cluster], np.arange(centroids.shape[0] + 1))
    for c in range(centroids.shape[0]):
        members = by_cluster[bounds[c] : bounds[c + 1]]
        if members.size == 0:
            continue
        order = members[
            rank_members(sim_c[members], id_rank[members], keep, None if rand is None else rand[members])
        ]
        ms, am = max_sim_to_earlier(X[order])
        max_sim[order] = ms
        dup[order] = np.where(am >= 0, order[np.maximum(am, 0)], -1)
        rank[order] = np.arange(order.size)
    return {
        "max_sim": max_sim,
        "duplicate_of": dup,
        "cluster": labels,
        "rank": rank,
        "sim_to_centroid": sim_c,
        "centroids": centroids,
    }


def removal_mask(max_sim: np.ndarray, eps: float) -> np.ndarray:
    """Remove j iff ``M_j > 1 − ε`` (first-ranked members, ``M = −inf``, are never removed)."""
    return np.asarray(max_sim) > 1.0 - eps


def eps_for_fraction(max_sim: np.ndarray, remove_fraction: float) -> float:
    """ε whose removal fraction is closest to ``remove_fraction`` (ties → the smaller ε).

    Removal is ``u_j = 1 − M_j < ε``, monotone in ε, so the answer is a quantile of ``u`` over
    the members that have an earlier-ranked member; ε is placed midway between consecutive distinct
    values of ``u`` so that the mask does not hinge on rounding.
    """
    max_sim = np.asarray(max_sim, dtype=np.float64)
    target = remove_fraction * max_sim.size
    u = np.sort(1.0 - max_sim[np.isfinite(max_sim)])
    if u.size == 0:
        return 0.0
    values, counts = np.unique(u, return_counts=True)
    candidates = np.concatenate([[0], np.cumsum(counts)])  # removed when cutting after values[i-1]
    best = int(np.argmin(np.abs(candidates - target)))
    if best == 0:  # remove nothing: ε just below the smallest u
        return float(values[0] / 2.0) if values[0] > 0 else float(values[0] - 1e-12)
    lo = values[best - 1]
    hi = values[best] if best < values.size else lo + 1e-9
    return float((lo + hi) / 2.0)


def finish_state(core: dict, ids: np.ndarray, eps: float | None, remove_fraction: float | None) -> dict:
    """Turn :func:`semdedup_core`'s output and a threshold into the saved state."""
    max_sim = core["max_sim"]
    if eps is None:
        if remove_fraction is None:
            raise DQError("semdedup: give a threshold: eps or remove_fraction")
        eps = eps_for_fraction(max_sim, remove_fraction)
    removed = removal_mask(max_sim, eps)
    score = np.where(np.isfinite(max_sim), 1.0 - max_sim, 1.0)
    dup = core["duplicate_of"]
    dup_ids = np.where(dup >= 0, ids[np.maximum(dup, 0)], "")
    return {
        "ids": ids,
        "score": score,
        "duplicate_of": dup_ids.astype(str),
        "removed": removed,
        "cluster": core["cluster"],
        "rank": core["rank"],
        "eps": np.float64(eps),
        "removed_fraction": np.float64(removed.mean() if removed.size else 0.0),
        "n_clusters": np.int64(core["centroids"].shape[0]),
    }


def lookup(docs: pd.DataFrame, state: dict, name: str = "semdedup") -> np.ndarray:
    """Rows of the state for ``docs["id"]``; a DQError naming the first unknown id."""
    if state is None or "ids" not in state:
        raise DQError(f"{name} needs its fitted state (state['ids'], ...); run its fit step first")
    index = pd.Index(np.asarray(state["ids"]).astype(str))
    rows = index.get_indexer(docs["id"].astype(str).to_numpy())
    if (rows < 0).any():
        bad = docs["id"].to_numpy()[rows < 0][0]
        raise DQError(
            f"{name}: document id {bad!r} ({int((rows < 0).sum())} in all) is not in the fitted pool; "
            "the state is stale or from another pool, rerun its fit step"
        )
    return rows


def scores_from_state(docs: pd.DataFrame, state: dict, name: str) -> pd.DataFrame:
    """The per-document columns of a pool-wide dedup state, for the rows of ``docs`` (looked up by id)."""
    rows = lookup(docs, state, name)
    return pd.DataFrame(
        {
            "id": docs["id"].to_numpy(),
            "score": np.asarray(state["score"], dtype=np.float64)[rows],
            "duplicate_of": np.asarray(state["duplicate_of"]).astype(str)[rows],
            "removed": np.asarray(state["removed"]).astype(bool)[rows],
            "cluster": np.asarray(state["cluster"], dtype=np.int64)[rows],
        }
    )


# --- protocol -----------------------------------------------------------------------------------


class SemDeDup(DocumentScorer):
    """SemDeDup over the whole pool at fit time (HIGH = unique); scoring looks each document up by id."""

    Params = SemDeDupParams
    keep = ("high",)
    family = "dedup"
    deduplicates = True
    fit_inputs = (POOL_EMBEDDINGS, POOL_IDS)

    def fit_inputs_for(self, params: SemDeDupParams) -> tuple[Input, ...]:
        return in_static_space(self.fit_inputs) if params.space == "static" else self.fit_inputs

    def fit(self, inputs: dict[str, Any], params: SemDeDupParams) -> dict[str, np.ndarray]:
        """Run SemDeDup over the whole pool.

        Returns
        -------
        dict
            Per pool row, keyed by ``ids``: ``score`` (1 − M, 1.0 for the first member of a cluster),
            ``duplicate_of`` (str id, "" if none), ``removed`` (bool), ``cluster`` (int64), ``rank``
            (int64); plus ``eps`` (0-d, the ε used), ``removed_fraction`` (0-d) and ``n_clusters`` (0-d).
        """
        p = params
        ids = np.asarray(inputs["pool_ids"]).astype(str)
        core = semdedup_core(
            inputs["pool_embeddings"], ids, p.k, p.seed, p.keep, p.max_cluster, p.n_iter, p.n_init
        )
        return finish_state(core, ids, p.eps, p.remove_fraction)

    def score(self, docs, features, state, params: SemDeDupParams) -> pd.DataFrame:
        """Each document's SemDeDup result, looked up by id: ``id``, ``score``, ``duplicate_of``,
        ``removed``, ``cluster``, in ``docs`` order."""
        return scores_from_state(docs, state, "semdedup")


METHOD = SemDeDup()
