"""Collect the per-run evaluation JSONs into one tidy table."""

from __future__ import annotations

import pandas as pd

from dqreview.errors import DQError
from dqreview.io import read_json
from dqreview.paths import CONTROL_METRIC, TARGET_DOMAIN_VARIANT, matched_source, parse_selection

HARNESS_PREFIX = "harness/"
NGRAM_PREFIX = "ngram"


def ngram_columns(runs: pd.DataFrame, eval_set: str = "target") -> list[str]:
    """The n-gram reference's ``ngram<n>/bpb/<eval_set>`` columns of a :func:`collect_runs` table, by order."""
    suffix = f"/bpb/{eval_set}"
    cols = [c for c in runs.columns if c.startswith(NGRAM_PREFIX) and c.endswith(suffix)]
    return sorted(cols, key=lambda c: int(c[len(NGRAM_PREFIX) : -len(suffix)]))


#: A run's bits per byte on one heldout domain is its ``bpb/heldout/<domain>`` column.
HELDOUT_PREFIX = "bpb/heldout/"
#: The general-purpose view of a run: the plain mean of its ``bpb/heldout/<domain>`` columns.
HELDOUT_MEAN = "heldout_bpb"
#: The full-data arm's name in every table and figure: random at budget 1.0 is the whole pool, seen for
#: however many epochs ``lm.train.tokens`` buys (≈ 0.1 in the embedded default) — not an upper bound.
FULL_POOL = "whole pool"


def harness_columns(runs: pd.DataFrame) -> list[str]:
    """The ``harness/<task>/<metric>`` columns of a :func:`collect_runs` table."""
    return [c for c in runs.columns if c.startswith(HARNESS_PREFIX)]


def heldout_columns(runs: pd.DataFrame) -> list[str]:
    """The ``bpb/heldout/<domain>`` columns of a :func:`collect_runs` table, in domain order."""
    return sorted(c for c in runs.columns if c.startswith(HELDOUT_PREFIX))


def add_heldout_mean(runs: pd.DataFrame) -> pd.DataFrame:
    """``runs`` with :data:`HELDOUT_MEAN`: each run's plain mean over the heldout domains of its bits per byte.

    Every domain counts once, whatever its bytes: the heldout splits are a fixed number of chunks per domain
    (``prepare.heldout_chunks``), so byte weights would only reflect how long a domain's chunks are, and a
    general-purpose model is judged on each kind of text rather than on the wordiest one.
    """
    columns = heldout_columns(runs)
    if not columns:
        raise DQError(
            "runs table: no 'bpb/heldout/<domain>' column; the evaluation JSONs (results/eval/...) predate "
            "heldout evaluation — rerun the train jobs (snakemake --forcerun train)"
        )
    return runs.assign(**{HELDOUT_MEAN: runs[columns].mean(axis=1, skipna=False)})


def epochs_text(epochs: float) -> str:
    """Epochs as the tables' labels print them: two significant digits below 1, one decimal below 10."""
    if epochs != epochs:  # NaN
        return "?"
    if epochs < 1:
        return f"{epochs:.2g}"
    return f"{epochs:.1f}" if epochs < 10 else f"{epochs:.0f}"


def full_pool_label(epochs: float) -> str:
    """The full-data arm's legend: e.g. ``whole pool, 0.1 epochs``."""
    return f"{FULL_POOL}, {epochs_text(epochs)} epochs"


def budget_tick(budget: float, epochs: float) -> str:
    """A budget axis tick with the epochs its runs take, on two lines: e.g. ``10%`` over ``(1.1 ep)``."""
    return f"{budget:.0%}\n({epochs_text(epochs)} ep)"


def collect_harness(harness_paths) -> pd.DataFrame:
    """lm-eval-harness CSVs (``paths.HARNESS``, one per selection: selection, seed, task, metric, value) as
    one row per (selection, seed) with a ``harness/<task>/<metric>`` column per score."""
    frames = []
    for path in harness_paths:
        df = pd.read_csv(path)
        if df.empty:
            continue
        sel = parse_selection(str(df["selection"].iloc[0]))
        wide = (
            df.assign(column=HARNESS_PREFIX + df["task"] + "/" + df["metric"])
            .pivot_table(index="seed", columns="column", values="value", aggfunc="first")
            .reset_index()
        )
        wide.columns.name = None
        frames.append(wide.assign(**{k: v for k, v in sel.items()}))
    if not frames:
        return pd.DataFrame(columns=["metric", "variant", "keep", "budget", "seed"])
    out = pd.concat(frames, ignore_index=True)
    out["budget"] = out["budget"].astype(float)
    return out


