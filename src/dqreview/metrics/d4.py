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

import numpy as np
import pandas as pd

from dqreview.errors import DQError
from dqreview.metrics.prototypes import _l2_normalise, distance_to_nearest, spherical_kmeans
from dqreview.metrics.semdedup import _int, finish_state, scores_from_state, semdedup_core
from dqreview.metrics.semdedup import check_params as _semdedup_params

PER_DOCUMENT = True  # scores come from the state fitted once over the whole pool
#: scores carry a `removed` column: select ranks those last, reports judge them on planted duplicates
REMOVES = True
KEEP = ("high", "low")
NEEDS: tuple[str, ...] = ()
FIT_NEEDS = ("pool_embeddings", "pool_ids")

_KEY = "metrics[d4].variants[].params"


def check_params(params: dict | None) -> dict:
    """SemDeDup's parameters (``k``, ``seed``, ``keep``, ``max_cluster``, ``n_iter``, ``n_init``, ``eps``)
    plus ``dedup_fraction_kept`` (default 0.75 unless ``eps`` is given) and ``k2`` (default ``k``)."""
    params = dict(params or {})
    if "remove_fraction" in params:
        raise DQError(f"{_KEY}.remove_fraction: not a d4 parameter; use dedup_fraction_kept (e.g. 0.75)")
    kept = params.pop("dedup_fraction_kept", None)
    if kept is not None and params.get("eps") is not None:
        raise DQError(f"{_KEY}: give either eps or dedup_fraction_kept, not both")
    if kept is None and params.get("eps") is None:
        kept = 0.75
    if kept is not None:
        if isinstance(kept, bool) or not isinstance(kept, int | float) or not 0 < float(kept) <= 1:
            raise DQError(f"{_KEY}.dedup_fraction_kept must be a number in (0, 1]; got {kept!r}")
        params["remove_fraction"] = 1.0 - float(kept)
    k2 = params.pop("k2", None)
    out = _semdedup_params(params, key=_KEY)
    out["k2"] = out["k"] if k2 is None else _int({"k2": k2}, "k2", None, _KEY, 1)
    return out


def fit(inputs: dict[str, np.ndarray], params: dict) -> dict[str, np.ndarray]:
    """SemDeDup, re-cluster the survivors, score.

    Returns
    -------
    dict
        SemDeDup's state (``ids``, ``removed``, ``duplicate_of``, ``eps``, ...; its ``score`` renamed
        ``dedup_score``, its ``cluster`` renamed ``dedup_cluster``) plus ``score`` (the D4 score),
        ``cluster`` (survivor cluster, −1 for removed) and ``survivor_centroids`` (k2, d).
    """
    p = check_params(params)
    ids = np.asarray(inputs["pool_ids"]).astype(str)
    X = _l2_normalise(inputs["pool_embeddings"])
    core = semdedup_core(
        X, ids, p["k"], p["seed"], p["keep"], p["max_cluster"], p["n_iter"], p["n_init"], _KEY
    )
    state = finish_state(core, ids, p["eps"], p["remove_fraction"])
    removed = state["removed"]
    survivors = np.flatnonzero(~removed)
    if survivors.size < p["k2"]:
        raise DQError(
            f"{_KEY}.k2={p['k2']} exceeds the {survivors.size} SemDeDup survivors; lower k2 or keep more "
            "(dedup_fraction_kept)"
        )
    C2 = spherical_kmeans(
        X[survivors], p["k2"], p["seed"], n_iter=p["n_iter"], n_init=p["n_init"], key=f"{_KEY}.k2"
    )
    dist, nearest, _ = distance_to_nearest(X[survivors], C2, "cosine")
    score = -1.0 - np.where(np.isfinite(core["max_sim"]), core["max_sim"], 0.0)  # removed: < −1
    score[survivors] = np.maximum(dist, 0.0)
    cluster = np.full(ids.size, -1, dtype=np.int64)
    cluster[survivors] = nearest
    state["dedup_score"] = state.pop("score")
    state["dedup_cluster"] = state.pop("cluster")
    state.update({"score": score, "cluster": cluster, "survivor_centroids": C2})
    return state


def score(
    docs: pd.DataFrame, embeddings: np.ndarray | None, state: dict | None, params: dict | None = None
) -> pd.DataFrame:
    """Look up each document's D4 score by id.

    Returns
    -------
    DataFrame
        ``id``, ``score``, ``removed`` (by SemDeDup), ``cluster`` (survivor cluster, −1 if removed),
        ``duplicate_of``, in ``docs`` order.
    """
    return scores_from_state(docs, state, "d4")
