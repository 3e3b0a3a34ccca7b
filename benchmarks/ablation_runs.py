"""One ablation's declared contrasts and compute verdicts from its finished runs, without the whole grid.

The workflow's contrast and compute tables wait for every run of the config. This reads only the runs of one
ablation's series (and random's, the reference) that exist, with the workflow's own functions
(``collect_runs``, ``contrast_table``, ``selection_costs``, ``compute_verdicts``): Holm over that ablation's
rows only, the break-even training compute T* against random's compute curve at the same budget and seed.

    snakemake <the series' and random's eval and curve files> --configfile configs/review.yaml
    .venv/bin/python benchmarks/ablation_runs.py --configfile configs/review.yaml --ablation ablation9 \\
        --budgets 0.1 0.6 --out /tmp/ablation9

Costs are those recorded by the runs' jobs (shared stages such as the encoder pass in full, as in
compute.csv); seconds per training token are the mean over every training log present.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd
import yaml


def load_config(configfiles: list[str]) -> dict:
    """config.yaml with ``configfiles`` merged on top as Snakemake merges them, validated."""
    from snakemake.utils import update_config

    from dqreview.config import validate_config

    config = yaml.safe_load(Path("config.yaml").read_text())
    for path in configfiles:
        update_config(config, yaml.safe_load(Path(path).read_text()))
    return validate_config(config)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--configfile", nargs="*", default=[], help="configs on top of config.yaml")
    ap.add_argument("--ablation", required=True, help="e.g. ablation9")
    ap.add_argument("--budgets", nargs="*", type=float, help="only these budgets (default: every one run)")
    ap.add_argument("--out", help="a directory for contrasts.csv, compute.csv and curves.csv")
    args = ap.parse_args()

    from dqreview.cost import load_costs
    from dqreview.errors import DQError
    from dqreview.io import read_json
    from dqreview.plan import Plan
    from dqreview.report.compute import (
        baseline_curves,
        compute_verdicts,
        plan_selection_costs,
        target_flops_per_token,
        training_rate,
    )
    from dqreview.report.contrasts import contrast_table
    from dqreview.report.runs import collect_curves, collect_runs, method_labels

    config = load_config(args.configfile)
    spec = config["review"]["ablations"].get(args.ablation)
    if spec is None:
        raise DQError(
            f"--ablation {args.ablation}: not in review.ablations ({sorted(config['review']['ablations'])})"
        )
    plan = Plan(config, Path("."))
    selections = [
        s
        for s in plan.ablation_selections(args.ablation)
        if args.budgets is None or any(abs(float(s.wildcards["budget"]) - b) < 1e-9 for b in args.budgets)
    ]
    pairs = zip(plan.evals(selections), plan.selection_infos(selections), strict=True)
    found = [(e, i) for e, i in pairs if Path(e).exists()]
    if not found:
        raise DQError(
            f"{args.ablation}: none of its runs exist yet; build their eval files first (see --help)"
        )
    runs = collect_runs([e for e, _ in found], [i for _, i in found])
    pd.set_option("display.width", 250)
    print(f"{len(runs)} runs:", runs.groupby(["metric", "variant", "budget"]).size().to_dict())

    contrasts = contrast_table(runs, {args.ablation: spec}, {})
    print(
        contrasts[["contrast", "budget", "estimate", "ci_low", "ci_high", "p_holm", "verdict"]].to_string(
            index=False
        )
    )

    curve_files = [c for c in plan.curves() if Path(c).exists()]
    if not curve_files:
        raise DQError(
            f"{args.ablation}: no run of random's compute curve exists yet; build e.g. {plan.curves()[0]}"
        )
    points, curves = baseline_curves(runs, collect_curves(curve_files))
    logs = [read_json(p) for p in plan.train_logs() if Path(p).exists()]
    seconds_per_token, proxy_flops = training_rate(logs)
    methods = runs[runs.metric != "random"][["metric", "variant", "keep", "budget"]].drop_duplicates()
    cost_records = load_costs([c for c in plan.all_costs() if Path(c).exists()])
    # only this ablation's variants: their shared stages (the encoder passes) are charged in full
    used = set(zip(methods.metric, methods.variant, strict=True))
    costs, _ = plan_selection_costs(plan, methods, cost_records, used)
    verdicts = compute_verdicts(
        runs,
        curves,
        costs,
        seconds_per_token,
        proxy_flops,
        target_flops_per_token(config["review"]["target_model"]),
    )
    verdicts.insert(0, "method", method_labels(verdicts))
    verdicts["break_even_run_lengths"] = verdicts["break_even_tokens"] / verdicts["train_tokens"]
    print(f"seconds per training token: {seconds_per_token:.3g} (mean of {len(logs)} training logs)")
    cols = ["method", "budget", "bpb", "multiplier", "multiplier_ci95", "seeds_outside_curve", "selection_s",
            "break_even_tokens", "break_even_tokens_lo", "break_even_tokens_hi", "break_even_run_lengths",
            "break_even_bound", "verdict"]  # fmt: skip
    print(verdicts[cols].to_string(index=False))
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        contrasts.to_csv(out / "contrasts.csv", index=False)
        verdicts.to_csv(out / "compute.csv", index=False)
        points.to_csv(out / "curves.csv", index=False)


if __name__ == "__main__":
    from dqreview.errors import DQError

    try:
        main()
    except DQError as exc:  # a missing run or a bad argument: the message says what to build or change
        raise SystemExit(f"error: {exc}") from None
