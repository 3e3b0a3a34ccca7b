"""prepare_corpus: splits, decontamination, planting, sharding, determinism, and the counted repairs of damaged,
empty, huge and duplicate source documents."""

from __future__ import annotations

import copy
import hashlib
import random

import numpy as np
import pandas as pd
import pytest

from conftest import distinct_words, local_source
from dqreview.corpus.prepare import DOC_COLUMNS, near_duplicate, plant, prepare_corpus, truncate_utf8
from dqreview.corpus.sources import fetch_source
from dqreview.errors import DQError
from dqreview.hashing import doc_id, stable_hash64, text_hash

N = 8  # overlap n-gram in these tests

CFG = {
    "target": {"source": "tgt", "share": 0.3, "ref_share": 0.5, "max_chunks": {"ref": 25, "test": 25}},
    "domains": [
        {"name": "news", "sources": ["tgt"], "max_chunks": 80},
        {"name": "forum", "sources": ["frm"], "max_chunks": 80},
        {"name": "code", "sources": ["py"], "max_chunks": 60},
    ],
    "prepare": {
        "chunk_words": 20,
        "max_chunk_words": 30,
        "max_doc_bytes": 3000,
        "heldout_chunks": 6,
        "overlap_ngram": N,
        "shards": 3,
        "seed": 0,
        "plant": {"exact_rate": 0.05, "near_rate": 0.05, "near_edits": 4, "noise_rate": 0.03},
    },
}


def _sentence(rng):
    return " ".join(f"w{rng.randrange(5000)}" for _ in range(rng.randint(4, 14))) + "."


def _raw():
    rng = random.Random(42)
    tgt = {
        f"article {i}": "\n\n".join(
            " ".join(_sentence(rng) for _ in range(rng.randint(1, 5))) for _ in range(rng.randint(1, 4))
        )
        for i in range(80)
    }
    # Forum posts quote target articles: decontamination has something to remove.
    frm = {}
    for i in range(50):
        text = " ".join(_sentence(rng) for _ in range(rng.randint(2, 12)))
        text += "".join("\n\n" + tgt[f"article {j}"] for j in (i, i + 50) if j < 80)
        frm[f"post-{i}"] = text
    frm["empty-1"] = "   \n\n "
    frm["empty-2"] = "\x00\u200b"
    frm["huge"] = "é" * 5000  # 10000 bytes > max_doc_bytes: cut at a character boundary
    py = {
        f"mod{i}.py": "\n".join(
            f"    v{j} = call(v{j - 1}, {rng.randrange(99)})" for j in range(rng.randint(5, 60))
        )
        for i in range(20)
    }

    def frame(name, docs):
        return pd.DataFrame({"source": name, "document": list(docs), "text": list(docs.values())})

    return {"tgt": frame("tgt", tgt), "frm": frame("frm", frm), "py": frame("py", py)}


@pytest.fixture(scope="module")
def prepared():
    return prepare_corpus(_raw(), CFG)


def _all_frames(p):
    return [*p.pool_shards, p.target_ref, p.target_test, *p.heldout.values()]


def _ngrams(text, n=N):
    w = text.lower().split()
    return {" ".join(w[i : i + n]) for i in range(len(w) - n + 1)}


def test_contract_columns_and_unique_ids(prepared):
    frames = _all_frames(prepared)
    for df in frames:
        assert list(df.columns) == DOC_COLUMNS
        assert df["id"].is_monotonic_increasing  # sorted by id
        assert (df["text_hash"] == df["text"].map(text_hash)).all()
        assert (df["n_bytes"] == df["text"].map(lambda t: len(t.encode("utf-8")))).all()
        assert (df["n_words"] == df["text"].str.split().str.len()).all()
    ids = pd.concat([df["id"] for df in frames])
    assert ids.is_unique
    assert len(prepared.pool_shards) == 3
    assert set(prepared.heldout) == {"news", "forum", "code"}
    assert (prepared.target_ref["domain"] == "target").all()


def test_chunk_limits_hold_for_every_row(prepared):
    for df in _all_frames(prepared):
        assert df["n_words"].max() <= 30
        assert (df["n_words"] > 0).all()


