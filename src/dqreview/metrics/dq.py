"""Data quality DQ(S, T) = α · alignment(S, T) + (1 − α) · diversity(S), maximised greedily.

The author's note (docs/methods.md, "DQ"): the coverage/diversity term must be a property of the selected SET —
with a per-document "1 − alignment" the sum would only rescale alignment. Both terms come from the cached
per-document Task2Vec vectors (no probe runs here):

* alignment of a document ``a_i = 1 − d(f_i, f_T)``, with ``f_T`` the target-ref set embedding (the mean of
  its documents' vectors) and ``d`` the Task2Vec cosine distance; the set's alignment term is the MEAN of
  its members' ``a_i``;
* diversity of a set = how well it covers a coverage set ``C`` of ``|C|`` points ``c_j``:
  ``div(S) = (1/|C|) Σ_j max_{s ∈ S} sim(f_s, c_j)`` (0 for the empty set), a facility-location function —
  monotone and submodular — so it rewards spreading the selection over regions of Task2Vec space and, unlike
  a mean pairwise distance, does not reward isolated outliers (planted noise) for being far from everything.
  ``C`` is chosen by ``cover``:

  - ``documents`` (what the configs use): every pool document (facility location over the ground set;
    nothing is drawn, so no seed); ``sample``: ``k`` pool documents, those with the smallest hash(id, seed)
    (for pools whose n² similarities do not fit in memory). ``sim`` = the cosine similarity of the raw
    Fisher vectors (an inner product of the L2-normalised vectors, one matrix product; the Task2Vec cosine
    normalises every PAIR by ``f_a + f_b`` and has no such form, so n·|C| of them would cost O(n·|C|·D)
    elementwise operations outside BLAS).
    Every pick covers its own point, so the term keeps growing until the picks have covered ``C``: it does
    not saturate before the budget as long as ``|C|`` is at least the number of documents the largest budget
    admits;
  - ``pool`` / ``target``: ``k`` :func:`task2vec_kmeans` centroids of the pool or of target ref (fitted on at
    most ``kmeans_sample`` documents, those with the smallest hash(id, seed)), ``sim = 1 − d`` (Task2Vec
    cosine). With ``k`` ≪ the budget this term SATURATES: once every prototype has its closest pool document
    picked, no pick changes it and the rest of the order is by alignment alone (measured in docs/methods.md).

Greedy (:func:`greedy_order`): start empty; at step ``m`` add the candidate maximising
``J(S ∪ {c}) = α (A + a_c)/(m + 1) + (1 − α) (div(S) + Δ_c)`` with ``A`` the running sum of alignments and
``Δ_c = (1/|C|) Σ_j max(0, sim(c, j) − cur_j)`` the coverage gain (``cur_j`` = the running per-point maximum).
Lazily (Minoux): ``Δ_c`` only shrinks as ``S`` grows (submodularity), so a stale ``Δ_c`` gives an upper bound
of the candidate's ``J``; candidates sit in √n buckets of consecutive alignment, and a step evaluates whole
buckets in the order of their bounds until the best candidate seen beats every other bucket's bound,
re-evaluating (O(|C|) each) only stale candidates with the highest bounds. The pick is the exact greedy argmax;
ties go to the smaller id (the scan order), so the order does not depend on sharding.
Cost: O(n·|C|·D) for the similarity matrix (float32, n·|C|·4 bytes of memory), then O(√n) per step plus
O(|C|) per re-evaluation (docs/methods.md, "DQ", has the measured scaling).

score = −(greedy rank) (the first pick scores 0), so ``select`` takes prefixes of the greedy order;
keep=high only. :func:`saturation_index` measures where the diversity term stops changing the order.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd

from dqreview.errors import DQError
from dqreview.hashing import unit_uniform
from dqreview.metrics.base import DocumentScorer
from dqreview.metrics.inputs import POOL_IDS, POOL_T2V, TARGET_T2V
from dqreview.metrics.t2v_align import task2vec_kmeans
from dqreview.params import Ge, Le, Params, RunSeed
from dqreview.task2vec import distance_matrix

#: Stale candidates re-evaluated at once when the best bound is stale (one (B, |C|) block).
REFRESH_BLOCK = 64


class DQParams(Params):
    """``alpha`` (required, in [0, 1]; 1 = alignment only); the coverage set ``cover`` (``documents``: every
    pool document, drawing nothing; ``sample``: ``k`` pool documents drawn with ``seed``, all of them when
    ``k`` ≥ the pool; ``pool`` / ``target``: ``k`` k-means prototypes with ``seed``, ``n_iter``, ``n_init``,
    fitted on at most ``kmeans_sample`` documents drawn with ``seed``; every document is then scored against
    them)."""

    alpha: Annotated[float, Ge(0), Le(1)]
    k: Annotated[int, Ge(1)] = 20
    cover: Literal["pool", "target", "documents", "sample"] = "pool"
    seed: RunSeed = 0
    n_iter: Annotated[int, Ge(1)] = 30
    n_init: Annotated[int, Ge(1)] = 2
    kmeans_sample: Annotated[int, Ge(1)] = 2000

    def run_seed_fields(self) -> list[str]:
        # the whole pool as the coverage set draws nothing: no scoring seed to fix or follow
        return [] if self.cover == "documents" else super().run_seed_fields()


def greedy_order(
    alignment: np.ndarray, similarity: np.ndarray, alpha: float, tie_key: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Exact lazy greedy maximisation of ``α · mean alignment + (1 − α) · facility-location coverage``.

    Parameters
    ----------
    alignment : (n,) per-document alignment ``a_i``.
    similarity : (n, |C|) similarity of each document to each coverage point.
    alpha : weight of the alignment term.
    tie_key : (n,), optional
        Candidates are scanned in ``argsort(tie_key)`` order and the first best wins (default: row order).

    Returns
    -------
    order : (n,) int64, row indices in pick order.
    objective : (n,) float64, ``J`` of the prefix after each pick.

    Notes
    -----
    Step ``m`` needs the candidate with the largest bound ``α (A + a_c)/(m + 1) + (1 − α) Δ_c`` (``Δ_c``
    possibly stale, an upper bound of the gain). The candidates sit in about √n buckets of consecutive
    alignment; a bucket's highest alignment with its highest gain bounds every candidate in it, so a step
    evaluates whole buckets (one vector operation each) in the order of their bounds until the best candidate
    seen beats every bucket not yet evaluated. A stale winner triggers the re-evaluation of the evaluated
    buckets' stale candidates with the highest bounds (:data:`REFRESH_BLOCK` at a time) and the step repeats.
    A step costs O(√n) instead of a pass over all ``n`` candidates (O(n²) for the whole order).
    """
    a = np.asarray(alignment, dtype=np.float64)
    S = np.asarray(similarity)
    if S.dtype not in (np.float32, np.float64):
        S = S.astype(np.float64)
    n, size = S.shape
    if a.shape != (n,):
        raise DQError(f"dq: {a.shape} alignments for {n} documents")
    perm = np.argsort(tie_key, kind="stable") if tie_key is not None else np.arange(n)
    a, S = a[perm], S[perm]
    cur = np.zeros(size, dtype=S.dtype)  # best similarity to each coverage point so far (empty set: 0)
    gain = np.maximum(S, 0).sum(axis=1, dtype=np.float64) / size  # Δ_c for the empty set (upper bounds later)
    fresh = np.zeros(n, dtype=np.int64)  # the step at which gain[c] was computed
    taken = np.zeros(n, dtype=bool)
    by_align = np.lexsort((np.arange(n), -a))  # highest alignment first
    n_buckets = max(1, math.isqrt(n))
    members = np.array_split(by_align, n_buckets)
    bucket_of = np.empty(n, dtype=np.int64)
    for b, rows in enumerate(members):
        bucket_of[rows] = b
    top_align = np.array([a[rows[0]] for rows in members])
    top_gain = np.array([gain[rows].max() for rows in members])
    alive = np.ones(n_buckets, dtype=bool)

    def update(b: int) -> None:
        left = members[b][~taken[members[b]]]
        members[b] = left
        alive[b] = len(left) > 0
        top_gain[b] = gain[left].max() if len(left) else 0.0

    total_align, coverage = 0.0, 0.0
    order, objective = np.empty(n, dtype=np.int64), np.empty(n)
    for m in range(n):
        while True:
            best, best_bound, seen = -1, -math.inf, []
            loose = alpha * (total_align + top_align) / (m + 1) + (1 - alpha) * top_gain
            loose[~alive] = -np.inf
            while True:
                b = int(np.argmax(loose))
                if best_bound > loose[b] or loose[b] == -np.inf:  # no candidate left can beat the best
                    break
                loose[b] = -np.inf
                rows = members[b]
                bound = alpha * (total_align + a[rows]) / (m + 1) + (1 - alpha) * gain[rows]
                top = bound.max()
                c = int(rows[bound == top].min())  # ties: the smallest row
                if top > best_bound or (top == best_bound and c < best):
                    best, best_bound = c, float(top)
                seen.append((rows, bound))
            if fresh[best] == m or gain[best] == 0.0:  # exact (a zero gain cannot shrink)
                break
            # the best bound is stale: re-evaluate the stale candidates with the highest bounds, scan again
            rows = np.concatenate([r for r, _ in seen])
            bound = np.concatenate([v for _, v in seen])
            stale = (fresh[rows] != m) & (gain[rows] > 0.0)
            rows, bound = rows[stale], bound[stale]
            if len(rows) > REFRESH_BLOCK:
                rows = rows[np.argpartition(-bound, REFRESH_BLOCK)[:REFRESH_BLOCK]]
            rows = np.union1d(rows, best)
            gain[rows] = np.maximum(S[rows] - cur, 0).sum(axis=1, dtype=np.float64) / size
            fresh[rows] = m
            for b in np.unique(bucket_of[rows]).tolist():
                top_gain[b] = gain[members[b]].max()
        order[m] = best
        taken[best] = True
        update(int(bucket_of[best]))
        total_align += a[best]
        np.maximum(cur, S[best], out=cur)
        coverage = float(cur.sum(dtype=np.float64)) / size
        objective[m] = alpha * total_align / (m + 1) + (1 - alpha) * coverage
    return perm[order], objective


