"""Figures: readable at a glance (labelled axes with units, CIs over seeds).

Every figure is drawn for the paper's text width (:data:`TEXT_WIDTH_IN`; ``paper/main.tex`` includes it at
``\\linewidth``), so a font size set here is the size the reader sees, never below 7 pt.
"""

from __future__ import annotations

from contextlib import contextmanager

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from dqreview.io import atomic_path  # noqa: E402
from dqreview.report.runs import (  # noqa: E402
    MATCHED_LABEL,
    TARGET_DOMAIN_LABEL,
    budget_tick,
    epochs_text,
    full_pool_label,
)

#: The paper's \linewidth in inches (11pt article, 1 in margins on US letter): figures are drawn at this
#: width so they are included at 100% and their fonts keep the sizes below.
TEXT_WIDTH_IN = 6.5
#: Font sizes in points at that width (the smallest text the reader sees is 7 pt).
FONT_PT = {"font.size": 8, "axes.titlesize": 8, "axes.labelsize": 8, "xtick.labelsize": 7,
           "ytick.labelsize": 7, "legend.fontsize": 7, "legend.title_fontsize": 7, "figure.titlesize": 9}  # fmt: skip
#: Ten colours told apart by colour-blind readers, and eight markers: series i takes colour i mod 10 and
#: marker i mod 8, so the first 40 series each have their own (colour, marker) pair.
PALETTE = sns.color_palette("colorblind", 10)
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<")
#: The comparison's facets in reading order; a family not listed here is drawn after them.
FAMILY_ORDER = ("target-aware", "target-blind", "dedup", "mixture", "other")
#: The family whose method is the reference drawn in every facet rather than a facet of its own.
BASELINE_FAMILY = "baseline"
#: The family of the domain-matched controls: no facet of their own, each drawn hollow beside its method.
CONTROL_FAMILY = "control"
#: How the baselines are drawn in every facet, in label order (random first): (colour, line style, marker).
BASELINE_STYLES = (("black", ":", "x"), ("0.45", "-.", "+"), ("0.65", "--", "1"))
#: A domain-matched control: hollow, dashed, in its method's colour.
HOLLOW = {"markerfacecolor": "white", "linestyle": "--", "linewidth": 0.7, "markersize": 4, "capsize": 1.5}


@contextmanager
def paper_style():
    """Seaborn's white grid with the paper's font sizes, for the figures drawn inside it."""
    with sns.axes_style("whitegrid"), plt.rc_context({**FONT_PT, "axes.titleweight": "normal"}):
        yield


def series_styles(labels) -> dict[str, tuple[tuple[float, float, float], str]]:
    """A distinct (colour, marker) for every label, in the order given (see :data:`PALETTE`)."""
    return {label: (PALETTE[i % len(PALETTE)], MARKERS[i % len(MARKERS)]) for i, label in enumerate(labels)}


def _ci(values) -> np.ndarray:
    return pd.Series(values).fillna(0.0).to_numpy(float)


def _budget_ticks(ax, table: pd.DataFrame) -> None:
    """Budget ticks (percent of the pool) each labelled with the mean epochs of ``table``'s runs there."""
    epochs = table.groupby("budget")["epochs"].mean()
    ax.set_xticks([b * 100 for b in epochs.index], [budget_tick(b, e) for b, e in epochs.items()])


