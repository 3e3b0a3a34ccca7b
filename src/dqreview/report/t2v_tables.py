"""Task2Vec tables: the diversity/alignment coefficients of the data (with the probe) and of every
selection (from cached per-document vectors).

Sets with fewer documents than one batch (e.g. a small domain) get NaN coefficients, not a silently
different batch size. ``diversity_table`` follows the paper's table: lower bound, every domain, the target, the pool and the upper
bound, each embedded as ``n_batches`` batches of ``batch_size`` documents (head fine-tuned per batch), with
95% CIs. Alignment with the target is the batch-pair coefficient ``1 − cdiv(D, T)`` (for the target itself:
``1 − div(T)``, pairs of distinct batches) and the whole-dataset one ``1 − d(e(D), e(T))`` with ``e`` the
mean of a dataset's batch embeddings (the Fisher over all its sampled windows).

``selection_table`` does the same for the pool, every domain, target ref and every selection WITHOUT the
probe: a batch's vector is the mean of its documents' cached vectors (docs/methods.md, "Task2Vec"), so the numbers are
comparable among themselves but not with ``diversity_table``'s (no head fine-tuning, final layers only,
per-document windows).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from dqreview.errors import DQError
from dqreview.measures import diversity as dv
from dqreview.progress import Progress

#: Coefficient columns; NaN for a set with fewer documents than one batch (reported, not dropped).
COLUMNS = ("div", "div_ci95", "align_batch", "align_batch_ci95", "align_full")


def _coefficients(E: np.ndarray, E_target: np.ndarray, is_target: bool) -> dict:
    div = dv.diversity(E)
    row = {"div": div.value, "div_ci95": div.ci95}
    if is_target:
        row.update({"align_batch": 1.0 - div.value, "align_batch_ci95": div.ci95, "align_full": 1.0})
    else:
        al = dv.alignment(E, E_target)
        row.update(
            {
                "align_batch": al.value,
                "align_batch_ci95": al.ci95,
                "align_full": dv.full_alignment(E.mean(axis=0), E_target.mean(axis=0)),
            }
        )
    return row


def diversity_table(
    probe,
    datasets: Mapping[tuple[str, str], Sequence[np.ndarray]],
    target: tuple[str, str],
    n_batches: int,
    batch_size: int,
    seed: int,
    **embed_kwargs,
) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """One row per dataset (``(kind, name)`` → token arrays), in the mapping's order.

    Returns the table and the batch embeddings ``{name: (n_batches, D)}``.
    """
    if len(datasets[tuple(target)]) < batch_size:
        raise DQError(
            f"diversity table: the target {target[1]!r} has {len(datasets[tuple(target)])} documents, fewer "
            f"than a batch of {batch_size}; lower task2vec.coefficients.batch_size"
        )
    embedded = [(name, docs) for (_, name), docs in datasets.items() if len(docs) >= batch_size]
    # each batch embedding fine-tunes the head and runs per-window gradients: minutes in all, logged
    with Progress(len(embedded) * n_batches, "task2vec coefficients", "batch") as bar:
        emb = {
            name: dv.dataset_embeddings(
                probe, docs, n_batches, batch_size, seed, key=name, bar=bar, **embed_kwargs
            )
            for name, docs in embedded
        }
    rows = []
    for (kind, name), docs in datasets.items():
        row = {
            "kind": kind,
            "set": name,
            "n_docs": len(docs),
            "n_batches": n_batches,
            "batch_size": batch_size,
        }
        if name in emb:
            row.update(_coefficients(emb[name], emb[target[1]], (kind, name) == tuple(target)))
        else:  # e.g. a domain with few documents: too small for one batch
            row.update(dict.fromkeys(COLUMNS, float("nan")))
        rows.append(row)
    return pd.DataFrame(rows), emb


def selection_table(
    shard_vectors: list[np.ndarray],
    index: pd.DataFrame,
    selections: Mapping[str, Iterable[str]],
    target_vectors: np.ndarray,
    n_batches: int,
    batch_size: int,
    seed: int,
) -> pd.DataFrame:
    """Diversity and alignment of the pool, each domain, target ref and each selection from cached vectors.

    Parameters
    ----------
    shard_vectors : per-shard (n_i, D) per-document Task2Vec vectors, rows in ``index`` order per shard.
    index : the pool index (``id``, ``domain``, ``shard``).
    selections : name → selected ids.
    target_vectors : target ref's per-document vectors.
    """
    order = np.concatenate(
        [np.flatnonzero(index["shard"].to_numpy() == s) for s in range(len(shard_vectors))]
    )
    X = np.empty((len(index), shard_vectors[0].shape[1]), dtype=np.float64)
    X[order] = np.concatenate(shard_vectors).astype(np.float64)
    ids = index["id"].to_numpy()
    sets: dict[tuple[str, str], np.ndarray] = {("pool", "pool"): np.ones(len(ids), dtype=bool)}
    for dom in sorted(index["domain"].unique()):
        sets[("domain", dom)] = index["domain"].to_numpy() == dom
    for name, sel in selections.items():
        sets[("selection", name)] = np.isin(ids, np.asarray(list(sel)))
    T = np.asarray(target_vectors, dtype=np.float64)
    E_target = dv.batch_vectors_from_documents(T, n_batches, batch_size, seed, "target/ref")
    rows = [{"kind": "target", "set": "target/ref", "n": len(T), **_coefficients(E_target, E_target, True)}]
    for (kind, name), mask in sets.items():
        row = {"kind": kind, "set": name, "n": int(mask.sum())}
        if mask.sum() >= batch_size:
            E = dv.batch_vectors_from_documents(X[mask], n_batches, batch_size, seed, name)
            row.update(_coefficients(E, E_target, False))
        else:  # fewer documents than one batch: reported with NaN coefficients
            row.update(dict.fromkeys(COLUMNS, float("nan")))
        rows.append(row)
    return pd.DataFrame(rows)
