"""Score one pool shard with one method variant (embarrassingly parallel over shards)."""

import logging

from dqreview.runner import run

log = logging.getLogger("dqreview.score")


def main(smk):
    from dqreview.cost import measure
    from dqreview.io import read_npz, read_parquet, write_parquet
    from dqreview.metrics import variant_of
    from dqreview.metrics.inputs import check_rows

    metric, variant = smk.wildcards.metric, smk.wildcards.variant
    seed = smk.wildcards.get("seed")  # rule score_shard_seeded: this seed's scores
    method, params = variant_of(smk.config, metric, variant, seed)
    if seed is not None:
        variant = f"{variant}/s{seed}"  # the job's name in the cost record and the log
    docs = read_parquet(smk.input.docs, columns=["id", "text", "domain", "n_bytes"])
    features = None
    feature_input = method.features_for(params)
    if feature_input is not None:  # row i belongs to the shard's document i
        features = feature_input.load(smk.input.features)
        check_rows(features, len(docs), smk.input.features)
    state = read_npz(smk.input.state) if method.fits else None
    with measure("score", f"{metric}/{variant}/shard-{smk.wildcards.shard}", smk.output.cost, "cpu") as rec:
        scores = method.score(docs, features, state, params)
        rec.items, rec.items_unit = len(docs), "documents"
    write_parquet(scores, smk.output.scores)
    log.info("scored %d documents with %s/%s", len(scores), metric, variant)


run(main, snakemake)
