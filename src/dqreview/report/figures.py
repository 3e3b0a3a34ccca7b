"""Figures: readable at a glance (labelled axes with units, CIs over seeds)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from dqreview.io import atomic_path  # noqa: E402


def comparison(summary: pd.DataFrame, diffs: pd.DataFrame, mde: float, path) -> None:
    """Every method at every budget: (a) target bits per byte, mean ± 95% CI over seeds, with the full-data
    baseline as a band; (b) the paired difference from random seed by seed, mean ± 95% CI, with the
    minimal detectable effect shaded.

    ``summary``: method, budget, target_bpb, ci95, n_seeds (budget 1.0 = full data);
    ``diffs``: method, budget, diff, ci95, n_pairs.
    """
    parts = summary[summary["budget"] < 1.0]
    full = summary[summary["budget"] >= 1.0]
    methods = sorted(parts["method"].unique())
    budgets = sorted(parts["budget"].unique())
    fig, (ax, bx) = plt.subplots(
        1, 2, figsize=(12.0, max(4.0, 0.28 * len(methods) * len(budgets) + 1.5)), constrained_layout=True
    )
    step = (min(b - a for a, b in zip(budgets, budgets[1:], strict=False)) if len(budgets) > 1 else 0.1) * 100
    for i, method in enumerate(methods):
        g = parts[parts["method"] == method].sort_values("budget")
        dx = (i - (len(methods) - 1) / 2) * step * 0.02  # dodge so error bars stay readable
        ax.errorbar(g["budget"] * 100 + dx, g["target_bpb"], yerr=g["ci95"].fillna(0.0), marker="o", capsize=3,
                    label=method)  # fmt: skip
    if len(full):
        m, h = float(full["target_bpb"].iloc[0]), float(pd.Series(full["ci95"]).fillna(0.0).iloc[0])
        ax.axhline(m, color="black", linestyle="--", linewidth=1, label="full data")
        ax.axhspan(m - h, m + h, color="black", alpha=0.08)
    n = int(parts["n_seeds"].min()) if len(parts) else 0
    ax.set_xlabel("budget (% of pool UTF-8 bytes)")
    ax.set_ylabel("target test bits per byte (lower is better)")
    ax.set_title(f"(a) mean ± 95% CI over {n} seeds")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=6)
    d = diffs.sort_values(["budget", "method"], ascending=[True, False]).reset_index(drop=True)
    labels = [f"{m}  @{b:.0%}" for m, b in zip(d["method"], d["budget"], strict=True)]
    colors = ["tab:green" if hi < 0 else "tab:red" if lo > 0 else "tab:gray"
              for lo, hi in zip(d["diff"] - d["ci95"].fillna(0), d["diff"] + d["ci95"].fillna(0), strict=True)]  # fmt: skip
    for y, (x, h, c) in enumerate(zip(d["diff"], d["ci95"].fillna(0.0), colors, strict=True)):
        bx.errorbar(x, y, xerr=h, fmt="o", color=c, capsize=3)
    bx.axvline(0, color="black", linewidth=1)
    if mde == mde:  # not NaN
        bx.axvspan(-mde, mde, color="gray", alpha=0.12, label=f"minimal detectable effect ±{mde:.3f}")
        bx.legend(fontsize=7, loc="lower right")
    bx.set_yticks(range(len(d)), labels, fontsize=7)
    bx.set_xlabel("bits per byte minus random's, same seed (< 0: better than random)")
    bx.set_title("(b) paired difference from random, mean ± 95% CI")
    bx.grid(alpha=0.3, axis="x")
    save_figure(fig, path)


def save_figure(fig, path) -> None:
    """Write ``fig`` to ``path`` as PDF atomically and close it."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="pdf")
    plt.close(fig)


