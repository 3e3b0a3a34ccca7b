"""KL reduction (DSIR's data metric) of every selection, on hashed n-gram distributions."""

import numpy as np

from dqreview.runner import run


def main(smk):
    from dqreview import paths
    from dqreview.io import read_parquet, write_csv
    from dqreview.report.kl_table import kl_reduction_table

    shards = [read_parquet(p, columns=["id", "text"]) for p in smk.input.shards]
    pool_ids = np.concatenate([s["id"].to_numpy(dtype=object) for s in shards])
    pool_texts = np.concatenate([s["text"].to_numpy(dtype=object) for s in shards])
    target = read_parquet(smk.input.ref, columns=["text"])["text"].to_numpy(dtype=object)
    selections = {
        paths.under_select(p): read_parquet(p, columns=["id"])["id"].to_numpy() for p in smk.input.selections
    }
    table = kl_reduction_table(pool_ids, pool_texts, target, selections)
    write_csv(table, smk.output.table)


run(main, snakemake)
