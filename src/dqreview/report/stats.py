"""Summary statistics over seeds."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import optimize, stats


def mean_ci(values, level: float = 0.95) -> tuple[float, float, int]:
    """Mean and half-width of the Student-t confidence interval; half-width is NaN for one value."""
    x = np.asarray(values, dtype=np.float64)
    x = x[~np.isnan(x)]
    n = len(x)
    if n == 0:
        return float("nan"), float("nan"), 0
    if n == 1:
        return float(x[0]), float("nan"), 1
    half = stats.t.ppf(0.5 + level / 2, n - 1) * x.std(ddof=1) / np.sqrt(n)
    return float(x.mean()), float(half), n


def summarise(df: pd.DataFrame, by: list[str], value: str, level: float = 0.95) -> pd.DataFrame:
    """One row per group: mean, CI half-width, and the number of seeds."""
    rows = []
    for key, group in df.groupby(by, sort=True):
        mean, half, n = mean_ci(group[value], level)
        rows.append(
            {
                **dict(zip(by, key if isinstance(key, tuple) else (key,), strict=True)),
                "mean": mean,
                "ci95": half,
                "n_seeds": n,
            }
        )
    return pd.DataFrame(rows)


def paired_differences(
    runs: pd.DataFrame, baseline: pd.DataFrame, keys: list[str], value: str, level: float = 0.95
) -> pd.DataFrame:
    """Method minus baseline, paired seed by seed, summarised per group.

    Parameters
    ----------
    runs : DataFrame
        One row per (group keys..., ``budget``, ``seed``) with ``value``.
    baseline : DataFrame
        The baseline's runs: ``budget``, ``seed`` and ``value`` (e.g. random at each budget).
    keys : list of str
        Columns identifying a method (``budget`` is added).

    Returns
    -------
    DataFrame
        ``keys + ["budget"]``, ``diff`` (mean of the per-seed differences), ``ci95`` (Student-t
        half-width), ``n_pairs``, ``sd`` (their standard deviation). Seeds missing on either side are left out of the pairing.
    """
    base = baseline[["budget", "seed", value]].rename(columns={value: "_base"})
    paired = runs.merge(base, on=["budget", "seed"], how="inner")
    paired["_diff"] = paired[value] - paired["_base"]
    out = summarise(paired, [*keys, "budget"], "_diff", level)
    sd = paired.groupby([*keys, "budget"], sort=True)["_diff"].std(ddof=1).to_numpy()
    return out.rename(columns={"mean": "diff", "n_seeds": "n_pairs"}).assign(sd=sd)


def versus_random(diffs: pd.DataFrame) -> pd.DataFrame:
    """:func:`paired_differences` output as the tables' columns: ``diff_vs_random``, ``diff_ci95``, ``n_pairs``."""
    return diffs.drop(columns="sd").rename(columns={"diff": "diff_vs_random", "ci95": "diff_ci95"})


def versus_random_columns(
    runs: pd.DataFrame,
    random: pd.DataFrame,
    methods: pd.DataFrame,
    value: str,
    level: float = 0.95,
    key: str = "method",
) -> pd.DataFrame:
    """Per ``key`` (a method, or an ablation's series) and ``budget``: the mean of ``value`` over seeds and its
    paired difference from random, as columns named after it (``<value>``, ``<value>:ci95``,
    ``<value>:diff_vs_random``, ``<value>:diff_ci95``); e.g. an lm-eval-harness score or the heldout domains'
    bits per byte next to the target bits per byte."""
    summary = summarise(runs, [key, "budget"], value, level)[[key, "budget", "mean", "ci95"]]
    diffs = paired_differences(methods, random, [key], value, level)[[key, "budget", "diff", "ci95"]]
    out = summary.merge(diffs, on=[key, "budget"], how="left", suffixes=("", "_diff"))
    return out.rename(
        columns={
            "mean": value,
            "ci95": f"{value}:ci95",
            "diff": f"{value}:diff_vs_random",
            "ci95_diff": f"{value}:diff_ci95",
        }
    )


def gap_columns(
    runs: pd.DataFrame, value: str, reference: str, name: str, level: float = 0.95
) -> pd.DataFrame:
    """Per ``method`` and ``budget``: ``value − reference`` run by run (same selection, same seed), its mean
    over seeds and CI half-width as columns ``<name>`` and ``<name>:ci95``; e.g. the proxy's bits per byte
    minus the bigram reference's on the same selection."""
    gap = runs.assign(**{name: runs[value] - runs[reference]})
    out = summarise(gap, ["method", "budget"], name, level)[["method", "budget", "mean", "ci95"]]
    return out.rename(columns={"mean": name, "ci95": f"{name}:ci95"})


