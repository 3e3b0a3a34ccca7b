"""Do data metrics predict the loss? Correlations over selections, without pseudo-replication.

The unit is a SELECTION (metric, variant, keep, budget), not a training run: its seeds share the method and
mostly the documents, so counting each seed as a point inflates ``n`` and narrows the interval
(pseudo-replication). Per budget (budgets are not pooled: the bits per byte of different budgets differ by
construction, through epochs and tokens), each selection is one point: its seed-averaged target bits per
byte against its seed-averaged metric value. The 95% interval is a percentile bootstrap over selections.
Beside Pearson's r, the partial correlation controlling the selection's target-domain byte share asks
whether the metric predicts the loss beyond "more target-domain documents" (docs/review.md, "Data metrics").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from dqreview.errors import DQError

#: Columns of ``results/tables/metrics.csv``.
COLUMNS = [
    "budget", "metric", "n", "r", "r_lo", "r_hi", "r2", "partial_r", "partial_lo", "partial_hi", "claim",
]  # fmt: skip
BPB = "bpb/target"
SHARE = "target_share"


def selection_points(
    runs: pd.DataFrame, metrics: Sequence[str], share: pd.DataFrame | None = None
) -> pd.DataFrame:
    """One row per selection (``method``, ``budget``): seed means of ``bpb/target`` and of each metric.

    Parameters
    ----------
    runs : DataFrame
        One row per (selection, seed): ``method``, ``budget``, ``bpb/target`` and the metric columns.
    metrics : list of str
        Metric columns to average (missing values are left out of a selection's mean).
    share : DataFrame, optional
        ``method``, ``budget``, ``target_share`` (the composition table's target-domain byte share).

    Returns
    -------
    DataFrame
        ``method``, ``budget``, ``n_seeds``, ``bpb/target``, the metrics and (with ``share``) ``target_share``.
    """
    missing = [c for c in ("method", "budget", BPB, *metrics) if c not in runs.columns]
    if missing:
        raise DQError(f"metrics_vs_bpb: the runs lack columns {missing}")
    grouped = runs.groupby(["method", "budget"], sort=True)
    points = grouped[[BPB, *metrics]].mean().reset_index()
    points.insert(2, "n_seeds", grouped[BPB].count().to_numpy())
    if share is not None:
        points = points.merge(share[["method", "budget", SHARE]], on=["method", "budget"], how="left")
    return points


def _pearson_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pearson r of each row pair of (B, n) arrays (NaN where a row is constant)."""
    xc, yc = x - x.mean(axis=-1, keepdims=True), y - y.mean(axis=-1, keepdims=True)
    den = np.sqrt((xc**2).sum(axis=-1) * (yc**2).sum(axis=-1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, (xc * yc).sum(axis=-1) / den, np.nan)


def _partial_rows(x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Partial correlation of x and y given z, row by row: ``(r_xy − r_xz r_yz) / √((1−r_xz²)(1−r_yz²))``."""
    rxy, rxz, ryz = _pearson_rows(x, y), _pearson_rows(x, z), _pearson_rows(y, z)
    with np.errstate(invalid="ignore", divide="ignore"):
        den = np.sqrt((1 - rxz**2) * (1 - ryz**2))
        return np.where(den > 1e-12, (rxy - rxz * ryz) / den, np.nan)


def correlation(x, y, z=None, n_boot: int = 2000, seed: int = 0, level: float = 0.95) -> dict[str, float]:
    """Pearson r of ``x`` and ``y`` and (with ``z``) their partial correlation given ``z``, each with a
    percentile-bootstrap interval over the points (the same resamples for both).

    Returns
    -------
    dict
        ``n``, ``r``, ``r_lo``, ``r_hi``, ``r2``, ``partial_r``, ``partial_lo``, ``partial_hi`` (NaN below 3
        finite points, a constant variable, or without ``z``; the partial needs 4 points).
    """
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    z = np.full_like(x, np.nan) if z is None else np.asarray(z, dtype=np.float64)
    with_z = bool(np.isfinite(z).any())
    ok = np.isfinite(x) & np.isfinite(y) & (np.isfinite(z) if with_z else True)
    x, y, z = x[ok], y[ok], z[ok]
    n = len(x)
    out = {
        "n": n,
        **dict.fromkeys(("r", "r_lo", "r_hi", "r2", "partial_r", "partial_lo", "partial_hi"), np.nan),
    }
    if n < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return out
    alpha = (1 - level) / 2
    idx = np.random.default_rng(seed).integers(0, n, size=(n_boot, n))
    r = float(_pearson_rows(x, y))
    boot = _pearson_rows(x[idx], y[idx])
    boot = boot[np.isfinite(boot)]
    out.update(r=r, r2=r * r)
    if len(boot):
        out.update(r_lo=float(np.quantile(boot, alpha)), r_hi=float(np.quantile(boot, 1 - alpha)))
    if with_z and n >= 4 and np.ptp(z) > 0:
        out["partial_r"] = float(_partial_rows(x, y, z))
        pboot = _partial_rows(x[idx], y[idx], z[idx])
        pboot = pboot[np.isfinite(pboot)]
        if len(pboot):
            out.update(
                partial_lo=float(np.quantile(pboot, alpha)), partial_hi=float(np.quantile(pboot, 1 - alpha))
            )
    return out


def correlation_table(
    points: pd.DataFrame, claims: Mapping[str, str], n_boot: int = 2000, seed: int = 0
) -> pd.DataFrame:
    """Per budget and metric (a key of ``claims`` present in ``points``): :func:`correlation` of the metric
    with ``bpb/target`` over selections, the partial one given ``target_share`` when ``points`` has it."""
    rows = []
    for budget, group in points.groupby("budget", sort=True):
        for metric, claim in claims.items():
            if metric not in group.columns:
                continue
            z = group[SHARE] if SHARE in group.columns else None
            rows.append({"budget": budget, "metric": metric,
                         **correlation(group[metric], group[BPB], z, n_boot, seed), "claim": claim})  # fmt: skip
    return pd.DataFrame(rows, columns=COLUMNS)


def target_share(composition: pd.DataFrame, domain: str) -> pd.DataFrame:
    """``method``, ``budget``, ``target_share`` from the composition table's ``share/<domain>`` column."""
    col = f"share/{domain}"
    if col not in composition.columns:
        raise DQError(
            f"metrics_vs_bpb: the composition table has no {col!r} column (target domain {domain!r}); "
            "rebuild results/tables/composition.csv"
        )
    return composition[["method", "budget", col]].rename(columns={col: SHARE})
