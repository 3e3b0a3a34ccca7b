"""Distil the configured sentence encoder into a static (model2vec) model directory."""

from dqreview.runner import run


def main(smk):
    from dqreview.cost import measure
    from dqreview.distill import distill_static

    static = smk.config["embed"]["static"]
    with measure("embed", "distill_static", smk.output.cost) as rec:
        info = distill_static(static["from"], smk.output.model, pca_dims=static["pca_dims"])
        rec.items, rec.items_unit = info["vocab"], "tokens"
        rec.extra = {**info, "from": static["from"], "pca_dims": static["pca_dims"]}


run(main, snakemake)
