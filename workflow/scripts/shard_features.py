"""Per-shard features of one method variant (e.g. MinHash signatures), merged later by fit_metric."""

import logging

import numpy as np

from dqreview.runner import run

log = logging.getLogger("dqreview.features")


def main(smk):
    from dqreview.cost import measure
    from dqreview.io import atomic_path, read_parquet
    from dqreview.metrics import variant_of

    metric, variant = smk.wildcards.metric, smk.wildcards.variant
    method, params = variant_of(smk.config, metric, variant)
    docs = read_parquet(smk.input.docs, columns=["id", "text", "domain", "n_bytes"])
    job = f"{metric}/{variant}/shard-{smk.wildcards.shard}"
    with measure("features", job, smk.output.cost, "cpu") as rec:
        features = method.shard_features(docs, params)
        rec.items, rec.items_unit = len(docs), "documents"
    with atomic_path(smk.output.features) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **features)
    log.info("features of %s: %s", job, {k: v.shape for k, v in features.items()})


run(main, snakemake)
