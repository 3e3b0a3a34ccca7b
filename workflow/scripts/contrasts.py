"""results/tables/contrasts.{csv,tex}: every declared ablation contrast, paired by seed, Holm-adjusted."""

from dqreview.runner import run


def main(smk):
    import pandas as pd

    from dqreview.io import write_csv, write_text
    from dqreview.report.contrasts import contrast_table, contrasts_tex

    table = contrast_table(pd.read_csv(smk.input.runs), smk.params.ablations, smk.params.pool_fractions)
    write_csv(table, smk.output.table)
    write_text(contrasts_tex(table), smk.output.table_tex)


run(main, snakemake)
