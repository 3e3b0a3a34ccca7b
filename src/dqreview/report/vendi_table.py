"""Vendi scores of the pool, of every domain, of the target splits and of every selection.

Every set's score comes from the cached embeddings, streamed shard by shard through a Gram
accumulator (XᵀX in float64), so no n×n matrix is ever formed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from dqreview.measures.vendi import GramAccumulator

ORDERS = (0.5, 1.0, 2.0, float("inf"))


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
    return pd.DataFrame(rows)
