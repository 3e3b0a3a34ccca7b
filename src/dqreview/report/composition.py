"""What each selection contains: domain shares, planted noise and duplicates kept, lengths, overlap."""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Kinds of planted documents (the prefix of the pool index's ``planted`` column).
PLANTED_KINDS = ("exact", "near", "noise")


def planted_kind(planted: pd.Series) -> pd.Series:
    """``exact``, ``near``, ``noise`` or ``""`` (an original document) from the ``planted`` column."""
    return planted.fillna("").str.split(":", n=1).str[0]


def composition_row(pool: pd.DataFrame, ids: pd.Series) -> dict:
    """Composition of one selection.

    Parameters
    ----------
    pool : DataFrame
        The pool index: ``id``, ``domain``, ``n_bytes``, ``n_words``, ``planted``.
    ids : Series of str
        The selected ids.

    Returns
    -------
    dict
        ``share/<domain>`` (fraction of the selection's bytes), ``kept/<kind>`` (fraction of the pool's
        planted documents of that kind that were selected; random selection keeps about the budget),
        ``mean_words``, ``median_words``, ``n_docs``.
    """
    chosen = pool[pool["id"].isin(set(ids))]
    row: dict = {"n_docs": len(chosen)}
    by_domain = chosen.groupby("domain")["n_bytes"].sum() / max(int(chosen["n_bytes"].sum()), 1)
    for domain in sorted(pool["domain"].unique()):
        row[f"share/{domain}"] = float(by_domain.get(domain, 0.0))
    kind_pool, kind_chosen = planted_kind(pool["planted"]), planted_kind(chosen["planted"])
    for kind in PLANTED_KINDS:
        n = int((kind_pool == kind).sum())
        row[f"kept/{kind}"] = float((kind_chosen == kind).sum() / n) if n else float("nan")
    row["mean_words"] = float(chosen["n_words"].mean()) if len(chosen) else float("nan")
    row["median_words"] = float(chosen["n_words"].median()) if len(chosen) else float("nan")
    return row


def jaccard_matrix(selections: dict[str, set]) -> pd.DataFrame:
    """Pairwise Jaccard overlap |A ∩ B| / |A ∪ B| of the selections' id sets."""
    names = list(selections)
    M = np.ones((len(names), len(names)))
    for i, a in enumerate(names):
        for j in range(i + 1, len(names)):
            A, B = selections[a], selections[names[j]]
            union = len(A | B)
            M[i, j] = M[j, i] = len(A & B) / union if union else 1.0
    return pd.DataFrame(M, index=names, columns=names)
