"""The main comparison: every method at every budget, and its paired difference from random per seed, on the
target and on the heldout domains."""

from dqreview.runner import run


def main(smk):
    from dqreview.io import write_csv, write_text
    from dqreview.paths import CONTROL_METRIC
    from dqreview.plan import Plan
    from dqreview.report.comparison import (
        COMPARISON_TEX_COLUMNS,
        comparison_table,
        mark_fixed,
        run_families,
        tex_table,
        with_scoring_fixed,
        without_matched_controls,
    )
    from dqreview.report.figures import comparison
    from dqreview.report.runs import add_heldout_mean, collect_runs, run_labels
    from dqreview.report.tables import to_latex

    runs = add_heldout_mean(collect_runs(smk.input.evals, smk.input.infos, smk.input.harness))
    runs["method"] = run_labels(runs)
    write_csv(runs, smk.output.runs)
    cmp_ = comparison_table(runs)
    # what each method keeps fixed across seeds (its CI excludes that randomness); marked in the .tex.
    # The controls are random draws, redone for every seed.
    plan = Plan(smk.config)
    fixed = {
        label: plan.scoring_fixed(m, v)
        for label, m, v in zip(runs["method"], runs["metric"], runs["variant"], strict=True)
        if m != CONTROL_METRIC
    }
    table = with_scoring_fixed(cmp_.table, fixed)
    write_csv(table, smk.output.table)
    tex = tex_table(mark_fixed(without_matched_controls(table)), COMPARISON_TEX_COLUMNS)
    write_text(to_latex(tex), smk.output.table_tex)
    # the figure's facets: each method's declared family (the controls beside their methods)
    comparison(cmp_, smk.output.figure, run_families(runs, smk.config))


run(main, snakemake)
