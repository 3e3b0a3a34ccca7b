"""Data quality DQ(S, T) = α · alignment(S, T) + (1 − α) · diversity(S), maximised greedily.

The author's note (docs/methods.md, "DQ"): the coverage/diversity term must be a property of the selected SET —
with a per-document "1 − alignment" the sum would only rescale alignment. Both terms come from the cached
per-document Task2Vec vectors (no probe runs here):

* alignment of a document ``a_i = 1 − d(f_i, f_T)``, with ``f_T`` the target-ref set embedding (the mean of
  its documents' vectors) and ``d`` the Task2Vec cosine distance; the set's alignment term is the MEAN of
  its members' ``a_i``;
* diversity of a set = how well it covers ``k`` Task2Vec prototypes ``c_j`` (the :func:`task2vec_kmeans`
  centroids of the pool, ``cover="pool"``, or of target ref, ``cover="target"``; fitted on at most
  ``kmeans_sample`` documents, those with the smallest hash(id, seed)):
  ``div(S) = (1/k) Σ_j max_{s ∈ S} (1 − d(f_s, c_j))`` (0 for the empty set). It is a facility-location
  function — monotone and submodular — so it rewards spreading the selection over regions of Task2Vec space
  and, unlike a mean pairwise distance, does not reward isolated outliers (planted noise) for being far
  from everything.

Greedy: start empty; at step ``m`` add the candidate maximising
``J(S ∪ {c}) = α (A + a_c)/(m + 1) + (1 − α) (1/k) Σ_j max(cur_j, s_cj)`` where ``A`` is the running sum of
alignments and ``cur_j`` the running per-prototype maximum (incremental sums): O(n·k) per step with the
(n, k) similarity matrix computed once. Once no candidate can raise any ``cur_j`` the diversity term is
constant for every later step, so the remaining order is by alignment (exactly what the greedy would do).
Ties go to the smaller id, so the order does not depend on sharding.

score = −(greedy rank) (the first pick scores 0), so ``select`` takes prefixes of the greedy order;
keep=high only.
"""

from __future__ import annotations

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


class DQParams(Params):
    """``alpha`` (required, in [0, 1]; 1 = alignment only), ``k`` prototypes of the ``cover`` set, their
    k-means ``seed``, ``n_iter``, ``n_init``, and ``kmeans_sample`` (the prototypes are fitted on at most
    this many documents, drawn with ``seed``; every document is then scored against them)."""

    alpha: Annotated[float, Ge(0), Le(1)]
    k: Annotated[int, Ge(1)] = 20
    cover: Literal["pool", "target"] = "pool"
    seed: RunSeed = 0
    n_iter: Annotated[int, Ge(1)] = 30
    n_init: Annotated[int, Ge(1)] = 2
    kmeans_sample: Annotated[int, Ge(1)] = 2000


def greedy_order(
    alignment: np.ndarray, similarity: np.ndarray, alpha: float, tie_key: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Greedy maximisation of ``α · mean alignment + (1 − α) · facility-location coverage``.

    Parameters
    ----------
    alignment : (n,) per-document alignment ``a_i``.
    similarity : (n, k) similarity of each document to each prototype (``1 − d``).
    alpha : weight of the alignment term.
    tie_key : (n,), optional
        Candidates are scanned in ``argsort(tie_key)`` order and the first best wins (default: row order).

    Returns
    -------
    order : (n,) int64, row indices in pick order.
    objective : (n,) float64, ``J`` of the prefix after each pick.
    """
    a = np.asarray(alignment, dtype=np.float64)
    S = np.asarray(similarity, dtype=np.float64)
    n, k = S.shape
    if a.shape != (n,):
        raise DQError(f"dq: {a.shape} alignments for {n} documents")
    perm = np.argsort(tie_key, kind="stable") if tie_key is not None else np.arange(n)
    a, S = a[perm], S[perm]
    remaining = np.ones(n, dtype=bool)
    cur = np.zeros(k)  # best similarity to each prototype so far (empty set: 0)
    total_align = 0.0
    order, objective = [], []
    for m in range(n):
        cover = np.maximum(S, cur).mean(axis=1)
        if m and not (S[remaining] > cur).any():
            # coverage can no longer change: the rest goes by alignment (ties by scan order)
            rest = np.flatnonzero(remaining)
            rest = rest[np.argsort(-a[rest], kind="stable")]
            for i in rest:
                total_align += a[i]
                order.append(i)
                objective.append(alpha * total_align / len(order) + (1 - alpha) * cur.mean())
            break
        gain = alpha * (total_align + a) / (m + 1) + (1 - alpha) * cover
        gain[~remaining] = -np.inf
        best = int(np.argmax(gain))
        order.append(best)
        objective.append(float(gain[best]))
        remaining[best] = False
        total_align += a[best]
        cur = np.maximum(cur, S[best])
    return perm[np.asarray(order, dtype=np.int64)], np.asarray(objective)


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

    ``alignment`` is each document's ``1 − d(f_i, mean target vector)``; the coverage prototypes are
    :func:`task2vec_kmeans` centroids of the pool (``cover="pool"``) or of the target, fitted on at most
    ``kmeans_sample`` documents (the smallest hash(id, seed) of the pool, the first target rows).
    """
    X = np.asarray(pool_t2v, dtype=np.float64)
    ids = np.asarray(pool_ids).astype(str)
    T = np.asarray(target_t2v, dtype=np.float64)
    if X.ndim != 2 or len(X) != len(ids):
        raise DQError(f"dq: {X.shape} pool Task2Vec vectors for {len(ids)} pool ids; rebuild the t2v shards")
    if T.ndim != 2 or T.shape[1] != X.shape[1]:
        raise DQError(f"dq: target Task2Vec vectors {T.shape} do not match the pool's {X.shape}")
    alignment = 1.0 - distance_matrix(X, T.mean(axis=0), "cosine")[:, 0]
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
