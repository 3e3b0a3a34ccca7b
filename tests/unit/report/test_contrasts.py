"""dqreview.report.contrasts: paired tests of the declared contrasts, Holm across the family, exact power,
the answer sentences and the contrast table."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from dqreview.errors import DQError
from dqreview.report.contrasts import (
    ablation_answer,
    answer,
    contrast_table,
    contrasts_tex,
    holm,
    paired_test,
    versus_random_family,
)
from dqreview.report.stats import minimal_detectable_effect

SEEDS = [0, 1, 2]


def _runs(series: dict[tuple[str, str, str], dict[float, list[float]]]) -> pd.DataFrame:
    rows = [
        {"metric": m, "variant": v, "keep": k, "budget": budget, "seed": seed, "bpb/target": x}
        for (m, v, k), per_budget in series.items()
        for budget, values in per_budget.items()
        for seed, x in zip(SEEDS, values, strict=False)
    ]
    return pd.DataFrame(rows)


def test_paired_test_matches_scipy_and_the_exact_mde():
    d = np.array([-0.30, -0.12, -0.21])
    out = paired_test(d)
    ref = stats.ttest_1samp(d, 0.0)
    half = stats.t.ppf(0.975, 2) * d.std(ddof=1) / np.sqrt(3)
    assert out["p"] == pytest.approx(ref.pvalue) and out["estimate"] == pytest.approx(d.mean())
    assert out["ci95"] == pytest.approx(half) and out["ci_low"] == pytest.approx(d.mean() - half)
    assert out["mde"] == pytest.approx(minimal_detectable_effect(d.std(ddof=1), 3))
    assert out["mde"] == pytest.approx(3.264 * d.std(ddof=1), rel=1e-3)  # noncentral t, not 3.10·sd
    one = paired_test([0.5])
    assert one["n_pairs"] == 1 and math.isnan(one["p"]) and math.isnan(one["mde"])
    # no spread: identical selections (e.g. encoder cosine and L2 on the unit sphere) are no difference
    assert paired_test([0.0, 0.0, 0.0])["p"] == 1.0


def test_holm_step_down():
    p = [0.01, 0.04, 0.03, 0.005, float("nan")]
    # sorted 0.005·4 = 0.02, 0.01·3 = 0.03, 0.03·2 = 0.06, 0.04·1 → 0.06 (monotone); NaN not counted
    out = holm(p)
    assert out[:4] == pytest.approx([0.03, 0.06, 0.06, 0.02]) and math.isnan(out[4])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])  # capped at 1


ABLATION = {
    "question": "Is a better than b?",
    "series": [
        {"label": "A", "metric": "ma", "variant": "v"},
        {"label": "B", "metric": "mb", "variant": "v"},
        {"label": "random", "metric": "random", "variant": "uniform"},
    ],
    "contrasts": [{"id": "a-b", "a": "A", "b": "B"}, {"id": "a-random", "a": "A", "b": "random"}],
}


def test_contrast_table_pairs_by_seed_and_adjusts_over_the_family():
    runs = _runs(
        {
            ("ma", "v", "high"): {0.1: [2.0, 2.1, 2.2], 0.5: [2.0, 2.5, 2.1]},
            ("mb", "v", "high"): {0.1: [3.0, 3.2, 3.1], 0.5: [2.1, 2.4, 2.3]},
            ("random", "uniform", "high"): {0.1: [2.5, 2.6, 2.4], 0.5: [2.0, 2.4, 2.2], 1.0: [1.0, 1.0, 1.0]},
        }
    )
    table = contrast_table(runs, {"abl": ABLATION}, {})
    assert list(zip(table["contrast"], table["budget"], strict=True)) == [
        ("a-b", 0.1),
        ("a-b", 0.5),
        ("a-random", 0.1),
        ("a-random", 0.5),
    ]  # fmt: skip  (the whole pool, budget 1.0, is no contrast)
    d = np.array([2.0 - 3.0, 2.1 - 3.2, 2.2 - 3.1])
    row = table.iloc[0]
    assert row["estimate"] == pytest.approx(d.mean()) and row["p"] == pytest.approx(
        stats.ttest_1samp(d, 0).pvalue
    )
    assert table["p_holm"].to_numpy() == pytest.approx(holm(table["p"].to_numpy()))
    assert row["verdict"] == "a better" and row["question"] == "Is a better than b?"
    assert row["answer"].startswith("“A” beats “B” by 1.000 ± ")
    calm = table.iloc[1]
    assert calm["verdict"] == "no detectable difference"
    assert calm["answer"].startswith("no detectable difference between “A” and “B” (-0.067 ± ")
    assert f"MDE {calm['mde']:.3f})" in calm["answer"]


POOLS = {
    "question": "Scarce: easy, abundant: hard?",
    "series": [
        {"label": "full pool, keep hard", "metric": "ssl", "variant": "pool", "keep": "high"},
        {"label": "full pool, keep easy", "metric": "ssl", "variant": "pool", "keep": "low"},
        {"label": "half pool, keep hard", "metric": "ssl", "variant": "half-pool", "keep": "high"},
        {"label": "half pool, keep easy", "metric": "ssl", "variant": "half-pool", "keep": "low"},
    ],
    "contrasts": [
        {"id": "hard-easy", "a": "full pool, keep hard", "b": "full pool, keep easy", "by": "pool"},
        {"id": "hard-easy-x-pool", "interaction": "hard-easy"},
    ],
}
FRACTIONS = {"abl4": {"ssl/pool": 1.0, "ssl/half-pool": 0.5}}


def test_by_pool_contrast_and_its_interaction_with_pool_size():
    full_hard, full_easy = [2.0, 2.2, 2.1], [2.6, 2.9, 2.7]
    half_hard, half_easy = [3.0, 3.1, 3.3], [2.8, 2.8, 3.0]
    runs = _runs(
        {
            ("ssl", "pool", "high"): {0.1: full_hard, 0.3: full_hard},
            ("ssl", "pool", "low"): {0.1: full_easy, 0.3: full_easy},
            ("ssl", "half-pool", "high"): {0.1: half_hard},  # the sub-pool only at 10%
            ("ssl", "half-pool", "low"): {0.1: half_easy},
        }
    )
    table = contrast_table(runs, {"abl4": POOLS}, FRACTIONS)
    keys = list(zip(table["contrast"], table["budget"], table["pool_fraction"].fillna(-1), strict=True))
    assert keys == [
        ("hard-easy", 0.1, 0.5), ("hard-easy", 0.1, 1.0), ("hard-easy", 0.3, 1.0),
        ("hard-easy-x-pool", 0.1, 0.5), ("hard-easy-x-pool", 0.3, -1),
    ]  # fmt: skip
    half = table.iloc[0]
    assert (half["a"], half["b"]) == ("half pool, keep hard", "half pool, keep easy")
    # (hard − easy at the half pool) − (hard − easy at the full pool), seed by seed
    inter = (np.subtract(half_hard, half_easy)) - (np.subtract(full_hard, full_easy))
    x = table.iloc[3]
    assert x["estimate"] == pytest.approx(inter.mean()) and x["full_pool"] == 1.0
    assert x["p"] == pytest.approx(stats.ttest_1samp(inter, 0).pvalue)
    assert "hard-easy at the 50% pool minus at the full pool is +" in x["answer"]
    gone = table.iloc[4]
    assert gone["verdict"] == "not run" and math.isnan(gone["p_holm"])
    assert gone["answer"] == "not run in this configuration (one pool size only)"
    # the not-run row is not counted in the family
    ran = table[table["verdict"] != "not run"]
    assert ran["p_holm"].to_numpy() == pytest.approx(holm(ran["p"].to_numpy()))


def test_by_pool_contrast_with_two_series_at_one_pool_size_is_an_error():
    spec = {
        **POOLS,
        "series": [*POOLS["series"], {"label": "x", "metric": "ssl", "variant": "pool2", "keep": "high"}],
    }
    runs = _runs({("ssl", "pool", "high"): {0.1: [1.0, 1.0, 1.0]}})
    with pytest.raises(DQError, match=r"review.ablations.abl4.contrasts' \(hard-easy, by: pool\)"):
        contrast_table(runs, {"abl4": spec}, {"abl4": {**FRACTIONS["abl4"], "ssl/pool2": 1.0}})


def test_answers_and_table_are_latex_safe():
    runs = _runs(
        {
            ("ma", "v", "high"): {0.1: [2.0, 2.1, 2.2]},
            ("mb", "v", "high"): {0.1: [3.0, 3.2, 3.1]},
            ("random", "uniform", "high"): {0.1: [2.5, 2.6, 2.4]},
        }
    )
    table = contrast_table(runs, {"abl_1": ABLATION}, {})
    text = ablation_answer(table, "abl_1", tex=True)
    assert text.startswith("At 10\\%: a-b: ``A'' beats ``B'' by 1.000\\,$\\pm$\\,") and text.isascii()
    tex = contrasts_tex(table)
    assert tex.isascii() and tex.count("Is a better than b?") == 1
    assert "\\multicolumn{7}{l}{\\emph{abl\\_1: Is a better than b?}}" in tex
    # read back from the CSV (empty text cells become NaN) the sentences are the same
    back = pd.read_csv(pd.io.common.StringIO(table.to_csv(index=False)))
    assert [answer(r) for r in back.to_dict("records")] == list(table["answer"])


def test_versus_random_family_counts_each_method_in_its_own_direction():
    runs = _runs(
        {
            ("random", "uniform", "high"): {0.1: [2.5, 2.6, 2.4]},
            ("ma", "v", "high"): {0.1: [2.0, 2.1, 2.0]},
            ("ma", "v", "low"): {0.1: [3.5, 3.6, 3.4]},  # a deliberately bad arm: not in the family
            ("control", "matched.ma.v.high", "high"): {0.1: [2.4, 2.5, 2.3]},  # a reference: not counted
            ("mb", "v", "high"): {0.1: [2.5, 2.7, 2.3]},
        }
    )
    table = versus_random_family(runs)
    assert list(table["metric"]) == ["ma", "mb"]
    assert table["p_holm"].to_numpy() == pytest.approx(holm(table["p"].to_numpy()))
    assert list(table["verdict"]) == ["better", "no detectable difference"]
