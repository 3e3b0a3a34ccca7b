"""metrics.pdf: each data metric against target bits per byte, per budget, one point per selection
(seed-averaged), bootstrap over selections, and the partial correlation given the target-domain share."""

from dqreview.runner import run

#: The papers' reported correlations, set beside ours as a comparison (not a pass/fail).
CLAIMS = {
    "vendi_q1": "no claim about LM loss (Friedman & Dieng 2023)",
    "vendi_q1_eq": "Vendi at equal set size (random subsets of the budget's smallest selection)",
    "kl_reduction": "DSIR: r = 0.89, KL reduction vs downstream accuracy (Xie et al. 2023)",
    "t2v_diversity": "diversity vs validation loss R² ≈ 0.8 (Miranda et al. 2023)",
    "t2v_alignment": "alignment vs target perplexity r² 0.80–0.96 (Chawla et al. 2025)",
}


def main(smk):
    import pandas as pd

    from dqreview import paths
    from dqreview.io import write_csv, write_text
    from dqreview.report.figures import metrics_vs_bpb
    from dqreview.report.metric_correlations import correlation_table, selection_points, target_share
    from dqreview.report.tables import to_latex

    runs = pd.read_csv(smk.input.runs)
    runs["selection"] = [
        f"{paths.selection(m, v, k, f'{b:.2f}')}/s{s}"
        for m, v, k, b, s in zip(runs.metric, runs.variant, runs.keep, runs.budget, runs.seed, strict=True)
    ]
    # the whole pool is one selection per seed at its own budget: nothing to correlate across
    data = runs[runs.budget < 1.0][["selection", "method", "budget", "seed", "bpb/target"]]
    vendi = pd.read_csv(smk.input.vendi)
    vendi = vendi[vendi.kind == "selection"].rename(columns={"set": "selection"})
    vendi = vendi[["selection", *[c for c in ("vendi_q1", "vendi_q1_eq") if c in vendi.columns]]]
    kl = pd.read_csv(smk.input.kl)[["selection", "kl_reduction"]]
    data = data.merge(vendi, on="selection", how="left").merge(kl, on="selection", how="left")
    for path in smk.input.get("extra", []):  # further per-selection metric tables (e.g. Task2Vec)
        extra = pd.read_csv(path)
        data = data.merge(
            extra[["selection", *[c for c in extra.columns if c in CLAIMS]]], on="selection", how="left"
        )
    metrics = [c for c in CLAIMS if c in data.columns]
    # the target's own pool domain (none when the target's source feeds no pool domain: no partial r)
    cfg = smk.config
    domain = next((d["name"] for d in cfg["domains"] if cfg["target"]["source"] in d["sources"]), None)
    share = target_share(pd.read_csv(smk.input.composition), domain) if domain else None
    points = selection_points(data, metrics, share)
    table = correlation_table(points, {m: CLAIMS[m] for m in metrics})
    write_csv(table, smk.output.table)
    write_csv(points, smk.output.points)
    cols = ["budget", "metric", "n", "r", "r_lo", "r_hi", "partial_r", "partial_lo", "partial_hi"]
    write_text(to_latex(table[cols], digits=2), smk.output.table_tex)
    metrics_vs_bpb(points, table, smk.output.figure)


run(main, snakemake)
