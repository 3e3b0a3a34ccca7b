"""Pre-declared contrasts of the ablations: paired t-tests, Holm across the family, exact power, answers.

Each ablation in ``review.ablations`` states its ``question`` and its ``contrasts``: ``{id, a, b}`` is
``a − b`` in target bits per byte, paired by seed, at every budget below the whole pool; with ``by: pool``
the same difference at every pool size the ablation has (the series sharing ``a``'s, resp. ``b``'s, metric
and keep at that pool size); ``{id, interaction: <a by-pool id>}`` is that difference at the smallest pool
minus at the full pool, paired by seed. Negative means ``a`` is better (fewer bits per byte).

The family (docs/review.md, "Contrasts"): every declared contrast of every drawn ablation at every budget
and pool size that was run; Holm's step-down adjustment holds the family-wise error rate at 5%. A second
family, :func:`versus_random_family`, is the abstract's count: every method in its own direction
(keep=high) against random at every budget below the whole pool.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from dqreview.errors import DQError
from dqreview.report.stats import minimal_detectable_effect

ALPHA = 0.05
VALUE = "bpb/target"
COLUMNS = ["ablation", "question", "contrast", "a", "b", "budget", "pool_fraction", "full_pool", "of", "n_pairs",
           "estimate", "ci95", "ci_low", "ci_high", "sd", "p", "p_holm", "mde", "verdict", "why", "answer"]  # fmt: skip
NOT_RUN = "not run"


def paired_test(diffs, level: float = 0.95) -> dict[str, float]:
    """The paired t-test of per-seed differences: ``n_pairs``, ``estimate`` (their mean), ``ci95`` (Student-t
    half-width), ``ci_low``, ``ci_high``, ``sd``, two-sided ``p`` and the exact-power ``mde``
    (:func:`~dqreview.report.stats.minimal_detectable_effect`). NaN where fewer than 2 pairs."""
    d = np.asarray(diffs, dtype=np.float64)
    d = d[np.isfinite(d)]
    n = len(d)
    nan = float("nan")
    if n < 2:
        est = float(d.mean()) if n else nan
        return {"n_pairs": n, "estimate": est, "ci95": nan, "ci_low": nan, "ci_high": nan, "sd": nan,
                "p": nan, "mde": nan}  # fmt: skip
    mean, sd = float(d.mean()), float(d.std(ddof=1))
    se = sd / np.sqrt(n)
    half = float(stats.t.ppf(0.5 + level / 2, n - 1) * se)
    if se > 0:
        p = float(2 * stats.t.sf(abs(mean) / se, n - 1))
    else:  # every seed the same difference: no spread to test against
        p = 1.0 if mean == 0 else 0.0
    return {"n_pairs": n, "estimate": mean, "ci95": half, "ci_low": mean - half, "ci_high": mean + half,
            "sd": sd, "p": p, "mde": minimal_detectable_effect(sd, n)}  # fmt: skip


def holm(pvalues) -> np.ndarray:
    """Holm's step-down adjusted p-values (NaN stays NaN and does not count towards the family's size)."""
    p = np.asarray(pvalues, dtype=np.float64)
    out = np.full_like(p, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    m = len(ok)
    order = ok[np.argsort(p[ok], kind="stable")]
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return out


def _series_key(series: dict) -> tuple[str, str, str]:
    return series["metric"], series["variant"], series.get("keep", "high")


def _per_seed(runs: pd.DataFrame, series: dict) -> pd.Series:
    """One series' target bits per byte indexed by (budget, seed), below the whole pool."""
    metric, variant, keep = _series_key(series)
    sel = runs[
        (runs.metric == metric) & (runs.variant == variant) & (runs.keep == keep) & (runs.budget < 1.0)
    ]
    return sel.set_index(["budget", "seed"])[VALUE].astype(float)


def _difference(runs: pd.DataFrame, a: dict, b: dict) -> pd.Series:
    """``a − b`` per (budget, seed), on the seeds both have."""
    return (_per_seed(runs, a) - _per_seed(runs, b)).dropna()


