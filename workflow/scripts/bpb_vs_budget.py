"""First figure and table: target bits per byte vs budget, per metric and keep direction."""

from dqreview.runner import run


def main(smk):
    from dqreview.io import atomic_path, write_text
    from dqreview.report.figures import bpb_vs_budget
    from dqreview.report.runs import collect_runs, method_label
    from dqreview.report.stats import summarise
    from dqreview.report.tables import to_latex

    runs = collect_runs(smk.input.evals, smk.input.infos)
    runs["method"] = [
        method_label(m, v, k) for m, v, k in zip(runs.metric, runs.variant, runs.keep, strict=True)
    ]
    with atomic_path(smk.output.runs) as tmp:
        runs.to_csv(tmp, index=False)
    summary = summarise(runs, ["method", "budget"], "bpb/target")
    achieved = runs.groupby(["method", "budget"])["achieved"].mean().rename("achieved").reset_index()
    summary = summary.merge(achieved, on=["method", "budget"])
    full = summary[summary.budget == 1.0]
    bpb_vs_budget(summary[summary.budget < 1.0], smk.output.figure, full=full)
    table = summary.rename(columns={"mean": "target_bpb", "ci95": "ci95"})
    with atomic_path(smk.output.table) as tmp:
        table.to_csv(tmp, index=False)
    write_text(
        to_latex(table),
        smk.output.table_tex,
    )


run(main, snakemake)