def test_caps_and_heldout_size(prepared):
    assert len(prepared.target_ref) == 25 and len(prepared.target_test) == 25
    assert all(len(df) == 6 for df in prepared.heldout.values())
    pool = prepared.pool
    real = pool[pool["planted"] == ""]
    counts = real["domain"].value_counts()
    assert counts["news"] <= 80 and counts["forum"] <= 80 and counts["code"] <= 60


def test_source_documents_never_straddle_splits(prepared):
    raw = _raw()
    where = {}
    for name, frames in [
        ("pool", prepared.pool_shards),
        ("ref", [prepared.target_ref]),
        ("test", [prepared.target_test]),
        *[(f"heldout/{d}", [df]) for d, df in prepared.heldout.items()],
    ]:
        for df in frames:
            where.update(dict.fromkeys(df["id"], name))
    for source, df in raw.items():
        for key in df["document"]:
            splits = {where[i] for i in (doc_id(source, key, c) for c in range(200)) if i in where}
            assert len(splits) <= 1, (source, key, splits)


def test_no_evaluation_ngram_left_in_pool(prepared):
    evaluation = [prepared.target_ref, prepared.target_test, *prepared.heldout.values()]
    grams = set().union(*(_ngrams(t) for df in evaluation for t in df["text"]))
    texts = {" ".join(t.lower().split()) for df in evaluation for t in df["text"]}
    for t in prepared.pool["text"]:
        assert not (_ngrams(t) & grams)
        assert " ".join(t.lower().split()) not in texts
    assert prepared.stats["decontaminated"]["forum"] > 0  # the quoting posts were caught
    assert prepared.stats["decontaminated_total"] == sum(prepared.stats["decontaminated"].values())


def test_planting(prepared):
    pool = prepared.pool
    base = prepared.stats["pool_chunks_before_planting"]
    kind = pool["planted"].str.split(":").str[0]
    for name, rate in [("exact", 0.05), ("near", 0.05), ("noise", 0.03)]:
        n = int((kind == name).sum())
        assert abs(n - rate * base) <= 1, (name, n, rate * base)
        assert prepared.stats["planted"][name] == n
    by_id = pool.set_index("id")
    for _, row in pool[kind == "exact"].iterrows():
        orig = by_id.loc[row["planted"].split(":")[1]]
        assert row["text_hash"] == orig["text_hash"] and row["domain"] == orig["domain"]
        assert row["id"] == doc_id("planted", row["planted"], 0)
    for _, row in pool[kind == "near"].iterrows():
        _, orig_id, m = row["planted"].split(":")
        orig = by_id.loc[orig_id]
        assert row["text"] != orig["text"] and m.startswith("m=") and int(m[2:]) >= 1
        assert orig["planted"] == "" and row["domain"] == orig["domain"]
    assert pool.loc[kind == "noise", "n_words"].between(1, 30).all()
    assert (pool.loc[kind == "noise", "planted"] == "noise").all()


def _digest(frame: pd.DataFrame, columns: list[str]) -> str:
    rows = "\n".join("|".join(r) for r in frame[columns].astype(str).itertuples(index=False, name=None))
    return hashlib.sha256(rows.encode()).hexdigest()[:16]


def test_planted_noise_takes_a_host_domain_and_nothing_else_moved(prepared):
    """Noise documents carry a pool domain (no "noise" domain for a mixture method to read), and
    the copies, the near-duplicates and the noise texts are byte for byte what they were when noise
    had a domain of its own (digests pinned from that version, commit 071c089)."""
    pool = prepared.pool
    kind = pool["planted"].str.split(":").str[0]
    assert set(pool["domain"]) == {"news", "forum", "code"}
    copies = pool[kind.isin(["exact", "near"])]
    assert (
        len(copies) == 20 and _digest(copies, ["id", "text_hash", "domain", "planted"]) == "7a449bd7e2362dfa"
    )
    noise = pool[kind == "noise"]
    assert len(noise) == 6 and _digest(noise, ["id", "text_hash"]) == "f038d320340efc8d"
    # the hosts drawn by the planting RNG after the texts (pinned: a change here re-deals the noise)
    assert noise["domain"].tolist() == ["code", "forum", "forum", "news", "news", "news"]


