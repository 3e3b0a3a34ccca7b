"""Diversity coefficients with the probe: lower bound, every domain, the target, the pool, upper bound."""

import logging

import numpy as np
import pandas as pd

from dqreview.runner import job_device, run

log = logging.getLogger("dqreview.diversity")


def main(smk):
    from dqreview.cost import measure
    from dqreview.io import atomic_path, read_parquet, write_csv, write_text
    from dqreview.measures.diversity import lower_bound_docs, upper_bound_docs
    from dqreview.probe import workflow_probe
    from dqreview.report.t2v_tables import diversity_table
    from dqreview.report.tables import to_latex

    cfg = smk.config["task2vec"]
    coef = cfg["coefficients"]
    device = job_device(smk)
    pool = pd.concat(
        [read_parquet(p, columns=["text", "domain"]) for p in smk.input.shards], ignore_index=True
    )
    ref = read_parquet(smk.input.ref, columns=["text"])
    with measure("t2v", "t2v/diversity_table", smk.output.cost, device) as rec:
        probe = workflow_probe(smk.config, smk.input, device)
        V, W, n_synth = probe.vocab_size, cfg["window"], coef["n_batches"] * coef["batch_size"]
        pool_tokens = probe.encode(pool["text"].tolist())
        datasets = {("bound", "lower"): lower_bound_docs(n_synth, W - 1, V, probe.eos_id, coef["seed"])}
        for dom in sorted(pool["domain"].unique()):
            datasets[("domain", dom)] = [
                t for t, d in zip(pool_tokens, pool["domain"], strict=True) if d == dom
            ]
        datasets[("target", "target/ref")] = probe.encode(ref["text"].tolist())
        datasets[("pool", "pool")] = pool_tokens
        datasets[("bound", "upper")] = upper_bound_docs(n_synth, W - 1, V, coef["seed"])
        table, emb = diversity_table(
            probe,
            datasets,
            ("target", "target/ref"),
            coef["n_batches"],
            coef["batch_size"],
            coef["seed"],
            window=W,
            layers=coef["layers"],
            finetune=coef["finetune"],
            chunk_size=coef["chunk_size"],
            token_scale=cfg["token_scale"],
        )
        rec.items, rec.items_unit = len(emb) * coef["n_batches"], "batch embeddings"
        rec.extra = {"probe": probe.name, "dim": int(next(iter(emb.values())).shape[1])}
    write_csv(table, smk.output.table)
    write_text(to_latex(table.drop(columns=["n_batches", "batch_size"]), digits=3), smk.output.table_tex)
    with atomic_path(smk.output.embeddings) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **{name.replace("/", "__"): e for name, e in emb.items()})
    log.info("diversity coefficients:\n%s", table.to_string(index=False))


run(main, snakemake)
