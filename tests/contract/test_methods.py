"""The contract every selection method keeps, checked for each registered method and the plugin of tests/plugins.

For each case (a method and one parameter setting, the configs' variants): the workflow's path at the library
level — shard features, fit on the pool in id order, score per shard, merge, select per seed — gives the same
scores (floats to relative 1e-9) and selections for 1 and 4 pool shards, the same again on a rerun, and
different selections for different seeds where the method samples; its typed parameters refuse unknown keys and
wrong types, naming the key; and a method with a number of clusters k refuses a k larger than the documents it
clusters, naming both.
"""

from __future__ import annotations

import dataclasses
import io
import re
import sys

import numpy as np
import pandas as pd
import pytest

from conftest import REPO, unit_rows
from dqreview.corpus.prepare import shard_of
from dqreview.errors import DQError
from dqreview.metrics import REGISTRY, DocumentScorer, MixtureLearner, fit_state, load_method
from dqreview.select import select_budget, supply_fraction

sys.path.insert(0, str(REPO / "tests/plugins"))

#: (method, module or None for a registered one, params): one case per parameter setting worth its own check
CASES = {
    "random": ("random", None, {}),
    "ssl_proto": ("ssl_proto", None, {"k": 4, "seed": 0}),
    "ssl_proto-half-pool": ("ssl_proto", None, {"k": 4, "seed": 0, "pool_fraction": 0.5}),
    "ssl_proto-l2": ("ssl_proto", None, {"k": 4, "seed": 0, "distance": "l2"}),
    "ssl_proto-t2v": ("ssl_proto", None, {"k": 4, "seed": 0, "space": "task2vec"}),
    "proto_align": ("proto_align", None, {"source": "kmeans", "k": 4, "distance": "cosine", "seed": 0}),
    "proto_align-hard": ("proto_align", None, {"source": "hard", "k": 4, "hard_fraction": 0.3, "seed": 0}),
    "proto_align-mean-l1": ("proto_align", None, {"source": "mean", "distance": "l1"}),
    "proto_align-hard-loss": ("proto_align", None, {"source": "hard", "hard_by": "probe_loss", "k": 4, "seed": 0}),
    "semdedup": ("semdedup", None, {"k": 4, "eps": 0.05, "keep": "hard", "seed": 0}),
    "d4": ("d4", None, {"k": 4, "dedup_fraction_kept": 0.75, "seed": 0}),
    "minhash": ("minhash", None, {"num_perm": 128, "threshold": 0.8, "lsh_threshold": 0.6, "verify": True,
                                  "mode": "fast"}),
    "minhash-legacy": ("minhash", None, {"num_perm": 64, "threshold": 0.5, "mode": "legacy"}),
    "minhash-exact": ("minhash", None, {"mode": "exact"}),
    "dsir": ("dsir", None, {"num_buckets": 10000, "ngrams": 2, "featurizer": "fast", "sampling": "gumbel"}),
    "dsir-compat-topk": ("dsir", None, {"num_buckets": 1000, "featurizer": "compat", "sampling": "top_k"}),
    "t2v_align": ("t2v_align", None, {"prototype": "kmeans", "k": 2, "source": "all", "distance": "cosine",
                                      "seed": 0}),
    "t2v_align-hard": ("t2v_align", None, {"prototype": "kmeans", "k": 2, "source": "hard", "hard_fraction": 0.5,
                                           "seed": 0}),
    "t2v_align-hard-far": ("t2v_align", None, {"prototype": "kmeans", "k": 2, "source": "hard", "hard_by": "distance",
                                               "seed": 0}),
    "t2v_complexity": ("t2v_complexity", None, {"normalise": "none"}),
    "t2v_complexity-per-token": ("t2v_complexity", None, {"normalise": "tokens"}),
    "dq": ("dq", None, {"alpha": 0.5, "k": 3, "cover": "pool", "seed": 0}),
    "doremi": ("doremi", None, {}),
    "skillit": ("skillit", None, {}),
    "skillit-static": ("skillit", None, {"static": "final", "from": "online"}),
    "length-plugin": ("length", "dq_plugins.length", {"power": 2.0}),
}  # fmt: skip
#: methods whose selection is seeded sampling: different seeds must select differently
SAMPLING = {"random", "dsir", "doremi", "skillit"}
DOMAINS = ("code", "legal", "wiki")
N_POOL = 160


def _method(case: str):
    name, module, raw = CASES[case]
    method = load_method(name, module)
    return method, method.params(raw, f"{case} params")


