"""A mixture method's figure from every learned state (e.g. DoReMi's weights, Skill-It's schedule)."""

from dqreview.runner import run


def main(smk):
    from dqreview.io import read_json
    from dqreview.metrics import method_of

    method_of(smk.config, smk.params.metric).draw([read_json(p) for p in smk.input.states], smk.output.figure)


run(main, snakemake)
