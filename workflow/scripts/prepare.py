"""Normalise, chunk, split, decontaminate, plant and shard the raw documents."""

import logging

import pandas as pd

from dqreview.runner import run

log = logging.getLogger("dqreview.prepare")


def main(smk):
    from dqreview.corpus.prepare import prepare_corpus
    from dqreview.embed import encoder_config, encoder_from_config
    from dqreview.io import read_parquet, write_json, write_parquet, write_text
    from dqreview.report.tables import to_latex

    cfg = smk.config
    raw = {}
    for path in smk.input.docs:
        df = read_parquet(path, columns=["source", "document", "text"])
        raw[str(df["source"].iloc[0]) if len(df) else path.split("/")[-1][: -len(".parquet")]] = df
    # chunks must fit the encoder: its tokenizer is part of the chunking rule
    encoder = encoder_from_config(encoder_config(cfg["embed"], getattr(smk.input, "encoder", None)))
    prepared = prepare_corpus(raw, cfg, count_tokens=encoder.count_tokens, max_tokens=encoder.max_tokens)

    for shard, path in zip(prepared.pool_shards, smk.output.shards, strict=True):
        write_parquet(shard, path)
    index_cols = ["id", "text_hash", "domain", "n_bytes", "n_words", "planted"]
    index = [s[index_cols].assign(shard=i) for i, s in enumerate(prepared.pool_shards)]
    write_parquet(pd.concat(index, ignore_index=True), smk.output.index)
    write_parquet(prepared.target_ref, smk.output.ref)
    write_parquet(prepared.target_test, smk.output.test)
    for domain, path in zip([d["name"] for d in cfg["domains"]], smk.output.heldout, strict=True):
        write_parquet(prepared.heldout[domain], path)
    write_json(prepared.stats, smk.output.stats)
    table = prepared.domain_table
    table.to_csv(smk.output.table, index=False)
    write_text(to_latex(table), smk.output.table_tex)
    log.info("prepared corpus:\n%s", table.to_string(index=False))


run(main, snakemake)
