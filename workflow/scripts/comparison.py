"""The main comparison: every method at every budget, and its paired difference from random per seed."""

from dqreview.runner import run


def main(smk):
    from dqreview.io import write_csv, write_text
    from dqreview.metrics import method_of
    from dqreview.report.figures import comparison
    from dqreview.report.runs import collect_runs, harness_columns, method_labels, ngram_reference_columns
    from dqreview.report.stats import (
        paired_differences,
        pooled_minimal_detectable_effect,
        summarise,
        versus_random,
        versus_random_columns,
    )
    from dqreview.report.tables import to_latex

    runs = collect_runs(smk.input.evals, smk.input.infos, smk.input.harness)
    runs["method"] = method_labels(runs)
    write_csv(runs, smk.output.runs)
    summary = summarise(runs, ["method", "budget"], "bpb/target").rename(columns={"mean": "target_bpb"})
    achieved = runs.groupby(["method", "budget"])["achieved"].mean().rename("achieved").reset_index()
    summary = summary.merge(achieved, on=["method", "budget"])
    random = runs[(runs.metric == "random") & (runs.budget < 1.0)]
    methods = runs[(runs.metric != "random") & (runs.budget < 1.0)]
    diffs = paired_differences(methods, random, ["method"], "bpb/target")
    mde = pooled_minimal_detectable_effect(diffs)
    table = summary.merge(
        versus_random(diffs),
        on=["method", "budget"],
        how="left",
    )
    table["mde"] = mde
    for column in harness_columns(runs):  # lm-eval-harness scores, paired with random like bits per byte
        table = table.merge(
            versus_random_columns(runs, random, methods, column), on=["method", "budget"], how="left"
        )
    # the n-gram reference on the same selections: its bits per byte, paired with random, and the proxy's gap to it
    table = table.merge(ngram_reference_columns(runs, random, methods), on=["method", "budget"], how="left")
    write_csv(table, smk.output.table)
    cols = ["method", "budget", "target_bpb", "ci95", "diff_vs_random", "diff_ci95", "n_seeds"]
    write_text(to_latex(table[cols]), smk.output.table_tex)
    # the figure's facets: each method's declared family
    families = {
        label: method_of(smk.config, m).family
        for label, m in zip(runs["method"], runs["metric"], strict=True)
    }
    comparison(summary, diffs, mde, smk.output.figure, families)


run(main, snakemake)
