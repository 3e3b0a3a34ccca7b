"""How well a deduplication method finds the duplicates we know about.

Ground truth = the planted pairs (``planted`` = ``exact:<id>`` or ``near:<id>:m=<edits>``) plus the
exact duplicates the sources already contain (rows sharing a ``text_hash``). A pair is *found* when
the method removes one of its two documents; a removed document is *correct* when it belongs to a
known duplicate group. Recall is over pairs, precision over removed documents.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def planted_pairs(index: pd.DataFrame) -> pd.DataFrame:
    """``id``, ``original``, ``kind`` (exact / near) of every planted duplicate."""
    planted = index[index["planted"].str.match(r"^(exact|near):")]
    parts = planted["planted"].str.split(":", expand=True)
    return pd.DataFrame(
        {"id": planted["id"].to_numpy(), "original": parts[1].to_numpy(), "kind": parts[0].to_numpy()}
    )


def _mean(flags: np.ndarray) -> float:
    return float(flags.mean()) if len(flags) else float("nan")


def dedup_quality(index: pd.DataFrame, removed_ids) -> tuple[dict, pd.DataFrame]:
    """Recall per planted kind, precision, and removal rate per domain.

    Parameters
    ----------
    index : DataFrame
        The pool index (``id``, ``domain``, ``planted``, ``text_hash``).
    removed_ids : iterable of str
        The documents the method removes.

    Returns
    -------
    summary : dict
        ``recall_exact``, ``recall_near``, ``recall`` (all planted pairs), ``precision``, ``removed``,
        ``removal_rate``.
    by_domain : DataFrame
        ``domain``, ``documents``, ``removed``, ``removal_rate``.
    """
    removed = set(map(str, removed_ids))
    pairs = planted_pairs(index)
    found = np.array(
        [a in removed or b in removed for a, b in zip(pairs["id"], pairs["original"], strict=True)]
    )
    members = set(pairs["id"]) | set(pairs["original"])
    hashed = index[index["text_hash"].duplicated(keep=False)]
    members |= set(hashed["id"])
    correct = len(removed & members)
    kinds = pairs["kind"].to_numpy()
    summary = {
        "recall": _mean(found),
        "recall_exact": _mean(found[kinds == "exact"]),
        "recall_near": _mean(found[kinds == "near"]),
        "precision": correct / len(removed) if removed else float("nan"),
        "removed": len(removed),
        "removal_rate": len(removed) / len(index),
        "planted_pairs": len(pairs),
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
