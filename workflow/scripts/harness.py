"""lm-eval-harness on every seed's exported proxy of a selection (config key lm.eval.harness)."""

import pandas as pd

from dqreview.runner import job_device, run


def main(smk):
    from dqreview import paths
    from dqreview.io import write_csv
    from dqreview.lm.harness import run_harness

    wc = smk.wildcards
    selection = paths.selection(wc.metric, wc.variant, wc.keep, wc.budget)
    device = job_device(smk)
    rows = []
    for model_dir, seed in zip(smk.input.models, smk.config["seeds"], strict=True):
        scores = run_harness(model_dir, list(smk.params.tasks), device=device)
        rows += [
            {"selection": selection, "seed": int(seed), "task": task, "metric": metric, "value": value}
            for task, metrics in scores.items()
            for metric, value in metrics.items()
        ]
    write_csv(pd.DataFrame(rows, columns=["selection", "seed", "task", "metric", "value"]), smk.output.table)


run(main, snakemake)