def _pool() -> tuple[pd.DataFrame, dict]:
    """A pool (sorted by id, like prepare's) with exact and near copies, embeddings and Task2Vec vectors."""
    rng = np.random.default_rng(0)
    vocab = [f"w{i}" for i in range(300)]
    texts = [" ".join(rng.choice(vocab, size=int(rng.integers(20, 60)))) for _ in range(N_POOL)]
    for i in range(0, 30, 3):  # exact copies and near copies (one word changed)
        texts[i + 1] = texts[i]
        words = texts[i].split()
        words[0] = "changed"
        texts[i + 2] = " ".join(words)
    emb = unit_rows(rng, N_POOL, 16)
    emb[1:30:3] = emb[0:30:3]  # the copies' embeddings, too
    ids = [f"{h:016x}" for h in rng.integers(0, 2**63, size=N_POOL)]
    pool = pd.DataFrame(
        {
            "id": ids,
            "text": texts,
            "domain": [DOMAINS[i % 3] for i in range(N_POOL)],
            "n_bytes": [len(t.encode()) for t in texts],
            "embeddings": list(emb),
            "t2v": list(np.abs(rng.normal(size=(N_POOL, 12)))),
            "n_tokens": [len(t.split()) + 1 for t in texts],
        }
    ).sort_values("id", ignore_index=True)
    target = {
        "target_embeddings": unit_rows(rng, 30, 16),
        "target_texts": np.array(
            [" ".join(rng.choice(vocab[:100], size=40)) for _ in range(30)], dtype=object
        ),
        "target_t2v": np.abs(rng.normal(size=(30, 12))),
        "target_losses": rng.normal(size=30),
    }
    return pool, target


def _npz_roundtrip(arrays: dict) -> dict:
    """What saving as .npz without pickle and loading gives (as the workflow does between jobs)."""
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    buf.seek(0)
    with np.load(buf, allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files}


def _mixture_state(case: str) -> dict:
    """A learned state as the method's learn writes it (learning itself trains proxies: tested per module)."""
    bpt = {"code": 3.1, "legal": 4.2, "wiki": 4.7}
    mix = {"code": 0.5, "legal": 0.2, "wiki": 0.3}
    if case.startswith("doremi"):
        return {"weights": mix, "bytes_per_token": bpt}
    rounds = [
        {"mixture": mix, "tokens": 500},
        {"mixture": {"code": 0.1, "legal": 0.6, "wiki": 0.3}, "tokens": 500},
    ]
    return {
        "rounds": rounds,
        "bytes_per_token": bpt,
        "final_mixture": rounds[-1]["mixture"],
        "average_mixture": mix,
    }


def _workflow(case: str, n_shards: int) -> tuple[pd.DataFrame | None, list[list[str]]]:
    """What the workflow computes for one case with ``n_shards`` pool shards.

    Shards are ``hash(id) % n`` (each sorted by id, as prepare writes them); fit inputs are the pool arrays
    concatenated in shard order (fit_metric.py), scores are per shard then concatenated (merge_scores.py),
    selections at budget 0.3 for two seeds (select.py / select_mixture.py).
    """
    method, params = _method(case)
    pool, target = _pool()
    which = shard_of(pool["id"].tolist(), n_shards)
    shards = [pool[which == i].reset_index(drop=True) for i in range(n_shards)]
    index = pd.concat(shards, ignore_index=True)  # results/data/pool/index.parquet: shard order
    if isinstance(method, MixtureLearner):
        assert not method.select_inputs(params)  # these cases sample domains, not clusters
        selections = [
            method.select_budget(
                index[["id", "n_bytes", "domain"]], _mixture_state(case), 0.3, s, params, {}
            )[0]
            for s in (0, 1)
        ]
        return None, [s["id"].tolist() for s in selections]
    assert isinstance(method, DocumentScorer)
    docs = [s[["id", "text", "domain", "n_bytes"]] for s in shards]
    state = None
    if method.fits:
        available = {
            "pool_embeddings": np.stack(index["embeddings"]),
            "pool_ids": index["id"].to_numpy().astype(str),
            "pool_texts": index["text"].to_numpy(dtype=object),
            "pool_t2v": np.stack(index["t2v"]),
            "pool_t2v_tokens": index["n_tokens"].to_numpy(np.int64),
            **target,
        }
        if method.has_shard_features:
            available["shard_features"] = [_npz_roundtrip(method.shard_features(d, params)) for d in docs]
        state = _npz_roundtrip(
            fit_state(method, {i.name: available[i.name] for i in method.fit_inputs_for(params)}, params)
        )
    parts = []
    for shard, d in zip(shards, docs, strict=True):
        feature_input = method.features_for(params)
        features = np.stack(shard[feature_input.name]) if feature_input else None
        parts.append(method.score(d, features, state, params))
    scores = pd.concat(parts, ignore_index=True)
    selections = []
    for seed in (0, 1):
        key = scores.assign(score=method.selection_score(scores, seed, params, "high"))
        columns = [c for c in ("id", "score", "removed") if c in key.columns]
        sel, _ = select_budget(
            index[["id", "n_bytes"]],
            key[columns],
            0.3,
            "high",
            seed,
            max_fraction=supply_fraction(index, scores),
        )
        selections.append(sel["id"].tolist())
    return scores.sort_values("id", ignore_index=True), selections


