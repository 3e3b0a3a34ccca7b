"""Mixture methods' report: DoReMi weights figure, Skill-It schedule figure, requested vs achieved table."""

from dqreview.runner import run


def main(smk):
    from dqreview.io import read_json, write_csv
    from dqreview.report import mixture

    if smk.rule == "doremi_figure":
        mixture.doremi_weights_figure([read_json(p) for p in smk.input.weights], smk.output.figure)
    elif smk.rule == "skillit_figure":
        mixture.skillit_schedule_figure([read_json(p) for p in smk.input.schedules], smk.output.figure)
    else:
        table = mixture.mixture_selection_table(
            [read_json(p) for p in smk.input.infos], list(smk.input.infos)
        )
        write_csv(table, smk.output.table)


run(main, snakemake)
