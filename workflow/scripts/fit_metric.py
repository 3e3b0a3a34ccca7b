"""Fit a metric's global state once (e.g. k-means prototypes over all pool embeddings)."""

import logging

import numpy as np

from dqreview.runner import run

log = logging.getLogger("dqreview.fit")


def main(smk):
    from dqreview.config import variant_params
    from dqreview.cost import measure
    from dqreview.io import atomic_path
    from dqreview.metrics import fit_state, get_metric

    metric, variant = smk.wildcards.metric, smk.wildcards.variant
    module = get_metric(metric)
    params = variant_params(smk.config, metric, variant)
    with measure("fit", f"{metric}/{variant}", smk.output.cost, "cpu") as rec:
        inputs = {name: _load(name, smk.input[name]) for name in module.FIT_NEEDS}
        state = fit_state(module, inputs, params)  # pool rows in id order
        rec.items, rec.items_unit = sum(_rows(v) for v in inputs.values()), "input rows"
    with atomic_path(smk.output.state) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **state)
    log.info(
        "fitted %s/%s on %s: %s",
        metric,
        variant,
        {k: _rows(v) for k, v in inputs.items()},
        {k: getattr(v, "shape", v) for k, v in state.items()},
    )


def _rows(value):
    """Rows of one fit input; for per-shard features, the rows of each shard's first array."""
    if isinstance(value, list):
        return sum(len(next(iter(shard.values()), ())) for shard in value)
    return len(value)


def _load(name, paths):
    """One fit input; pool arrays are concatenated in shard order, the order of the pool index."""
    from dqreview.io import read_npy, read_npz, read_parquet

    if name == "shard_features":  # one dict of arrays per shard, in shard order
        return [read_npz(path) for path in paths]
    if name in ("pool_embeddings", "pool_t2v"):  # every shard checked: NaN rows name their file
        return np.concatenate([_checked(name, p) for p in paths])
    if name == "pool_ids":
        return read_parquet(paths, columns=["id"])["id"].to_numpy().astype(str)
    if name == "pool_texts":
        return np.concatenate(
            [read_parquet(p, columns=["text"])["text"].to_numpy(dtype=object) for p in paths]
        )
    if name == "target_texts":
        return read_parquet(paths, columns=["text"])["text"].to_numpy(dtype=object)
    if name == "target_losses":
        return read_parquet(paths, columns=["loss"])["loss"].to_numpy(np.float64)
    if name in ("target_embeddings", "target_t2v"):
        return _checked(name, paths)
    return read_npy(paths)


def _checked(name, path):
    from dqreview.embed import check_embeddings, check_task2vec_vectors
    from dqreview.io import read_npy

    X = read_npy(path)
    (check_task2vec_vectors if name.endswith("t2v") else check_embeddings)(X, None, path)
    return X


run(main, snakemake)
