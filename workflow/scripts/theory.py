"""Sorscher et al.'s teacher–student pruning theory: figure and table."""

from dqreview.runner import run


def main(smk):
    from dqreview.io import write_csv, write_text
    from dqreview.report.tables import to_latex
    from dqreview.theory import plot_theory, run_grid, theory_table

    grid = run_grid(dict(smk.config["theory"]))
    plot_theory(grid, smk.output.figure)
    table = theory_table(grid)
    write_csv(table, smk.output.table)
    write_text(to_latex(table, digits=4), smk.output.table_tex)


run(main, snakemake)
