"""Concatenate the per-shard scores of one metric variant."""

import pandas as pd

from dqreview.runner import run


def main(smk):
    from dqreview.errors import DQError
    from dqreview.io import read_parquet, write_parquet

    merged = pd.concat(
        [read_parquet(p, columns=["id", "score"]) for p in smk.input.shards], ignore_index=True
    )
    dup = merged["id"].duplicated()
    if dup.any():
        raise DQError(
            f"{smk.output.scores}: {int(dup.sum())} duplicate ids across shards, e.g. {merged.id[dup].iloc[0]}"
        )
    write_parquet(merged, smk.output.scores)


run(main, snakemake)
