"""Workflow checks of the Task2Vec stages: probe, per-document vectors, t2v_align/dq scores, tables."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import REPO, merged_config, snakemake
from dqreview.config import validate_config
from dqreview.plan import Plan

pytestmark = pytest.mark.workflow


def _tiny_config() -> dict:
    return merged_config("configs/tiny.yaml")


def test_dry_run_with_a_pretrained_probe_skips_train_probe(tmp_path):
    cfg = tmp_path / "hf.yaml"
    cfg.write_text(
        yaml.safe_dump({"task2vec": {"probe": {"kind": "hf", "hf_model": "HuggingFaceTB/SmolLM2-135M"}}})
    )
    proc = snakemake(tmp_path, "-n", "all", configfiles=[REPO / "configs/tiny.yaml", cfg])
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout + proc.stderr
    assert "t2v_vectors" in out and "diversity_table" in out and "train_probe" not in out


def test_bad_task2vec_key_is_named(tmp_path):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(yaml.safe_dump({"task2vec": {"coefficients": {"n_batches": 1}}}))
    proc = snakemake(tmp_path, "-n", "all", configfiles=[REPO / "configs/tiny.yaml", cfg])
    assert proc.returncode != 0
    assert "task2vec.coefficients.n_batches" in proc.stdout + proc.stderr


def test_tiny_run_task2vec_vectors_and_costs(tiny_run):
    parts = [f"pool/shard-{i}" for i in range(2)] + ["target/ref"]
    dims = set()
    for part in parts:
        docs = pd.read_parquet(tiny_run / f"results/data/{part}.parquet", columns=["id"])
        vec = np.load(tiny_run / f"results/t2v/{part}.npy", allow_pickle=False)
        info = pd.read_parquet(tiny_run / f"results/t2v/{part}.parquet")
        assert vec.dtype == np.float32 and vec.shape[0] == len(docs) and (vec >= 0).all()
        assert (info["id"].to_numpy() == docs["id"].to_numpy()).all() and (info["n_windows"] >= 1).all()
        assert np.isfinite(info["loss"]).all() and (vec.sum(axis=1) > 0).all()
        cost = json.loads((tiny_run / f"results/cost/t2v/{part}.json").read_text())
        assert cost["extra"]["cost_vs_forward_backward"] > 0 and cost["items"] == len(docs)
        dims.add(vec.shape[1])
    assert len(dims) == 1
    probe_cfg = json.loads((tiny_run / "results/probe/hf/config.json").read_text())
    assert probe_cfg["n_embd"] == 32 and (tiny_run / "results/cost/probe/train.json").exists()


def test_tiny_run_t2v_metrics(tiny_run):
    align = pd.read_parquet(tiny_run / "results/scores/t2v_align/tgt-hard.parquet")
    assert (align["score"] <= 1.0).all() and set(align["prototype"]) <= {0, 1}
    dq = pd.read_parquet(tiny_run / "results/scores/dq/a0.5.parquet")
    assert sorted(-dq["score"].to_numpy()) == list(range(len(dq)))  # −rank: a permutation of 0..n−1


def test_tiny_run_t2v_complexity_and_ssl_proto_in_task2vec_space(tiny_run):
    """t2v_complexity l1 = n_tokens · ‖f‖₁ of the cached vectors; ssl_proto t2v-pool clusters those vectors."""
    vectors = np.concatenate([np.load(tiny_run / f"results/t2v/pool/shard-{i}.npy") for i in range(2)])
    info = pd.concat([pd.read_parquet(tiny_run / f"results/t2v/pool/shard-{i}.parquet") for i in range(2)])
    assert (info["n_tokens"] >= info["n_windows"]).all()
    expected = pd.Series(
        np.abs(vectors.astype(np.float64)).sum(axis=1) * info["n_tokens"].to_numpy(), info["id"]
    )
    scores = pd.read_parquet(tiny_run / "results/scores/t2v_complexity/l1.parquet").set_index("id")
    np.testing.assert_allclose(scores["score"], expected.loc[scores.index], rtol=1e-12)
    state = np.load(tiny_run / "results/prototypes/ssl_proto/t2v-pool.npz")
    assert state["centroids"].shape == (4, vectors.shape[1]) and state["scale"].shape == (vectors.shape[1],)
    for keep in ("high", "low"):
        assert (tiny_run / f"results/eval/t2v_complexity/l1/{keep}/b0.30/s1.json").exists()
    assert (tiny_run / "results/figs/ablation8.pdf").read_bytes()[:5] == b"%PDF-"


def test_tiny_run_diversity_table(tiny_run):
    table = pd.read_csv(tiny_run / "results/tables/diversity.csv")
    index = pd.read_parquet(tiny_run / "results/data/pool/index.parquet", columns=["domain"])
    domains = sorted(index["domain"].unique())  # the configured domains (planted noise sits in them)
    assert table["set"].tolist() == ["lower", *domains, "target/ref", "pool", "upper"]
    small = table["n_docs"] < table["batch_size"]  # too small for one batch: NaN, still reported
    assert table.loc[small, "div"].isna().all() and table.loc[~small, "div"].notna().all()
    assert table["div"].dropna().between(0, 1).all() and (table["div_ci95"].dropna() >= 0).all()
    lower, upper = table.set_index("set").loc[["lower", "upper"], "div"]
    assert lower < upper
    target = table.set_index("set").loc["target/ref"]
    assert target["align_full"] == 1.0 and target["align_batch"] == pytest.approx(1 - target["div"])
    assert (tiny_run / "results/tables/diversity.tex").read_text().startswith("\\begin{tabular}")


def test_tiny_run_t2v_selection_table(tiny_run):
    table = pd.read_csv(tiny_run / "results/tables/t2v_selections.csv")
    cfg = _tiny_config()
    # every selection, the controls included
    expected = {
        f"{sel.path}/s{seed}" for sel in Plan(validate_config(cfg)).selections for seed in cfg["seeds"]
    }
    assert set(table.loc[table.kind == "selection", "set"]) == expected
    full = table["n"] >= cfg["task2vec"]["selections"]["batch_size"]
    assert table.loc[full, ["div", "align_batch", "align_full"]].apply(lambda c: c.between(0, 1)).all().all()
    assert table.loc[~full, "div"].isna().all()
    assert table.set_index("set").loc["target/ref", "align_full"] == 1.0
