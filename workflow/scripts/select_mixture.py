"""Sample one seed's selection of a mixture method from the mixture (or schedule) it learned."""

import logging

from dqreview.runner import run

log = logging.getLogger("dqreview.select")


def main(smk):
    from dqreview.cost import measure
    from dqreview.io import read_json, read_parquet, write_json, write_parquet
    from dqreview.metrics import params_of, variant_of

    wc = smk.wildcards
    method, params = variant_of(smk.config, wc.metric, wc.variant)
    pool = read_parquet(smk.input.index, columns=["id", "n_bytes", "domain"])
    # the inputs of the variant whose learned state this one samples (Skill-It's static control)
    source = params_of(smk.config, wc.metric, method.state_variant(wc.variant, params))
    inputs = {i.name: i.load(smk.input[i.name]) for i in method.select_inputs(source)}
    state = read_json(smk.input.state)
    job = f"{wc.metric}/{wc.variant}/{wc.keep}/b{wc.budget}/s{wc.seed}"
    with measure("select", job, smk.output.cost, "cpu") as rec:
        selection, info = method.select_budget(pool, state, float(wc.budget), int(wc.seed), params, inputs)
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


run(main, snakemake)
