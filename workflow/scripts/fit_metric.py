"""Fit a method's global state once (e.g. k-means prototypes over all pool embeddings)."""

import logging

import numpy as np

from dqreview.runner import run

log = logging.getLogger("dqreview.fit")


def main(smk):
    from dqreview.cost import measure
    from dqreview.io import atomic_path
    from dqreview.metrics import fit_state, variant_of

    metric, variant = smk.wildcards.metric, smk.wildcards.variant
    seed = smk.wildcards.get("seed")  # rule fit_metric_seeded: this seed's state
    method, params = variant_of(smk.config, metric, variant, seed)
    job = f"{metric}/{variant}" + (f"/s{seed}" if seed is not None else "")
    with measure("fit", job, smk.output.cost, "cpu") as rec:
        inputs = {i.name: i.load(smk.input[i.name]) for i in method.fit_inputs_for(params)}
        state = fit_state(method, inputs, params)  # pool rows in id order
        rec.items, rec.items_unit = sum(_rows(v) for v in inputs.values()), "input rows"
    with atomic_path(smk.output.state) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **state)
    log.info(
        "fitted %s on %s: %s",
        job,
        {k: _rows(v) for k, v in inputs.items()},
        {k: getattr(v, "shape", v) for k, v in state.items()},
    )


def _rows(value):
    """Rows of one fit input; for per-shard features, the rows of each shard's first array."""
    if isinstance(value, list):
        return sum(len(next(iter(shard.values()), ())) for shard in value)
    return len(value)


run(main, snakemake)
