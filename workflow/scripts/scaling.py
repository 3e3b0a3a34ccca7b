"""The cost curve: every per-document stage at review.scaling.sizes documents (dqreview.scaling)."""

from dqreview.runner import run


def main(smk):
    from dqreview import paths, scaling
    from dqreview.io import write_csv

    cfg = smk.config
    variants = scaling.variants_from_config(cfg)
    raw = scaling.run_scaling(
        cfg["review"]["scaling"]["sizes"], paths.SCALING_SCRATCH, list(smk.input.shards), smk.input.ref,
        smk.input.encoder, variants, minilm=cfg["embed"], key="review.scaling.sizes", workers=smk.threads,
    )  # fmt: skip
    table = scaling.scaling_table(raw)
    write_csv(table, smk.output.table)
    scaling.plot_scaling(table, smk.output.figure)


run(main, snakemake)
