"""One home for results/ paths: templates, partial filling, job keys."""

from __future__ import annotations

import pytest

from dqreview import paths


def test_fill_leaves_other_wildcards_for_snakemake():
    assert paths.fill(paths.SCORES, metric="dsir") == "results/scores/dsir/{variant}.parquet"
    assert paths.fill(paths.SELECT_IDS, metric="m", variant="v", keep="high", budget="0.10", seed=2) == (
        "results/select/m/v/high/b0.10/s2.parquet"
    )
    assert (
        paths.expand(paths.EVAL, seed=[0, 1])[1] == "results/eval/{metric}/{variant}/{keep}/b{budget}/s1.json"
    )
    assert paths.expand(paths.POOL_SHARD, shard=range(3)) == [
        f"results/data/pool/shard-{i}.parquet" for i in range(3)
    ]


def test_job_keys_name_log_benchmark_and_cost():
    job = paths.fill(paths.Job.SCORE, metric="d4", variant="r0.75", shard=1)
    assert paths.log(job) == "results/logs/score/d4/r0.75/shard-1.log"
    assert paths.benchmark(job) == "results/benchmarks/score/d4/r0.75/shard-1.tsv"
    assert paths.cost(job) == "results/cost/score/d4/r0.75/shard-1.json"
    assert paths.log(paths.Job.report("comparison")) == "results/logs/report/comparison.log"


def test_selection_keys_round_trip():
    key = paths.selection("ssl_proto", "pool", "low", "0.30")
    assert key == "ssl_proto/pool/low/b0.30"
    assert paths.parse_selection(key + "/s4") == {
        "metric": "ssl_proto", "variant": "pool", "keep": "low", "budget": "0.30", "seed": "4"
    }  # fmt: skip
    assert paths.under_select("results/select/ssl_proto/pool/low/b0.30/s4.parquet") == key + "/s4"
    with pytest.raises(ValueError, match="not a selection key"):
        paths.parse_selection("ssl_proto/pool")


def test_fixed_figures_are_named_once():
    assert paths.figure("comparison") == "results/figs/comparison.pdf"
    assert paths.table("data", tex=True) == "results/tables/data.tex"


@pytest.mark.parametrize(
    ("metric", "variant", "keep"),
    [
        ("dsir", "b10k", "high"),
        ("t2v_align", "tgt-kmeans-l1", "low"),
        ("dq", "a0.5", "high"),
        ("m", "x.high", "low"),
    ],
)
def test_matched_variant_names_its_source_unambiguously(metric, variant, keep):
    slug = paths.matched_variant(metric, variant, keep)
    assert slug.startswith("matched.") and paths.matched_source(slug) == (metric, variant, keep)


@pytest.mark.parametrize(
    "slug", ["target-domain", "uniform", "matched.dsir", "matched.dsir.b10k.sideways", "other.a.b.high"]
)
def test_other_slugs_have_no_matched_source(slug):
    assert paths.matched_source(slug) is None
