"""Compute accounting: effective compute multiplier, training saved and selection cost, per method."""

from dqreview.runner import run


def main(smk):
    import pandas as pd

    from dqreview.cost import load_costs
    from dqreview.io import read_json, read_parquet, write_csv, write_text
    from dqreview.paths import CONTROL_METRIC
    from dqreview.plan import Plan
    from dqreview.report.compute import (
        baseline_curves,
        check_scaling,
        compute_verdicts,
        per_million_costs,
        plan_selection_costs,
        selection_parallelism,
        target_flops_per_token,
        training_rate,
        verdicts_latex,
    )
    from dqreview.report.figures import cost_verdicts, learning_curves
    from dqreview.report.runs import collect_curves, collect_runs, method_labels

    # the controls are references for the comparison, not selection methods with a compute verdict
    runs = collect_runs(smk.input.evals, smk.input.infos)
    runs = runs[runs.metric != CONTROL_METRIC]
    # random's compute curve per budget and seed: the final points of its runs at every token count
    points, curves = baseline_curves(runs, collect_curves(smk.input.curves))
    seconds_per_token, proxy_flops = training_rate([read_json(p) for p in smk.input.train_logs])
    target = smk.config["review"]["target_model"]
    methods = runs[runs.metric != "random"][["metric", "variant", "keep", "budget"]].drop_duplicates()
    plan = Plan(smk.config)
    costs, jobs = plan_selection_costs(plan, methods, load_costs(smk.input.costs))
    # "train on all of it": the whole-pool arm's compute curve per seed (none when the config has no such arm)
    full_curves = {seed: c for (budget, seed), c in curves.items() if budget >= 1.0}
    target_flops = target_flops_per_token(target)
    verdicts = compute_verdicts(
        runs, curves, costs, seconds_per_token, proxy_flops, target_flops, full_curves=full_curves
    )
    verdicts.insert(0, "method", method_labels(verdicts))
    verdicts["selection_parallelism"] = [selection_parallelism(plan.method(m)) for m in verdicts["metric"]]
    # per million: the scaling benchmark where it ran, else this run's selection cost extrapolated linearly
    scaling_path = getattr(smk.input, "scaling", None)
    scaling = check_scaling(pd.read_csv(scaling_path), scaling_path) if scaling_path else None
    pool_docs = len(read_parquet(smk.input.pool_index, columns=["id"]))
    shared = {key: spec.shared for key, spec in jobs.items()}
    verdicts = per_million_costs(
        verdicts, shared, pool_docs, proxy_flops, target_flops, scaling, smk.config["embed"]["model"]
    )
    write_csv(verdicts, smk.output.table)
    write_text(verdicts_latex(verdicts), smk.output.table_tex)
    cost_verdicts(verdicts, smk.output.figure)

    write_csv(points.sort_values(["budget", "seed", "tokens"]), smk.output.curves_table)
    per_run = collect_curves(smk.input.evals)
    per_run = per_run[per_run.metric != CONTROL_METRIC]
    per_run["method"] = method_labels(per_run)
    learning_curves(per_run[per_run.budget < 1.0], points[points.budget < 1.0], smk.output.curves_figure)


run(main, snakemake)
