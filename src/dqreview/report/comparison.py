"""The main comparison and the ablation tables: every selection's target and heldout-domain bits per byte,
its epochs, and its paired difference from random seed by seed."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from dqreview.paths import CONTROL_METRIC, TARGET_DOMAIN_VARIANT, matched_source, matched_variant
from dqreview.report.runs import (
    HELDOUT_MEAN,
    MATCHED_LABEL,
    add_heldout_mean,
    harness_columns,
    method_label,
    ngram_columns,
)
from dqreview.report.stats import (
    gap_columns,
    paired_differences,
    pooled_minimal_detectable_effect,
    summarise,
    versus_random,
    versus_random_columns,
)

#: comparison.tex: the columns a reader needs beside each other (the CSV has every column).
COMPARISON_TEX_COLUMNS = [
    "method", "budget", "epochs", "target_bpb", "ci95", "diff_vs_random", "diff_ci95",
    HELDOUT_MEAN, f"{HELDOUT_MEAN}:diff_vs_random", f"{HELDOUT_MEAN}:diff_ci95",
    "within_domain_diff", "within_domain_ci95", "n_seeds",
]  # fmt: skip
#: The .tex tables' headers (the CSV keeps the column names): short, so the paper's table fits its width.
TEX_HEADERS = {
    "target_bpb": "target bpb", "ci95": "CI95", "diff_vs_random": "diff vs random", "diff_ci95": "CI95",
    HELDOUT_MEAN: "heldout bpb", f"{HELDOUT_MEAN}:diff_vs_random": "heldout diff", f"{HELDOUT_MEAN}:diff_ci95": "CI95",
    "kept_fraction": "kept", "n_seeds": "seeds", "within_domain_diff": "vs matched", "within_domain_ci95": "CI95",
}  # fmt: skip
#: ablation{n}.tex, likewise.
ABLATION_TEX_COLUMNS = [
    "series", "budget", "epochs", "kept_fraction", "target_bpb", "ci95", "diff_vs_random", "diff_ci95",
    HELDOUT_MEAN, f"{HELDOUT_MEAN}:diff_vs_random", f"{HELDOUT_MEAN}:diff_ci95", "n_seeds",
]  # fmt: skip


@dataclass(frozen=True)
class Comparison:
    """The comparison's numbers.

    Attributes
    ----------
    table : DataFrame
        comparison.csv: per method and budget, ``epochs`` (mean over seeds), ``target_bpb``, ``ci95``,
        ``n_seeds``, ``achieved``, ``diff_vs_random``, ``diff_ci95``, ``n_pairs``, ``mde``, the heldout
        domains' mean (``heldout_bpb`` and its ``:ci95``, ``:diff_vs_random``, ``:diff_ci95``) and
        ``heldout_mde``, then every lm-eval-harness score the same way.
    summary : DataFrame
        method, budget, target_bpb, ci95, n_seeds, achieved, epochs (budget 1.0: the whole pool).
    diffs, heldout_diffs : DataFrame
        :func:`~dqreview.report.stats.paired_differences` of the target and of the heldout mean.
    mde, heldout_mde : float
        The pooled minimal detectable effect of each.
    within_diffs : DataFrame
        :func:`within_domain_differences` on the target: each method minus its domain-matched control, paired
        by seed (method, budget, diff, ci95, n_pairs, sd); empty without controls.
    """

    table: pd.DataFrame
    summary: pd.DataFrame
    diffs: pd.DataFrame
    heldout_diffs: pd.DataFrame
    mde: float
    heldout_mde: float
    within_diffs: pd.DataFrame = field(default_factory=pd.DataFrame)


#: The within-domain effect's columns of comparison.csv (target; the heldout mean's are prefixed
#: ``heldout_bpb:``): the matched control's mean, method − control paired by seed, its CI half-width, pairs.
WITHIN_COLUMNS = ("matched_control", "within_domain_diff", "within_domain_ci95", "within_domain_n_pairs")


def matched_control_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """The domain-matched controls' runs, each with ``method`` set to its *source* selection's label, so a
    control pairs with the method it was drawn for."""
    if not len(runs):
        return runs.assign(method=pd.Series(dtype=str))
    sources = [
        matched_source(v) if m == CONTROL_METRIC else None
        for m, v in zip(runs["metric"], runs["variant"], strict=True)
    ]
    keep = [s is not None for s in sources]
    return runs[keep].assign(method=[method_label(*s) for s in sources if s is not None])


def within_domain_differences(runs: pd.DataFrame, value: str, level: float = 0.95) -> pd.DataFrame:
    """Each method minus its own domain-matched control, seed by seed: the *within-domain effect*.

    A domain-matched control holds random documents at the method's achieved domain byte shares
    (:func:`dqreview.select.domain_matched_control`), so ``method − control`` is what the method gains by
    *which documents* it takes within each domain; ``control − random`` (the control's own
    ``diff_vs_random``) is what it gains by *which domains*. The two add up to the method's difference from
    random, seed by seed.

    Parameters
    ----------
    runs : DataFrame
        :func:`~dqreview.report.runs.collect_runs` with a ``method`` column (controls included).
    value : str
        The column compared (``bpb/target``, ``heldout_bpb``).

    Returns
    -------
    DataFrame
        :func:`~dqreview.report.stats.paired_differences` per method with a control (method, budget, diff,
        ci95, n_pairs, sd) and the control's own mean, ``control``; empty (same columns) without controls.
    """
    columns = ["method", "budget", "diff", "ci95", "n_pairs", "sd", "control"]
    controls = matched_control_runs(runs)
    methods = runs[(runs["metric"] != CONTROL_METRIC) & runs["method"].isin(set(controls["method"]))]
    parts = []
    for method, group in methods.groupby("method", sort=True):
        control = controls[controls["method"] == method]
        diffs = paired_differences(group, control, ["method"], value, level)
        mean = summarise(control, ["method", "budget"], value, level)[["method", "budget", "mean"]]
        parts.append(
            diffs.merge(mean.rename(columns={"mean": "control"}), on=["method", "budget"], how="left")
        )
    return pd.concat(parts, ignore_index=True)[columns] if parts else pd.DataFrame(columns=columns)


def within_domain_columns(runs: pd.DataFrame, value: str, prefix: str = "") -> pd.DataFrame:
    """:func:`within_domain_differences` as comparison.csv's columns (:data:`WITHIN_COLUMNS`, each after
    ``prefix``), per method and budget."""
    diffs = within_domain_differences(runs, value)
    names = dict(zip(("control", "diff", "ci95", "n_pairs"), WITHIN_COLUMNS, strict=True))
    out = diffs[["method", "budget", *names]].rename(columns={k: prefix + v for k, v in names.items()})
    return out.astype({"budget": float})


def _split(runs: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Random's runs below the whole pool (the paired reference) and every other method's."""
    below = runs["budget"] < 1.0
    return runs[(runs["metric"] == "random") & below], runs[(runs["metric"] != "random") & below]


