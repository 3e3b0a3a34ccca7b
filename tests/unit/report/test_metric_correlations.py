"""Correlations over selections: seed means, bootstrap over selections, the partial r given the share."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dqreview.errors import DQError
from dqreview.report import metric_correlations as mc


def _runs():
    rows = []
    for i, method in enumerate("abcdef"):
        for budget in (0.1, 0.6):
            for seed in range(3):
                rows.append({"method": method, "budget": budget, "seed": seed,
                             "bpb/target": 2.0 + 0.1 * i + 0.01 * seed + budget, "m": float(i) + seed})  # fmt: skip
    return pd.DataFrame(rows)


def test_points_are_seed_means_one_per_selection_and_budget():
    share = pd.DataFrame({"method": list("abcdef"), "budget": 0.1, "target_share": np.linspace(0, 1, 6)})
    points = mc.selection_points(_runs(), ["m"], share)
    assert len(points) == 12 and (points["n_seeds"] == 3).all()
    a = points[(points.method == "a") & (points.budget == 0.1)].iloc[0]
    assert a["bpb/target"] == pytest.approx(2.11) and a["m"] == pytest.approx(1.0)
    assert a["target_share"] == 0.0
    assert points[points.budget == 0.6]["target_share"].isna().all()
    with pytest.raises(DQError, match=r"lack columns \['missing'\]"):
        mc.selection_points(_runs(), ["missing"])


def test_partial_correlation_matches_residual_regression():
    rng = np.random.default_rng(0)
    z = rng.normal(size=30)
    x = z + rng.normal(size=30)
    y = 2 * z + rng.normal(size=30)
    out = mc.correlation(x, y, z, n_boot=500)
    rx = x - np.polyval(np.polyfit(z, x, 1), z)
    ry = y - np.polyval(np.polyfit(z, y, 1), z)
    assert out["partial_r"] == pytest.approx(np.corrcoef(rx, ry)[0, 1], rel=1e-9)
    assert out["r"] == pytest.approx(np.corrcoef(x, y)[0, 1], rel=1e-12) and out["r2"] == pytest.approx(
        out["r"] ** 2
    )
    assert (
        out["r_lo"] <= out["r"] <= out["r_hi"] and out["partial_lo"] <= out["partial_r"] <= out["partial_hi"]
    )
    assert out["n"] == 30
    assert mc.correlation(x, y, z, n_boot=500) == out  # seeded


def test_correlation_degenerate_cases_are_nan():
    assert np.isnan(mc.correlation([1, 2], [1, 2])["r"])
    assert np.isnan(mc.correlation([1, 1, 1], [1, 2, 3])["r"])
    out = mc.correlation([1, 2, 3, 4], [1, 3, 2, 4])  # no z: no partial
    assert np.isfinite(out["r"]) and np.isnan(out["partial_r"])
    out = mc.correlation([1, 2, 3, 4, np.nan], [1, 3, 2, 4, 5], [0, 1, 0, 1, 0])
    assert out["n"] == 4


def test_table_per_budget_and_the_share_column():
    comp = pd.DataFrame({"method": list("abcdef"), "budget": 0.1, "share/wiki": np.linspace(0, 1, 6)})
    share = mc.target_share(comp, "wiki")
    points = mc.selection_points(_runs(), ["m"], share)
    table = mc.correlation_table(points, {"m": "claim", "absent": "skipped"}, n_boot=200)
    assert list(table.columns) == mc.COLUMNS
    assert list(table["budget"]) == [0.1, 0.6] and set(table["metric"]) == {"m"}
    assert (table["n"] == 6).all() and table["r"].to_numpy() == pytest.approx([1.0, 1.0])
    with pytest.raises(DQError, match="no 'share/code' column"):
        mc.target_share(comp, "code")