def saturation_index(order: np.ndarray, alignment: np.ndarray, tie_key: np.ndarray | None = None) -> int:
    """The number of leading picks of ``order`` after which the rest is ordered by alignment alone.

    That is the first pick index from which on the diversity term no longer changes the order (0: the whole
    order is the alignment order; ``len(order)``: never — impossible, the last pick is trivially ordered).
    Ties in alignment go by ``tie_key`` (default: row index), as in :func:`greedy_order`.
    """
    a = np.asarray(alignment, dtype=np.float64)
    key = np.arange(len(a)) if tie_key is None else np.asarray(tie_key)
    pos = np.empty(len(a), dtype=np.int64)
    pos[np.lexsort((key, -a))] = np.arange(len(a))  # rank in the alignment order
    r = pos[np.asarray(order)]
    descents = np.flatnonzero(r[1:] < r[:-1])
    return int(descents[-1] + 1) if len(descents) else 0


def document_similarity(X: np.ndarray, ids: np.ndarray, k: int, seed: int) -> np.ndarray:
    """(n, |C|) float32 cosine similarity of every pool document to the coverage documents ``C``: the ``k``
    documents with the smallest hash(id, seed), in id order (all of them when ``k`` ≥ n)."""
    norms = np.linalg.norm(X, axis=1)
    if (norms == 0).any():
        raise DQError(
            f"dq: pool document {str(ids[np.flatnonzero(norms == 0)[0]])!r} has a zero Task2Vec vector (no "
            "cosine similarity); rebuild the t2v shards"
        )
    U = (X / norms[:, None]).astype(np.float32)
    if k >= len(ids):
        cover = np.argsort(ids, kind="stable")
    else:
        cover = np.argsort(unit_uniform(ids, seed), kind="stable")[:k]
        cover = cover[np.argsort(ids[cover], kind="stable")]
    return U @ U[cover].T


