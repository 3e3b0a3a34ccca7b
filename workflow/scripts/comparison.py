"""The main comparison: every method at every budget, and its paired difference from random per seed."""

from dqreview.runner import run


def main(smk):
    from dqreview.io import atomic_path, write_text
    from dqreview.report.figures import comparison
    from dqreview.report.runs import collect_runs, method_label
    from dqreview.report.stats import minimal_detectable_effect, paired_differences, summarise
    from dqreview.report.tables import to_latex

    runs = collect_runs(smk.input.evals, smk.input.infos)
    runs["method"] = [
        method_label(m, v, k) for m, v, k in zip(runs.metric, runs.variant, runs.keep, strict=True)
    ]
    with atomic_path(smk.output.runs) as tmp:
        runs.to_csv(tmp, index=False)
    summary = summarise(runs, ["method", "budget"], "bpb/target").rename(columns={"mean": "target_bpb"})
    achieved = runs.groupby(["method", "budget"])["achieved"].mean().rename("achieved").reset_index()
    summary = summary.merge(achieved, on=["method", "budget"])
    random = runs[(runs.metric == "random") & (runs.budget < 1.0)]
    methods = runs[(runs.metric != "random") & (runs.budget < 1.0)]
    diffs = paired_differences(methods, random, ["method"], "bpb/target")
    # per-seed differences, for the minimal detectable effect: its spread pooled over every comparison
    paired = methods.merge(
        random[["budget", "seed", "bpb/target"]], on=["budget", "seed"], suffixes=("", "_random")
    )
    paired["diff"] = paired["bpb/target"] - paired["bpb/target_random"]
    sd = paired.groupby(["method", "budget"])["diff"].std(ddof=1)
    n_pairs = int(diffs["n_pairs"].min()) if len(diffs) else 0
    pooled_sd = float((sd**2).mean() ** 0.5) if len(sd) else float("nan")
    mde = minimal_detectable_effect(pooled_sd, n_pairs)
    table = summary.merge(
        diffs.rename(columns={"diff": "diff_vs_random", "ci95": "diff_ci95"}),
        on=["method", "budget"],
        how="left",
    )
    table["mde"] = mde
    with atomic_path(smk.output.table) as tmp:
        table.to_csv(tmp, index=False)
    cols = ["method", "budget", "target_bpb", "ci95", "diff_vs_random", "diff_ci95", "n_seeds"]
    write_text(to_latex(table[cols]), smk.output.table_tex)
    comparison(summary, diffs, mde, smk.output.figure)


run(main, snakemake)