def cost_verdicts(verdicts: pd.DataFrame, target_model: str, path) -> None:
    """Selection cost against the training time it saves, at proxy scale and projected to ``target_model``.

    Points above the diagonal pay for themselves; methods that save nothing sit on the floor of the plot.
    """
    fig, axes = plt.subplots(1, 2, figsize=(10.0, 4.2), constrained_layout=True, sharex=True)
    panels = [("train_s_saved", "proxy LM (measured)"), ("target_saved_s", f"{target_model} (projected)")]
    for ax, (col, title) in zip(axes, panels, strict=True):
        floor = 1e-2
        for budget, group in verdicts.groupby("budget"):
            x = group["selection_s"].clip(lower=floor)
            y = group[col].clip(lower=floor)
            ax.scatter(x, y, label=f"budget {budget:.0%}", alpha=0.8)
            for xi, yi, m, v, k in zip(x, y, group.metric, group.variant, group.keep, strict=True):
                ax.annotate(
                    f"{m}/{v}/{k}", (xi, yi), fontsize=6, alpha=0.8, xytext=(2, 2), textcoords="offset points"
                )
        lo = floor
        hi = max(float(verdicts[["selection_s", col]].max().max()), 1.0) * 2
        ax.plot([lo, hi], [lo, hi], color="black", linestyle="--", linewidth=1, label="break-even")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("selection cost (s, method's own jobs + shared stages in full)")
        ax.set_ylabel("training time saved vs random (s; floor = no saving)")
        ax.set_title(title)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7)
    fig.suptitle("Is selecting cheaper than the training it saves? (above the line: yes)")
    save_figure(fig, path)


def learning_curves(curves: pd.DataFrame, baseline: pd.DataFrame, path, value: str = "bpb/target") -> None:
    """Bits per byte against training tokens for every run (seed means), one panel per budget, with
    random's compute curve (its runs at several token counts, each with its own schedule) in black.

    ``curves``: method, budget, seed, tokens, ``value``; ``baseline``: budget, seed, tokens, ``value``.
    """
    budgets = sorted(curves["budget"].unique())
    fig, axes = plt.subplots(
        1, len(budgets), figsize=(4.6 * len(budgets), 4.0), constrained_layout=True, squeeze=False
    )
    for ax, budget in zip(axes[0], budgets, strict=True):
        for method, group in curves[curves["budget"] == budget].groupby("method"):
            mean = group.groupby("tokens")[value].mean()
            ax.plot(mean.index, mean.to_numpy(), marker=".", linewidth=1, alpha=0.8, label=method)
        base = baseline[baseline["budget"] == budget].groupby("tokens")[value].mean()
        ax.plot(base.index, base.to_numpy(), color="black", marker="s", linewidth=2,
                label="random: final bpb of runs of each length")  # fmt: skip
        ax.set_xscale("log")
        ax.set_xlabel("training tokens")
        ax.set_ylabel("target test bits per byte")
        ax.set_title(f"budget {budget:.0%} of pool bytes")
        ax.grid(alpha=0.3, which="both")
    axes[0][-1].legend(fontsize=6, loc="upper right")
    n = int(curves.groupby(["method", "budget"])["seed"].nunique().min())
    fig.suptitle(f"Learning curves (mean over {n} seeds); black: random trained for each length", fontsize=9)
    save_figure(fig, path)


