"""Select documents in score order up to a byte budget, for one seed."""

import logging

from dqreview.runner import run

log = logging.getLogger("dqreview.select")


def main(smk):
    from dqreview.cost import measure
    from dqreview.io import read_parquet, write_json, write_parquet
    from dqreview.metrics import variant_of
    from dqreview.select import select_budget, supply_fraction

    wc = smk.wildcards
    method, params = variant_of(smk.config, wc.metric, wc.variant, wc.seed)
    pool = read_parquet(smk.input.index, columns=["id", "n_bytes"])
    scores = read_parquet(smk.input.scores)  # id, score, plus `removed` for dedup and sub-pool variants
    job = f"{wc.metric}/{wc.variant}/{wc.keep}/b{wc.budget}/s{wc.seed}"
    with measure("select", job, smk.output.cost, "cpu") as rec:
        # the per-seed ordering key (e.g. DSIR's Gumbel noise keyed by hash(id, seed))
        scores = scores.assign(score=method.selection_score(scores, int(wc.seed), params, wc.keep))
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