def ngram_reference_columns(runs: pd.DataFrame, random: pd.DataFrame, methods: pd.DataFrame) -> pd.DataFrame:
    """Per ``method`` and ``budget``, for every n-gram order in ``runs``: the n-gram's mean target bits per byte
    and its paired difference from random (:func:`~dqreview.report.stats.versus_random_columns`), and the
    proxy's gap to it, ``proxy_minus_ngram<n>`` = ``bpb/target − ngram<n>/bpb/target`` (mean and
    ``:ci95`` over seeds; negative: the proxy beats the n-gram).

    ``random`` and ``methods`` are the rows paired as in the comparison (random and the other methods below
    the full budget). Returns just ``method`` and ``budget`` when the runs have no n-gram reference.
    """
    out = runs[["method", "budget"]].drop_duplicates().sort_values(["method", "budget"], ignore_index=True)
    for column in ngram_columns(runs):
        name = column.split("/")[0]  # ngram<n>
        out = out.merge(
            versus_random_columns(runs, random, methods, column), on=["method", "budget"], how="left"
        )
        gap = gap_columns(runs, "bpb/target", column, f"proxy_minus_{name}")
        out = out.merge(gap, on=["method", "budget"], how="left")
    return out


def comparison_table(runs: pd.DataFrame) -> Comparison:
    """Every method at every budget, paired with random seed by seed, on the target and the heldout domains.

    ``runs``: :func:`~dqreview.report.runs.collect_runs` with a ``method`` column (random at budget 1.0 is
    the whole pool, compared with nothing); the heldout mean is added when missing.
    """
    if HELDOUT_MEAN not in runs:
        runs = add_heldout_mean(runs)
    keys = ["method", "budget"]
    summary = summarise(runs, keys, "bpb/target").rename(columns={"mean": "target_bpb"})
    extra = runs.groupby(keys).agg(achieved=("achieved", "mean"), epochs=("epochs", "mean")).reset_index()
    summary = summary.merge(extra, on=keys)
    random, methods = _split(runs)
    diffs = paired_differences(methods, random, ["method"], "bpb/target")
    heldout_diffs = paired_differences(methods, random, ["method"], HELDOUT_MEAN)
    mde = pooled_minimal_detectable_effect(diffs)
    heldout_mde = pooled_minimal_detectable_effect(heldout_diffs)
    table = summary.merge(versus_random(diffs), on=keys, how="left").assign(mde=mde)
    table = table.merge(versus_random_columns(runs, random, methods, HELDOUT_MEAN), on=keys, how="left")
    table["heldout_mde"] = heldout_mde
    for column in harness_columns(runs):  # lm-eval-harness scores, paired with random like bits per byte
        table = table.merge(versus_random_columns(runs, random, methods, column), on=keys, how="left")
    # the n-gram reference on the same selections: its bits per byte, paired with random, and the proxy's gap
    table = table.merge(ngram_reference_columns(runs, random, methods), on=keys, how="left")
    # the within-domain effect: each method against its domain-matched control, paired by seed
    within = within_domain_differences(runs, "bpb/target")
    table = table.merge(within_domain_columns(runs, "bpb/target"), on=keys, how="left")
    table = table.merge(within_domain_columns(runs, HELDOUT_MEAN, f"{HELDOUT_MEAN}:"), on=keys, how="left")
    first = ["method", "budget", "epochs"]
    table = table[first + [c for c in table.columns if c not in first]]
    return Comparison(table, summary, diffs, heldout_diffs, mde, heldout_mde, within)