def test_noise_hosts_are_drawn_in_proportion_to_the_domains_rows():
    domains = ["a"] * 700 + ["b"] * 200 + ["c"] * 100
    pool = [
        {"id": f"{i:05d}", "text": f"w{i} x{i % 7} y{i % 13}", "domain": d, "n_words": 3}
        for i, d in enumerate(domains)
    ]
    rows, counts = plant(pool, {"noise_rate": 0.5}, seed=3)
    assert counts == {"exact": 0, "near": 0, "noise": 500}
    assert {r["planted"] for r in rows} == {"noise"}
    share = pd.Series([r["domain"] for r in rows]).value_counts(normalize=True)
    # 500 draws: each share within 4.5 binomial standard deviations of the domain's share of the rows
    for d, p in {"a": 0.7, "b": 0.2, "c": 0.1}.items():
        assert abs(share[d] - p) < 4.5 * np.sqrt(p * (1 - p) / 500), (d, share[d])
    again, _ = plant(list(reversed(pool)), {"noise_rate": 0.5}, seed=3)
    assert again == rows  # the id-sorted pool, not the row order, decides


def test_empty_and_truncated_documents_counted(prepared):
    frm = prepared.stats["sources"]["frm"]
    assert frm["empty_dropped"] == 2 and frm["truncated_docs"] == 1
    assert prepared.stats["empty_dropped"] == 2
    text, cut = truncate_utf8("aé" * 10, 4)  # 'a' + 'é' is 3 bytes; the next 'a' would fit, 'é' not
    assert cut and text == "aéa" and len(text.encode()) <= 4


def test_domain_table(prepared):
    t = prepared.domain_table
    assert set(t["split"]) == {"pool", "target_ref", "target_test", "heldout"}
    pool_rows = t[t["split"] == "pool"].set_index("domain")
    assert pool_rows["documents"].sum() == len(prepared.pool)
    assert set(pool_rows.index) == {"news", "forum", "code"}  # no row for noise: it sits in its hosts
    assert pool_rows["planted_noise"].sum() == prepared.stats["planted"]["noise"]
    noise_domains = prepared.pool.loc[prepared.pool["planted"] == "noise", "domain"].value_counts()
    assert pool_rows["planted_noise"][noise_domains.index].tolist() == noise_domains.tolist()
    assert pool_rows.loc["forum", "decontaminated"] == prepared.stats["decontaminated"]["forum"]
    assert (t["source_documents"] <= t["documents"]).all()


def test_deterministic_and_independent_of_row_order(prepared):
    again = prepare_corpus(_raw(), CFG)
    shuffled = {k: df.sample(frac=1.0, random_state=7).reset_index(drop=True) for k, df in _raw().items()}
    shuffled = dict(reversed(list(shuffled.items())))
    other = prepare_corpus(shuffled, CFG)
    for result in (again, other):
        for a, b in zip(_all_frames(prepared), _all_frames(result), strict=True):
            pd.testing.assert_frame_equal(a, b)
        assert result.stats == prepared.stats


def test_shard_assignment_is_by_id_only(prepared):
    for i, shard in enumerate(prepared.pool_shards):
        assert all(stable_hash64(x) % 3 == i for x in shard["id"])
    cfg = copy.deepcopy(CFG)
    cfg["prepare"]["shards"] = 1
    single = prepare_corpus(_raw(), cfg)
    pd.testing.assert_frame_equal(single.pool_shards[0], prepared.pool)


def test_seed_changes_the_split():
    cfg = copy.deepcopy(CFG)
    cfg["prepare"]["seed"] = 1
    a, b = prepare_corpus(_raw(), CFG), prepare_corpus(_raw(), cfg)
    assert set(a.target_ref["id"]) != set(b.target_ref["id"])


def test_token_limit_applies_to_chunks_and_planted_rows():
    def count(texts):  # every character is a token: a tight limit
        return [len(t) for t in texts]

    p = prepare_corpus(_raw(), CFG, count_tokens=count, max_tokens=60)
    for df in _all_frames(p):
        assert df["text"].str.len().max() <= 60


def test_near_duplicate_edits():
    rng = np.random.default_rng(0)
    text = "def f(x):\n    return x + 1\n\nprint(f(2))"
    out = near_duplicate(text, 2, rng, max_words=len(text.split()))
    assert out != text and len(out.split()) <= len(text.split())
    assert near_duplicate("same", 3, np.random.default_rng(1)) != "same"


