"""Gather every job's cost JSON into one table."""

from dqreview.runner import run


def main(smk):
    from dqreview.cost import load_costs
    from dqreview.io import write_csv, write_text
    from dqreview.report.tables import to_latex

    costs = load_costs(smk.input.costs)
    by_stage = (
        costs.groupby("stage")
        .agg(
            jobs=("job", "count"),
            wall_s=("wall_s", "sum"),
            cpu_s=("cpu_s", "sum"),
            flops=("flops", "sum"),
            items=("items", "sum"),
        )
        .reset_index()
    )
    write_csv(costs, smk.output.table)
    write_text(to_latex(by_stage, digits=1), smk.output.table_tex)


run(main, snakemake)
