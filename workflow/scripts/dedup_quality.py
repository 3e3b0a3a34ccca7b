"""Recall/precision of every deduplicating metric variant against planted ∪ Jaccard ≥ T pairs."""

import pandas as pd

from dqreview.runner import run


def main(smk):
    from dqreview.io import read_parquet, write_csv, write_text
    from dqreview.metrics import variant_of
    from dqreview.report.dedup_quality import DEFAULT_NGRAM, DEFAULT_THRESHOLD, dedup_quality, similar_pairs
    from dqreview.report.tables import to_latex

    index = read_parquet(smk.input.index, columns=["id", "domain", "planted"])
    pool = pd.concat([read_parquet(p, columns=["id", "text"]) for p in smk.input.shards], ignore_index=True)
    similar = {}  # (T, n) → pairs, computed once per distinct setting
    rows, domains = [], []
    for (metric, variant), path in zip(smk.params.variants, smk.input.scores, strict=True):
        method, params = variant_of(smk.config, metric, variant)
        # a method with its own similarity notion (MinHash) is judged at its threshold, on its shingles
        threshold, ngram = method.judged_at(params) or (DEFAULT_THRESHOLD, DEFAULT_NGRAM)
        if (threshold, ngram) not in similar:
            similar[threshold, ngram] = similar_pairs(pool["id"], pool["text"].tolist(), threshold, ngram)
        scores = read_parquet(path, columns=["id", "removed"])
        removed = scores.loc[scores["removed"].astype(bool), "id"]
        summary, by_domain = dedup_quality(index, removed, similar[threshold, ngram])
        rows.append({"metric": metric, "variant": variant, "truth_threshold": threshold, **summary})
        domains.append(by_domain.assign(metric=metric, variant=variant))
    table = pd.DataFrame(rows)
    write_csv(table, smk.output.table)
    write_csv((pd.concat(domains, ignore_index=True) if domains else pd.DataFrame()), smk.output.by_domain)
    write_text(to_latex(table, digits=3), smk.output.table_tex)


run(main, snakemake)