def _pool_pairs(
    name: str, spec: dict, contrast: dict, pool_fractions: dict[str, float]
) -> dict[float, tuple]:
    """A ``by: pool`` contrast's (a series, b series) at each pool size both sides have."""

    def at_pools(label: str) -> dict[float, dict]:
        anchor = next(s for s in spec["series"] if s["label"] == label)
        out: dict[float, dict] = {}
        for s in spec["series"]:
            if (s["metric"], s.get("keep", "high")) != (anchor["metric"], anchor.get("keep", "high")):
                continue
            pool = float(pool_fractions[f"{s['metric']}/{s['variant']}"])
            if pool in out:
                raise DQError(
                    f"config key 'review.ablations.{name}.contrasts' ({contrast['id']}, by: pool): series "
                    f"{out[pool]['label']!r} and {s['label']!r} share metric, keep and pool size {pool:g}; "
                    "keep one series per pool size"
                )
            out[pool] = s
        return out

    a, b = at_pools(contrast["a"]), at_pools(contrast["b"])
    return {pool: (a[pool], b[pool]) for pool in sorted(set(a) & set(b))}


def _interaction_rows(base: dict, contrast: dict, per_pool: dict[float, tuple[pd.Series, str, str]]) -> list:
    """A ``by: pool`` contrast at the smallest pool minus at the full pool, per budget, paired by seed;
    a "not run" row at a budget with fewer than two pool sizes."""
    budgets = sorted(
        {float(b) for diff, _, _ in per_pool.values() for b in diff.index.get_level_values("budget")}
    )
    rows = []
    for budget in budgets:
        at = {pool: v for pool, v in per_pool.items() if budget in v[0].index.get_level_values("budget")}
        row = {**base, "contrast": contrast["id"], "budget": budget, "of": contrast["interaction"]}
        if len(at) < 2:
            rows.append({**row, "a": "", "b": "", "pool_fraction": float("nan"), "n_pairs": 0,
                         "why": "one pool size only"})  # fmt: skip
            continue
        small, full = min(at), max(at)
        diff = (at[small][0].xs(budget, level="budget") - at[full][0].xs(budget, level="budget")).dropna()
        rows.append({**row, "a": f"{at[small][1]} − {at[small][2]}", "b": f"{at[full][1]} − {at[full][2]}",
                     "pool_fraction": small, "full_pool": full, **paired_test(diff.to_numpy())})  # fmt: skip
    return rows


def _pool_text(pool: float, tex: bool = False) -> str:
    percent = "\\%" if tex else "%"
    return "the full pool" if pool >= 1.0 else f"the {pool * 100:.0f}{percent} pool"


def contrast_table(
    runs: pd.DataFrame, ablations: dict[str, dict], pool_fractions: dict[str, dict[str, float]]
) -> pd.DataFrame:
    """Every declared contrast of every ablation at every budget (and pool size), tested and Holm-adjusted.

    Parameters
    ----------
    runs : DataFrame
        ``runs.csv``: one row per run with ``metric``, ``variant``, ``keep``, ``budget``, ``seed`` and
        ``bpb/target``.
    ablations : dict
        The drawn ablations (``review.ablations``, after the incomplete ones are left out).
    pool_fractions : dict
        Ablation → ``"metric/variant"`` → the fraction of the pool that variant chooses from.

    Returns
    -------
    DataFrame
        :data:`COLUMNS`, in the config's order: per contrast and budget (and pool size for ``by: pool`` and
        interactions, ``pool_fraction``; NaN otherwise) the paired test, ``p_holm`` over every row that was
        run, ``verdict`` (``"a better"``, ``"b better"``, ``"no detectable difference"`` or
        ``"not run"``) and the ``answer`` sentence (:func:`answer`). ``a``/``b`` are the series labels
        compared (for an interaction, the labels at the smallest pool and ``b`` those at the full pool).
    """
    rows = []
    for name, spec in ablations.items():
        by_label = {s["label"]: s for s in spec["series"]}
        pooled: dict[str, dict[float, tuple[pd.Series, str, str]]] = {}
        base = {"ablation": name, "question": spec.get("question", "")}
        for c in spec.get("contrasts") or []:
            if "interaction" in c:
                rows += _interaction_rows(base, c, pooled[c["interaction"]])
                continue
            if c.get("by") == "pool":
                pairs = _pool_pairs(name, spec, c, pool_fractions.get(name, {}))
            else:
                pairs = {float("nan"): (by_label[c["a"]], by_label[c["b"]])}
            pooled[c["id"]] = {}
            for pool, (a, b) in pairs.items():
                diff = _difference(runs, a, b)
                if pool == pool:  # a pool size (NaN: not a by-pool contrast)
                    pooled[c["id"]][pool] = (diff, a["label"], b["label"])
                # a budget neither series was trained at is no row (a variant the grid has at some budgets)
                for budget, d in diff.groupby(level="budget", sort=True):
                    rows.append({**base, "contrast": c["id"], "a": a["label"], "b": b["label"],
                                 "budget": float(budget), "pool_fraction": pool,
                                 **paired_test(d.to_numpy())})  # fmt: skip
    table = pd.DataFrame(rows)
    if not len(table):
        return pd.DataFrame(columns=COLUMNS)
    for column in ("estimate", "ci95", "ci_low", "ci_high", "sd", "p", "mde", "full_pool"):
        if column not in table:
            table[column] = float("nan")
    for column in ("why", "of"):
        if column not in table:
            table[column] = ""
    table[["why", "of"]] = table[["why", "of"]].fillna("")
    table["p_holm"] = holm(table["p"])
    table["verdict"] = [_verdict(r) for r in table.to_dict("records")]
    table["answer"] = [answer(r) for r in table.to_dict("records")]
    return table[COLUMNS]


