"""Select documents in score order up to a byte budget, for one seed."""

import logging

from dqreview.runner import run

log = logging.getLogger("dqreview.select")


def select_mixture(smk):
    """A mixture method (DoReMi, Skill-It): sample per domain from the mixture learned for this seed."""
    from dqreview.config import variant_params
    from dqreview.cost import measure
    from dqreview.io import read_json, read_parquet, write_json, write_parquet
    from dqreview.metrics import get_metric

    wc = smk.wildcards
    pool = read_parquet(smk.input.index, columns=["id", "n_bytes", "domain"])
    if "skills" in smk.input.keys():  # Skill-It over k-means clusters: the clusters are the slices
        from dqreview.metrics.skillit import skill_labels

        clusters = read_parquet(smk.input.skills, columns=["id", "cluster"])
        pool = pool.assign(domain=skill_labels(pool["id"], clusters, smk.input.skills))
    state = read_json(smk.input.state)
    params = variant_params(smk.config, wc.metric, wc.variant)
    job = f"{wc.metric}/{wc.variant}/{wc.keep}/b{wc.budget}/s{wc.seed}"
    with measure("select", job, smk.output.cost, "cpu") as rec:
        selection, info = get_metric(wc.metric).select_budget(
            pool, state, float(wc.budget), int(wc.seed), params
        )
        rec.items, rec.items_unit = len(pool), "documents"
    info.update(metric=wc.metric, variant=wc.variant, state=str(smk.input.state))
    write_parquet(selection, smk.output.ids)
    write_json(info, smk.output.info)
    log.info(
        "%s: %d documents, %.4f of pool bytes (requested %s); byte mixture requested %s, achieved %s",
        job,
        len(selection),
        info["achieved"],
        wc.budget,
        {d: round(w, 4) for d, w in info["mixture_effective"].items()},
        {d: round(w, 4) for d, w in info["mixture_achieved"].items()},
    )


def main(smk):
    from dqreview.config import variant_params
    from dqreview.cost import measure
    from dqreview.io import read_parquet, write_json, write_parquet
    from dqreview.metrics import get_metric
    from dqreview.select import select_budget, supply_fraction

    wc = smk.wildcards
    if hasattr(get_metric(wc.metric), "select_budget"):  # mixtures, see select_mixture
        return select_mixture(smk)
    pool = read_parquet(smk.input.index, columns=["id", "n_bytes"])
    scores = read_parquet(smk.input.scores)  # id, score, plus `removed` for dedup and sub-pool variants
    job = f"{wc.metric}/{wc.variant}/{wc.keep}/b{wc.budget}/s{wc.seed}"
    module = get_metric(wc.metric)
    with measure("select", job, smk.output.cost, "cpu") as rec:
        if hasattr(module, "selection_score"):  # e.g. DSIR's Gumbel noise keyed by hash(id, seed)
            params = variant_params(smk.config, wc.metric, wc.variant)
            scores = scores.assign(score=module.selection_score(scores, int(wc.seed), params, wc.keep))
        # a method supplies at most what it did not remove: a larger budget is capped and reported
        selection, info = select_budget(
            pool, scores[[c for c in ("id", "score", "removed") if c in scores.columns]],
            float(wc.budget), wc.keep, int(wc.seed), max_fraction=supply_fraction(pool, scores),
        )  # fmt: skip
        rec.items, rec.items_unit = len(pool), "documents"
    info.update(metric=wc.metric, variant=wc.variant)
    write_parquet(selection, smk.output.ids)
    write_json(info, smk.output.info)
    log.info(
        "%s: %d documents, %.4f of pool bytes (requested %s)",
        job,
        len(selection),
        info["achieved"],
        wc.budget,
    )


run(main, snakemake)