def _assert_same_scores(a: pd.DataFrame, b: pd.DataFrame) -> None:
    assert list(a.columns) == list(b.columns)
    assert a["id"].tolist() == b["id"].tolist()
    for col in a.columns:
        x, y = a[col].to_numpy(), b[col].to_numpy()
        if np.issubdtype(x.dtype, np.floating):
            np.testing.assert_allclose(y, x, rtol=1e-9, atol=0, err_msg=col)
        else:
            np.testing.assert_array_equal(y, x, err_msg=col)


@pytest.mark.parametrize("case", sorted(CASES))
def test_one_vs_four_shards_same_scores_and_selections(case):
    one_scores, one_sel = _workflow(case, 1)
    four_scores, four_sel = _workflow(case, 4)
    assert one_sel == four_sel
    assert all(len(s) > 10 for s in one_sel)
    if CASES[case][0] in SAMPLING:  # seeded sampling: the two seeds differ
        assert one_sel[0] != one_sel[1]
    if one_scores is not None:
        _assert_same_scores(one_scores, four_scores)
        assert {"id", "score"} <= set(one_scores.columns) and one_scores["score"].notna().all()


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_rerun_gives_the_same_result(case):
    first_scores, first_sel = _workflow(case, 2)
    again_scores, again_sel = _workflow(case, 2)
    assert first_sel == again_sel
    if first_scores is not None:
        _assert_same_scores(first_scores, again_scores)


def test_every_registered_method_has_a_case():
    assert {name for name, module, _ in CASES.values() if module is None} == set(REGISTRY)


@pytest.mark.parametrize("name", sorted({(n, m) for n, m, _ in CASES.values()}), ids=str)
def test_parameters_are_typed_and_errors_name_the_key(name):
    method = load_method(*name)
    where = "metrics[3].variants[1].params"
    with pytest.raises(DQError, match=rf"^{re.escape(where)}: unknown key\(s\) \['no_such_parameter'\]"):
        method.params({"no_such_parameter": 1}, where)
    for field in dataclasses.fields(method.Params):  # a list is no parameter's type
        key = field.metadata.get("key", field.name)
        with pytest.raises(DQError, match=rf"^{re.escape(where)}\.{re.escape(key)}: "):
            method.params({key: []}, where)
    assert set(method.keep) <= {"high", "low"} and "high" in method.keep


def test_fit_without_canonical_order_would_depend_on_shards():
    """The defect fit_state fixes: k-means seeding follows row order, and shard order is not id order."""
    method, params = _method("ssl_proto")
    pool, _ = _pool()
    states = []
    for n in (1, 4):
        which = shard_of(pool["id"].tolist(), n)
        order = np.concatenate([np.flatnonzero(which == i) for i in range(n)])
        inputs = {
            "pool_embeddings": np.stack(pool["embeddings"])[order],
            "pool_ids": pool["id"].to_numpy()[order],
        }
        states.append((method.fit(inputs, params), fit_state(method, inputs, params)))
    assert not np.array_equal(states[0][0]["centroids"], states[1][0]["centroids"])
    np.testing.assert_array_equal(states[0][1]["centroids"], states[1][1]["centroids"])


@pytest.mark.parametrize(
    ("metric", "params"),
    [
        ("ssl_proto", {"k": 50}),
        ("proto_align", {"source": "kmeans", "k": 50}),
        ("semdedup", {"k": 50, "eps": 0.1}),
        ("d4", {"k": 50, "dedup_fraction_kept": 0.75}),
        ("t2v_align", {"prototype": "kmeans", "k": 50}),
        ("dq", {"alpha": 0.5, "k": 50}),
    ],
)
def test_k_larger_than_the_documents_names_both(metric, params):
    rng = np.random.default_rng(0)
    inputs = {"pool_embeddings": unit_rows(rng, 20, 8), "pool_ids": np.array([f"d{i:02d}" for i in range(20)]),
              "target_embeddings": unit_rows(rng, 20, 8), "pool_t2v": np.abs(rng.normal(size=(20, 4))),
              "target_t2v": np.abs(rng.normal(size=(20, 4))), "target_losses": rng.normal(size=20)}  # fmt: skip
    method = load_method(metric)
    with pytest.raises(DQError, match=rf"^{metric}: k=50 \D*\b20\b") as info:
        typed = method.params(params)
        fit_state(method, {i.name: inputs[i.name] for i in method.fit_inputs_for(typed)}, typed)
    assert "documents" in str(info.value)
