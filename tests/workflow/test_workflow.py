"""Workflow tests: dry runs, config errors through the command line, local sources through prepare, targets
outside results/, and the tiny end-to-end run."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import REPO, SNAKEMAKE, distinct_words, merged_config, snakemake
from dqreview.config import selection_grid, validate_config
from dqreview.plan import Plan

pytestmark = pytest.mark.workflow


@pytest.fixture(scope="module")
def dry_run_all(tmp_path_factory):
    """``snakemake -n all`` with config.yaml and the given configs, run once per config list in this module
    (a dry run of the paper's or review's grid takes 20-40 s) and shared by the tests that read its plan."""
    done: dict[tuple[str, ...], subprocess.CompletedProcess] = {}

    def run(*configs: str) -> subprocess.CompletedProcess:
        if configs not in done:
            workdir = tmp_path_factory.mktemp("dry")
            done[configs] = snakemake(workdir, "-n", "all", configfiles=[REPO / c for c in configs])
        return done[configs]

    return run


@pytest.mark.parametrize(
    "configs",
    [[], ["configs/tiny.yaml"], ["configs/paper.yaml"], ["configs/review.yaml"]],
    ids=["default", "tiny", "paper", "review"],
)
def test_dry_run_all(dry_run_all, configs):
    proc = dry_run_all(*configs)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout + proc.stderr
    for rule in (
        "download",
        "prepare",
        "embed",
        "fit_metric",
        "fit_metric_seeded",
        "score_shard",
        "select",
        "tokenizer",
        "train",
        "comparison",
        "manifest",
        "train_curve",
        "compute_table",
        "ablation",
        "composition",
        "metrics_vs_bpb",
    ):
        assert f"{rule} " in out, f"rule {rule} missing from the dry run"


def test_review_config_is_the_full_grid(dry_run_all):
    """configs/review.yaml (on top of config.yaml): every ablation, five seeds, a data-constrained and a
    data-abundant budget, pool sizes for ablation 4, and every method the default leaves out."""
    from snakemake.utils import update_config

    config = yaml.safe_load((REPO / "config.yaml").read_text())
    update_config(config, yaml.safe_load((REPO / "configs/review.yaml").read_text()))
    config = validate_config(config)
    assert len(config["seeds"]) >= 5
    assert sorted(config["review"]["ablations"]) == [f"ablation{i}" for i in range(1, 10)]  # none left out
    metrics = {e["name"] for e in config["metrics"]}
    assert {"doremi", "skillit", "semdedup", "d4", "dq"} <= metrics
    default = {e["name"] for e in yaml.safe_load((REPO / "config.yaml").read_text())["metrics"]}
    assert default < metrics
    pools = {s["variant"] for s in config["review"]["ablations"]["ablation4"]["series"]}
    assert pools == {"pool", "half-pool", "quarter-pool"}
    abundant = {e["budget"]: e["tokens"] for e in config["lm"]["train"]["tokens_at_budget"]}
    assert max(config["select"]["budgets"]) in abundant
    proc = dry_run_all("configs/review.yaml")
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout + proc.stderr
    assert "results/eval/ssl_proto/quarter-pool/low/b0.05/s4.json" in out
    assert "results/figs/ablation7.pdf" in out
    # the static encoder arm: distilled once, its embeddings beside MiniLM's, its selections trained
    assert "results/figs/ablation9.pdf" in out and "rule distill_static" in out
    assert "results/embed-static/pool/shard-0.npy" in out
    assert "results/eval/semdedup/eps0.05-static/high/b0.60/s4.json" in out


def test_paper_config_uses_its_own_lists(dry_run_all):
    """configs/paper.yaml replaces the default's sources and domains instead of merging with them."""
    proc = dry_run_all("configs/paper.yaml")
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout + proc.stderr
    assert "results/data/heldout/web.parquet" in out and "results/download/c4.parquet" in out
    assert "results/data/heldout/dialogue.parquet" not in out and "results/download/chitchat" not in out
    assert "results/eval/random/uniform/high/b0.05/s4.json" in out
    # lm-eval-harness on the kept proxies (arc_easy, hellaswag, piqa, lambada_openai; run on a cluster)
    assert "rule harness:" in out or "harness " in out
    assert "results/harness/random/uniform/high/b0.05.csv" in out
    assert "results/models/random/uniform/high/b0.05/s4" in out