def comparison(cmp_, path, families: dict[str, str]) -> None:
    """Every method at every budget, one row of panels per method family (``families``: method label ->
    :attr:`dqreview.metrics.base.Method.family`): (a) target bits per byte against the budget, mean ± 95%
    CI over seeds, with the baselines (random in black, the target-domain-only arm in grey) and the whole
    pool (dashed, its CI as a band, labelled with its epochs) in every row; (b) the paired difference from
    random on the target seed by seed, mean ± 95% CI, with the minimal detectable effect shaded; (c) the
    same on the heldout domains' mean bits per byte; and, when there are domain-matched controls, (d) the
    within-domain effect: each method minus its own control, paired by seed. A method's control is drawn
    hollow in its colour in (a) and (b), so the gap between filled and hollow in (b) is (d). Each method
    keeps one colour and marker in every panel; its legend sits beside its row. Every budget tick carries
    the epochs of the runs at that budget.

    ``cmp_``: a :class:`dqreview.report.comparison.Comparison` (its ``summary``: method, budget,
    target_bpb, ci95, n_seeds, epochs, budget 1.0 = the whole pool; ``diffs``, ``heldout_diffs``,
    ``within_diffs``: method, budget, diff, ci95, n_pairs).
    """
    from matplotlib.lines import Line2D

    summary, mde, heldout_mde = cmp_.summary, cmp_.mde, cmp_.heldout_mde
    within = cmp_.within_diffs
    parts = summary[summary["budget"] < 1.0]
    full = summary[summary["budget"] >= 1.0]
    family_of = {m: families.get(m, "other") for m in parts["method"].unique()}
    baseline = sorted(m for m, f in family_of.items() if f == BASELINE_FAMILY)
    baseline.sort(key=lambda m: m != "random")  # random first: the black reference
    present = sorted({f for f in family_of.values() if f not in (BASELINE_FAMILY, CONTROL_FAMILY)})
    order = [f for f in FAMILY_ORDER if f in present] + [f for f in present if f not in FAMILY_ORDER]
    members = {f: sorted(m for m, g in family_of.items() if g == f) for f in order}
    styles = series_styles([m for f in order for m in members[f]])
    budgets = sorted(parts["budget"].unique())
    step = (min(b - a for a, b in zip(budgets, budgets[1:], strict=False)) if len(budgets) > 1 else 0.2) * 100
    heights = [max(1.6, 0.135 * len(members[f]) + 0.45) for f in order]
    has_within = len(within) > 0
    n_panels = 4 if has_within else 3
    with paper_style():
        fig, axes = plt.subplots(
            max(len(order), 1), n_panels + 1, figsize=(TEXT_WIDTH_IN, sum(heights) + 0.7), squeeze=False,
            gridspec_kw={"width_ratios": [1.0 if not has_within else 0.7] * n_panels + [1.9],
                         "height_ratios": heights or [1.6]},
            sharex="col", constrained_layout=True,
        )  # fmt: skip
        for col in range(n_panels):  # one y scale per column, so rows compare at a glance
            # (d) is on (b)'s scale: a within-domain effect reads against the effect vs random
            first = axes[0, 1] if col == 3 else axes[0, col]
            for ax in axes[:, col]:
                if ax is not first:
                    ax.sharey(first)
                if col == 3:
                    ax.tick_params(labelleft=False)
        n = int(parts["n_seeds"].min()) if len(parts) else 0
        panels = [(1, cmp_.diffs, mde), (2, cmp_.heldout_diffs, heldout_mde)]
        if has_within:
            panels.append((3, within, float("nan")))
        for row, family in zip(axes, order, strict=False):
            ax, lx = row[0], row[n_panels]
            k = len(members[family])
            controlled = False
            for i, method in enumerate(members[family]):
                colour, marker = styles[method]
                dx = (i - (k - 1) / 2) * step * 0.25 / max(k, 1)  # dodge so error bars stay apart
                g = parts[parts["method"] == method].sort_values("budget")
                ax.errorbar(g["budget"] * 100 + dx, g["target_bpb"], yerr=_ci(g["ci95"]), color=colour,
                            marker=marker, markersize=4, linewidth=1, capsize=2, label=method)  # fmt: skip
                for col, diffs, _ in panels:
                    d = diffs[diffs["method"] == method].sort_values("budget")
                    if not len(d):  # e.g. (d) for a method without a control
                        continue
                    row[col].errorbar(d["budget"] * 100 + dx, d["diff"], yerr=_ci(d["ci95"]), color=colour,
                                      marker=marker, markersize=4, linewidth=1, capsize=2)  # fmt: skip
                control = MATCHED_LABEL + method  # its domain-matched control, hollow in its colour
                c = parts[parts["method"] == control].sort_values("budget")
                if len(c):
                    controlled = True
                    ax.errorbar(c["budget"] * 100 + dx, c["target_bpb"], yerr=_ci(c["ci95"]), color=colour,
                                marker=marker, **HOLLOW)  # fmt: skip
                    d = cmp_.diffs[cmp_.diffs["method"] == control].sort_values("budget")
                    row[1].errorbar(d["budget"] * 100 + dx, d["diff"], yerr=_ci(d["ci95"]), color=colour,
                                    marker=marker, **HOLLOW)  # fmt: skip
            for j, method in enumerate(baseline):
                colour, linestyle, marker = BASELINE_STYLES[j % len(BASELINE_STYLES)]
                g = parts[parts["method"] == method].sort_values("budget")
                ax.errorbar(g["budget"] * 100, g["target_bpb"], yerr=_ci(g["ci95"]), color=colour, linestyle=linestyle,
                            marker=marker, markersize=4, linewidth=1, capsize=2, label=method)  # fmt: skip
                if j:  # the other baselines' difference from random, as a reference in (b)
                    d = cmp_.diffs[cmp_.diffs["method"] == method].sort_values("budget")
                    row[1].plot(d["budget"] * 100, d["diff"], color=colour, linestyle=linestyle,
                                marker=marker, markersize=4, linewidth=1)  # fmt: skip
            if len(full):
                m, h = float(full["target_bpb"].iloc[0]), float(_ci(full["ci95"])[0])
                label = f"{full_pool_label(float(full['epochs'].iloc[0]))} (± 95% CI)"
                ax.axhline(m, color="0.3", linestyle="--", linewidth=1, label=label)
                ax.axhspan(m - h, m + h, color="0.3", alpha=0.12, linewidth=0)
            for col, _, band in panels:
                row[col].axhline(0, color="black", linewidth=0.8)
                if band == band:  # not NaN
                    row[col].axhspan(-band, band, color="0.5", alpha=0.15, linewidth=0)
            ax.set_ylabel("target bits per byte")
            row[1].set_ylabel("Δ bits per byte")  # (c), (d): the same unit
            handles, labels = ax.get_legend_handles_labels()
            if controlled:
                handles.append(Line2D([], [], color="0.3", marker="o", markerfacecolor="white", linestyle="--",
                                      linewidth=0.7, markersize=4))  # fmt: skip
                labels.append("hollow: its matched control")
            lx.axis("off")
            legend = lx.legend(handles, labels, loc="center left", frameon=False, borderaxespad=0, handlelength=1.6,
                               title=f"{family} ({k} method{'s' if k != 1 else ''})", alignment="left")  # fmt: skip
            legend.get_title().set_fontweight("bold")
        for ax in axes[-1, :n_panels]:
            ax.set_xlabel("budget, % of pool\n(epochs)" if not has_within else "budget, %\n(epochs)")
            _budget_ticks(ax, parts)

        brk = "\n" if has_within else " "  # four narrower panels: shorter title lines

        def mde_line(value: float) -> str:
            return f"\ngrey: MDE{brk}±{value:.3f}" if value == value else ""

        axes[0, 0].set_title(f"(a) target bits per byte\nmean ± 95% CI\n{n} seeds, lower: better")
        axes[0, 1].set_title(f"(b) target:\nΔ vs random,{brk}paired" + mde_line(mde))
        held = (
            "(c) heldout\nmean:\nΔ vs random,\npaired"
            if has_within
            else "(c) heldout domains' mean:\nΔ vs random, paired"
        )
        axes[0, 2].set_title(held + mde_line(heldout_mde))
        if has_within:
            axes[0, 3].set_title("(d) target,\nwithin\ndomain: Δ vs\nmatched control")
        save_figure(fig, path)


