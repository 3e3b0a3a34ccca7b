"""How well a deduplication method finds the duplicates we know about.

Ground truth = the planted pairs (``planted`` = ``exact:<id>`` or ``near:<id>:m=<edits>``) ∪ every
pair of pool documents whose exact shingle-set Jaccard is ≥ T (word n-gram shingles of the MinHash
definition, :func:`dqreview.metrics.minhash.jaccard_pairs`: exact shingle ids and a complete
prefix-filter join, no LSH). Exact duplicates in the sources (J = 1) are among the latter. A pair is
*found* when the method removes one of its two documents; a removed document is *correct* when it
belongs to a ground-truth pair. Recall is over pairs, precision over removed documents.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Ground truth when the method has no threshold of its own (e.g. SemDeDup): T and shingle size of the
#: MinHash defaults (Lee et al. 2022: T = 0.8, word 5-grams).
DEFAULT_THRESHOLD = 0.8
DEFAULT_NGRAM = 5


def planted_pairs(index: pd.DataFrame) -> pd.DataFrame:
    """``id``, ``original``, ``kind`` (exact / near) of every planted duplicate."""
    planted = index[index["planted"].str.match(r"^(exact|near):")]
    if planted.empty:
        return pd.DataFrame({"id": [], "original": [], "kind": []}, dtype=str)
    parts = planted["planted"].str.split(":", expand=True)
    return pd.DataFrame(
        {"id": planted["id"].to_numpy(), "original": parts[1].to_numpy(), "kind": parts[0].to_numpy()}
    )


def similar_pairs(ids, texts, threshold: float, ngram: int = DEFAULT_NGRAM) -> pd.DataFrame:
    """``id``, ``original`` (the two documents, in input order), ``jaccard`` of every pair of texts whose
    exact shingle-set Jaccard is ≥ ``threshold``."""
    from dqreview.metrics.minhash import jaccard_pairs

    ids = np.asarray(ids).astype(str)
    pairs, J = jaccard_pairs(texts, threshold, ngram)
    return pd.DataFrame({"id": ids[pairs[:, 1]], "original": ids[pairs[:, 0]], "jaccard": J})


def _unordered(pairs: pd.DataFrame) -> pd.MultiIndex:
    """(smaller id, larger id) of each pair, so that (a, b) and (b, a) compare equal."""
    a, b = pairs["id"].to_numpy().astype(str), pairs["original"].to_numpy().astype(str)
    return pd.MultiIndex.from_arrays([np.where(a < b, a, b), np.where(a < b, b, a)])


def _mean(flags: np.ndarray) -> float:
    return float(flags.mean()) if len(flags) else float("nan")


def dedup_quality(
    index: pd.DataFrame, removed_ids, similar: pd.DataFrame | None = None
) -> tuple[dict, pd.DataFrame]:
    """Recall per kind of ground-truth pair, precision, and removal rate per domain.

    Parameters
    ----------
    index : DataFrame
        The pool index (``id``, ``domain``, ``planted``).
    removed_ids : iterable of str
        The documents the method removes.
    similar : DataFrame, optional
        :func:`similar_pairs` of the pool at the method's threshold (``id``, ``original``); None: only
        the planted pairs are ground truth.

    Returns
    -------
    summary : dict
        ``recall`` (all ground-truth pairs), ``recall_exact`` / ``recall_near`` (planted kinds),
        ``recall_similar`` (Jaccard ≥ T pairs that were not planted), ``precision``, ``removed``,
        ``removal_rate``, ``planted_pairs``, ``similar_pairs`` (J ≥ T pairs, planted or not),
        ``truth_pairs``.
    by_domain : DataFrame
        ``domain``, ``documents``, ``removed``, ``removal_rate``.
    """
    removed = set(map(str, removed_ids))
    planted = planted_pairs(index)
    truth = planted
    n_similar = 0
    if similar is not None and len(similar):
        sim = similar[["id", "original"]].astype(str).assign(kind="similar")
        n_similar = len(sim)
        new = ~_unordered(sim).isin(_unordered(planted))  # a planted pair counts once, as planted
        truth = pd.concat([planted, sim[new]], ignore_index=True)
    found = (truth["id"].isin(removed) | truth["original"].isin(removed)).to_numpy(dtype=bool)
    members = set(truth["id"]) | set(truth["original"])
    correct = len(removed & members)
    kinds = truth["kind"].to_numpy()
    summary = {
        "recall": _mean(found),
        "recall_exact": _mean(found[kinds == "exact"]),
        "recall_near": _mean(found[kinds == "near"]),
        "recall_similar": _mean(found[kinds == "similar"]),
        "precision": correct / len(removed) if removed else float("nan"),
        "removed": len(removed),
        "removal_rate": len(removed) / len(index),
        "planted_pairs": len(planted),
        "similar_pairs": n_similar,
        "truth_pairs": len(truth),
    }
    is_removed = index["id"].isin(removed)
    by_domain = (
        index.assign(removed=is_removed)
        .groupby("domain")
        .agg(documents=("id", "size"), removed=("removed", "sum"))
        .reset_index()
    )
    by_domain["removal_rate"] = by_domain["removed"] / by_domain["documents"]
    return summary, by_domain
