"""Export one selection's documents (ids joined with the pool's text) as Parquet or JSON Lines."""

import logging

from dqreview.runner import run

log = logging.getLogger("dqreview.export")


def main(smk):
    from dqreview.export import export_selection
    from dqreview.io import read_parquet

    selection = read_parquet(smk.input.ids)
    scores = read_parquet(smk.input.scores, columns=["id", "score"]) if "scores" in smk.input.keys() else None
    info = export_selection(selection, list(smk.input.shards), smk.output[0], scores)
    log.info(
        "%s: %d documents, %d bytes of text, score %s, %d round(s)",
        smk.output[0],
        info["n_docs"],
        info["n_bytes"],
        "from the method's scores" if info["scored"] else "null (no per-document scores)",
        info["rounds"],
    )


run(main, snakemake)