def ablation(table: pd.DataFrame, random: pd.DataFrame, full: pd.Series, spec: dict, path) -> None:
    """An ablation: (a) bits per byte of each series against the kept fraction, random and full data for
    reference, epochs over the selection written at each point; (b) each series' paired difference from
    random (mean ± 95% CI over seeds).

    ``table``: series, budget, kept_fraction, epochs, target_bpb, ci95, diff_vs_random, diff_ci95, n_seeds;
    ``random``: budget, mean, ci95; ``full``: the full-data runs' bits per byte.
    """
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11.0, 4.2), constrained_layout=True)
    labels = list(dict.fromkeys(s["label"] for s in spec["series"]))
    for label in labels:
        g = table[table["series"] == label].sort_values("kept_fraction")
        line = ax.errorbar(g["kept_fraction"] * 100, g["target_bpb"], yerr=g["ci95"].fillna(0), marker="o", capsize=3,
                           label=label)  # fmt: skip
        for x, y, e in zip(g["kept_fraction"] * 100, g["target_bpb"], g["epochs"], strict=True):
            ax.annotate(f"{e:.1f} ep", (x, y), fontsize=6, xytext=(3, 3), textcoords="offset points",
                        color=line[0].get_color())  # fmt: skip
        bx.errorbar(g["budget"] * 100, g["diff_vs_random"], yerr=g["diff_ci95"].fillna(0), marker="o", capsize=3,
                    label=label)  # fmt: skip
    r = random.sort_values("budget")
    ax.errorbar(r["budget"] * 100, r["mean"], yerr=r["ci95"].fillna(0), color="gray", linestyle=":", marker="x",
                capsize=2, label="random")  # fmt: skip
    if len(full):
        ax.axhline(float(full.mean()), color="black", linestyle="--", linewidth=1, label="full data")
    n = int(table["n_seeds"].min()) if len(table) else 0
    ax.set_xlabel("kept fraction (% of the bytes the method chooses from)")
    ax.set_ylabel("target test bits per byte (lower is better)")
    ax.set_title(f"(a) mean ± 95% CI over {n} seeds; epochs over the selection")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    bx.axhline(0, color="black", linewidth=1)
    bx.set_xlabel("budget (% of pool UTF-8 bytes)")
    bx.set_ylabel("bits per byte minus random's, same seed")
    bx.set_title("(b) paired difference from random (< 0: better)")
    bx.grid(alpha=0.3)
    bx.legend(fontsize=7)
    fig.suptitle(spec["title"] + (f"\n{spec['question']}" if spec.get("question") else ""), fontsize=10)
    save_figure(fig, path)


def composition(
    table: pd.DataFrame, per_seed: pd.DataFrame, overlap: pd.DataFrame, budget: float, path
) -> None:
    """What each selection at ``budget`` contains: (a) domain shares of its bytes, (b) the fraction of
    planted exact copies, near-duplicates and noise documents it kept, (c) document lengths, (d) pairwise
    overlap (Jaccard) between methods' selections for the first seed."""
    import numpy as np

    table = table.sort_values("method").reset_index(drop=True)
    fig, axes = plt.subplots(2, 2, figsize=(13.0, 4.0 + 0.45 * len(table)), constrained_layout=True)
    (ax, bx), (cx, dx) = axes
    shares = [c for c in table.columns if c.startswith("share/")]
    left = np.zeros(len(table))
    for col in shares:
        ax.barh(table["method"], table[col], left=left, label=col.split("/", 1)[1])
        left += table[col].to_numpy()
    ax.set_xlabel("share of the selection's bytes")
    ax.set_title(f"(a) domains, budget {budget:.0%} (seed mean)")
    ax.legend(fontsize=7, ncols=3, loc="lower right")
    kept = [c for c in table.columns if c.startswith("kept/")]
    y = np.arange(len(table))
    for i, col in enumerate(kept):
        bx.barh(y + (i - 1) * 0.27, table[col], height=0.27, label=col.split("/", 1)[1])
    bx.axvline(budget, color="black", linestyle="--", linewidth=1, label="expected at random")
    bx.set_yticks(y, table["method"], fontsize=7)
    bx.set_xlabel("fraction of the planted documents kept")
    bx.set_title("(b) planted duplicates and noise kept")
    bx.legend(fontsize=7)
    sub = per_seed[per_seed["budget"] == budget]
    cx.barh(
        table["method"],
        table["mean_words"],
        xerr=sub.groupby("method")["mean_words"].std().reindex(table["method"]).fillna(0),
    )
    cx.set_xlabel("mean words per selected document (± sd over seeds)")
    cx.set_title("(c) document length")
    im = dx.imshow(overlap.to_numpy(), vmin=0, vmax=1, cmap="viridis")
    dx.set_xticks(range(len(overlap)), overlap.columns, rotation=90, fontsize=6)
    dx.set_yticks(range(len(overlap)), overlap.index, fontsize=6)
    fig.colorbar(im, ax=dx, label="Jaccard overlap of selected ids")
    dx.set_title("(d) overlap between methods (first seed)")
    for a in (ax, cx):
        a.tick_params(axis="y", labelsize=7)
    save_figure(fig, path)


