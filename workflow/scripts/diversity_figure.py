"""diversity.pdf: the Task2Vec diversity and alignment coefficient table as a figure."""

from dqreview.runner import run


def main(smk):
    import pandas as pd

    from dqreview.report.figures import diversity

    diversity(pd.read_csv(smk.input.table), smk.output.figure)


run(main, snakemake)
