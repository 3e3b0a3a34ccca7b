"""One ablation figure and table: the configured series across budgets, each paired with random per seed."""

from dqreview.runner import run


def main(smk):
    from dqreview.io import write_csv, write_text
    from dqreview.report.figures import ablation
    from dqreview.report.runs import collect_runs
    from dqreview.report.stats import paired_differences, summarise, versus_random
    from dqreview.report.tables import to_latex

    spec = smk.params.spec
    runs = collect_runs(smk.input.evals, smk.input.infos)
    random = runs[(runs.metric == "random") & (runs.budget < 1.0)]
    parts = []
    for s in spec["series"]:
        keep = s.get("keep", "high")
        sel = runs[(runs.metric == s["metric"]) & (runs.variant == s["variant"]) & (runs.keep == keep)]
        # x = the kept fraction of what the method could choose from (its sub-pool, for pool-size variants)
        pool_fraction = float(smk.params.pool_fractions[f"{s['metric']}/{s['variant']}"])
        parts.append(sel[sel.budget < 1.0].assign(series=s["label"], pool_fraction=pool_fraction))
    import pandas as pd

    series = pd.concat(parts, ignore_index=True)
    series["kept_fraction"] = series["achieved"] / series["pool_fraction"]
    summary = summarise(series, ["series", "budget"], "bpb/target").rename(columns={"mean": "target_bpb"})
    extra = series.groupby(["series", "budget"]).agg(
        kept_fraction=("kept_fraction", "mean"),
        epochs=("epochs", "mean"),
        pool_fraction=("pool_fraction", "first"),
    )
    summary = summary.merge(extra.reset_index(), on=["series", "budget"])
    diffs = paired_differences(series, random, ["series"], "bpb/target")
    table = summary.merge(
        versus_random(diffs),
        on=["series", "budget"],
    )
    order = {s["label"]: i for i, s in enumerate(spec["series"])}
    table = table.sort_values(["series", "budget"], key=lambda c: c.map(order) if c.name == "series" else c)
    write_csv(table, smk.output.table)
    cols = [
        "series",
        "budget",
        "kept_fraction",
        "epochs",
        "target_bpb",
        "ci95",
        "diff_vs_random",
        "diff_ci95",
        "n_seeds",
    ]
    write_text(to_latex(table[cols], digits=3), smk.output.table_tex)
    full = runs[runs.budget >= 1.0]["bpb/target"]
    rand = summarise(random, ["budget"], "bpb/target")
    ablation(table, rand, full, spec, smk.output.figure)


run(main, snakemake)
