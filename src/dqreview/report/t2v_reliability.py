"""Is Task2Vec alignment a reliable ranking, and does it rank differently from DSIR and encoder alignment?

Split-half reliability of the per-document Task2Vec vectors: the same documents embedded twice, with two
label-sampling seeds (``task2vec.documents.seed`` and ``task2vec.reliability.seed``), each scored by the
same alignment variant (prototypes refitted on target ref's vectors of the same seed). Two numbers per pair
of score vectors over the same documents: Spearman's rank correlation, and the Jaccard overlap of their
top ``top`` fractions (the documents a small budget would keep). The same two numbers compare the alignment
scores with other methods' scores over the whole pool.

A Spearman below :data:`RELIABLE_SPEARMAN` between label seeds is called unreliable: a fifth of the rank
variance would then be label-sampling noise, and the selection would partly be a draw of the seed
(docs/methods.md, "Task2Vec reliability").
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from dqreview.errors import DQError
from dqreview.hashing import stable_hash64

#: Spearman between label seeds below this is "unreliable" (the answer sentence says so).
RELIABLE_SPEARMAN = 0.8
#: Columns of ``results/tables/t2v_reliability.csv``.
COLUMNS = ["comparison", "a", "b", "n", "spearman", "jaccard_top", "top"]


def reliability_sample(ids: Sequence[str], size: int, seed: int = 0) -> np.ndarray:
    """Row indices (sorted) of the ``size`` documents with the smallest ``hash(seed, id)``.

    A hash of the id, so the sample does not depend on the pool's sharding or row order; every document
    when ``size`` is at least the pool.
    """
    if size < 1:
        raise DQError(f"task2vec.reliability.sample={size}: must be a positive number of documents")
    ids = [str(i) for i in ids]
    if size >= len(ids):
        return np.arange(len(ids))
    keys = np.array([stable_hash64("t2v-reliability", seed, i) for i in ids], dtype=np.uint64)
    return np.sort(np.argsort(keys, kind="stable")[:size])


def top_ids(scores: pd.Series, top: float) -> set:
    """Ids (the index) of the ``ceil(top · n)`` highest scores; ties broken by id, so the set is unique."""
    if not 0 < top <= 1:
        raise DQError(f"task2vec.reliability.top={top}: must be a fraction in (0, 1]")
    k = max(1, math.ceil(top * len(scores) - 1e-9))
    frame = pd.DataFrame({"id": scores.index.astype(str), "score": scores.to_numpy(float)})
    frame = frame.sort_values(["score", "id"], ascending=[False, True], kind="stable")
    return set(frame["id"].iloc[:k])


def rank_agreement(a: pd.Series, b: pd.Series, top: float = 0.1) -> dict:
    """Spearman and top-``top`` Jaccard of two score vectors indexed by document id (their common ids).

    Returns
    -------
    dict
        ``n`` (common ids with finite scores in both), ``spearman``, ``jaccard_top``; NaN below 3 ids.
    """
    both = pd.concat({"a": a, "b": b}, axis=1, join="inner").astype(float)
    both = both[np.isfinite(both["a"]) & np.isfinite(both["b"])]
    n = len(both)
    if n < 3:
        return {"n": n, "spearman": float("nan"), "jaccard_top": float("nan")}
    rho = float(stats.spearmanr(both["a"], both["b"]).statistic)
    ta, tb = top_ids(both["a"], top), top_ids(both["b"], top)
    return {"n": n, "spearman": rho, "jaccard_top": len(ta & tb) / len(ta | tb)}


def reliability_table(
    seed_scores: tuple[pd.Series, pd.Series],
    seeds: tuple[int, int],
    metric_scores: Mapping[str, pd.Series],
    metric: str,
    top: float = 0.1,
    fixed_prototypes: pd.Series | None = None,
) -> pd.DataFrame:
    """The reliability table: the two label seeds' alignment scores, then ``metric`` against every other.

    Parameters
    ----------
    seed_scores : (Series, Series)
        Alignment scores of the same sampled documents (index: id) with label seeds ``seeds``.
    seeds : (int, int)
        The two label seeds (row labels).
    metric_scores : mapping name → Series
        Whole-pool scores (index: id) of ``metric`` (the alignment variant) and the methods it is compared with.
    metric : str
        The key of ``metric_scores`` holding the alignment scores.
    fixed_prototypes : Series, optional
        The second seed's document vectors scored against the FIRST seed's prototypes: a row
        ``label seeds, documents only`` that separates the documents' label noise from the prototypes'.
    """
    if metric not in metric_scores:
        raise DQError(f"t2v reliability: no scores of {metric!r} among {sorted(metric_scores)}")
    rows = [
        {
            "comparison": "label seeds",
            "a": f"{metric}, label seed {seeds[0]}",
            "b": f"{metric}, label seed {seeds[1]}",
            **rank_agreement(*seed_scores, top=top),
        }
    ]
    if fixed_prototypes is not None:
        rows.append(
            {
                "comparison": "label seeds, documents only",
                "a": f"{metric}, label seed {seeds[0]}",
                "b": f"{metric}, label seed {seeds[1]} documents, seed {seeds[0]} prototypes",
                **rank_agreement(seed_scores[0], fixed_prototypes, top=top),
            }
        )
    for name, scores in metric_scores.items():
        if name == metric:
            continue
        rows.append(
            {
                "comparison": "methods",
                "a": metric,
                "b": name,
                **rank_agreement(metric_scores[metric], scores, top=top),
            }
        )
    return pd.DataFrame(rows).assign(top=top)[COLUMNS]


def reliability_verdict(spearman: float) -> str:
    """``"reliable"`` or ``"unreliable"`` against :data:`RELIABLE_SPEARMAN` (``"not measured"`` for NaN)."""
    if not np.isfinite(spearman):
        return "not measured"
    return "reliable" if spearman >= RELIABLE_SPEARMAN else "unreliable"


def alignment_with_label_seed(
    method,
    params,
    pool: pd.DataFrame,
    pool_vectors: np.ndarray,
    ref_vectors: np.ndarray,
    ref_losses: np.ndarray | None,
) -> pd.Series:
    """Alignment scores of ``pool`` (``id`` column, rows of ``pool_vectors``) with prototypes fitted on
    ``ref_vectors``: the method's own ``fit`` and ``score`` (vectors of one label seed on both sides).

    Returns
    -------
    Series
        Score per document, indexed by id.
    """
    state = method.fit({"target_t2v": ref_vectors, "target_losses": ref_losses}, params)
    scored = method.score(pool[["id"]].reset_index(drop=True), pool_vectors, state, params)
    return pd.Series(scored["score"].to_numpy(float), index=scored["id"].astype(str).to_numpy())


def label_seed_vectors(
    probe, tokens: Sequence[np.ndarray], ids: Sequence[str], seed: int, options: Mapping, progress: str | None
) -> np.ndarray:
    """Per-document Task2Vec vectors of ``tokens`` with label seed ``seed`` and the per-document
    ``options`` (``window``, ``layers``, ``chunk_size``, ``token_scale``, ``label_samples``)."""
    from dqreview.task2vec import document_vectors

    vectors, _, _ = document_vectors(
        probe, tokens, [str(i) for i in ids], seed=seed, progress=progress, **options
    )
    return vectors