def save_figure(fig, path) -> None:
    """Write ``fig`` to ``path`` as PDF atomically and close it."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="pdf")
    plt.close(fig)


def cost_verdicts(verdicts: pd.DataFrame, path) -> None:
    """Is selecting cheaper than the training it saves? Two panels.

    (a) Selection cost against the training time it saves at proxy scale (measured): points above the
    diagonal pay for themselves; methods that save nothing sit on the floor of the plot. Each method is
    one colour and marker, named in the legend under the panels; the budget is the marker's fill.
    (b) The break-even training compute ``T*`` of every method and budget (one row each; dot = ``T*``,
    bar = its 95% CI) against the proxy's own run length at that budget (vertical lines): a dot left of its
    budget's line pays off within a run as long as the proxy's. ``T* = inf`` (multiplier <= 1, or a CI end
    there) is drawn at the right edge as "never"; where the multiplier is only a lower bound (every seed beat
    random's whole curve) ``T*`` is an upper bound, drawn hollow, and "unknown" when that bound is infinite.
    (c) The ground rule at scale (:func:`dqreview.report.compute.per_million_costs`): each method's selection
    seconds per million pool documents (a bar; hatched where it is this run's cost extrapolated linearly
    rather than the scaling benchmark's) beside the training seconds per million tokens of the proxy and of
    the projected target model (vertical lines): a bar left of a line costs less per document than training
    that model on one token per document.
    """
    from matplotlib.lines import Line2D

    labels = verdicts["method"] if "method" in verdicts else verdicts["metric"]
    verdicts = verdicts.assign(method=list(labels))
    methods = sorted(verdicts["method"].unique())
    styles = series_styles(methods)
    budgets = sorted(verdicts["budget"].unique())
    floor = 1e-2
    legend_rows = -(-len(methods) // 3)
    rows = verdicts.sort_values(["method", "budget"]).reset_index(drop=True)
    with paper_style():
        fig, axes = plt.subplots(
            3, 1, figsize=(TEXT_WIDTH_IN, 3.9 + 0.34 * len(methods) + 0.14 * legend_rows), constrained_layout=True,
            height_ratios=[1.9, 0.9 + 0.19 * len(methods), 0.8 + 0.15 * len(methods)],
        )  # fmt: skip
        ax = axes[0]
        for (method, budget), g in verdicts.groupby(["method", "budget"]):
            colour, marker = styles[method]
            first = budget == budgets[0]  # the smallest budget filled, larger ones hollow
            ax.scatter(g["selection_s"].clip(lower=floor), g["train_s_saved"].clip(lower=floor), s=22,
                       marker=marker, color=colour if first else "none", edgecolors=colour, linewidths=1)  # fmt: skip
        hi = max(float(verdicts[["selection_s", "train_s_saved"]].max().max()), 1.0) * 2
        ax.plot([floor, hi], [floor, hi], color="black", linestyle="--", linewidth=1)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("selection cost (s; own jobs + shared stages)")
        ax.set_ylabel("training time saved\nvs random (s)")
        ax.set_title(f"(a) proxy LM (measured; floor {floor} s = no saving)", loc="left")
        ax.grid(alpha=0.3, which="both")
        run_lines = _break_even_panel(axes[1], rows, styles, budgets)
        run_lines += _per_million_panel(axes[2], rows[rows["budget"] == budgets[0]], styles)
        extra = [Line2D([], [], linestyle="--", color="black", label="(a) break-even (above: pays off)")]
        extra += [Line2D([], [], linestyle="", marker="o", color="0.3", markerfacecolor="0.3" if b == budgets[0] else "none",
                         label=f"budget {b:.0%}") for b in budgets]  # fmt: skip
        _method_legend(fig, styles, [*extra, *run_lines])
        fig.suptitle("Is selecting cheaper than the training it saves?")
        save_figure(fig, path)


def _break_even_panel(ax, rows: pd.DataFrame, styles: dict, budgets: list) -> list:
    """Panel (b) of :func:`cost_verdicts`: ``T*`` with its CI, one row per method (its budgets a little
    apart, filled = the smallest), the proxy's run lengths as vertical lines. Infinite ``T*`` goes to one of
    two columns at the right: "never" (multiplier <= 1) and "unknown" (an infinite upper bound). Returns the
    legend handles the panel adds."""
    from matplotlib.lines import Line2D
    from matplotlib.markers import CARETLEFT

    values = rows[["break_even_tokens", "break_even_tokens_lo", "break_even_tokens_hi"]].to_numpy(np.float64)
    finite = values[np.isfinite(values)]
    runs = rows.groupby("budget")["train_tokens"].mean()
    lo = min([*finite, *runs]) / 10
    never = max([*finite, *runs]) * 30
    unknown = never * 6
    dashes = [":", "-.", (0, (5, 1)), (0, (1, 3))]
    handles = [
        ax.axvline(runs[budget], color="0.2", linewidth=1.2, linestyle=dashes[k % len(dashes)],
                   label=f"(b) proxy run, budget {budget:.0%}")
        for k, budget in enumerate(budgets)
    ]  # fmt: skip
    methods = list(dict.fromkeys(rows["method"]))
    offset = {b: 0.25 * (k - (len(budgets) - 1) / 2) for k, b in enumerate(budgets)}
    for _, r in rows.iterrows():
        colour, marker = styles[r["method"]]
        y = methods.index(r["method"]) + offset[r["budget"]]
        t, t_lo, t_hi = (
            float(r[c]) for c in ("break_even_tokens", "break_even_tokens_lo", "break_even_tokens_hi")
        )
        bound = bool(r["break_even_bound"])
        inf_at = unknown if bound else never
        if np.isfinite(t_lo) or np.isfinite(t_hi):
            ends = [v if np.isfinite(v) else inf_at for v in (t_lo, t_hi)]
            ax.plot(ends, [y, y], color=colour, linewidth=1.0)
        if np.isnan(t):
            continue
        x = t if np.isfinite(t) else inf_at
        ax.scatter([x], [y], marker=marker, s=22, color=colour if r["budget"] == budgets[0] else "none",
                   edgecolors=colour, linewidths=1, zorder=3)  # fmt: skip
        if bound and np.isfinite(t):  # T* is at most here
            ax.scatter([x / 1.6], [y], marker=CARETLEFT, s=14, color="black", zorder=3)
    for x, text in ((never, "never"), (unknown, "unknown")):
        ax.axvspan(x / 1.8, x * 1.8, color="0.92", zorder=0)
        ax.text(x, -0.7, text, ha="center", va="bottom", fontsize=7)
    ax.set_yticks(range(len(methods)))
    ax.set_yticklabels(methods)
    ax.set_ylim(len(methods) - 0.5, -0.75)
    ax.set_xscale("log")
    ax.set_xlim(lo, unknown * 2)
    ax.set_xlabel("break-even training compute T* (baseline training tokens; bar: 95% CI)")
    ax.set_title("(b) T*: selecting pays in runs longer than this\n(left of its budget's line: within the proxy's run)",
                 loc="left", pad=12)  # fmt: skip
    ax.grid(False)
    ax.grid(alpha=0.3, which="both", axis="x")
    handles.append(Line2D([], [], linestyle="", marker=CARETLEFT, color="black",
                          label="(b) T* at most (multiplier a lower bound)"))  # fmt: skip
    return handles


def _per_million_panel(ax, rows: pd.DataFrame, styles: dict) -> list:
    """Panel (c) of :func:`cost_verdicts`: selection seconds per million pool documents, one bar per method
    (``rows``: one budget's, the smallest), hatched where the cost is the run's own extrapolated linearly;
    the training seconds per million tokens of the proxy and the target model as labelled vertical lines.
    Returns the legend handles the panel adds."""
    from matplotlib.patches import Patch

    methods = list(dict.fromkeys(rows["method"]))
    values = rows["selection_s_per_million_docs"].to_numpy(np.float64)
    for y, (_, r) in enumerate(rows.iterrows()):
        if not np.isfinite(r["selection_s_per_million_docs"]):
            ax.text(0.99, y, "no cost measured", transform=ax.get_yaxis_transform(), ha="right", va="center",
                    fontsize=7)  # fmt: skip
            continue
        colour = styles[r["method"]][0]
        extrapolated = r["selection_cost_source"] != "scaling"
        ax.barh(y, r["selection_s_per_million_docs"], height=0.6, color="none" if extrapolated else colour,
                edgecolor=colour, hatch="////" if extrapolated else None, linewidth=1)  # fmt: skip
    lines = {
        "proxy": float(rows["train_s_per_million_tokens"].mean()),
        "target": float(rows["target_train_s_per_million_tokens"].mean()),
    }
    finite = [*values[np.isfinite(values)], *lines.values()]
    lo, hi = min(finite) / 5, max(finite) * 5
    edge = lo * (hi / lo) ** 0.5  # a line right of this is labelled on its left, so the text stays inside
    for (name, x), style, y in zip(lines.items(), ("--", "-"), (-1.5, -0.8), strict=True):
        ax.axvline(x, color="black", linestyle=style, linewidth=1.2)
        ax.text(x * 1.08 if x < edge else x / 1.08, y, f"{name} training: {x:.3g} s per $10^6$ tokens" if x < 1000 else
                f"{name} training: {x:,.0f} s per $10^6$ tokens",
                ha="left" if x < edge else "right", va="center", fontsize=7)  # fmt: skip
    ax.set_yticks(range(len(methods)))
    ax.set_yticklabels(methods)
    ax.set_ylim(len(methods) - 0.5, -2.0)
    ax.set_xscale("log")
    ax.set_xlim(lo, hi)
    ax.set_xlabel("s per $10^6$ pool documents (bars: selection) or per $10^6$ tokens (lines: training)")
    ax.set_title(
        "(c) at scale: selecting from a million documents vs training on a million tokens", loc="left"
    )
    ax.grid(False)
    ax.grid(alpha=0.3, which="both", axis="x")
    return [
        Patch(facecolor="none", edgecolor="0.3", hatch="////", label="(c) run's cost extrapolated linearly")
    ]


def _method_legend(fig, styles: dict, extra=(), ncols: int = 3) -> None:
    """One legend under the panels naming every method by its colour and marker (plus ``extra`` handles)."""
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], linestyle="", marker=mk, color=c, label=m) for m, (c, mk) in styles.items()]
    fig.legend(handles=[*handles, *extra], loc="outside lower center", ncols=ncols, frameon=False,
               handletextpad=0.3, columnspacing=1.0)  # fmt: skip


def learning_curves(curves: pd.DataFrame, baseline: pd.DataFrame, path, value: str = "bpb/target") -> None:
    """Bits per byte against training tokens for every run (seed means), one panel per budget, with
    random's compute curve (its runs at several token counts, each with its own schedule) in black.
    Each method is one colour and marker, named once in the legend under the panels.

    ``curves``: method, budget, seed, tokens, ``value``; ``baseline``: budget, seed, tokens, ``value``.
    """
    from matplotlib.lines import Line2D

    budgets = sorted(curves["budget"].unique())
    styles = series_styles(sorted(curves["method"].unique()))
    legend_rows = -(-(len(styles) + 1) // 3)
    with paper_style():
        fig, axes = plt.subplots(
            1, len(budgets), figsize=(TEXT_WIDTH_IN, 2.6 + 0.14 * legend_rows), squeeze=False, sharey=True,
            constrained_layout=True,
        )  # fmt: skip
        for ax, budget in zip(axes[0], budgets, strict=True):
            for method, group in curves[curves["budget"] == budget].groupby("method"):
                mean = group.groupby("tokens")[value].mean()
                colour, marker = styles[method]
                ax.plot(mean.index, mean.to_numpy(), color=colour, marker=marker, markersize=3, linewidth=0.8,
                        alpha=0.85)  # fmt: skip
            base = baseline[baseline["budget"] == budget].groupby("tokens")[value].mean()
            ax.plot(base.index, base.to_numpy(), color="black", marker="s", markersize=3, linewidth=1.6)
            ax.set_xscale("log")
            ax.set_xlabel("training tokens")
            title = f"budget {budget:.0%} of pool bytes"
            if "epochs" in curves:  # the epochs the runs end at (each method's own, averaged)
                final = curves[curves["budget"] == budget].groupby(["method", "seed"])["epochs"].max().mean()
                title += f"\n{epochs_text(float(final))} epochs at the end"
            ax.set_title(title, loc="left")
            ax.grid(alpha=0.3, which="both")
        axes[0][0].set_ylabel("target test bits per byte")
        random_curve = Line2D([], [], color="black", marker="s", markersize=3, linewidth=1.6,
                              label="random: runs of each length")  # fmt: skip
        _method_legend(fig, styles, [random_curve])
        n = int(curves.groupby(["method", "budget"])["seed"].nunique().min())
        fig.suptitle(f"Learning curves (mean over {n} seeds); black: random trained for each length")
        save_figure(fig, path)


def ablation(
    table: pd.DataFrame,
    random: pd.DataFrame,
    full: pd.DataFrame,
    spec: dict,
    path,
    arm: pd.DataFrame | None = None,
) -> None:
    """An ablation: (a) bits per byte of each series against the kept fraction, random and the whole pool
    (labelled with its epochs) for reference, epochs over the selection written at each point; (b) each
    series' paired difference from random (mean ± 95% CI over seeds), each budget tick with its epochs.
    Each series' domain-matched control, where the table has one, is drawn hollow in the series' colour at
    the same point (same budget, dashed), and the target-domain-only random arm (``arm``) in grey dash-dot
    in both panels (it changes with the budget, so it is a series rather than a flat line).

    ``table``: series, budget, kept_fraction, epochs, target_bpb, ci95, diff_vs_random, diff_ci95, n_seeds,
    optionally matched_control, matched_control:ci95, matched_control:diff_vs_random, matched_control:diff_ci95;
    ``random``: budget, mean, ci95; ``full``: the whole-pool runs (``bpb/target``, ``epochs``; may be empty);
    ``arm``: :func:`dqreview.report.comparison.target_domain_arm` (budget, mean, ci95, diff, diff_ci95).

    An ablation whose series carry a numeric ``x`` (a parameter swept across them) is drawn against it
    instead, one line per budget (:func:`ablation_curve`).
    """
    import textwrap

    from matplotlib.lines import Line2D

    if any("x" in s for s in spec["series"]):
        ablation_curve(table, random, full, spec, path, arm)
        return
    labels = list(dict.fromkeys(s["label"] for s in spec["series"]))
    styles = series_styles(labels)
    with paper_style():
        fig, (ax, bx) = plt.subplots(
            1, 2, figsize=(TEXT_WIDTH_IN, 3.3 + 0.14 * -(-(len(labels) + 2) // 3)), constrained_layout=True
        )
        controlled = False
        for label in labels:
            colour, marker = styles[label]
            g = table[table["series"] == label].sort_values("kept_fraction")
            ax.errorbar(g["kept_fraction"] * 100, g["target_bpb"], yerr=_ci(g["ci95"]), color=colour, marker=marker,
                        markersize=4, linewidth=1, capsize=2, label=label)  # fmt: skip
            for x, y, e in zip(g["kept_fraction"] * 100, g["target_bpb"], g["epochs"], strict=True):
                ax.annotate(f"{e:.1f} ep", (x, y), fontsize=7, xytext=(3, 3), textcoords="offset points",
                            color=colour)  # fmt: skip
            bx.errorbar(g["budget"] * 100, g["diff_vs_random"], yerr=_ci(g["diff_ci95"]), color=colour,
                        marker=marker, markersize=4, linewidth=1, capsize=2, label=label)  # fmt: skip
            if "matched_control" in g and g["matched_control"].notna().any():
                controlled = True
                c = g[g["matched_control"].notna()]
                ax.errorbar(c["kept_fraction"] * 100, c["matched_control"], yerr=_ci(c["matched_control:ci95"]),
                            color=colour, marker=marker, **HOLLOW)  # fmt: skip
                bx.errorbar(c["budget"] * 100, c["matched_control:diff_vs_random"],
                            yerr=_ci(c["matched_control:diff_ci95"]), color=colour, marker=marker, **HOLLOW)  # fmt: skip
        r = random.sort_values("budget")
        ax.errorbar(r["budget"] * 100, r["mean"], yerr=_ci(r["ci95"]), color="black", linestyle=":", marker="x",
                    markersize=4, linewidth=1, capsize=2, label="random")  # fmt: skip
        if arm is not None and len(arm):
            colour, linestyle, marker = BASELINE_STYLES[1]
            a = arm.sort_values("budget")
            ax.errorbar(a["budget"] * 100, a["mean"], yerr=_ci(a["ci95"]), color=colour, linestyle=linestyle,
                        marker=marker, markersize=5, linewidth=1, capsize=2, label=TARGET_DOMAIN_LABEL)  # fmt: skip
            bx.errorbar(a["budget"] * 100, a["diff"], yerr=_ci(a["diff_ci95"]), color=colour, linestyle=linestyle,
                        marker=marker, markersize=5, linewidth=1, capsize=2)  # fmt: skip
        if len(full):
            label = full_pool_label(float(full["epochs"].mean()))
            ax.axhline(
                float(full["bpb/target"].mean()), color="0.3", linestyle="--", linewidth=1, label=label
            )
        n = int(table["n_seeds"].min()) if len(table) else 0
        ax.set_xlabel("kept fraction (% of the bytes chosen from)")
        ax.set_ylabel("target bits per byte (lower: better)")
        ax.set_title(f"(a) mean ± 95% CI over {n} seeds; epochs over the selection", loc="left")
        handles, names = ax.get_legend_handles_labels()  # under the panels: the points stay uncovered
        if controlled:
            handles.append(Line2D([], [], color="0.3", marker="o", markerfacecolor="white", linestyle="--",
                                  linewidth=0.7, markersize=4))  # fmt: skip
            names.append("hollow: the series' domain-matched control")
        fig.legend(handles, names, loc="outside lower center", ncols=3, frameon=False, columnspacing=1.0)
        bx.axhline(0, color="black", linewidth=0.8)
        bx.set_xlabel("budget (% of pool UTF-8 bytes) and epochs")
        _budget_ticks(bx, table)
        bx.set_ylabel("Δ bits per byte vs random, same seed")
        bx.set_title("(b) paired Δ from random (< 0: better)", loc="left")
        title = textwrap.fill(spec["title"], 95) + (
            f"\n{textwrap.fill(spec['question'], 95)}" if spec.get("question") else ""
        )
        fig.suptitle(title)
        save_figure(fig, path)


def ablation_curve(
    table: pd.DataFrame,
    random: pd.DataFrame,
    full: pd.DataFrame,
    spec: dict,
    path,
    arm: pd.DataFrame | None = None,
) -> None:
    """An ablation that sweeps one parameter: each series is the point ``x`` of the sweep (``spec['series']``
    items' ``x``, axis ``spec['x_label']``). (a) bits per byte against ``x``, one line per budget (mean ± 95%
    CI over seeds), with that budget's random (dotted) and target-domain-only random (dash-dot) as
    horizontal lines in its colour and the whole pool dashed grey; (b) the paired difference from random
    against ``x``, one line per budget. Domain-matched controls, where the table has them, are hollow.
    ``table``, ``random``, ``full`` and ``arm`` as in :func:`ablation`."""
    import textwrap

    from matplotlib.lines import Line2D

    x_of = {s["label"]: float(s["x"]) for s in spec["series"]}
    data = table[table["series"].isin(x_of)].assign(x=lambda t: t["series"].map(x_of))
    budgets = sorted(data["budget"].unique())
    epochs = data.groupby("budget")["epochs"].mean()
    styles = series_styles(budgets)
    with paper_style():
        fig, (ax, bx) = plt.subplots(1, 2, figsize=(TEXT_WIDTH_IN, 3.6), constrained_layout=True)
        controlled = False
        for budget in budgets:
            colour, marker = styles[budget]
            g = data[data["budget"] == budget].sort_values("x")
            name = f"budget {budget:.0%} ({epochs_text(float(epochs[budget]))} ep)"
            ax.errorbar(g["x"], g["target_bpb"], yerr=_ci(g["ci95"]), color=colour, marker=marker, markersize=4,
                        linewidth=1, capsize=2, label=name)  # fmt: skip
            bx.errorbar(g["x"], g["diff_vs_random"], yerr=_ci(g["diff_ci95"]), color=colour, marker=marker,
                        markersize=4, linewidth=1, capsize=2)  # fmt: skip
            r = random[np.isclose(random["budget"], budget)]
            if len(r):
                ax.axhline(float(r["mean"].iloc[0]), color=colour, linestyle=":", linewidth=1)
            if arm is not None and len(arm):
                a = arm[np.isclose(arm["budget"], budget)]
                if len(a):
                    ax.axhline(float(a["mean"].iloc[0]), color=colour, linestyle="-.", linewidth=0.8)
                    bx.axhline(float(a["diff"].iloc[0]), color=colour, linestyle="-.", linewidth=0.8)
            if "matched_control" in g and g["matched_control"].notna().any():
                controlled = True
                c = g[g["matched_control"].notna()]
                ax.errorbar(c["x"], c["matched_control"], yerr=_ci(c["matched_control:ci95"]), color=colour,
                            marker=marker, **HOLLOW)  # fmt: skip
                bx.errorbar(c["x"], c["matched_control:diff_vs_random"], yerr=_ci(c["matched_control:diff_ci95"]),
                            color=colour, marker=marker, **HOLLOW)  # fmt: skip
        if len(full):
            label = full_pool_label(float(full["epochs"].mean()))
            ax.axhline(
                float(full["bpb/target"].mean()), color="0.3", linestyle="--", linewidth=1, label=label
            )
        xs = sorted(set(x_of.values()))
        for axis in (ax, bx):
            axis.set_xticks(xs, [f"{x:g}" for x in xs])
            axis.set_xlabel(spec["x_label"])
        n = int(data["n_seeds"].min()) if len(data) else 0
        ax.set_ylabel("target bits per byte (lower: better)")
        ax.set_title(f"(a) mean ± 95% CI over {n} seeds, per budget", loc="left")
        bx.axhline(0, color="black", linewidth=0.8)
        bx.set_ylabel("Δ bits per byte vs random, same seed")
        bx.set_title("(b) paired Δ from random (< 0: better)", loc="left")
        handles, names = ax.get_legend_handles_labels()
        first = sorted(range(len(names)), key=lambda i: not names[i].startswith("budget "))  # budgets first
        handles, names = [handles[i] for i in first], [names[i] for i in first]
        handles.append(Line2D([], [], color="0.3", linestyle=":", linewidth=1))
        names.append("dotted: random at that budget")
        if arm is not None and len(arm):
            handles.append(Line2D([], [], color="0.3", linestyle="-.", linewidth=0.8))
            names.append(f"dash-dot: {TARGET_DOMAIN_LABEL}")
        if controlled:
            handles.append(Line2D([], [], color="0.3", marker="o", markerfacecolor="white", linestyle="--",
                                  linewidth=0.7, markersize=4))  # fmt: skip
            names.append("hollow: the series' domain-matched control")
        fig.legend(handles, names, loc="outside lower center", ncols=3, frameon=False, columnspacing=1.0)
        title = textwrap.fill(spec["title"], 95) + (
            f"\n{textwrap.fill(spec['question'], 95)}" if spec.get("question") else ""
        )
        fig.suptitle(title)
        save_figure(fig, path)


def composition(
    table: pd.DataFrame, per_seed: pd.DataFrame, overlap: pd.DataFrame, budget: float, path
) -> None:
    """What each selection at ``budget`` contains: (a) domain shares of its bytes, (b) the fraction of
    planted exact copies, near-duplicates and noise documents it kept, (c) document lengths, one row per
    method across the three; (d) pairwise overlap (Jaccard) between methods' selections for the first seed,
    its columns numbered as the rows."""
    table = table.sort_values("method").reset_index(drop=True)
    n = len(table)
    top = 0.15 * n + 0.9
    with paper_style():
        fig = plt.figure(figsize=(TEXT_WIDTH_IN, top + 0.15 * len(overlap) + 1.3), constrained_layout=True)
        grid = fig.add_gridspec(2, 3, height_ratios=[top, 0.15 * len(overlap) + 1.3])
        ax = fig.add_subplot(grid[0, 0])
        bx = fig.add_subplot(grid[0, 1], sharey=ax)
        cx = fig.add_subplot(grid[0, 2], sharey=ax)
        dx = fig.add_subplot(grid[1, :])
        y = np.arange(n)
        shares = [c for c in table.columns if c.startswith("share/")]
        left = np.zeros(n)
        for i, col in enumerate(shares):
            ax.barh(y, table[col], left=left, color=PALETTE[i % len(PALETTE)], label=col.split("/", 1)[1])
            left += table[col].to_numpy()
        ax.set_yticks(y, table["method"])
        ax.invert_yaxis()
        ax.set_xlabel("share of bytes")
        ax.set_title(f"(a) domains\nbudget {budget:.0%}", loc="left")
        ax.legend(ncols=2, loc="upper center", bbox_to_anchor=(0.5, -0.5 / top),
                  frameon=False, handlelength=1.0, columnspacing=0.8)  # fmt: skip
        kept = [c for c in table.columns if c.startswith("kept/")]
        height = 0.8 / max(len(kept), 1)
        for i, col in enumerate(kept):
            bx.barh(y + (i - (len(kept) - 1) / 2) * height, table[col], height=height, color=("0.15", "0.45", "0.75")[i % 3],
                    label=col.split("/", 1)[1])  # fmt: skip
        bx.axvline(budget, color="black", linestyle="--", linewidth=1, label="random's")
        bx.set_xlabel("fraction kept")
        bx.set_title("(b) planted docs\nkept", loc="left")
        bx.legend(loc="upper center", bbox_to_anchor=(0.5, -0.5 / top), ncols=2, frameon=False,
                  handlelength=1.0, columnspacing=0.8)  # fmt: skip
        sub = per_seed[per_seed["budget"] == budget]
        sd = sub.groupby("method")["mean_words"].std().reindex(table["method"]).fillna(0)
        cx.barh(y, table["mean_words"], xerr=sd.to_numpy(), color=PALETTE[7], capsize=2)
        cx.set_xlabel("words (± sd, seeds)")
        cx.set_title("(c) mean words\nper document", loc="left")
        for a in (bx, cx):
            a.tick_params(axis="y", labelleft=False)
        number = {m: i + 1 for i, m in enumerate(overlap.index)}
        dx.grid(False)
        im = dx.imshow(overlap.to_numpy(), vmin=0, vmax=1, cmap="viridis", aspect="auto")
        dx.set_xticks(range(len(overlap)), [str(number[m]) for m in overlap.columns], rotation=90)
        dx.set_yticks(range(len(overlap)), [f"{m}  {number[m]}" for m in overlap.index])
        fig.colorbar(im, ax=dx, label="Jaccard overlap of selected ids")
        dx.set_title("(d) overlap between methods (first seed); columns numbered as the rows", loc="left")
        save_figure(fig, path)


def metrics_vs_bpb(points: pd.DataFrame, table: pd.DataFrame, path) -> None:
    """One panel per data metric (rows) and budget (columns): each selection's seed-averaged metric against
    its seed-averaged target bits per byte, with Pearson r and its bootstrap 95% CI over selections, and the
    partial r given the target-domain share; the paper's claim under the metric's first panel."""
    import textwrap

    metrics = list(dict.fromkeys(table["metric"]))
    budgets = sorted(table["budget"].unique())
    nrows, ncols = max(len(metrics), 1), max(len(budgets), 1)
    with paper_style():
        fig, axes = plt.subplots(
            nrows, ncols, figsize=(TEXT_WIDTH_IN, 2.5 * nrows + 0.4), constrained_layout=True, squeeze=False
        )
        for i, metric in enumerate(metrics):
            for j, budget in enumerate(budgets):
                ax = axes[i, j]
                row = table[(table.metric == metric) & (table.budget == budget)]
                pts = points[points.budget == budget]
                if row.empty or metric not in pts.columns:
                    ax.axis("off")
                    continue
                r = row.iloc[0]
                x, y = pts[metric].to_numpy(float), pts["bpb/target"].to_numpy(float)
                ok = np.isfinite(x) & np.isfinite(y)
                ax.scatter(x[ok], y[ok], s=12, alpha=0.8, color=PALETTE[j % len(PALETTE)])
                if ok.sum() >= 3 and np.ptp(x[ok]) > 0:
                    slope, icept = np.polyfit(x[ok], y[ok], 1)
                    xs = np.linspace(x[ok].min(), x[ok].max(), 2)
                    ax.plot(xs, slope * xs + icept, color="black", linewidth=1)
                ax.set_xlabel(metric)
                if j == 0:
                    ax.set_ylabel("target bits per byte")
                title = (f"budget {budget:.0%}: r = {r.r:.2f} [{r.r_lo:.2f}, {r.r_hi:.2f}], n = {r.n}\n"
                         f"partial r | target share: {r.partial_r:.2f} [{r.partial_lo:.2f}, {r.partial_hi:.2f}]")  # fmt: skip
                if j == 0:
                    title += "\n" + textwrap.fill(f"paper: {r.claim}", 50 if ncols > 1 else 100)
                ax.set_title(title, loc="left", fontsize=7)
        fig.suptitle(
            "Data metrics vs the proxy's bits per byte: one point per selection (seed means), per budget"
        )
        save_figure(fig, path)


#: The synthetic lower and upper bounds of the diversity figure (rows of kind ``"bound"``) are drawn in grey.
BOUND_COLOUR = "gray"


def diversity(table: pd.DataFrame, path) -> None:
    """The Task2Vec coefficient table as a figure: (a) diversity of the lower bound, every domain, the
    target, the pool and the upper bound (the synthetic bounds grey, the target orange); (b) each set's
    alignment with the target (batch pairs and whole-set). Mean ± 95% CI over batch pairs; sets smaller
    than one batch are left blank."""
    t = table.reset_index(drop=True)
    colours = [
        BOUND_COLOUR if k == "bound" else PALETTE[1] if k == "target" else PALETTE[0] for k in t["kind"]
    ]
    real = t[t["kind"] != "bound"]
    with paper_style():
        fig, (ax, bx) = plt.subplots(
            1, 2, figsize=(TEXT_WIDTH_IN, 0.22 * len(t) + 1.2), constrained_layout=True
        )
        y = np.arange(len(t))
        ax.barh(y, t["div"].fillna(0), xerr=_ci(t["div_ci95"]), color=colours, capsize=2)
        ax.set_yticks(y, t["set"])
        ax.invert_yaxis()
        ax.set_xlabel("Task2Vec diversity coefficient\n(mean pairwise batch distance)")
        ax.set_title("(a) diversity; grey: synthetic bounds", loc="left")
        ax.grid(alpha=0.3, axis="y")
        yr = np.arange(len(real))
        bx.barh(yr - 0.2, real["align_batch"].fillna(0), height=0.4, xerr=_ci(real["align_batch_ci95"]),
                capsize=2, color=PALETTE[0], label="batch pairs")  # fmt: skip
        bx.barh(yr + 0.2, real["align_full"].fillna(0), height=0.4, color=PALETTE[2], label="whole set")
        bx.set_yticks(yr, real["set"])
        bx.invert_yaxis()
        bx.set_xlabel("Task2Vec alignment with target ref\n(1 − cross-diversity)")
        bx.set_title("(b) alignment with the target", loc="left")
        bx.legend(loc="lower right")
        bx.grid(alpha=0.3, axis="y")
        save_figure(fig, path)
