"""Recall/precision of every deduplicating metric variant on the planted and natural duplicates."""

from pathlib import Path

import pandas as pd

from dqreview.runner import run


def main(smk):
    from dqreview.io import atomic_path, read_parquet, write_text
    from dqreview.report.dedup_quality import dedup_quality
    from dqreview.report.tables import to_latex

    index = read_parquet(smk.input.index, columns=["id", "domain", "planted", "text_hash"])
    rows, domains = [], []
    for path in smk.input.scores:
        metric, variant = Path(path).parent.name, Path(path).stem
        scores = read_parquet(path, columns=["id", "removed"])
        summary, by_domain = dedup_quality(index, scores.loc[scores["removed"].astype(bool), "id"])
        rows.append({"metric": metric, "variant": variant, **summary})
        domains.append(by_domain.assign(metric=metric, variant=variant))
    table = pd.DataFrame(rows)
    with atomic_path(smk.output.table) as tmp:
        table.to_csv(tmp, index=False)
    with atomic_path(smk.output.by_domain) as tmp:
        (pd.concat(domains, ignore_index=True) if domains else pd.DataFrame()).to_csv(tmp, index=False)
    write_text(to_latex(table, digits=3), smk.output.table_tex)


run(main, snakemake)
