"""Draw one control selection for one seed: a domain-matched control or the target-domain-only random arm."""

import logging

from dqreview.runner import run

log = logging.getLogger("dqreview.select")


def main(smk):
    from dqreview.cost import measure
    from dqreview.io import read_parquet, write_json, write_parquet
    from dqreview.plan import Plan
    from dqreview.select import domain_matched_control, target_domain_selection

    wc = smk.wildcards
    pool = read_parquet(smk.input.index, columns=["id", "n_bytes", "domain"])
    job = f"{wc.metric}/{wc.variant}/{wc.keep}/b{wc.budget}/s{wc.seed}"
    with measure("select", job, smk.output.cost, "cpu") as rec:
        if "source" in smk.input.keys():  # a domain-matched control: its source selection's domain bytes
            selection, info = domain_matched_control(pool, read_parquet(smk.input.source), int(wc.seed))
            info["source"] = smk.input.source
        else:
            domain = Plan(smk.config).target_domain
            selection, info = target_domain_selection(pool, domain, float(wc.budget), int(wc.seed))
        rec.items, rec.items_unit = len(pool), "documents"
    info.update(metric=wc.metric, variant=wc.variant)
    write_parquet(selection[["id", "order", "n_bytes"]], smk.output.ids)
    write_json(info, smk.output.info)
    log.info("%s: %d documents, %.4f of pool bytes", job, len(selection), info["achieved"])


run(main, snakemake)