def run_families(runs: pd.DataFrame, config: dict) -> dict[str, str]:
    """Method label → the comparison figure's facet: the method's declared ``family``; a domain-matched
    control ``"control"`` (drawn beside its method), the target-domain-only arm ``"baseline"`` (drawn in
    every facet, like random)."""
    from dqreview.metrics import method_of
    from dqreview.report.figures import BASELINE_FAMILY, CONTROL_FAMILY

    def family(metric: str, variant: str) -> str:
        if metric == CONTROL_METRIC:
            return CONTROL_FAMILY if matched_source(variant) is not None else BASELINE_FAMILY
        return method_of(config, metric).family

    return {
        label: family(m, v)
        for label, m, v in zip(runs["method"], runs["metric"], runs["variant"], strict=True)
    }


def ablation_table(runs: pd.DataFrame, spec: dict, pool_fractions: dict[str, float]) -> pd.DataFrame:
    """One ablation's series across budgets, each paired with random seed by seed (target and heldout mean).

    Parameters
    ----------
    runs : DataFrame
        :func:`~dqreview.report.runs.collect_runs` of the series, random and (optionally) the whole pool.
    spec : dict
        The ablation (``review.ablations``): ``series`` of ``{label, metric, variant, keep}``.
    pool_fractions : dict
        ``"metric/variant"`` → the fraction of the pool the variant chooses from.

    Returns
    -------
    DataFrame
        Per series and budget (in the spec's order): kept_fraction (of what the method could choose from),
        epochs, pool_fraction, target_bpb, ci95, n_seeds, diff_vs_random, diff_ci95, n_pairs, and the heldout
        mean's ``heldout_bpb``, ``:ci95``, ``:diff_vs_random``, ``:diff_ci95``; where the series has a
        domain-matched control, its mean (``matched_control``, ``matched_control:ci95``), its paired difference
        from random (``matched_control:diff_vs_random``, ``:diff_ci95``) and the within-domain effect
        (``within_domain_diff``, ``within_domain_ci95``: series − control, paired by seed); where the series
        carry a swept parameter's ``x``, an ``x`` column after ``budget``.
    """
    if HELDOUT_MEAN not in runs:
        runs = add_heldout_mean(runs)
    random, _ = _split(runs)
    parts = []
    for s in spec["series"]:
        keep = s.get("keep", "high")
        sel = runs[(runs.metric == s["metric"]) & (runs.variant == s["variant"]) & (runs.keep == keep)]
        # x = the kept fraction of what the method could choose from (its sub-pool, for pool-size variants)
        pool_fraction = float(pool_fractions[f"{s['metric']}/{s['variant']}"])
        parts.append(sel[sel.budget < 1.0].assign(series=s["label"], pool_fraction=pool_fraction))
    series = pd.concat(parts, ignore_index=True)
    series["kept_fraction"] = series["achieved"] / series["pool_fraction"]
    keys = ["series", "budget"]
    summary = summarise(series, keys, "bpb/target").rename(columns={"mean": "target_bpb"})
    extra = series.groupby(keys).agg(
        kept_fraction=("kept_fraction", "mean"),
        epochs=("epochs", "mean"),
        pool_fraction=("pool_fraction", "first"),
    )
    table = summary.merge(extra.reset_index(), on=keys)
    table = table.merge(versus_random(paired_differences(series, random, ["series"], "bpb/target")), on=keys)
    heldout = versus_random_columns(series, random, series, HELDOUT_MEAN, key="series")
    table = table.merge(heldout, on=keys, how="left")
    table = table.merge(_series_controls(runs, spec, random), on=keys, how="left")
    order = {s["label"]: i for i, s in enumerate(spec["series"])}
    first = ["series", "budget", "epochs"]
    if all("x" in s for s in spec["series"]):
        table["x"] = table["series"].map({s["label"]: float(s["x"]) for s in spec["series"]})
        first = ["series", "budget", "x", "epochs"]
    table = table[first + [c for c in table.columns if c not in first]]
    return table.sort_values(keys, key=lambda c: c.map(order) if c.name == "series" else c, ignore_index=True)


