# dq-review: rebuild a review of data-quality metrics from raw text.
#   snakemake --cores 2 all                      (embedded default, config.yaml)
#   snakemake --configfile configs/tiny.yaml ... (tests / CI)
import os
import shutil
import sys

from snakemake.utils import min_version

min_version("9.0")


configfile: "config.yaml"


report: "report/workflow.rst"


# The library, importable here and in every job's script even when it is not pip-installed
# (e.g. inside --sdm conda environments). PYTHONPATH is extended, not required, so it is not
# asserted with `envvars:` (which would make it mandatory); update() keeps `snakemake --lint` quiet.
SRC = str(Path(workflow.basedir) / "src")
sys.path.insert(0, SRC)
os.environ.update(
    PYTHONPATH=os.pathsep.join(filter(None, [SRC, os.environ.get("PYTHONPATH")]))
)
from dqreview.config import (
    drop_incomplete_ablations,
    load_schema,
    selection_grid,
    validate_config,
)
from dqreview.errors import DQError

try:
    validate_config(
        config,
        load_schema(Path(workflow.basedir) / "workflow/schemas/config.schema.yaml"),
    )
except DQError as exc:
    sys.exit(f"Configuration error: {exc}")
for message in drop_incomplete_ablations(config):
    print(f"note: {message}", file=sys.stderr)


# paper: auto builds the paper PDF when latexmk is installed and otherwise leaves it out of
# `all` with one message; on requires it; off never builds it.
PAPER = {True: "on", False: "off"}.get(config["paper"], config["paper"])
if PAPER == "auto":
    PAPER = "on" if shutil.which("latexmk") else "off"
    if PAPER == "off":
        print(
            "paper: auto - latexmk not found, so the paper PDF is left out of `all`. Install TeX "
            "(Debian/Ubuntu: apt-get install latexmk texlive-latex-base texlive-latex-recommended; "
            "`make run` does it where it may) or set `paper: on` to make this an error.",
            file=sys.stderr,
        )
elif PAPER == "on" and not shutil.which("latexmk"):
    sys.exit(
        "Configuration error: paper: on, but latexmk is not installed. Install TeX (Debian/Ubuntu: "
        "apt-get install latexmk texlive-latex-base texlive-latex-recommended) or set paper: auto/off."
    )


# common.smk first: the plan, wildcard constraints and input functions every other file uses.
include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/embed.smk"
include: "rules/score.smk"
include: "rules/select.smk"
include: "rules/export.smk"
include: "rules/lm.smk"
include: "rules/mixture.smk"
include: "rules/task2vec.smk"
include: "rules/report.smk"


rule all:
    default_target: True
    input:
        PLAN.targets(paper=PAPER == "on"),


# Every run ends with its own overhead: the Snakemake process's CPU against its jobs', and the jobs'
# start-up against their seconds (dqreview.overhead; docs/outputs.md, "Workflow overhead").
onsuccess:
    from dqreview.overhead import at_end

    print(at_end(), file=sys.stderr)


onerror:
    from dqreview.overhead import at_end

    print(at_end(), file=sys.stderr)
