"""Task2Vec diversity/alignment of the pool, domains, target ref and every selection, from cached vectors."""

import logging

from dqreview.runner import run

log = logging.getLogger("dqreview.t2v_table")


def main(smk):
    from dqreview import paths
    from dqreview.io import read_npy, read_parquet, write_csv, write_text
    from dqreview.report.t2v_tables import selection_table
    from dqreview.report.tables import to_latex

    cfg = smk.config["task2vec"]["selections"]
    index = read_parquet(smk.input.index, columns=["id", "domain", "shard"])
    shards = [read_npy(p) for p in smk.input.pool]
    selections = {paths.under_select(p): read_parquet(p, columns=["id"])["id"] for p in smk.input.selections}
    table = selection_table(
        shards, index, selections, read_npy(smk.input.ref), cfg["n_batches"], cfg["batch_size"], cfg["seed"]
    )
    write_csv(table, smk.output.table)
    write_text(to_latex(table[table.kind != "selection"], digits=3), smk.output.table_tex)
    log.info("Task2Vec table of %d sets", len(table))


run(main, snakemake)
