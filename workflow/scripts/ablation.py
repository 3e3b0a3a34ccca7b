"""One ablation figure and table: the configured series across budgets, each paired with random per seed."""

from dqreview.runner import run


def main(smk):
    from dqreview.io import write_csv, write_text
    from dqreview.report.comparison import ABLATION_TEX_COLUMNS, ablation_table, target_domain_arm, tex_table
    from dqreview.report.figures import ablation
    from dqreview.report.runs import add_heldout_mean, collect_runs
    from dqreview.report.stats import summarise
    from dqreview.report.tables import to_latex

    spec = smk.params.spec
    runs = add_heldout_mean(collect_runs(smk.input.evals, smk.input.infos))
    table = ablation_table(runs, spec, smk.params.pool_fractions)
    write_csv(table, smk.output.table)
    write_text(to_latex(tex_table(table, ABLATION_TEX_COLUMNS), digits=3), smk.output.table_tex)
    full = runs[runs.budget >= 1.0]
    random = runs[(runs.metric == "random") & (runs.budget < 1.0)]
    rand = summarise(random, ["budget"], "bpb/target")
    ablation(table, rand, full, spec, smk.output.figure, arm=target_domain_arm(runs))


run(main, snakemake)