def greedy_state(
    pool_t2v: np.ndarray,
    pool_ids: np.ndarray,
    target_t2v: np.ndarray,
    alpha: float,
    k: int = 20,
    cover: str = "pool",
    seed: int = 0,
    n_iter: int = 30,
    n_init: int = 2,
    kmeans_sample: int = 2000,
) -> dict[str, np.ndarray]:
    """Greedy order of the whole pool: ``ids`` (str), ``rank`` (int64), ``alignment``, ``objective``.

    ``alignment`` is each document's ``1 − d(f_i, mean target vector)``; the coverage set is (``cover``)
    every pool document (``documents``) or ``k`` of them (``sample``: the smallest hash(id, seed); the whole
    pool when ``k`` ≥ its size) with the cosine similarity of their Fisher vectors, or ``k`` :func:`task2vec_kmeans` centroids of the pool
    (``cover="pool"``) or of the target, fitted on at most ``kmeans_sample`` documents (the smallest
    hash(id, seed) of the pool, the first target rows), with ``1 −`` the Task2Vec cosine distance.
    """
    X = np.asarray(pool_t2v, dtype=np.float64)
    ids = np.asarray(pool_ids).astype(str)
    T = np.asarray(target_t2v, dtype=np.float64)
    if X.ndim != 2 or len(X) != len(ids):
        raise DQError(f"dq: {X.shape} pool Task2Vec vectors for {len(ids)} pool ids; rebuild the t2v shards")
    if T.ndim != 2 or T.shape[1] != X.shape[1]:
        raise DQError(f"dq: target Task2Vec vectors {T.shape} do not match the pool's {X.shape}")
    alignment = 1.0 - distance_matrix(X, T.mean(axis=0), "cosine")[:, 0]
    if cover in ("documents", "sample"):
        similarity = document_similarity(X, ids, len(ids) if cover == "documents" else k, seed)
    else:
        base = X if cover == "pool" else T
        if k > len(base):
            raise DQError(
                f"dq: k={k} is more prototypes than the {len(base)} {cover} documents; lower the variant's k"
            )
        if len(base) > kmeans_sample:
            # the documents with the smallest hash(id, seed) (pool), so the sample does not depend on row order
            key = unit_uniform(ids, seed) if cover == "pool" else np.arange(len(base))
            base = base[np.sort(np.argsort(key, kind="stable")[:kmeans_sample])]
        centres = task2vec_kmeans(base, k, seed, "cosine", n_iter, n_init)
        similarity = 1.0 - distance_matrix(X, centres, "cosine")
    order, objective = greedy_order(alignment, similarity, alpha, tie_key=ids)
    rank = np.empty(len(ids), dtype=np.int64)
    rank[order] = np.arange(len(ids))
    obj = np.empty(len(ids))
    obj[order] = objective
    return {"ids": ids, "rank": rank, "alignment": alignment, "objective": obj}