def paired_t_power(effect_size: float, n_pairs: int, alpha: float = 0.05) -> float:
    """Exact power of the two-sided paired t-test at a true mean difference of ``effect_size`` standard
    deviations of the differences: ``P(|T| > t_{1-alpha/2, n-1})`` with ``T`` noncentral t (``n − 1``
    degrees of freedom, noncentrality ``effect_size · √n``)."""
    df = n_pairs - 1
    crit = stats.t.ppf(1 - alpha / 2, df)
    nc = effect_size * np.sqrt(n_pairs)
    # the lower tail is negligible where scipy's series gives NaN (far from zero): count it as 0
    lower = np.nan_to_num(stats.nct.cdf(-crit, df, nc), nan=0.0)
    return float(stats.nct.sf(crit, df, nc) + lower)


def minimal_detectable_effect(sd_diff: float, n_pairs: int, alpha: float = 0.05, power: float = 0.8) -> float:
    """Smallest true paired mean difference a two-sided paired t-test detects with the given power.

    Exact: the effect size ``δ/sd`` at which :func:`paired_t_power` equals ``power`` (noncentral t,
    solved with Brent's method), times ``sd_diff``. At 3 pairs this is 3.27·sd; the normal-approximation
    formula ``(t_{1-α/2} + t_{power}) · sd/√n`` would say 3.10·sd. NaN below 2 pairs or for a NaN spread.
    """
    if n_pairs < 2 or not np.isfinite(sd_diff):
        return float("nan")
    hi = 1.0
    while paired_t_power(hi, n_pairs, alpha) < power:  # bracket the root (power rises with the effect)
        hi *= 2.0
    size = optimize.brentq(lambda d: paired_t_power(d, n_pairs, alpha) - power, 0.0, hi, xtol=1e-10)
    return float(size * sd_diff)


def pearson_with_ci(x, y, n_boot: int = 2000, seed: int = 0, level: float = 0.95) -> dict:
    """Pearson r, r² and percentile-bootstrap confidence intervals (resampling the (x, y) pairs).

    Returns
    -------
    dict
        ``r``, ``r_lo``, ``r_hi``, ``r2``, ``r2_lo``, ``r2_hi``, ``n``. NaN when fewer than 3 finite pairs or
        a constant variable.
    """
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    n = len(x)
    nan = {
        "r": np.nan,
        "r_lo": np.nan,
        "r_hi": np.nan,
        "r2": np.nan,
        "r2_lo": np.nan,
        "r2_hi": np.nan,
        "n": n,
    }
    if n < 3 or x.std() == 0 or y.std() == 0:
        return nan
    r = float(np.corrcoef(x, y)[0, 1])
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(n_boot, n))
    xb, yb = x[idx], y[idx]
    xc, yc = xb - xb.mean(axis=1, keepdims=True), yb - yb.mean(axis=1, keepdims=True)
    denom = np.sqrt((xc**2).sum(axis=1) * (yc**2).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        rb = (xc * yc).sum(axis=1) / denom
    rb = rb[np.isfinite(rb)]  # a resample with a constant variable has no r
    lo, hi = np.quantile(rb, [(1 - level) / 2, (1 + level) / 2])
    r2b = rb**2
    return {
        "r": r, "r_lo": float(lo), "r_hi": float(hi),
        "r2": r * r, "r2_lo": float(np.quantile(r2b, (1 - level) / 2)), "r2_hi": float(np.quantile(r2b, (1 + level) / 2)),
        "n": n,
    }  # fmt: skip


def pooled_minimal_detectable_effect(diffs: pd.DataFrame, alpha: float = 0.05, power: float = 0.8) -> float:
    """:func:`minimal_detectable_effect` with the spread of the per-seed differences pooled over every
    comparison in ``diffs`` (:func:`paired_differences` output) and its smallest number of pairs."""
    if len(diffs) == 0:
        return float("nan")
    pooled_sd = float((diffs["sd"] ** 2).mean() ** 0.5)
    return minimal_detectable_effect(pooled_sd, int(diffs["n_pairs"].min()), alpha, power)
