"""A method that lives outside dq-review, named by import path in the config, runs through the whole DAG."""

from __future__ import annotations

import os

import pandas as pd
import pytest
import yaml

from conftest import REPO, snakemake

pytestmark = pytest.mark.workflow

PLUGINS = REPO / "tests/plugins"


def _config(tmp_path, **variant) -> str:
    cfg = {
        "metrics": [
            {"name": "random", "keep": ["high"], "variants": [{"slug": "uniform"}]},
            {
                "name": "length",
                "module": "dq_plugins.length",
                "keep": ["high", "low"],
                "variants": [{"slug": "p1", "params": {"power": 1.0}, **variant}],
            },
        ],
        "paper": "off",
    }
    path = tmp_path / "plugin.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


@pytest.fixture
def plugin_path(monkeypatch):
    # importable in the Snakemake process and, through the environment, in every job
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(filter(None, [str(PLUGINS), os.environ.get("PYTHONPATH")]))
    )


def test_plugin_metric_end_to_end(tmp_path, archive_cache, plugin_path):
    configs = [REPO / "configs/tiny.yaml", _config(tmp_path)]
    target = "results/tables/comparison.csv"
    proc = snakemake(
        tmp_path, "--config", f"cache={archive_cache}", "--cores", "2", target, configfiles=configs
    )
    assert proc.returncode == 0, proc.stderr[-6000:]
    scores = pd.read_parquet(tmp_path / "results/scores/length/p1.parquet")
    index = pd.read_parquet(tmp_path / "results/data/pool/index.parquet")
    n_bytes = index.set_index("id").loc[scores["id"], "n_bytes"].to_numpy()
    assert (scores["score"].to_numpy() == n_bytes).all()  # the plugin's own score, through the shards
    longest = pd.read_parquet(tmp_path / "results/select/length/p1/high/b0.30/s0.parquet")
    shortest = pd.read_parquet(tmp_path / "results/select/length/p1/low/b0.30/s0.parquet")
    assert len(longest) < len(shortest)  # the same bytes in fewer, longer documents
    runs = pd.read_csv(tmp_path / "results/tables/runs.csv")
    rows = runs[runs.metric == "length"]
    assert set(rows["keep"]) == {"high", "low"} and len(rows) == 4 and rows["bpb/target"].notna().all()
    assert pd.read_csv(tmp_path / target)["method"].str.startswith("length (p1").sum() == 2


def test_plugin_metric_bad_parameter_stops_the_dry_run(tmp_path, plugin_path):
    configs = [REPO / "configs/tiny.yaml", _config(tmp_path, params={"power": -1})]
    proc = snakemake(tmp_path, "-n", "all", configfiles=configs)
    assert proc.returncode != 0
    assert "metrics[1].variants[0].params.power: expected a number > 0; got -1" in proc.stderr


def test_plugin_module_that_cannot_be_imported_is_named(tmp_path):
    configs = [REPO / "configs/tiny.yaml", _config(tmp_path)]  # no plugin_path: not importable
    proc = snakemake(tmp_path, "-n", "all", configfiles=configs)
    assert proc.returncode != 0
    assert "metrics[1].module: metric 'length': cannot import module 'dq_plugins.length'" in proc.stderr