def lookup_scores(docs: pd.DataFrame, state: dict | None) -> pd.DataFrame:
    """Each document's greedy rank from :func:`greedy_state`: ``id``, ``score`` (= −rank), ``rank``,
    ``alignment``, ``objective``."""
    if state is None or "ids" not in state:
        raise DQError("dq needs its fitted greedy order (state['ids']); run its fit step first")
    lookup = pd.Series(np.arange(len(state["ids"])), index=pd.Index(state["ids"].astype(str)))
    ids = docs["id"].astype(str)
    missing = ~ids.isin(lookup.index)
    if missing.any():
        raise DQError(
            f"dq: {int(missing.sum())} document(s) of this shard are not in the fitted pool (e.g. id "
            f"{ids[missing].iloc[0]!r}); the fit is stale, rerun it"
        )
    row = lookup.loc[ids].to_numpy()
    rank = state["rank"][row]
    return pd.DataFrame(
        {
            "id": docs["id"].to_numpy(),
            "score": -rank.astype(np.float64),
            "rank": rank,
            "alignment": state["alignment"][row],
            "objective": state["objective"][row],
        }
    )


class DQ(DocumentScorer):
    """DQ(S, T) maximised greedily over the whole pool at fit time; scoring looks up each document's rank."""

    Params = DQParams
    keep = ("high",)
    family = "target-aware"
    fit_inputs = (POOL_T2V, POOL_IDS, TARGET_T2V)

    def fit(self, inputs: dict[str, Any], params: DQParams) -> dict[str, np.ndarray]:
        p = params
        return greedy_state(
            inputs["pool_t2v"], inputs["pool_ids"], inputs["target_t2v"], p.alpha, p.k, p.cover, p.seed,
            p.n_iter, p.n_init, p.kmeans_sample,
        )  # fmt: skip

    def score(self, docs, features, state, params: DQParams) -> pd.DataFrame:
        return lookup_scores(docs, state)


METHOD = DQ()
