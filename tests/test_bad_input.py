"""Bad input end to end: each case gets a clear error naming the place, or a counted, reported repair."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import REPO, snakemake
from dqreview.config import load_schema, validate_config
from dqreview.corpus.prepare import prepare_corpus
from dqreview.corpus.sources import fetch_source
from dqreview.errors import DQError
from dqreview.io import read_npy, read_parquet


def _local(tmp_path, name, files: dict[str, bytes], **extra):
    folder = tmp_path / name
    folder.mkdir()
    for fname, data in files.items():
        (folder / fname).write_bytes(data)
    return {"name": name, "kind": "local", "paths": [str(folder / "*")], "format": "text", **extra}


def _words(n, start=0):
    """n distinct words; ranges that do not overlap share no n-gram."""
    return " ".join(f"word{i}" for i in range(start, start + n))


def _cfg(max_doc_bytes=1_000_000):
    return {
        "target": {"source": "tgt", "share": 0.5, "ref_share": 0.5, "max_chunks": {"ref": 50, "test": 50}},
        "domains": [{"name": "misc", "sources": ["misc"], "max_chunks": 100000}],
        "prepare": {
            "chunk_words": 128,
            "max_chunk_words": 192,
            "max_doc_bytes": max_doc_bytes,
            "heldout_chunks": 2,
            "overlap_ngram": 13,
            "shards": 2,
            "seed": 0,
        },
    }


@pytest.fixture
def target(tmp_path):
    files = {f"t{i}.txt": f"Article {i}. {_words(40, 100000 + 50 * i)}".encode() for i in range(20)}
    spec = _local(tmp_path, "tgt", files)
    return fetch_source(spec, tmp_path / "cache")[0]


def test_invalid_utf8_is_repaired_and_counted(tmp_path, target):
    spec = _local(
        tmp_path, "misc", {"bad.txt": b"caf\xe9 " + _words(30).encode(), "ok.txt": _words(30, 99).encode()}
    )
    docs, stats = fetch_source(spec, tmp_path / "cache")
    assert stats["repaired_utf8"] == 1 and "bad.txt" in stats["first_repaired"]
    prepared = prepare_corpus({"tgt": target, "misc": docs}, _cfg())
    texts = pd.concat(prepared.pool_shards)["text"].tolist() + [
        t for h in prepared.heldout.values() for t in h.text
    ]
    assert any("caf\ufffd" in t for t in texts)


def test_invalid_utf8_strict_names_file_and_offset(tmp_path):
    spec = _local(tmp_path, "misc", {"bad.txt": b"abc\xff"}, decode_errors="strict")
    with pytest.raises(DQError, match=r"bad\.txt.*(byte|offset) 3"):
        fetch_source(spec, tmp_path / "cache")


def test_empty_file_is_dropped_and_counted(tmp_path, target):
    files = {
        "empty.txt": b"",
        "blank.txt": b"  \n\n\t ",
        **{f"d{i}.txt": _words(60, 1000 * i).encode() for i in range(6)},
    }
    docs, _ = fetch_source(_local(tmp_path, "misc", files), tmp_path / "cache")
    prepared = prepare_corpus({"tgt": target, "misc": docs}, _cfg())
    assert prepared.stats["sources"]["misc"]["empty_dropped"] == 2
    assert prepared.stats["empty_dropped"] == 2


def test_50mb_single_document_is_cut_and_counted(tmp_path, target):
    unit = (_words(150) + ".\n\n").encode()
    big = unit * (50_000_000 // len(unit) + 1)
    assert len(big) >= 50_000_000
    files = {"huge.txt": big, **{f"d{i}.txt": _words(60, 1000 * i).encode() for i in range(6)}}
    docs, _ = fetch_source(_local(tmp_path, "misc", files), tmp_path / "cache")
    prepared = prepare_corpus({"tgt": target, "misc": docs}, _cfg(max_doc_bytes=2_000_000))
    assert prepared.stats["truncated_docs"] == 1
    pool = pd.concat(prepared.pool_shards)
    assert pool["n_words"].max() <= 192
    # the cut keeps max_doc_bytes of the document, never more
    assert (
        pool["n_bytes"].sum() + sum(h["n_bytes"].sum() for h in prepared.heldout.values())
        <= 2_000_000 + 6 * 1000
    )


def test_duplicate_texts_keep_one_hash_and_are_counted(tmp_path, target):
    text = _words(50, 777).encode()
    files = {"a.txt": text, "b.txt": text, **{f"d{i}.txt": _words(60, 1000 * i).encode() for i in range(8)}}
    docs, _ = fetch_source(_local(tmp_path, "misc", files), tmp_path / "cache")
    prepared = prepare_corpus({"tgt": target, "misc": docs}, _cfg())
    pool = pd.concat(prepared.pool_shards)
    heldout = pd.concat(prepared.heldout.values())
    in_pool = pool[pool["text"] == text.decode()]
    in_heldout = heldout[heldout["text"] == text.decode()]
    if len(in_heldout):
        # one copy is evaluation text: its twin must have been removed from the pool, and counted
        assert len(in_pool) == 0 and prepared.stats["decontaminated_total"] >= 1
    else:
        assert len(in_pool) == 2
        assert in_pool["text_hash"].nunique() == 1 and in_pool["id"].nunique() == 2
        assert prepared.stats["duplicate_texts_unplanted"] == 1


def test_duplicate_ids_in_jsonl_name_the_key(tmp_path):
    path = tmp_path / "docs.jsonl"
    path.write_text('{"id": "a", "text": "x"}\n{"id": "a", "text": "y"}\n')
    spec = {"name": "j", "kind": "local", "paths": [str(path)], "format": "jsonl", "id_field": "id"}
    with pytest.raises(DQError, match="'a'.*unique|unique.*'a'"):
        fetch_source(spec, tmp_path / "cache")


def test_missing_text_column_in_parquet(tmp_path):
    path = tmp_path / "docs.parquet"
    pd.DataFrame({"body": ["x"]}).to_parquet(path)
    spec = {"name": "p", "kind": "local", "paths": [str(path)], "format": "parquet"}
    with pytest.raises(DQError, match="docs.parquet.*text|text.*docs.parquet"):
        fetch_source(spec, tmp_path / "cache")


def test_truncated_parquet_names_the_file(tmp_path):
    path = tmp_path / "shard-0.parquet"
    pd.DataFrame({"id": ["a"] * 100, "text": ["hello"] * 100}).to_parquet(path)
    path.write_bytes(path.read_bytes()[:-40])
    with pytest.raises(DQError, match="shard-0.parquet.*delete it and rerun"):
        read_parquet(path)


def test_npy_with_pickle_is_refused(tmp_path):
    path = tmp_path / "x.npy"
    np.save(path, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(DQError, match="x.npy"):
        read_npy(path)


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda c: c["lm"]["model"].__setitem__("n_layer", 2.5), "'lm.model.n_layer': expected integer"),
        (lambda c: c.__setitem__("seeds", "0"), "'seeds': expected array"),
        (lambda c: c["embed"].__setitem__("batchsize", 3), "unknown config key(s) ['batchsize'] in 'embed'"),
        (lambda c: c.__setitem__("extra", 1), "unknown config key(s) ['extra'] in the top level"),
        (lambda c: c["select"].__setitem__("budgets", [0.0]), "'select.budgets[0]'"),
        (lambda c: c["domains"][0].__setitem__("sources", ["nope"]), "unknown source 'nope'"),
        (lambda c: c["metrics"][1].__setitem__("name", "dsir_typo"), "known metrics"),
        (lambda c: c["metrics"][0].__setitem__("keep", ["low"]), "not allowed for metric 'random'"),
        (lambda c: c["sources"][0].__setitem__("sha256", "abc"), "'sources[0].sha256'"),
    ],
)
def test_config_errors_name_the_key(mutate, expected):
    cfg = yaml.safe_load((REPO / "config.yaml").read_text())
    mutate(cfg)
    with pytest.raises(DQError) as info:
        validate_config(cfg, load_schema(REPO / "workflow/schemas/config.schema.yaml"))
    assert expected in str(info.value)


def test_default_configs_validate():
    for extra in [None, "configs/tiny.yaml"]:
        cfg = yaml.safe_load((REPO / "config.yaml").read_text())
        if extra:
            cfg.update(yaml.safe_load((REPO / extra).read_text()))
        validate_config(cfg, load_schema(REPO / "workflow/schemas/config.schema.yaml"))
        assert cfg["prepare"]["overlap_ngram"] == 13  # defaults filled in


@pytest.mark.workflow
def test_local_sources_through_the_workflow(tmp_path):
    """A config made only of local files (one invalid UTF-8, one empty) runs through prepare with counts."""
    data = tmp_path / "data"
    data.mkdir()
    with open(data / "target.jsonl", "w") as fh:
        for i in range(40):
            fh.write(
                json.dumps({"id": f"t{i}", "text": f"Article {i}. " + _words(60, 100000 + 70 * i)}) + "\n"
            )
    pool = data / "pool"
    pool.mkdir()
    for i in range(12):
        (pool / f"d{i}.txt").write_bytes(_words(100, 1000 * i).encode())
    (pool / "bad.txt").write_bytes(b"na\xefve " + _words(40, 50000).encode())
    (pool / "empty.txt").write_bytes(b"")
    cfg = yaml.safe_load((REPO / "configs/tiny.yaml").read_text())
    cfg["sources"] = [
        {
            "name": "tgt",
            "kind": "local",
            "paths": [str(data / "target.jsonl")],
            "format": "jsonl",
            "id_field": "id",
        },
        {"name": "misc", "kind": "local", "paths": [str(pool / "*.txt")], "format": "text"},
    ]
    cfg["target"] = {"source": "tgt", "share": 0.5, "ref_share": 0.5, "max_chunks": {"ref": 20, "test": 20}}
    cfg["domains"] = [{"name": "misc", "sources": ["misc"], "max_chunks": 100}]
    cfg["prepare"]["heldout_chunks"] = 2
    path = tmp_path / "local.yaml"
    path.write_text(yaml.safe_dump(cfg))
    proc = snakemake(tmp_path, "--cores", "1", "results/data/prepare.json", configfiles=[path], timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    stats = json.loads((tmp_path / "results/data/prepare.json").read_text())
    assert stats["empty_dropped"] == 1
    download = json.loads((tmp_path / "results/download/misc.json").read_text())
    assert download["repaired_utf8"] == 1