def test_dry_run_with_local_harness_task(tmp_path):
    """lm.eval.harness set: rule harness per selection in the DAG, reading the kept proxies."""
    (tmp_path / "harness.yaml").write_text(
        yaml.safe_dump({"lm": {"eval": {"harness": [str(REPO / "configs/tasks/tiny_cloze.yaml")]}}})
    )
    proc = snakemake(
        tmp_path, "-n", "all", configfiles=[REPO / "configs/tiny.yaml", tmp_path / "harness.yaml"]
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout + proc.stderr
    assert "harness " in out and "results/harness/random/uniform/high/" in out


def _bad_config(tmp_path, mutate) -> str:
    cfg = yaml.safe_load((REPO / "configs/tiny.yaml").read_text())
    mutate(cfg)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(cfg))
    proc = snakemake(tmp_path, "-n", "all", configfiles=[path])
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert "Traceback" not in out
    return out


def test_config_wrong_type_names_key(tmp_path):
    out = _bad_config(tmp_path, lambda c: c["lm"]["train"].__setitem__("tokens", "lots"))
    assert "lm.train.tokens" in out and "expected integer" in out


def test_config_unknown_key_is_named(tmp_path):
    out = _bad_config(tmp_path, lambda c: c["prepare"].__setitem__("chunk_wrods", 100))
    assert "chunk_wrods" in out and "prepare" in out


def test_config_unknown_metric_lists_known(tmp_path):
    out = _bad_config(
        tmp_path,
        lambda c: c["metrics"].append({"name": "magic", "keep": ["high"], "variants": [{"slug": "x"}]}),
    )
    assert "magic" in out and "ssl_proto" in out and "random" in out


def test_config_ablation_outside_the_grid_is_left_out_with_a_note(tmp_path):
    cfg = yaml.safe_load((REPO / "configs/tiny.yaml").read_text())
    cfg.setdefault("review", {})["ablations"] = {
        "ablation99": {"title": "t", "series": [{"label": "x", "metric": "ssl_proto", "variant": "nope"}]}
    }
    path = tmp_path / "extra.yaml"
    path.write_text(yaml.safe_dump(cfg))
    proc = snakemake(tmp_path, "-n", "all", configfiles=[path])
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-2000:]
    assert "review.ablations.ablation99: left out" in out and "ssl_proto/nope/high" in out
    assert "results/figs/ablation99.pdf" not in proc.stdout and "results/figs/ablation4.pdf" in proc.stdout


def test_config_ablation_may_not_take_a_fixed_figure_name(tmp_path):
    series = [{"label": "x", "metric": "random", "variant": "uniform"}]
    out = _bad_config(
        tmp_path,
        lambda c: c.setdefault("review", {}).__setitem__(
            "ablations", {"comparison": {"title": "t", "series": series}}
        ),
    )
    assert "review.ablations.comparison" in out and "reserved" in out


def test_config_variant_budgets_must_be_a_subset(tmp_path):
    out = _bad_config(tmp_path, lambda c: c["metrics"][1]["variants"][0].__setitem__("budgets", [0.5]))
    assert "metrics[1].variants[0].budgets" in out and "select.budgets" in out


def test_paper_on_without_latexmk_is_a_clear_error(tmp_path):
    # a PATH with the venv and a few basic tools, but no latexmk
    tools = tmp_path / "bin"
    tools.mkdir()
    for name in ("bash", "sh", "which", "env", "git", "uname", "cat"):
        if shutil.which(name):
            (tools / name).symlink_to(shutil.which(name))
    env_path = f"{tools}{os.pathsep}{Path(SNAKEMAKE).parent}"
    cmd = [SNAKEMAKE, "--snakefile", str(REPO / "Snakefile"), "--directory", str(tmp_path), "--configfile",
           str(REPO / "config.yaml"), str(REPO / "configs/tiny.yaml"), "--config", "paper=on", "-n"]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PATH": env_path})
    assert proc.returncode != 0
    assert "paper: on, but latexmk is not installed" in proc.stderr + proc.stdout


def test_config_budget_out_of_range(tmp_path):
    out = _bad_config(tmp_path, lambda c: c["select"].__setitem__("budgets", [1.5]))
    assert "select.budgets[0]" in out


