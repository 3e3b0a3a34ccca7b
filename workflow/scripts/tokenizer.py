"""Train the proxy LM's byte-level BPE tokenizer on the pool."""

import logging

import pandas as pd

from dqreview.runner import run

log = logging.getLogger("dqreview.tokenizer")


def main(smk):
    from dqreview.io import read_parquet
    from dqreview.lm.tokenizer import save_tokenizer, train_tokenizer

    cfg = smk.config["lm"]["tokenizer"]
    texts = pd.concat(
        [read_parquet(p, columns=["text"])["text"] for p in smk.input.shards], ignore_index=True
    )
    tok = train_tokenizer(texts.tolist(), vocab_size=cfg["vocab_size"], min_frequency=cfg["min_frequency"])
    save_tokenizer(tok, smk.output.tokenizer)
    log.info("trained a %d-token byte-level BPE on %d pool documents", tok.get_vocab_size(), len(texts))


run(main, snakemake)