def _verdict(row: dict) -> str:
    if not np.isfinite(row["p_holm"]):
        return NOT_RUN
    if row["p_holm"] < ALPHA:
        return "a better" if row["estimate"] < 0 else "b better"
    return "no detectable difference"


def p_text(p: float, tex: bool = False) -> str:
    """A p-value as printed: three decimals, ``<0.001`` below that (``$<$0.001`` in LaTeX), ``---`` for NaN."""
    from dqreview.report.macros import fmt

    if p == p and p < 0.001:
        return "$<$0.001" if tex else "<0.001"
    return fmt(p, 3) if tex else f"{p:.3f}"


def _num(value: float, tex: bool, signed: bool = False) -> str:
    from dqreview.report.macros import fmt

    if tex:
        return fmt(value, 3, signed=signed)
    return f"{value:+.3f}" if signed else f"{value:.3f}"


def _text(value) -> str:
    """A text cell as read back from the CSV (an empty cell is NaN there)."""
    return value if isinstance(value, str) else ""


def answer(row: dict, tex: bool = False) -> str:
    """The answer sentence of one contrast row: who is better and by how much when ``p_Holm`` < 0.05, else
    "no detectable difference" with the minimal detectable effect; plain text, or LaTeX with ``tex``."""
    from dqreview.report.macros import escape

    pm, ph = (r"\,$\pm$\,", r"$p_{\mathrm{Holm}}$") if tex else (" ± ", "p_Holm")
    q = (lambda s: f"``{escape(s)}''") if tex else (lambda s: f"“{s}”")
    verdict = row.get("verdict") or _verdict(row)
    if verdict == NOT_RUN:
        why = _text(row.get("why")) or ("one seed only" if row.get("n_pairs", 0) < 2 else "")
        return f"not run in this configuration ({escape(why) if tex else why})"
    est, ci, p_holm = row["estimate"], row["ci95"], row["p_holm"]
    if _text(row.get("of")):  # an interaction with pool size
        of = escape(row["of"]) if tex else row["of"]
        what = f"{of} at {_pool_text(row['pool_fraction'], tex)} minus at {_pool_text(row['full_pool'], tex)}"
        numbers = f"{_num(est, tex, True)}{pm}{_num(ci, tex)} bits per byte ({ph} = {p_text(p_holm, tex)}"
        if verdict == "no detectable difference":
            return (
                f"no detectable interaction with pool size: {what} is {numbers}; MDE {_num(row['mde'], tex)})"
            )
        return f"{of} changes with pool size: {what} is {numbers})"
    if verdict == "no detectable difference":
        return (f"no detectable difference between {q(row['a'])} and {q(row['b'])} "
                f"({_num(est, tex, True)}{pm}{_num(ci, tex)}, {ph} = {p_text(p_holm, tex)}; "
                f"MDE {_num(row['mde'], tex)})")  # fmt: skip
    better, worse = (row["a"], row["b"]) if verdict == "a better" else (row["b"], row["a"])
    return (f"{q(better)} beats {q(worse)} by {_num(abs(est), tex)}{pm}{_num(ci, tex)} bits per byte "
            f"({ph} = {p_text(p_holm, tex)})")  # fmt: skip


