"""D4 (Tirumala et al. 2023): SemDeDup, then SSL prototypes on the survivors.

1. SemDeDup (:mod:`dqreview.metrics.semdedup`) over the whole pool down to a kept fraction
   ``dedup_fraction_kept`` (R_dedup, default 0.75 → ε chosen to remove 25%), or with ``eps`` given.
2. Spherical k-means with ``k2`` clusters (default ``k``) on the survivors only.
3. Survivors score their cosine distance to the nearest survivor centroid (HIGH = far from the
   prototype = kept first; D4 drops the closest-to-centroid). Removed documents score
   ``−1 − M_j`` (M_j = their max similarity to an earlier-ranked cluster member, > 1 − ε > 0), i.e.
   below −1 < 0 ≤ every survivor: they rank last under keep=high, the most unique of them first;
   remaining exact ties are broken by the selection's hash(id, seed).

keep=low (prototypical survivors first) is the ablation; NOTE that a plain ascending sort puts the
removed documents FIRST under keep=low — the ``removed`` column marks them for a selection that must
rank them last in both directions.

As for SemDeDup, ``fit`` works over the whole pool and ``score`` is a lookup by id.
"""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
import pandas as pd

from dqreview.errors import DQError
from dqreview.metrics.base import DocumentScorer
from dqreview.metrics.inputs import POOL_EMBEDDINGS, POOL_IDS
from dqreview.metrics.prototypes import distance_to_nearest, l2_normalise, spherical_kmeans
from dqreview.metrics.semdedup import ClusterDedupParams, finish_state, scores_from_state, semdedup_core
from dqreview.params import Ge, Gt, Le

#: SemDeDup's kept fraction when neither ``dedup_fraction_kept`` nor ``eps`` is given (R_dedup).
DEFAULT_FRACTION_KEPT = 0.75


class D4Params(ClusterDedupParams):
    """SemDeDup's parameters (:class:`~dqreview.metrics.semdedup.ClusterDedupParams`) plus
    ``dedup_fraction_kept`` (in (0, 1]; 0.75 unless ``eps`` is given; not both) and ``k2`` survivor
    clusters (default ``k``)."""

    dedup_fraction_kept: Annotated[float, Gt(0), Le(1)] | None = None
    k2: Annotated[int, Ge(1)] | None = None

    def check(self, where: str) -> None:
        if self.eps is not None and self.dedup_fraction_kept is not None:
            self.fail(where, "dedup_fraction_kept", "give either eps or dedup_fraction_kept, not both")

    @property
    def remove_fraction(self) -> float | None:
        """The fraction SemDeDup removes (None when ``eps`` is given)."""
        if self.eps is not None:
            return None
        kept = DEFAULT_FRACTION_KEPT if self.dedup_fraction_kept is None else self.dedup_fraction_kept
        return 1.0 - float(kept)

    @property
    def survivor_k(self) -> int:
        """Clusters of the survivors: ``k2``, else ``k``."""
        return self.k if self.k2 is None else self.k2


def d4_state(
    X: np.ndarray,
    ids: np.ndarray,
    k: int,
    k2: int,
    seed: int = 0,
    keep: str = "hard",
    max_cluster: int = 20000,
    n_iter: int = 50,
    n_init: int = 1,
    eps: float | None = None,
    remove_fraction: float | None = 0.25,
) -> dict[str, np.ndarray]:
    """SemDeDup (threshold ``eps``, or ε removing ``remove_fraction``), re-cluster the survivors into
    ``k2`` clusters, score.

    Returns
    -------
    dict
        SemDeDup's state (``ids``, ``removed``, ``duplicate_of``, ``eps``, ...; its ``score`` renamed
        ``dedup_score``, its ``cluster`` renamed ``dedup_cluster``) plus ``score`` (the D4 score),
        ``cluster`` (survivor cluster, −1 for removed) and ``survivor_centroids`` (k2, d).
    """
    ids = np.asarray(ids).astype(str)
    X = l2_normalise(X)
    if k > len(X):
        raise DQError(
            f"d4: k={k} exceeds the number of pool documents n={len(X)}; lower the variant's k to at most "
            f"{len(X)}"
        )
    core = semdedup_core(X, ids, k, seed, keep, max_cluster, n_iter, n_init)
    state = finish_state(core, ids, eps, remove_fraction)
    removed = state["removed"]
    survivors = np.flatnonzero(~removed)
    if survivors.size < k2:
        raise DQError(
            f"d4: k2={k2} exceeds the {survivors.size} SemDeDup survivors; lower the variant's k2 or keep "
            "more (dedup_fraction_kept)"
        )
    C2 = spherical_kmeans(X[survivors], k2, seed, n_iter=n_iter, n_init=n_init)
    dist, nearest, _ = distance_to_nearest(X[survivors], C2, "cosine")
    score = -1.0 - np.where(np.isfinite(core["max_sim"]), core["max_sim"], 0.0)  # removed: < −1
    score[survivors] = np.maximum(dist, 0.0)
    cluster = np.full(ids.size, -1, dtype=np.int64)
    cluster[survivors] = nearest
    state["dedup_score"] = state.pop("score")
    state["dedup_cluster"] = state.pop("cluster")
    state.update({"score": score, "cluster": cluster, "survivor_centroids": C2})
    return state


class D4(DocumentScorer):
    """SemDeDup, then prototypes of the survivors (HIGH = far from them); keep=low is the ablation."""

    Params = D4Params
    keep = ("high", "low")
    family = "dedup"
    deduplicates = True
    fit_inputs = (POOL_EMBEDDINGS, POOL_IDS)

    def fit(self, inputs: dict[str, Any], params: D4Params) -> dict[str, np.ndarray]:
        """:func:`d4_state` over the whole pool."""
        p = params
        return d4_state(
            inputs["pool_embeddings"], inputs["pool_ids"], p.k, p.survivor_k, p.seed, p.keep, p.max_cluster,
            p.n_iter, p.n_init, p.eps, p.remove_fraction,
        )  # fmt: skip

    def score(self, docs, features, state, params: D4Params) -> pd.DataFrame:
        """Each document's D4 score, looked up by id: ``id``, ``score``, ``removed`` (by SemDeDup),
        ``cluster`` (survivor cluster, −1 if removed), ``duplicate_of``, in ``docs`` order."""
        return scores_from_state(docs, state, "d4")


METHOD = D4()
