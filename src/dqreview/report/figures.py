"""Figures: readable at a glance (labelled axes with units, CIs over seeds)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from dqreview.io import atomic_path  # noqa: E402


def bpb_vs_budget(summary: pd.DataFrame, path, full: pd.DataFrame | None = None) -> None:
    """Target bits per byte against the byte budget, one line per method, mean ± 95% CI over seeds.

    ``summary`` has columns method, budget, mean, ci95, n_seeds; ``full`` (optional) the same for the
    full-data baseline, drawn as a horizontal band.
    """
    fig, ax = plt.subplots(figsize=(6.0, 4.0), constrained_layout=True)
    methods = sorted(summary["method"].unique())
    budgets = sorted(summary["budget"].unique())
    # dodge the methods sideways a little so overlapping error bars stay readable
    step = (min(b - a for a, b in zip(budgets, budgets[1:], strict=False)) if len(budgets) > 1 else 0.1) * 100
    offsets = {m: (i - (len(methods) - 1) / 2) * step * 0.02 for i, m in enumerate(methods)}
    for method in methods:
        group = summary[summary["method"] == method].sort_values("budget")
        ax.errorbar(
            group["budget"] * 100 + offsets[method],
            group["mean"],
            yerr=group["ci95"].fillna(0.0),
            marker="o",
            capsize=3,
            label=method,
        )
    if full is not None and len(full):
        m, h = float(full["mean"].iloc[0]), float(pd.Series(full["ci95"]).fillna(0.0).iloc[0])
        ax.axhline(m, color="black", linestyle="--", linewidth=1, label="full data")
        ax.axhspan(m - h, m + h, color="black", alpha=0.08)
    n = int(summary["n_seeds"].min()) if len(summary) else 0
    ax.set_xlabel("budget (% of pool UTF-8 bytes)")
    ax.set_ylabel("target test bits per byte (lower is better)")
    ax.set_title(f"Proxy LM on target text, mean ± 95% CI over {n} seeds")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="pdf")
    plt.close(fig)