def budget_text(budget: float, tex: bool = False) -> str:
    """A budget as the paper names it: ``10%`` (``10\\%`` in LaTeX)."""
    return f"{budget * 100:.0f}" + ("\\%" if tex else "%")


def ablation_answer(table: pd.DataFrame, name: str, tex: bool = False) -> str:
    """One ablation's answer: its contrasts' sentences, budget by budget (and pool size by pool size)."""
    from dqreview.report.macros import escape

    rows = table[table["ablation"] == name]
    parts = []
    for budget, group in rows.groupby("budget", sort=True):
        clauses = []
        for r in group.to_dict("records"):
            clauses.append(f"{escape(r['contrast']) if tex else r['contrast']}: {answer(r, tex)}")
        parts.append(f"At {budget_text(budget, tex)}: " + "; ".join(clauses) + ".")
    return " ".join(parts)


def versus_random_family(runs: pd.DataFrame) -> pd.DataFrame:
    """The abstract's family: every method in its own direction (keep=high; not random, not a control)
    against random at every budget below the whole pool, paired by seed and Holm-adjusted together.

    Returns
    -------
    DataFrame
        ``metric``, ``variant``, ``budget``, the :func:`paired_test` columns, ``p_holm`` and ``verdict``
        (``"better"``, ``"worse"`` or ``"no detectable difference"``; random minus nothing is never tested).
    """
    from dqreview.paths import CONTROL_METRIC

    below = runs[runs.budget < 1.0]
    random = below[below.metric == "random"].set_index(["budget", "seed"])[VALUE].astype(float)
    methods = below[(below.keep == "high") & ~below.metric.isin(["random", CONTROL_METRIC])]
    rows = []
    for (metric, variant, budget), group in methods.groupby(["metric", "variant", "budget"], sort=True):
        diff = (group.set_index(["budget", "seed"])[VALUE].astype(float) - random).dropna()
        rows.append(
            {"metric": metric, "variant": variant, "budget": float(budget), **paired_test(diff.to_numpy())}
        )
    table = pd.DataFrame(rows, columns=["metric", "variant", "budget", "n_pairs", "estimate", "ci95", "ci_low",
                                        "ci_high", "sd", "p", "mde"])  # fmt: skip
    table["p_holm"] = holm(table["p"]) if len(table) else []
    table["verdict"] = [
        "no detectable difference" if not (p < ALPHA) else "better" if e < 0 else "worse"
        for p, e in zip(table["p_holm"], table["estimate"], strict=True)
    ]
    return table


def contrasts_tex(table: pd.DataFrame) -> str:
    """``contrasts.tex``: per ablation its question (a row across the table), then per contrast row: contrast
    → budget → estimate ± CI → p, p_Holm → MDE → verdict (booktabs)."""
    from dqreview.report.macros import escape, fmt

    lines = [
        r"\begin{tabular}{llrrrrl}",
        r"\toprule",
        r"contrast ($a-b$) & budget & estimate $\pm$ CI & $p$ & $p_{\mathrm{Holm}}$ & MDE & answer \\",
    ]
    for name, rows in table.groupby("ablation", sort=False):
        question = escape(rows["question"].iloc[0])
        lines += [r"\midrule", rf"\multicolumn{{7}}{{l}}{{\emph{{{escape(name)}: {question}}}}} \\"]
        for r in rows.to_dict("records"):
            contrast = escape(r["contrast"])
            if r["pool_fraction"] == r["pool_fraction"]:
                contrast += f" ({escape(_pool_text(r['pool_fraction']).removeprefix('the '))})"
            estimate = (
                f"{fmt(r['estimate'], 3, signed=True)}\\,$\\pm$\\,{fmt(r['ci95'], 3)}"
                if r["verdict"] != NOT_RUN
                else "---"
            )
            cells = [contrast, budget_text(r["budget"], tex=True), estimate, p_text(r["p"], tex=True),
                     p_text(r["p_holm"], tex=True), fmt(r["mde"], 3), escape(r["verdict"])]  # fmt: skip
            lines.append(" & ".join(cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    return "\n".join(lines) + "\n"