#: The mark on a method in the .tex tables whose scoring keeps something fixed across seeds (``scoring_fixed``).
FIXED_MARK = "*"


def with_scoring_fixed(table: pd.DataFrame, fixed: dict[str, str]) -> pd.DataFrame:
    """``table`` with ``scoring_fixed`` after ``epochs``: per method label, what of its scoring stays fixed
    across the seeds (:meth:`dqreview.plan.Plan.scoring_fixed`; "" when every seed redoes it), so its CI
    excludes that randomness."""
    out = table.assign(scoring_fixed=table["method"].map(fixed).fillna(""))
    columns = list(table.columns)
    at = columns.index("epochs") + 1 if "epochs" in columns else len(columns)
    return out[[*columns[:at], "scoring_fixed", *columns[at:]]]


def mark_fixed(table: pd.DataFrame) -> pd.DataFrame:
    """The method labels with :data:`FIXED_MARK` where ``scoring_fixed`` is set (the .tex tables)."""
    marked = table["scoring_fixed"].fillna("").astype(str) != ""
    return table.assign(method=table["method"].where(~marked, table["method"] + FIXED_MARK))


def _series_controls(runs: pd.DataFrame, spec: dict, random: pd.DataFrame) -> pd.DataFrame:
    """Per ablation series and budget: its domain-matched control's numbers (see :func:`ablation_table`)."""
    columns = ["series", "budget", "matched_control", "matched_control:ci95", "matched_control:diff_vs_random",
               "matched_control:diff_ci95", "within_domain_diff", "within_domain_ci95"]  # fmt: skip
    parts = []
    for s in spec["series"]:
        keep = s.get("keep", "high")
        is_control = (runs.metric == CONTROL_METRIC) & (
            runs.variant == matched_variant(s["metric"], s["variant"], keep)
        )
        control = runs[is_control & (runs.budget < 1.0)].assign(series=s["label"])
        if not len(control):
            continue
        sel = runs[(runs.metric == s["metric"]) & (runs.variant == s["variant"]) & (runs.keep == keep)]
        sel = sel[sel.budget < 1.0].assign(series=s["label"])
        mean = summarise(control, ["series", "budget"], "bpb/target")[["series", "budget", "mean", "ci95"]]
        vs_random = paired_differences(control, random, ["series"], "bpb/target")[
            ["series", "budget", "diff", "ci95"]
        ]
        within = paired_differences(sel, control, ["series"], "bpb/target")[
            ["series", "budget", "diff", "ci95"]
        ]
        part = mean.merge(vs_random, on=["series", "budget"], how="left", suffixes=("", "_r"))
        part = part.merge(within, on=["series", "budget"], how="left", suffixes=("", "_w"))
        parts.append(part.set_axis(columns, axis=1))
    return (
        pd.concat(parts, ignore_index=True)
        if parts
        else pd.DataFrame(columns=columns).astype({"budget": float})
    )


def target_domain_arm(runs: pd.DataFrame) -> pd.DataFrame:
    """The target-domain-only random arm per budget: ``mean`` target bits per byte, ``ci95``, and its paired
    difference from random (``diff``, ``diff_ci95``); empty when the runs have none."""
    arm = runs[
        (runs.metric == CONTROL_METRIC) & (runs.variant == TARGET_DOMAIN_VARIANT) & (runs.budget < 1.0)
    ]
    if not len(arm):
        return pd.DataFrame(columns=["budget", "mean", "ci95", "diff", "diff_ci95"])
    random, _ = _split(runs)
    summary = summarise(arm, ["budget"], "bpb/target")[["budget", "mean", "ci95"]]
    diffs = paired_differences(arm.assign(series="arm"), random, ["series"], "bpb/target")
    diffs = diffs[["budget", "diff", "ci95"]].rename(columns={"ci95": "diff_ci95"})
    return summary.merge(diffs, on="budget", how="left")


def without_matched_controls(table: pd.DataFrame) -> pd.DataFrame:
    """comparison.csv's rows less the domain-matched controls' own (comparison.tex: each method's row already
    carries its control's effect, ``within_domain_diff``)."""
    return table[~table["method"].str.startswith(MATCHED_LABEL)]


def tex_table(table: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """``table``'s ``columns`` under the .tex tables' short headers (:data:`TEX_HEADERS`)."""
    return table[columns].rename(columns=TEX_HEADERS)
