"""dqreview.report.stats: differences paired by seed, the minimal detectable effect, Pearson's r with its CI."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from dqreview.report.stats import (
    gap_columns,
    minimal_detectable_effect,
    paired_differences,
    paired_t_power,
    pearson_with_ci,
    versus_random_columns,
)


def test_paired_differences_pair_by_seed():
    runs = pd.DataFrame({"method": "m", "budget": 0.1, "seed": [0, 1, 2], "bpb": [3.0, 3.5, 4.2]})
    base = pd.DataFrame({"budget": 0.1, "seed": [2, 1, 0], "bpb": [4.0, 3.7, 3.1]})
    out = paired_differences(runs, base, ["method"], "bpb").iloc[0]
    d = np.array([3.0 - 3.1, 3.5 - 3.7, 4.2 - 4.0])
    half = stats.t.ppf(0.975, 2) * d.std(ddof=1) / np.sqrt(3)
    assert (
        out["diff"] == pytest.approx(d.mean()) and out["ci95"] == pytest.approx(half) and out["n_pairs"] == 3
    )


def test_minimal_detectable_effect_is_the_exact_noncentral_t_value():
    # 3 pairs: 3.264·sd exactly (the normal approximation with t quantiles said 3.10·sd)
    assert minimal_detectable_effect(1.0, 3) == pytest.approx(3.264, abs=1e-3)
    assert minimal_detectable_effect(0.1, 3) == pytest.approx(0.3264, abs=1e-4)  # linear in the spread
    assert (stats.t.ppf(0.975, 2) + stats.t.ppf(0.8, 2)) / 3**0.5 == pytest.approx(3.10, abs=0.01)
    # with many pairs it tends to the normal formula (1.96 + 0.8416) · sd / √n
    assert minimal_detectable_effect(1.0, 10_000) == pytest.approx((1.959964 + 0.841621) / 100, rel=1e-3)
    assert paired_t_power(minimal_detectable_effect(1.0, 5), 5) == pytest.approx(0.8, abs=1e-8)
    assert math.isnan(minimal_detectable_effect(0.1, 1))


def test_minimal_detectable_effect_has_power_08_in_simulation():
    # paired t-tests on simulated differences at the MDE reject 80% of the time
    rng = np.random.default_rng(0)
    for n in (3, 5):
        effect = minimal_detectable_effect(1.0, n)
        x = rng.normal(effect, 1.0, size=(200_000, n))
        t = x.mean(axis=1) / (x.std(axis=1, ddof=1) / np.sqrt(n))
        assert (np.abs(t) > stats.t.ppf(0.975, n - 1)).mean() == pytest.approx(0.8, abs=0.004)


def test_pearson_with_ci():
    rng = np.random.default_rng(0)
    x = rng.normal(size=200)
    y = 2 * x + rng.normal(size=200)
    out = pearson_with_ci(x, y)
    assert out["r"] == pytest.approx(stats.pearsonr(x, y)[0])
    assert out["r2"] == pytest.approx(out["r"] ** 2)
    assert out["r_lo"] < out["r"] < out["r_hi"] and out["r_hi"] - out["r_lo"] < 0.15
    assert pearson_with_ci(x, y) == out  # seeded
    assert math.isnan(pearson_with_ci([1, 2], [3, 4])["r"])  # too few pairs
    assert math.isnan(pearson_with_ci([1, 1, 1], [3, 4, 5])["r"])  # constant


def test_versus_random_columns_pairs_a_score_with_random_seed_by_seed():
    """An lm-eval score beside bits per byte: its mean over seeds and its paired difference from random."""
    score = "harness/cloze/acc"
    random = pd.DataFrame({"method": "random", "budget": 0.1, "seed": [0, 1, 2], score: [0.50, 0.40, 0.45]})
    method = pd.DataFrame({"method": "dsir", "budget": 0.1, "seed": [0, 1, 2], score: [0.60, 0.41, 0.55]})
    out = versus_random_columns(pd.concat([random, method]), random, method, score).set_index("method")

    diffs = np.array([0.10, 0.01, 0.10])
    half = stats.t.ppf(0.975, 2) * diffs.std(ddof=1) / np.sqrt(3)
    assert out.loc["dsir", score] == pytest.approx(np.mean([0.60, 0.41, 0.55]))
    assert out.loc["dsir", f"{score}:diff_vs_random"] == pytest.approx(diffs.mean())
    assert out.loc["dsir", f"{score}:diff_ci95"] == pytest.approx(half)
    assert out.loc["random", score] == pytest.approx(0.45)
    assert np.isnan(out.loc["random", f"{score}:diff_vs_random"])  # random is the reference, not a contrast


def test_gap_columns_subtract_run_by_run_then_summarise():
    """The proxy's gap to a reference on the same selection and seed: mean and CI over seeds, every arm."""
    runs = pd.DataFrame(
        {
            "method": ["dsir"] * 3 + ["random"],
            "budget": 0.1,
            "seed": [0, 1, 2, 0],
            "bpb": [3.0, 3.2, 3.1, 3.4],
            "ref": [2.6, 2.7, 2.8, 2.9],
        }
    )
    out = gap_columns(runs, "bpb", "ref", "gap").set_index("method")
    g = np.array([0.4, 0.5, 0.3])
    assert out.loc["dsir", "gap"] == pytest.approx(g.mean())
    assert out.loc["dsir", "gap:ci95"] == pytest.approx(stats.t.ppf(0.975, 2) * g.std(ddof=1) / np.sqrt(3))
    assert out.loc["random", "gap"] == pytest.approx(0.5) and np.isnan(out.loc["random", "gap:ci95"])
