"""Fit a metric's global state once (e.g. k-means prototypes over all pool embeddings)."""

import logging

import numpy as np

from dqreview.runner import run

log = logging.getLogger("dqreview.fit")


def main(smk):
    from dqreview.config import variant_params
    from dqreview.cost import measure
    from dqreview.io import atomic_path, read_npy
    from dqreview.metrics import get_metric

    metric, variant = smk.wildcards.metric, smk.wildcards.variant
    module = get_metric(metric)
    params = variant_params(smk.config, metric, variant)
    with measure("fit", f"{metric}/{variant}", smk.output.cost, "cpu") as rec:
        emb = np.concatenate([read_npy(p) for p in smk.input.emb])
        state = module.fit(emb, params)
        rec.items, rec.items_unit = len(emb), "documents"
    with atomic_path(smk.output.state) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **state)
    log.info(
        "fitted %s/%s on %d pool embeddings: %s",
        metric,
        variant,
        len(emb),
        {k: getattr(v, "shape", v) for k, v in state.items()},
    )


run(main, snakemake)
