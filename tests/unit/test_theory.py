"""Sorscher et al. teacher–student pruning theory: analytic checks and the paper's qualitative predictions.

Cost: ~10-15 s on one core in total (the slope test is the largest, ~5 s).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import erf

from dqreview.errors import DQError
from dqreview.theory import (
    kept_mask,
    max_margin_student,
    pareto_frontier,
    plot_theory,
    run_grid,
    simulate,
    theory_table,
)

SMALL = {"N": 60, "alpha_tot": [2, 10], "fractions": [0.5, 1.0], "theta_deg": 10, "seeds": 2}


@pytest.mark.parametrize("f", [0.1, 0.3, 0.5, 0.8])
def test_keep_hard_kept_fraction_is_erf_of_threshold(f):
    # perfect metric: T·x ~ N(0,1); keep-hard keeps |T·x| < κ, so f = erf(κ/√2)
    n = 200_000
    z = np.random.default_rng(0).standard_normal(n)
    mask = kept_mask(np.abs(z), f, "hard")
    kappa = np.abs(z[mask]).max()
    assert mask.sum() == round(f * n)
    sd = math.sqrt(f * (1 - f) / n)
    assert abs(erf(kappa / math.sqrt(2)) - f) < 5 * sd
    # keep-easy: kept inputs have |T·x| > κ' with 1 - f = erf(κ'/√2)
    easy = kept_mask(np.abs(z), f, "easy")
    kappa_e = np.abs(z[easy]).min()
    assert abs(erf(kappa_e / math.sqrt(2)) - (1 - f)) < 5 * sd
    assert not np.any(mask & easy) or f > 0.5


def test_kept_mask_validates():
    with pytest.raises(DQError):
        kept_mask([1.0, 2.0], 0.0, "hard")
    with pytest.raises(DQError):
        kept_mask([1.0, 2.0], 0.5, "middle")


def test_max_margin_student_is_exact_and_separates():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((300, 20))
    y = np.sign(X @ rng.standard_normal(20))
    w = max_margin_student(X, y)
    margins = y * (X @ w)
    assert margins.min() == pytest.approx(1.0, abs=1e-6)  # the hard-margin constraints are tight
    # optimality: the LinearSVC reference solution (approximate) has no smaller norm
    w_svc = max_margin_student(X, y, solver="linearsvc")
    scale = (y * (X @ w_svc)).min()
    assert np.linalg.norm(w) <= np.linalg.norm(w_svc / scale) * (1 + 1e-3)
    cos = w @ w_svc / (np.linalg.norm(w) * np.linalg.norm(w_svc))
    assert cos > 0.999


def test_unpruned_learning_curve_slope_is_minus_one():
    alphas = np.array([10, 20, 40, 80])
    seeds = range(4)
    err = np.array([np.mean([simulate(100, a, 1.0, seed=s) for s in seeds]) for a in alphas])
    slope = np.polyfit(np.log(alphas), np.log(err), 1)[0]
    assert -1.15 <= slope <= -0.85, (slope, err)


def _mean(N, a, f, keep, theta, seeds=range(5)):
    return float(np.mean([simulate(N, a, f, keep, theta, s) for s in seeds]))


def test_qualitative_predictions():
    N = 100
    # (2) scarce data: keep-easy wins; abundant data: keep-hard wins (reference 0.081 < 0.102; 0.025 < 0.051)
    easy10, hard10 = _mean(N, 10, 0.2, "easy", 0), _mean(N, 10, 0.2, "hard", 0)
    easy20, hard20 = _mean(N, 20, 0.2, "easy", 0), _mean(N, 20, 0.2, "hard", 0)
    assert easy10 < hard10
    assert hard20 < easy20
    # (3) pruned (perfect, keep-hard) far below unpruned at equal alpha_prune = 8
    hard40 = _mean(N, 40, 0.2, "hard", 0)
    unpruned8 = _mean(N, 8, 1.0, "hard", 0)
    assert hard40 < unpruned8 / 3
    # (4) imperfect metric loses the gain at large alpha: at θ=30° most of it is gone
    hard40_10 = _mean(N, 40, 0.2, "hard", 10)
    hard40_30 = _mean(N, 40, 0.2, "hard", 30)
    assert hard40 < hard40_10 < hard40_30
    assert hard40_30 > unpruned8 / 1.5


def test_run_grid_table_frontier_plot(tmp_path):
    df = run_grid(SMALL)
    assert {"alpha_tot", "f", "alpha_prune", "keep", "metric", "seed", "error"} <= set(df.columns)
    assert set(df["metric"]) == {"perfect", "imperfect", "unpruned"}
    pruned = df[df["metric"] != "unpruned"]
    assert len(pruned) == 2 * 1 * 2 * 2 * 2  # alpha x f<1 x keep x metric x seed
    # every pruned alpha_prune has an unpruned baseline
    assert set(pruned["alpha_prune"]) <= set(df.loc[df["metric"] == "unpruned", "alpha_prune"])
    assert df["error"].between(0, 0.5).all()
    # the grid reproduces simulate() (same data per (alpha_tot, seed))
    r = pruned.iloc[0]
    theta = 10 if r["metric"] == "imperfect" else 0
    assert simulate(60, r["alpha_tot"], r["f"], r["keep"], theta, int(r["seed"])) == pytest.approx(r["error"])
    tab = theory_table(df)
    assert (tab["n_seeds"] == 2).all()
    front = pareto_frontier(df)
    for _, g in front.groupby("metric"):
        assert np.all(np.diff(g["mean"].to_numpy()) < 0)
    out = tmp_path / "theory.pdf"
    plot_theory(df, out)
    assert out.stat().st_size > 1000


def test_bad_config():
    with pytest.raises(DQError):
        run_grid({"N": 10, "nonsense": 1})
    with pytest.raises(DQError):
        run_grid({"N": 10, "fractions": [0.0]})
