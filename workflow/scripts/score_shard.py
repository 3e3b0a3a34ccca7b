"""Score one pool shard with one metric variant (embarrassingly parallel over shards)."""

import logging

from dqreview.runner import run

log = logging.getLogger("dqreview.score")


def main(smk):
    from dqreview.config import variant_params
    from dqreview.cost import measure
    from dqreview.embed import check_embeddings, check_task2vec_vectors
    from dqreview.io import read_npy, read_npz, read_parquet, write_parquet
    from dqreview.metrics import get_metric

    metric, variant = smk.wildcards.metric, smk.wildcards.variant
    module = get_metric(metric)
    params = variant_params(smk.config, metric, variant)
    docs = read_parquet(smk.input.docs, columns=["id", "text", "domain", "n_bytes"])
    emb = None
    if "emb" in smk.input.keys():
        emb = read_npy(smk.input.emb)
        check_embeddings(emb, len(docs), smk.input.emb)
    if "t2v" in smk.input.keys():  # per-document Task2Vec vectors reach score() as its embeddings
        emb = read_npy(smk.input.t2v)
        check_task2vec_vectors(emb, len(docs), smk.input.t2v)
    state = None
    if "state" in smk.input.keys():
        state = read_npz(smk.input.state)
    with measure("score", f"{metric}/{variant}/shard-{smk.wildcards.shard}", smk.output.cost, "cpu") as rec:
        scores = module.score(docs, emb, state, params)
        rec.items, rec.items_unit = len(docs), "documents"
    write_parquet(scores, smk.output.scores)
    log.info("scored %d documents with %s/%s", len(scores), metric, variant)


run(main, snakemake)
