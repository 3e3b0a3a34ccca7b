"""Vendi scores of the pool, of every domain, of the target splits and of every selection.

Every set's score comes from the cached embeddings, streamed shard by shard through a Gram
accumulator (XᵀX in float64), so no n×n matrix is ever formed.

Vendi grows with the number of items (at most n), and selections of one byte budget hold different numbers
of documents (short documents: more of them). So each selection is also scored at an EQUAL set size: the
mean Vendi (q = 1) of ``draws`` random subsets of ``n_eq`` of its documents, ``n_eq`` the smallest selection
of its group (its budget), subsets chosen by ``hash(draw, id)`` (columns ``n_eq``, ``vendi_q1_eq``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from dqreview.hashing import stable_hash64
from dqreview.measures.vendi import GramAccumulator

ORDERS = (0.5, 1.0, 2.0, float("inf"))
#: Random equal-size subsets averaged per selection (``vendi_q1_eq``).
EQUAL_SIZE_DRAWS = 5


def _row(kind: str, name: str, acc: GramAccumulator, n: int, orders: Iterable[float]) -> dict:
    row = {"kind": kind, "set": name, "n": n}
    row.update({f"vendi_q{q:g}": acc.vendi(q) if n else float("nan") for q in orders})
    return row


def vendi_table(
    shard_embeddings: list[np.ndarray],
    index: pd.DataFrame,
    selections: Mapping[str, Iterable[str]],
    targets: Mapping[str, np.ndarray],
    orders: Iterable[float] = ORDERS,
    groups: Mapping[str, str] | None = None,
    draws: int = EQUAL_SIZE_DRAWS,
) -> pd.DataFrame:
    """One row per set with its Vendi score at each order q.

    Parameters
    ----------
    shard_embeddings : list of (n_i, d) arrays
        Pool embeddings per shard, rows in the order of ``index`` restricted to that shard.
    index : DataFrame
        The pool index: ``id``, ``domain``, ``shard`` (rows of a shard in shard order).
    selections : mapping name → ids
        Each selection (e.g. ``"ssl_proto/pool/high/b0.10/s0"``) as its selected ids.
    targets : mapping name → (n, d) array
        Extra sets given directly as embeddings (target ref and test).
    groups : mapping selection name → group, optional
        Selections compared at equal size (e.g. each selection's budget): adds ``n_eq`` and
        ``vendi_q1_eq`` (:func:`equal_size_vendi`) to the selection rows.
    """
    orders = tuple(orders)
    d = shard_embeddings[0].shape[1]
    sets: dict[tuple[str, str], np.ndarray | None] = {("pool", "pool"): None}
    sets.update(
        {("domain", dom): index["domain"].to_numpy() == dom for dom in sorted(index["domain"].unique())}
    )
    id_array = index["id"].to_numpy()
    for name, ids in selections.items():
        sets[("selection", name)] = np.isin(id_array, np.asarray(list(ids)))
    shard_of_row = index["shard"].to_numpy()
    rows = []
    for (kind, name), mask in sets.items():
        acc = GramAccumulator(d)
        n = 0
        for shard, emb in enumerate(shard_embeddings):
            in_shard = shard_of_row == shard
            part = emb if mask is None else emb[mask[in_shard]]
            if len(part):
                acc.add(part)
                n += len(part)
        rows.append(_row(kind, name, acc, n, orders))
    for name, emb in targets.items():
        rows.append(_row("target", name, GramAccumulator(d).add(emb), len(emb), orders))
    table = pd.DataFrame(rows)
    if groups is not None:
        eq = equal_size_vendi(shard_embeddings, index, selections, groups, draws)
        table = table.merge(eq, on="set", how="left")
    return table


def equal_size_vendi(
    shard_embeddings: list[np.ndarray],
    index: pd.DataFrame,
    selections: Mapping[str, Iterable[str]],
    groups: Mapping[str, str],
    draws: int = EQUAL_SIZE_DRAWS,
) -> pd.DataFrame:
    """Vendi (q = 1) of each selection at its group's smallest size: the mean over ``draws`` subsets.

    Subset ``r`` of a selection is its ``n_eq`` documents with the smallest ``hash(r, id)``; a selection of
    exactly ``n_eq`` documents is its own subset every time.

    Returns
    -------
    DataFrame
        ``set``, ``n_eq``, ``vendi_q1_eq``, one row per selection in ``groups``.
    """
    shard_of_row = index["shard"].to_numpy()
    order = np.concatenate([np.flatnonzero(shard_of_row == s) for s in range(len(shard_embeddings))])
    full = np.concatenate(shard_embeddings)
    row_of = dict(zip(index["id"].astype(str).to_numpy()[order], range(len(order)), strict=True))
    members = {name: [str(i) for i in selections[name]] for name in groups}
    size: dict[str, int] = {}
    for name, group in groups.items():
        size[group] = min(size.get(group, len(members[name])), len(members[name]))
    rows = []
    for name, group in groups.items():
        ids, m = members[name], size[group]
        values = []
        for r in range(max(1, int(draws))):
            keys = np.array([stable_hash64("vendi-eq", r, i) for i in ids], dtype=np.uint64)
            chosen = [ids[j] for j in np.argsort(keys, kind="stable")[:m]]
            values.append(GramAccumulator(full.shape[1]).add(full[[row_of[i] for i in chosen]]).vendi(1.0))
        rows.append({"set": name, "n_eq": m, "vendi_q1_eq": float(np.mean(values)) if m else float("nan")})
    return pd.DataFrame(rows, columns=["set", "n_eq", "vendi_q1_eq"])
