"""Exported selections: the selection's ids in training order, the pool's text, both formats alike, and read
back by Hugging Face ``datasets`` offline."""

import json

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from dqreview.errors import DQError
from dqreview.export import EXPORT_COLUMNS, export_selection, format_of, training_order
from dqreview.io import write_parquet


def _pool(tmp_path, n=50, shards=3):
    """A pool of ``n`` documents (unicode text, one empty) in ``shards`` shards."""
    ids = [f"d{i:03d}" for i in range(n)]
    text = [f'doc {i} — é ∑ "quoted"\nline two' if i else "" for i in range(n)]
    pool = pd.DataFrame({"id": ids, "text": text, "domain": [f"dom{i % 3}" for i in range(n)], "n_bytes": 1})
    paths = []
    for s in range(shards):
        path = tmp_path / f"shard-{s}.parquet"
        write_parquet(pool.iloc[s::shards].reset_index(drop=True), path)
        paths.append(str(path))
    return pool, paths


def _read_jsonl(path):
    return pd.DataFrame([json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()])


def test_scored_selection_keeps_order_text_and_scores(tmp_path):
    pool, shards = _pool(tmp_path)
    rng = np.random.default_rng(0)
    chosen = rng.permutation(pool["id"])[:20]  # spread over every shard, out of id order
    selection = pd.DataFrame({"id": chosen, "order": np.arange(20), "n_bytes": 1}).sample(
        frac=1, random_state=1
    )
    scores = pd.DataFrame({"id": pool["id"], "score": np.linspace(1, 0, len(pool))})
    info = export_selection(selection, shards, tmp_path / "out.parquet", scores)
    out = pd.read_parquet(tmp_path / "out.parquet")
    assert list(out.columns) == list(EXPORT_COLUMNS)
    assert out["id"].tolist() == list(chosen)  # the selection's order, not the rows' or the pool's
    assert out["order"].tolist() == list(range(20))
    by_id = pool.set_index("id")
    assert out["text"].tolist() == by_id.loc[chosen, "text"].tolist()
    assert out["domain"].tolist() == by_id.loc[chosen, "domain"].tolist()
    assert np.array_equal(out["score"].to_numpy(), scores.set_index("id").loc[chosen, "score"].to_numpy())
    assert out["round"].isna().all()
    assert info == {
        "n_docs": 20, "n_bytes": sum(len(t.encode()) for t in out["text"]), "format": "parquet", "rounds": 0,
        "scored": True,
    }  # fmt: skip


def test_rounds_come_in_order_and_unscored_methods_have_null_scores(tmp_path):
    pool, shards = _pool(tmp_path)
    # a schedule's rows in the order taken, rounds interleaved; training streams round 0, then 1, then 2
    selection = pd.DataFrame(
        {"id": pool["id"][:9], "order": np.arange(9), "round": [2, 0, 1, 0, 2, 1, 0, 1, 2]}
    )
    export_selection(selection, shards, tmp_path / "out.jsonl")
    out = _read_jsonl(tmp_path / "out.jsonl")
    assert out["round"].tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert out["id"].tolist() == ["d001", "d003", "d006", "d002", "d005", "d007", "d000", "d004", "d008"]
    assert out["order"].tolist() == list(range(9))
    assert out["score"].isna().all()
    assert training_order(selection)["id"].tolist() == out["id"].tolist()


def test_parquet_and_jsonl_agree(tmp_path):
    pool, shards = _pool(tmp_path)
    selection = pd.DataFrame({"id": pool["id"][::-2], "order": np.arange(25)})
    scores = pd.DataFrame({"id": pool["id"], "score": np.arange(len(pool), dtype=float) / 7})
    export_selection(selection, shards, tmp_path / "a.parquet", scores)
    export_selection(selection, shards, tmp_path / "a.jsonl", scores)
    from_parquet = pd.read_parquet(tmp_path / "a.parquet")
    from_jsonl = _read_jsonl(tmp_path / "a.jsonl")
    pd.testing.assert_frame_equal(
        from_parquet.astype({"round": "float64"}), from_jsonl.astype({"round": "float64"}), check_dtype=False
    )
    assert "\u2014" in (tmp_path / "a.jsonl").read_text(encoding="utf-8")  # UTF-8, not \\u escapes


def test_huggingface_datasets_reads_both_formats(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    import datasets

    pool, shards = _pool(tmp_path)
    selection = pd.DataFrame({"id": pool["id"][10:30], "order": np.arange(20), "round": np.arange(20) // 10})
    export_selection(selection, shards, tmp_path / "sel.parquet")
    export_selection(selection, shards, tmp_path / "sel.jsonl")
    cache = str(tmp_path / "hf-cache")
    for fmt, name in (("parquet", "sel.parquet"), ("json", "sel.jsonl")):
        ds = datasets.load_dataset(fmt, data_files=str(tmp_path / name), split="train", cache_dir=cache)
        assert ds.num_rows == 20
        assert ds["id"] == pool["id"][10:30].tolist()
        assert ds["text"] == pool["text"][10:30].tolist()
        assert ds["round"] == [0] * 10 + [1] * 10
        assert ds["score"] == [None] * 20


def test_the_pool_is_read_in_batches(tmp_path, monkeypatch):
    """Shards are scanned record batch by record batch: a pool larger than a batch still exports whole."""
    import dqreview.export as export

    monkeypatch.setattr(export, "BATCH_ROWS", 4)
    pool, shards = _pool(tmp_path, n=40, shards=2)
    assert pq.ParquetFile(shards[0]).metadata.num_rows > 4
    selection = pd.DataFrame({"id": pool["id"][::-1], "order": np.arange(40)})
    export_selection(selection, shards, tmp_path / "out.parquet")
    out = pd.read_parquet(tmp_path / "out.parquet")
    assert out["id"].tolist() == pool["id"][::-1].tolist()
    assert out["text"].tolist() == pool["text"][::-1].tolist()


def test_failures_name_the_problem_and_leave_no_file(tmp_path):
    pool, shards = _pool(tmp_path)
    with pytest.raises(
        DQError, match=r"1 selected id\(s\) not in the pool shards, e.g. 'zzz'.*rerun the select"
    ):
        export_selection(pd.DataFrame({"id": ["d001", "zzz"]}), shards, tmp_path / "x.parquet")
    with pytest.raises(DQError, match=r"no score for 1 selected id\(s\), e.g. 'd002'"):
        export_selection(
            pd.DataFrame({"id": ["d001", "d002"]}), shards, tmp_path / "x.parquet",
            pd.DataFrame({"id": ["d001"], "score": [1.0]}),
        )  # fmt: skip
    with pytest.raises(DQError, match=r"2 duplicate id\(s\)"):
        export_selection(pd.DataFrame({"id": ["d001", "d001", "d001"]}), shards, tmp_path / "x.parquet")
    with pytest.raises(DQError, match=r"unknown export format 'csv'; name the file \*.parquet or \*.jsonl"):
        format_of(tmp_path / "x.csv")
    assert list(tmp_path.glob("x.*")) == []