def test_config_errors(prepared):
    raw = _raw()
    cfg = copy.deepcopy(CFG)
    cfg["domains"].append({"name": "dup", "sources": ["frm"]})
    with pytest.raises(DQError, match="source 'frm' is listed by domains 'forum' and 'dup'"):
        prepare_corpus(raw, cfg)
    cfg = copy.deepcopy(CFG)
    cfg["domains"][0]["sources"] = ["nope"]
    with pytest.raises(DQError, match="domain 'news' lists source 'nope'"):
        prepare_corpus(raw, cfg)
    cfg = copy.deepcopy(CFG)
    del cfg["prepare"]["shards"]
    with pytest.raises(DQError, match="missing key 'prepare.shards'"):
        prepare_corpus(raw, cfg)
    cfg = copy.deepcopy(CFG)
    cfg["domains"][2]["name"] = "target"
    with pytest.raises(DQError, match=r"domain name 'target' is reserved or repeated; .* not \['target'\]"):
        prepare_corpus(raw, cfg)
    cfg["domains"][2]["name"] = "noise"  # an ordinary name: planted noise has no domain of its own
    named = prepare_corpus(raw, cfg).pool
    assert set(named["domain"]) == {"news", "forum", "noise"}
    assert named["id"].tolist() == prepared.pool["id"].tolist()
    assert ((named["domain"] == "noise") == (prepared.pool["domain"] == "code")).all()
    bad = {**raw, "py": pd.concat([raw["py"], raw["py"].iloc[:1]])}
    with pytest.raises(DQError, match="raw source 'py': duplicate document key 'mod0.py'"):
        prepare_corpus(bad, CFG)


# --- sources with damaged, empty, huge or duplicate documents, through prepare ----------------------


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
    files = {f"t{i}.txt": f"Article {i}. {distinct_words(40, 100000 + 50 * i)}".encode() for i in range(20)}
    spec = local_source(tmp_path, "tgt", files)
    return fetch_source(spec, tmp_path / "cache")[0]


def test_invalid_utf8_is_repaired_and_counted(tmp_path, target):
    spec = local_source(
        tmp_path,
        "misc",
        {"bad.txt": b"caf\xe9 " + distinct_words(30).encode(), "ok.txt": distinct_words(30, 99).encode()},
    )
    docs, stats = fetch_source(spec, tmp_path / "cache")
    assert stats["repaired_utf8"] == 1 and "bad.txt" in stats["first_repaired"]
    prepared = prepare_corpus({"tgt": target, "misc": docs}, _cfg())
    texts = pd.concat(prepared.pool_shards)["text"].tolist() + [
        t for h in prepared.heldout.values() for t in h.text
    ]
    assert any("caf\ufffd" in t for t in texts)


def test_empty_file_is_dropped_and_counted(tmp_path, target):
    files = {
        "empty.txt": b"",
        "blank.txt": b"  \n\n\t ",
        **{f"d{i}.txt": distinct_words(60, 1000 * i).encode() for i in range(6)},
    }
    docs, _ = fetch_source(local_source(tmp_path, "misc", files), tmp_path / "cache")
    prepared = prepare_corpus({"tgt": target, "misc": docs}, _cfg())
    assert prepared.stats["sources"]["misc"]["empty_dropped"] == 2
    assert prepared.stats["empty_dropped"] == 2


def test_50mb_single_document_is_cut_and_counted(tmp_path, target):
    unit = (distinct_words(150) + ".\n\n").encode()
    big = unit * (50_000_000 // len(unit) + 1)
    assert len(big) >= 50_000_000
    files = {"huge.txt": big, **{f"d{i}.txt": distinct_words(60, 1000 * i).encode() for i in range(6)}}
    docs, _ = fetch_source(local_source(tmp_path, "misc", files), tmp_path / "cache")
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
    text = distinct_words(50, 777).encode()
    files = {
        "a.txt": text,
        "b.txt": text,
        **{f"d{i}.txt": distinct_words(60, 1000 * i).encode() for i in range(8)},
    }
    docs, _ = fetch_source(local_source(tmp_path, "misc", files), tmp_path / "cache")
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