def test_local_sources_through_the_workflow(tmp_path):
    """A config made only of local files (one invalid UTF-8, one empty) runs through prepare with counts."""
    data = tmp_path / "data"
    data.mkdir()
    with open(data / "target.jsonl", "w") as fh:
        for i in range(40):
            fh.write(
                json.dumps({"id": f"t{i}", "text": f"Article {i}. " + distinct_words(60, 100000 + 70 * i)})
                + "\n"
            )
    pool = data / "pool"
    pool.mkdir()
    for i in range(12):
        (pool / f"d{i}.txt").write_bytes(distinct_words(100, 1000 * i).encode())
    (pool / "bad.txt").write_bytes(b"na\xefve " + distinct_words(40, 50000).encode())
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
    cfg["review"]["controls"]["target_domain"] = False  # the target's source is no pool domain here
    path = tmp_path / "local.yaml"
    path.write_text(yaml.safe_dump(cfg))
    proc = snakemake(tmp_path, "--cores", "1", "results/data/prepare.json", configfiles=[path], timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    stats = json.loads((tmp_path / "results/data/prepare.json").read_text())
    assert stats["empty_dropped"] == 1
    download = json.loads((tmp_path / "results/download/misc.json").read_text())
    assert download["repaired_utf8"] == 1


@pytest.mark.parametrize(
    "target",
    [
        "results/select/../../etc/x/high/b0.30/s0.parquet",  # a wildcard value that climbs out
        "results/download/../../../outside.parquet",
    ],
)
def test_targets_outside_results_do_not_match_any_rule(tmp_path, target):
    """Snakemake normalises a target; one that leaves results/ matches no rule (every output is under it)."""
    work = tmp_path / "a" / "b"
    work.mkdir(parents=True)
    proc = snakemake(work, "-n", target, configfiles=[REPO / "configs/tiny.yaml"])
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "MissingRuleException" in out and "No rule to produce" in out, out[-1500:]
    assert not (work / "results").exists() and not list(tmp_path.rglob("*.parquet"))


# --- the tiny end-to-end run ------------------------------------------------------------------


def test_tiny_run_figure_and_tables(tiny_run):
    fig = tiny_run / "results/figs/comparison.pdf"
    assert fig.exists() and fig.read_bytes()[:5] == b"%PDF-"
    table = pd.read_csv(tiny_run / "results/tables/comparison.csv")
    assert set(table.columns) >= {"method", "budget", "target_bpb", "ci95", "n_seeds", "epochs", "heldout_bpb",
                                  "heldout_bpb:diff_vs_random", "heldout_bpb:diff_ci95"}  # fmt: skip
    assert (table["n_seeds"] == 2).all()
    # the full-data arm, named for what it is: the whole pool, seen less than once
    assert (table.loc[table["budget"] == 1.0, "method"] == "whole pool").all()
    assert (table.loc[table["budget"] == 1.0, "epochs"] < 1).all()
    # a byte-level model that learned something: far below 8 bits per byte, above 0
    assert table["target_bpb"].between(0.5, 8.0).all(), table
    assert (tiny_run / "results/tables/comparison.tex").read_text().count(r"\midrule") == 1
    data = pd.read_csv(tiny_run / "results/tables/data.csv")
    assert len(data) > 0


def test_tiny_run_eval_files(tiny_run):
    evals = sorted((tiny_run / "results/eval").rglob("s*.json"))
    cfg = merged_config("configs/tiny.yaml")
    grid = selection_grid(cfg)
    assert (
        len(grid) >= 10
    )  # random, ssl_proto high/low, proto_align, semdedup, d4, minhash x2, dsir, full data
    # and the controls: a domain-matched one per document-choosing selection, the target-domain arm
    selections = Plan(cfg).selections
    assert len(selections) > len(grid)
    assert len(evals) == len(selections) * 2
    for path in evals:
        ev = json.loads(path.read_text())
        assert len(ev["curve"]) == 2
        tokens = [p["tokens"] for p in ev["curve"]]
        assert tokens == sorted(tokens) and tokens[-1] == ev["tokens"]
        assert {"bpb/target", "bpb/heldout/wiki", "bpb/heldout/code"} <= set(ev["final"])
        assert 0.0 <= ev["final"]["task/tiny_cloze/acc"] <= 1.0
        assert all(np.isfinite(v) and v > 0 for k, v in ev["final"].items() if k.startswith("bpb/"))
    # every run at a budget trained that budget's tokens (the whole pool its own); smaller selections ran
    # more epochs
    runs = pd.read_csv(tiny_run / "results/tables/runs.csv")
    plan = Plan(cfg)
    assert (runs["tokens"] == runs["budget"].map(plan.train_tokens)).all()
    full = runs[runs.budget == 1.0]["epochs"].mean()
    part = runs[runs.budget < 1.0]["epochs"].mean()
    assert part > full


def test_tiny_run_selections_meet_budget(tiny_run):
    index = pd.read_parquet(tiny_run / "results/data/pool/index.parquet")
    total = index["n_bytes"].sum()
    infos = list((tiny_run / "results/select").rglob("s*.json"))
    assert infos
    for path in infos:
        info = json.loads(path.read_text())
        sel = pd.read_parquet(path.with_suffix(".parquet"))
        nbytes = index.set_index("id").loc[sel["id"], "n_bytes"]
        assert info["achieved"] == pytest.approx(nbytes.sum() / total)
        if "domains" in info:  # a domain-matched control: each domain within one document of its quota
            got = index.set_index("id").loc[sel["id"]].groupby("domain")["n_bytes"].sum()
            for domain, quota in info["domains"].items():
                assert quota["target_bytes"] <= got[domain] == quota["bytes"]
            continue
        assert (
            nbytes.sum() >= info["target"] * total
        )  # the target: the budget, capped to what a method supplies
        assert nbytes.sum() - nbytes.iloc[-1] < info["target"] * total or info["target"] == 1.0


def test_tiny_run_controls(tiny_run):
    """Each document-choosing method's domain-matched control matches its domain bytes and pairs with it in
    comparison.csv; the target-domain arm draws wiki alone."""
    index = pd.read_parquet(tiny_run / "results/data/pool/index.parquet").set_index("id")
    root = tiny_run / "results/select"
    for seed in (0, 1):
        method = pd.read_parquet(root / f"dsir/b10k/high/b0.30/s{seed}.parquet")
        control = pd.read_parquet(root / f"control/matched.dsir.b10k.high/high/b0.30/s{seed}.parquet")
        want = index.loc[method["id"]].groupby("domain")["n_bytes"].sum()
        got = index.loc[control["id"]].groupby("domain")["n_bytes"].sum()
        assert list(got.index) == list(want.index)
        assert ((got >= want) & (got - want < index["n_bytes"].max())).all()
        arm = pd.read_parquet(root / f"control/target-domain/high/b0.30/s{seed}.parquet")
        assert (index.loc[arm["id"], "domain"] == "wiki").all()
    table = pd.read_csv(tiny_run / "results/tables/comparison.csv").set_index("method")
    dsir = table.loc["dsir (b10k, keep=high)"]
    assert dsir["within_domain_n_pairs"] == 2 and np.isfinite(dsir["within_domain_diff"])
    control = table.loc["matched control: dsir (b10k, keep=high)"]
    assert dsir["diff_vs_random"] == pytest.approx(dsir["within_domain_diff"] + control["diff_vs_random"])
    assert "random, target domain only" in table.index
    assert np.isnan(table.loc["doremi (eta1-c1e-3, keep=high)", "within_domain_diff"])  # chooses domains
    assert "matched control" not in (tiny_run / "results/tables/comparison.tex").read_text()


def test_tiny_run_vendi_dedup_theory(tiny_run):
    vendi = pd.read_csv(tiny_run / "results/tables/vendi.csv").set_index("set")
    assert {"pool", "target/ref", "wiki", "code"} <= set(vendi.index)
    assert (vendi["vendi_q1"] >= 1).all() and (vendi["vendi_q1"] <= vendi["n"]).all()
    # the full-data selection is the pool
    full = [s for s in vendi.index if "/b1.00/" in s]
    assert full and vendi.loc[full[0], "vendi_q1"] == pytest.approx(vendi.loc["pool", "vendi_q1"], rel=1e-9)
    dedup = pd.read_csv(tiny_run / "results/tables/dedup_quality.csv").set_index(["metric", "variant"])
    assert dedup.loc[("semdedup", "eps0.05"), "recall"] >= 0.9  # planted pairs, at the config's fixed eps
    exact = dedup.loc[("minhash", "exact")]
    assert exact["recall_exact"] == 1.0 and exact["precision"] == 1.0  # exact copies, nothing else
    assert dedup.loc[("minhash", "p128-t0.8"), "recall_exact"] == 1.0
    kl = pd.read_csv(tiny_run / "results/tables/kl_reduction.csv").set_index("selection")
    full = [s for s in kl.index if "/b1.00/" in s]
    assert kl.loc[full, "kl_reduction"].abs().max() < 1e-9  # the full pool is the pool
    dsir_sel = [s for s in kl.index if s.startswith("dsir/")]
    random_sel = [s for s in kl.index if s.startswith("random/") and "/b1.00/" not in s]
    assert kl.loc[dsir_sel, "kl_reduction"].mean() > kl.loc[random_sel, "kl_reduction"].mean()
    theory = tiny_run / "results/figs/theory.pdf"
    assert theory.read_bytes()[:5] == b"%PDF-"


def test_tiny_run_manifest_and_costs(tiny_run):
    manifest = json.loads((tiny_run / "results/manifest.json").read_text())
    assert manifest["seeds"] == [0, 1]
    assert len(manifest["config_sha256"]) == 64
    assert all(len(s["sha256"]) == 64 for s in manifest["sources"])
    assert manifest["packages"]["torch"].startswith("2.13")
    costs = pd.read_csv(tiny_run / "results/tables/cost.csv")
    assert {"embed", "fit", "score", "select", "train"} <= set(costs["stage"])
    assert (costs["wall_s"] >= 0).all()
    assert (costs.loc[costs.stage == "train", "flops"] > 0).all()
    assert (costs["startup_s"] > 0).all() and (costs["setup_s"] >= costs["startup_s"]).all()


def test_tiny_run_records_its_own_overhead(tiny_run):
    """The run's end wrote the Snakemake process's CPU and every job's start-up (dqreview.overhead)."""
    record = json.loads((tiny_run / "results/logs/workflow_overhead.json").read_text())
    n_jobs = sum(1 for _ in (tiny_run / "results/benchmarks").rglob("*.tsv"))
    assert record["jobs_run"] == n_jobs
    assert 0 < record["snakemake_cpu_s"] < record["children_cpu_s"]
    table = pd.read_csv(tiny_run / "results/tables/overhead.csv").set_index("rule")
    assert table.loc["all jobs", "jobs"] == n_jobs
    assert table.loc["snakemake", "cpu_s"] == pytest.approx(record["snakemake_cpu_s"])
    # every job went through dqreview.runner.run, so every job logged its start-up
    assert table.loc["all jobs", "startup_s"] > 0 and 0 < table.loc["all jobs", "startup_share"] < 1


def test_tiny_run_is_up_to_date(tiny_run, archive_cache):
    """A second invocation finds nothing to do (no spurious reruns)."""
    proc = snakemake(
        tiny_run, "--config", f"cache={archive_cache}", "-n", "all", configfiles=[REPO / "configs/tiny.yaml"]
    )
    assert proc.returncode == 0
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_tiny_run_review_figures_and_tables(tiny_run):
    figs = tiny_run / "results/figs"
    cfg = yaml.safe_load((REPO / "config.yaml").read_text())
    for name in [
        "comparison",
        "composition",
        "cost",
        "learning_curves",
        "metrics",
        *cfg["review"]["ablations"],
    ]:
        assert (figs / f"{name}.pdf").read_bytes()[:5] == b"%PDF-", name
    cmp_ = pd.read_csv(tiny_run / "results/tables/comparison.csv")
    methods = cmp_[(cmp_.budget < 1.0) & ~cmp_.method.str.startswith("random")]
    assert methods["diff_vs_random"].notna().all() and (methods["n_pairs"] == 2).all()
    compute = pd.read_csv(tiny_run / "results/tables/compute.csv")
    # a verdict for every method, none for random or the controls (references, not selection methods)
    assert set(compute["method"]) == set(
        methods.loc[~methods.method.str.startswith("matched control"), "method"]
    )
    assert (compute["multiplier"] > 0).all() and compute["selection_s"].gt(0).all()
    verdicts = [
        "pays off",
        "costs more than it saves",
        "saving not significant",
        "no saving (not better than random)",
    ]
    beyond = compute["verdict"].str.startswith("better than random's whole curve (multiplier >= ")
    assert (compute["verdict"].isin(verdicts) | beyond).all()
    # the ground rule: T* = C_sel / ((1 - 1/m) c_token), infinite exactly where m <= 1; its CI brackets it
    m, tstar = compute["multiplier"], compute["break_even_tokens"]
    paying = m > 1
    expected = compute["selection_s"] / ((1 - 1 / m[paying]) * compute["seconds_per_token"])
    assert np.allclose(tstar[paying], expected[paying]) and np.isinf(tstar[~paying]).all()
    assert (compute["break_even_tokens_lo"] <= tstar).all() and (
        tstar <= compute["break_even_tokens_hi"]
    ).all()
    assert np.allclose(
        compute.loc[paying, "break_even_s"], tstar[paying] * compute["seconds_per_token"][paying]
    )
    # the whole pool at equal compute: every method has it (tiny trains the whole pool), selection included
    assert compute["bpb_minus_full_data"].notna().all()
    assert (compute["full_data_tokens"] > compute["train_tokens"]).all()
    assert set(compute["full_data_verdict"]) <= {"selecting better", "whole pool better", "undecided"}
    # parallelism from the protocol: mixture learners and whole-pool fits sequential, the rest per shard
    parallel = compute.groupby("metric")["selection_parallelism"].first()
    assert parallel[["doremi", "skillit", "dq"]].eq("sequential").all(), parallel
    assert parallel[["proto_align"]].eq("per-shard").all(), parallel
    # random's compute curve: runs of 0.5x, 1x and 2x each budget's training tokens (the whole pool trains
    # its own, lm.train.tokens_at_budget), each with its own final point
    curves = pd.read_csv(tiny_run / "results/tables/compute_curves.csv")
    plan = Plan(merged_config("configs/tiny.yaml"))
    for budget, points in curves.groupby("budget"):
        tokens = plan.train_tokens(budget)
        assert sorted(points.tokens.unique()) == [tokens // 2, tokens, 2 * tokens], budget
    assert plan.train_tokens(1.0) == plan.train_tokens(0.3) // 2  # tiny's whole pool trains half as long
    ab4 = pd.read_csv(tiny_run / "results/tables/ablation4.csv")
    half = ab4[ab4.series.str.startswith("half")]
    # the half-pool variants choose from half the pool: their kept fraction is about twice the budget
    assert np.allclose(half["kept_fraction"], 2 * half["budget"], atol=0.05)
    # ablation 4's declared contrasts: hard − easy at both pool sizes and their interaction, paired by seed
    con = pd.read_csv(tiny_run / "results/tables/contrasts.csv")
    con4 = con[con.ablation == "ablation4"]
    assert set(con4.contrast) == {"hard-easy", "hard-easy-x-pool"}
    assert sorted(con4[con4.contrast == "hard-easy"].pool_fraction) == [0.5, 1.0]
    assert (con4.n_pairs == 2).all() and (con4.verdict != "not run").all()
    ran = con[con.verdict != "not run"]
    assert ran.p_holm.notna().all() and (ran.p_holm >= ran.p - 1e-12).all()
    comp = pd.read_csv(tiny_run / "results/tables/composition.csv")
    shares = comp[[c for c in comp.columns if c.startswith("share/")]].sum(axis=1)
    assert np.allclose(shares, 1.0)
    corr = pd.read_csv(tiny_run / "results/tables/metrics.csv")
    assert {"vendi_q1", "vendi_q1_eq", "kl_reduction"} <= set(corr["metric"])
    assert corr["r"].dropna().between(-1, 1).all() and corr["partial_r"].dropna().between(-1, 1).all()
    points = pd.read_csv(tiny_run / "results/tables/metrics_points.csv")  # one point per selection
    assert not points.duplicated(["method", "budget"]).any() and (points["n_seeds"] == len(plan.seeds)).all()
    rel = pd.read_csv(tiny_run / "results/tables/t2v_reliability.csv")
    assert rel["comparison"].iloc[0] == "label seeds" and rel["n"].iloc[0] == 100
    assert set(rel["b"]) >= {"dsir", "proto_align"} and rel["spearman"].between(-1, 1).all()


def test_tiny_run_paper(tiny_run):
    pdf = tiny_run / "results/paper/main.pdf"
    # paper: auto builds it exactly when latexmk is installed (CI: paper: on)
    assert pdf.exists() == (shutil.which("latexmk") is not None)
    if pdf.exists():
        assert pdf.read_bytes()[:5] == b"%PDF-"
        macros = (tiny_run / "results/paper/macros.tex").read_text()
        assert r"\dqset{main/dsir/diff}" in macros and r"\dqset{seeds}{2}" in macros
        assert r"\dqset{abl/ablation4/answer}" in macros and r"\dqset{theory/abl4}" in macros
        assert "CC BY-SA" in (tiny_run / "results/paper/sources.tex").read_text()


def test_tiny_run_report_gathers_figures_and_tables(tiny_run, archive_cache, tmp_path):
    report = tmp_path / "report.html"
    proc = snakemake(tiny_run, "--config", f"cache={archive_cache}", "--report", str(report),
                     configfiles=[REPO / "configs/tiny.yaml"])  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    html = report.read_text(errors="replace")
    for name in (
        "comparison.pdf",
        "cost.pdf",
        "ablation4.pdf",
        "composition.pdf",
        "metrics.pdf",
        "compute.csv",
    ):
        assert name in html, name


def test_export_all_is_on_demand_and_plans_every_selection(tmp_path, dry_run_all):
    """`all` exports nothing; `export_all` plans one export per selection and seed (Parquet)."""
    proc = dry_run_all("configs/tiny.yaml")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "export_selection" not in proc.stdout
    proc = snakemake(
        tmp_path, "-n", "export_all", "--quiet", "rules", configfiles=[REPO / "configs/tiny.yaml"]
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    config = merged_config("configs/tiny.yaml")
    n = len(Plan(config).selections) * len(config["seeds"])  # the grid and its controls
    assert re.search(rf"^export_selection\s+{n}$", proc.stdout, re.M), proc.stdout


def test_tiny_run_exports_selections(tiny_run):
    """Every exported selection is its ids in training order with the pool's text, Parquet and JSON Lines alike."""
    # one seed of a scorer, random and both mixture learners (a Skill-It schedule keeps its rounds in order);
    # export_all's plan of every selection is checked by the dry run above
    selections = [
        path.relative_to(tiny_run / "results/select")
        for metric in ("random", "dsir", "doremi", "skillit")
        for path in sorted((tiny_run / "results/select" / metric).rglob("s0.parquet"))
    ]
    assert {s.parts[0] for s in selections} == {"random", "dsir", "doremi", "skillit"}
    targets = [f"results/export/{s.with_suffix(ext)}" for s in selections for ext in (".parquet", ".jsonl")]
    proc = snakemake(tiny_run, "--cores", "2", *targets, configfiles=[REPO / "configs/tiny.yaml"])
    assert proc.returncode == 0, proc.stderr[-4000:]
    pool = pd.concat(
        pd.read_parquet(p) for p in sorted((tiny_run / "results/data/pool").glob("shard-*.parquet"))
    )
    text = pool.set_index("id")["text"]
    exports = sorted((tiny_run / "results/export").rglob("*.parquet"))
    assert exports
    for path in exports:
        rel = path.relative_to(tiny_run / "results/export")
        selection = pd.read_parquet(tiny_run / "results/select" / rel).sort_values("order", kind="stable")
        if "round" in selection:
            selection = selection.sort_values("round", kind="stable")
        out = pd.read_parquet(path)
        assert out["id"].tolist() == selection["id"].tolist(), rel
        assert out["text"].tolist() == text.loc[out["id"]].tolist(), rel
        lines = pd.read_json(path.with_suffix(".jsonl"), lines=True, dtype=False)
        assert (
            lines["id"].tolist() == out["id"].tolist() and lines["text"].tolist() == out["text"].tolist()
        ), rel
        scores = tiny_run / "results/scores" / rel.parent.parent.parent  # metric/variant
        scored = Path(f"{scores}.parquet").exists() or (scores / f"{rel.stem}.parquet").exists()  # per seed
        assert out["score"].notna().all() if scored else out["score"].isna().all(), rel
