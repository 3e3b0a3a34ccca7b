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
    BETTER_THAN_CURVE,
    WITHIN,
    WORSE_THAN_CURVE,
    compute_multiplier,
    compute_verdicts,
    project_saving,
    selection_costs,
    target_flops_per_token,
    tokens_to_reach,
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
