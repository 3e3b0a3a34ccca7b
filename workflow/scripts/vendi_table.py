"""Vendi of the pool, every domain, target ref/test and every selection (streamed, never n×n)."""

from dqreview.runner import run


def main(smk):
    from dqreview import paths
    from dqreview.io import read_npy, read_parquet, write_csv, write_text
    from dqreview.report.tables import to_latex
    from dqreview.report.vendi_table import vendi_table

    index = read_parquet(smk.input.index, columns=["id", "domain", "shard"])
    shards = [read_npy(p) for p in smk.input.pool]
    selections = {paths.under_select(p): read_parquet(p, columns=["id"])["id"] for p in smk.input.selections}
    targets = {"target/ref": read_npy(smk.input.ref), "target/test": read_npy(smk.input.test)}
    # each selection also at its budget's smallest selection size (Vendi grows with the number of items)
    groups = {name: paths.parse_selection(name)["budget"] for name in selections}
    table = vendi_table(shards, index, selections, targets, groups=groups)
    write_csv(table, smk.output.table)
    summary = table[table.kind != "selection"].drop(columns=["n_eq", "vendi_q1_eq"])
    write_text(to_latex(summary, digits=2), smk.output.table_tex)


run(main, snakemake)
