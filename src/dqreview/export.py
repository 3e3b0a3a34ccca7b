"""A selection's documents as a file other pipelines read: Parquet or JSON Lines, in selection order.

A selection (``results/select/<selection>/s<seed>.parquet``) lists ids only. :func:`export_selection`
joins it with the pool's text, streaming the pool shard by shard in record batches, so memory holds
the selected documents and never the whole pool. Every export has the same columns
(:data:`EXPORT_COLUMNS`), whatever the method:

``id`` (str), ``order`` (int, 0-based position in the export), ``text`` (str), ``domain`` (str),
``score`` (float or null), ``round`` (int or null).

``score`` is the method's per-document score from its merged score table (``results/scores/...``;
HIGH = what the method prefers, before any per-seed tie-break noise), null for methods without
per-document scores (the mixture learners). ``round`` is the Skill-It round a document is trained
in (0-based), null for selections without rounds. Rows come in the order training consumes them:
the selection's order, and for a schedule round by round (stable, so each round keeps the order in
which its documents were taken).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from dqreview.errors import DQError
from dqreview.io import atomic_path

#: The export's formats: the file extension names the format.
FORMATS = ("parquet", "jsonl")
EXPORT_COLUMNS = ("id", "order", "text", "domain", "score", "round")
SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("order", pa.int64()),
        ("text", pa.string()),
        ("domain", pa.string()),
        ("score", pa.float64()),
        ("round", pa.int64()),
    ]
)
#: Rows per Parquet row group and per pool read (bounded memory for the pool scan).
BATCH_ROWS = 8192


def format_of(path: str | os.PathLike) -> str:
    """The export format a path names by its extension (``.parquet`` or ``.jsonl``)."""
    fmt = Path(path).suffix.lstrip(".")
    if fmt not in FORMATS:
        raise DQError(f"{path}: unknown export format {fmt!r}; name the file *.parquet or *.jsonl")
    return fmt


def training_order(selection: pd.DataFrame) -> pd.DataFrame:
    """The selection's rows in the order training consumes them.

    Parameters
    ----------
    selection : DataFrame
        ``id``, optionally ``order`` (selection rank) and ``round`` (a schedule's round).

    Returns
    -------
    DataFrame
        The rows sorted by ``order`` (else as given), then stably by ``round`` when present; a fresh
        0-based index.
    """
    if "id" not in selection.columns:
        raise DQError(f"selection: no `id` column; found {list(selection.columns)}")
    dup = selection["id"][selection["id"].duplicated()]
    if len(dup):
        raise DQError(f"selection: {len(dup)} duplicate id(s), e.g. {dup.iloc[0]!r}; rerun the select rule")
    out = selection
    if "order" in out.columns:
        out = out.sort_values("order", kind="stable")
    if "round" in out.columns:
        out = out.sort_values("round", kind="stable")
    return out.reset_index(drop=True)


def collect_documents(ids: np.ndarray, shards: Sequence[str | os.PathLike]) -> tuple[np.ndarray, np.ndarray]:
    """Text and domain of ``ids`` from the pool, reading one record batch of one shard at a time.

    Parameters
    ----------
    ids : ndarray of str, shape (n,)
        Unique document ids.
    shards : sequence of path
        The pool's shards (Parquet with ``id``, ``text``, ``domain``).

    Returns
    -------
    text, domain : ndarray of object, shape (n,)
        Aligned with ``ids``.
    """
    position = pd.Index(np.asarray(ids, dtype=object))
    text = np.empty(len(position), dtype=object)
    domain = np.empty(len(position), dtype=object)
    found = np.zeros(len(position), dtype=bool)
    for shard in shards:
        try:
            reader = pq.ParquetFile(shard)
        except (OSError, pa.ArrowException) as exc:
            raise DQError(f"{shard}: cannot read the pool shard ({exc}); rerun the prepare rule") from exc
        for batch in reader.iter_batches(batch_size=BATCH_ROWS, columns=["id", "text", "domain"]):
            pos = position.get_indexer(batch.column("id").to_numpy(zero_copy_only=False))
            hit = pos >= 0
            if not hit.any():
                continue
            rows = np.flatnonzero(hit)
            text[pos[hit]] = batch.column("text").take(pa.array(rows)).to_numpy(zero_copy_only=False)
            domain[pos[hit]] = batch.column("domain").take(pa.array(rows)).to_numpy(zero_copy_only=False)
            found[pos[hit]] = True
    if not found.all():
        missing = position[~found]
        raise DQError(
            f"{len(missing)} selected id(s) not in the pool shards, e.g. {missing[0]!r}; the selection is "
            "from another pool: rerun the select rule"
        )
    return text, domain


def export_frame(
    selection: pd.DataFrame, shards: Sequence[str | os.PathLike], scores: pd.DataFrame | None = None
) -> pd.DataFrame:
    """A selection's documents with the columns of :data:`EXPORT_COLUMNS`, in training order.

    Parameters
    ----------
    selection : DataFrame
        ``id``, optionally ``order`` and ``round`` (as the select rules write them).
    shards : sequence of path
        The pool's shards.
    scores : DataFrame, optional
        ``id``, ``score`` of (at least) the selected documents; none gives a null ``score``.

    Returns
    -------
    DataFrame
        One row per selected document; ``order`` is its 0-based position.
    """
    sel = training_order(selection)
    ids = sel["id"].astype(str).to_numpy(dtype=object)
    text, domain = collect_documents(ids, shards)
    score = pd.array([None] * len(ids), dtype="Float64")
    if scores is not None:
        at = pd.Index(scores["id"].astype(str)).get_indexer(ids)
        if (at < 0).any():
            raise DQError(
                f"scores: no score for {int((at < 0).sum())} selected id(s), e.g. {ids[at < 0][0]!r}; "
                "the scores and the selection disagree: rerun the scoring rules"
            )
        score = pd.array(scores["score"].to_numpy(dtype=np.float64)[at], dtype="Float64")
    rounds = (
        pd.array(sel["round"].to_numpy(), dtype="Int64")
        if "round" in sel.columns
        else pd.array([None] * len(ids), dtype="Int64")
    )
    return pd.DataFrame(
        {
            "id": ids,
            "order": np.arange(len(ids), dtype=np.int64),
            "text": text,
            "domain": domain,
            "score": score,
            "round": rounds,
        }
    )


def write_export(frame: pd.DataFrame, path: str | os.PathLike) -> None:
    """Write an export frame atomically, as Parquet or JSON Lines by the path's extension.

    JSON Lines: one object per line with the keys of :data:`EXPORT_COLUMNS`, UTF-8, nulls as ``null``.
    """
    fmt = format_of(path)
    table = pa.Table.from_pandas(frame[list(EXPORT_COLUMNS)], schema=SCHEMA, preserve_index=False)
    with atomic_path(path) as tmp:
        if fmt == "parquet":
            pq.write_table(table, tmp, row_group_size=BATCH_ROWS)
            return
        with open(tmp, "w", encoding="utf-8") as fh:
            for batch in table.to_batches(max_chunksize=BATCH_ROWS):
                for row in batch.to_pylist():
                    fh.write(json.dumps(row, ensure_ascii=False) + "\n")


def export_selection(
    selection: pd.DataFrame,
    shards: Sequence[str | os.PathLike],
    path: str | os.PathLike,
    scores: pd.DataFrame | None = None,
) -> dict:
    """Export a selection's documents to ``path`` (see :func:`export_frame`, :func:`write_export`).

    Returns
    -------
    dict
        ``n_docs``, ``n_bytes`` (UTF-8 bytes of the text), ``format``, ``rounds`` (distinct rounds, 0
        without a schedule), ``scored`` (whether ``score`` is filled).
    """
    fmt = format_of(path)
    frame = export_frame(selection, shards, scores)
    write_export(frame, path)
    return {
        "n_docs": len(frame),
        "n_bytes": int(sum(len(t.encode("utf-8")) for t in frame["text"])),
        "format": fmt,
        "rounds": int(frame["round"].nunique()),
        "scored": scores is not None,
    }
