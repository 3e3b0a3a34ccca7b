# dq-review: rebuild a review of data-quality metrics from raw text.
#   snakemake --cores 2 all                      (embedded default, config.yaml)
#   snakemake --configfile configs/tiny.yaml ... (tests / CI)
import os
import sys

from snakemake.utils import min_version

min_version("9.0")


configfile: "config.yaml"


# The library, importable here and in every job's script even when it is not pip-installed
# (e.g. inside --sdm conda environments). Lint note: PYTHONPATH is extended, not required, so
# the linter's "assert it with envvars" advice does not apply.
SRC = str(Path(workflow.basedir) / "src")
sys.path.insert(0, SRC)
os.environ["PYTHONPATH"] = os.pathsep.join(
    filter(None, [SRC, os.environ.get("PYTHONPATH")])
)
from dqreview.config import validate_config, load_schema, selection_grid
from dqreview.errors import DQError

try:
    validate_config(
        config,
        load_schema(Path(workflow.basedir) / "workflow/schemas/config.schema.yaml"),
    )
except DQError as exc:
    sys.exit(f"Configuration error: {exc}")


include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/embed.smk"
include: "rules/score.smk"
include: "rules/select.smk"
include: "rules/lm.smk"
include: "rules/task2vec.smk"
include: "rules/report.smk"


rule all:
    default_target: True
    input:
        figure="results/figs/bpb_vs_budget.pdf",
        table="results/tables/bpb_vs_budget.csv",
        data_table="results/tables/data.csv",
        target_embeddings=expand(
            "results/embed/target/{split}.npy", split=["ref", "test"]
        ),
        costs="results/tables/cost.csv",
        vendi="results/tables/vendi.csv",
        dedup="results/tables/dedup_quality.csv",
        kl="results/tables/kl_reduction.csv",
        theory="results/figs/theory.pdf",
        manifest="results/manifest.json",
        diversity="results/tables/diversity.csv",
        t2v_selections="results/tables/t2v_selections.csv",
