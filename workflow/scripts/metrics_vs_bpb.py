"""metrics.pdf: each data metric of a selection against its target bits per byte, across all selections."""

from dqreview.runner import run

#: The papers' reported correlations, set beside ours as a comparison (not a pass/fail).
CLAIMS = {
    "vendi_q1": "no claim about LM loss (Friedman & Dieng 2023)",
    "kl_reduction": "DSIR: r = 0.89, KL reduction vs downstream accuracy (Xie et al. 2023)",
    "t2v_diversity": "diversity vs validation loss R² ≈ 0.8 (Miranda et al. 2023)",
    "t2v_alignment": "alignment vs target perplexity r² 0.80–0.96 (Chawla et al. 2025)",
}


def main(smk):
    import pandas as pd

    from dqreview import paths
    from dqreview.io import write_csv, write_text
    from dqreview.report.figures import metrics_vs_bpb
    from dqreview.report.stats import pearson_with_ci
    from dqreview.report.tables import to_latex

    runs = pd.read_csv(smk.input.runs)
    runs["selection"] = [
        f"{paths.selection(m, v, k, f'{b:.2f}')}/s{s}"
        for m, v, k, b, s in zip(runs.metric, runs.variant, runs.keep, runs.budget, runs.seed, strict=True)
    ]
    data = runs[runs.budget < 1.0][["selection", "method", "bpb/target"]]
    vendi = pd.read_csv(smk.input.vendi)
    vendi = vendi[vendi.kind == "selection"].rename(columns={"set": "selection"})[["selection", "vendi_q1"]]
    kl = pd.read_csv(smk.input.kl)[["selection", "kl_reduction"]]
    data = data.merge(vendi, on="selection", how="left").merge(kl, on="selection", how="left")
    for path in smk.input.get("extra", []):  # further per-selection metric tables (e.g. Task2Vec)
        extra = pd.read_csv(path)
        data = data.merge(
            extra[["selection", *[c for c in extra.columns if c in CLAIMS]]], on="selection", how="left"
        )
    metrics = [c for c in CLAIMS if c in data.columns]
    rows = [
        {"metric": m, **pearson_with_ci(data[m], data["bpb/target"]), "claim": CLAIMS[m]} for m in metrics
    ]
    table = pd.DataFrame(rows)
    write_csv(table, smk.output.table)
    write_csv(data, smk.output.points)
    write_text(to_latex(table[["metric", "n", "r", "r_lo", "r_hi", "r2"]], digits=3), smk.output.table_tex)
    metrics_vs_bpb(data, table, smk.output.figure)


run(main, snakemake)