def collect_runs(eval_paths, info_paths, harness_paths=()) -> pd.DataFrame:
    """One row per (selection, seed): final bits per byte on every evaluation set (``bpb/<set>``), the n-gram
    reference's beside it (``ngram<n>/bpb/<set>``, when the run has one), budget accounting, and the
    lm-eval-harness scores (``harness/<task>/<metric>``) when ``harness_paths`` are given."""
    rows = []
    for eval_path, info_path in zip(eval_paths, info_paths, strict=True):
        ev, info = read_json(eval_path), read_json(info_path)
        sel = parse_selection(ev["selection"])
        row = {
            "metric": sel["metric"],
            "variant": sel["variant"],
            "keep": sel["keep"],
            "budget": float(sel["budget"]),
            "seed": ev["seed"],
            "achieved": info["achieved"],
            "n_docs": ev["n_docs"],
            "epochs": ev["epochs"],
            "tokens": ev["tokens"],
        }
        row.update({k: v for k, v in ev["final"].items() if k.startswith("bpb/")})
        row.update(ev.get("ngram", {}))  # absent in runs written before the n-gram reference
        rows.append(row)
    runs = pd.DataFrame(rows)
    if harness_paths:
        keys = ["metric", "variant", "keep", "budget", "seed"]
        runs = runs.merge(collect_harness(harness_paths), on=keys, how="left")
    return runs.sort_values(["metric", "variant", "keep", "budget", "seed"], ignore_index=True)


#: A domain-matched control's label is its source selection's label after this prefix.
MATCHED_LABEL = "matched control: "
#: The target-domain-only random arm's label.
TARGET_DOMAIN_LABEL = "random, target domain only"


def is_control(methods: pd.Series) -> pd.Series:
    """Which method labels name a control (a domain-matched one or the target-domain arm): references
    reported beside the methods, never counted as one."""
    return methods.str.startswith(MATCHED_LABEL) | (methods == TARGET_DOMAIN_LABEL)


def method_label(metric: str, variant: str, keep: str) -> str:
    """How tables and figures name a selection: ``metric (variant, keep=…)``, ``random``, or a control's
    name (``matched control: <its source's label>``, :data:`TARGET_DOMAIN_LABEL`)."""
    if metric == CONTROL_METRIC:
        source = matched_source(variant)
        if source is not None:
            return MATCHED_LABEL + method_label(*source)
        return TARGET_DOMAIN_LABEL if variant == TARGET_DOMAIN_VARIANT else f"control ({variant})"
    return f"{metric} ({variant}, keep={keep})" if metric != "random" else "random"


def run_labels(runs: pd.DataFrame) -> list[str]:
    """:func:`method_labels`, with the full-data arm (budget 1.0) named :data:`FULL_POOL`."""
    return [FULL_POOL if b >= 1.0 else m for m, b in zip(method_labels(runs), runs["budget"], strict=True)]


def collect_curves(eval_paths) -> pd.DataFrame:
    """One row per checkpoint of every run: metric, variant, keep, budget, seed, tokens and its metrics."""
    rows = []
    for path in eval_paths:
        ev = read_json(path)
        sel = parse_selection(ev["selection"])
        for point in ev["curve"]:
            rows.append(
                {
                    "metric": sel["metric"],
                    "variant": sel["variant"],
                    "keep": sel["keep"],
                    "budget": float(sel["budget"]),
                    "seed": ev["seed"],
                    "run_tokens": ev["tokens"],
                    **{
                        k: v
                        for k, v in point.items()
                        if k in ("step", "tokens", "epochs") or k.startswith("bpb/")
                    },
                }
            )
    return pd.DataFrame(rows)


def method_labels(df: pd.DataFrame) -> list[str]:
    """:func:`method_label` of every row of a table with ``metric``, ``variant`` and ``keep`` columns."""
    return [method_label(m, v, k) for m, v, k in zip(df["metric"], df["variant"], df["keep"], strict=True)]
