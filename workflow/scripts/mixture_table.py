"""Every mixture selection's requested, effective and achieved byte share per domain."""

from dqreview.runner import run


def main(smk):
    from dqreview.io import read_json, write_csv
    from dqreview.report import mixture

    infos = list(smk.input.infos)
    write_csv(mixture.mixture_selection_table([read_json(p) for p in infos], infos), smk.output.table)


run(main, snakemake)