def metrics_vs_bpb(data: pd.DataFrame, table: pd.DataFrame, path) -> None:
    """One panel per data metric: its value for every selection (and seed) against the target bits per byte
    of the proxy trained on it, with Pearson r, r² and bootstrap 95% CIs, and the paper's claim beside it."""
    import numpy as np

    n = len(table)
    fig, axes = plt.subplots(
        1, max(n, 1), figsize=(4.3 * max(n, 1), 4.2), constrained_layout=True, squeeze=False
    )
    for ax, row in zip(axes[0], table.itertuples(index=False), strict=False):
        x, y = data[row.metric].to_numpy(float), data["bpb/target"].to_numpy(float)
        ok = np.isfinite(x) & np.isfinite(y)
        ax.scatter(x[ok], y[ok], s=12, alpha=0.7)
        if ok.sum() >= 3 and np.ptp(x[ok]) > 0:
            slope, icept = np.polyfit(x[ok], y[ok], 1)
            xs = np.linspace(x[ok].min(), x[ok].max(), 2)
            ax.plot(xs, slope * xs + icept, color="black", linewidth=1)
        ax.set_xlabel(row.metric)
        ax.set_ylabel("target test bits per byte")
        ax.set_title(
            f"r = {row.r:.2f} [{row.r_lo:.2f}, {row.r_hi:.2f}], r² = {row.r2:.2f} (n = {row.n})\npaper: {row.claim}",
            fontsize=7,
        )
        ax.grid(alpha=0.3)
    fig.suptitle(
        "Data metrics of each selection vs the proxy LM's bits per byte (bootstrap 95% CIs)", fontsize=10
    )
    save_figure(fig, path)


def diversity(table: pd.DataFrame, path) -> None:
    """The Task2Vec coefficient table as a figure: (a) diversity of the lower bound, every domain, the
    target, the pool and the upper bound; (b) each set's alignment with the target (batch pairs and
    whole-set). Mean ± 95% CI over batch pairs; sets smaller than one batch are left blank."""
    t = table.reset_index(drop=True)
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(10.0, 0.4 * len(t) + 1.8), constrained_layout=True)
    y = range(len(t))
    colors = [
        "gray" if k in ("lower", "upper") else "tab:orange" if k == "target" else "tab:blue"
        for k in t["kind"]
    ]
    ax.barh(y, t["div"].fillna(0), xerr=t["div_ci95"].fillna(0), color=colors, capsize=3)
    ax.set_yticks(y, t["set"])
    ax.invert_yaxis()
    ax.set_xlabel("Task2Vec diversity coefficient (mean pairwise batch distance)")
    ax.set_title("(a) diversity, with the synthetic lower and upper bounds")
    ax.grid(alpha=0.3, axis="x")
    real = t[t["kind"] != "bound"]
    yr = range(len(real))
    bx.barh([i - 0.2 for i in yr], real["align_batch"].fillna(0), height=0.4, xerr=real["align_batch_ci95"].fillna(0),
            capsize=3, label="batch pairs")  # fmt: skip
    bx.barh([i + 0.2 for i in yr], real["align_full"].fillna(0), height=0.4, label="whole set")
    bx.set_yticks(yr, real["set"])
    bx.invert_yaxis()
    bx.set_xlabel("Task2Vec alignment with target ref (1 - cross-diversity)")
    bx.set_title("(b) alignment with the target")
    bx.legend(fontsize=7)
    bx.grid(alpha=0.3, axis="x")
    save_figure(fig, path)
