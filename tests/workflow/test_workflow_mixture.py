"""The learned-mixture methods (DoReMi, Skill-It) through the workflow: a dry run with k-means cluster skills,
and the tiny end-to-end run's selections, evaluations, costs, table and figures."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml

from conftest import REPO, snakemake
from dqreview.io import read_json, read_parquet

pytestmark = pytest.mark.workflow


def test_dry_run_with_cluster_skills(tmp_path):
    override = tmp_path / "clusters.yaml"
    override.write_text(
        yaml.safe_dump(
            {
                "metrics": [
                    {"name": "random", "keep": ["high"], "variants": [{"slug": "uniform"}]},
                    {
                        "name": "ssl_proto",
                        "keep": ["high"],
                        "variants": [{"slug": "pool-k4", "params": {"k": 4}}],
                    },
                    {
                        "name": "skillit",
                        "keep": ["high"],
                        "variants": [
                            {"slug": "k4", "params": {"skills": "ssl_proto/pool-k4", "rounds": 2}},
                            {"slug": "k4-static", "params": {"static": "final", "from": "k4"}},
                        ],
                    },
                ]
            }
        )
    )
    proc = snakemake(
        tmp_path, "-n", "--quiet", "rules", "all", configfiles=[REPO / "configs/tiny.yaml", override]
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout + proc.stderr
    assert "learn_mixture" in out and "select_mixture" in out
    # the skills must name a configured ssl_proto variant
    bad = yaml.safe_load(override.read_text())
    bad["metrics"][2]["variants"][0]["params"]["skills"] = "ssl_proto/pool-k9"
    override.write_text(yaml.safe_dump(bad))
    proc = snakemake(tmp_path, "-n", "all", configfiles=[REPO / "configs/tiny.yaml", override])
    assert proc.returncode != 0
    assert (
        "metrics[2].variants[0].params': input 'skills' reads ssl_proto/pool-k9, which is not configured; "
        "ssl_proto variants: ['pool-k4']" in proc.stderr
    )


def test_tiny_run_builds_trains_and_reports_mixture_methods(tiny_run):
    budget = "b0.30"
    for metric, variant in (("doremi", "eta1-c1e-3"), ("skillit", "online"), ("skillit", "static-final")):
        for seed in (0, 1):
            sel = read_parquet(tiny_run / f"results/select/{metric}/{variant}/high/{budget}/s{seed}.parquet")
            info = read_json(tiny_run / f"results/select/{metric}/{variant}/high/{budget}/s{seed}.json")
            assert (
                info["achieved"] >= 0.3 and info["n_bytes"] - sel["n_bytes"].iloc[-1] < info["target_bytes"]
            )
            assert sum(info["mixture_achieved"].values()) == pytest.approx(1.0)
            assert ("round" in sel.columns) == (variant == "online")
            ev = read_json(tiny_run / f"results/eval/{metric}/{variant}/high/{budget}/s{seed}.json")
            assert ev["n_docs"] == len(sel) and ev["final"]["bpb/target"] > 0
    weights = read_json(tiny_run / "results/mixture/doremi/eta1-c1e-3/s0.json")
    assert sum(weights["weights"].values()) == pytest.approx(1.0) and min(weights["weights"].values()) > 0
    schedule = read_json(tiny_run / "results/mixture/skillit/online/s1.json")
    assert len(schedule["rounds"]) == 2 and schedule["eval_skills"][-1] == "target"
    for name in ("doremi/eta1-c1e-3", "skillit/online"):
        cost = read_json(tiny_run / f"results/cost/mixture/{name}.json")
        assert cost["stage"] == "mixture" and cost["flops"] > 0 and cost["items"] > 0
    costs = pd.read_csv(tiny_run / "results/tables/cost.csv")
    assert {"doremi/eta1-c1e-3", "skillit/online"} <= set(costs.loc[costs["stage"] == "mixture", "job"])
    table = pd.read_csv(tiny_run / "results/tables/mixture_selection.csv")
    assert set(table["metric"]) == {"doremi", "skillit"} and len(table) == 3 * 2 * table["domain"].nunique()
    for fig in ("doremi_weights.pdf", "skillit_schedule.pdf"):
        assert (tiny_run / "results/figs" / fig).stat().st_size > 5000
