"""Every file the workflow writes under ``results/``: one home for the path templates.

Rules, scripts, cost accounting and the reports build paths only from here (``tests/policy/test_policy.py``
fails on a ``results/`` literal anywhere else). Templates use Snakemake's wildcard syntax
(``{metric}``); :func:`fill` formats some wildcards and leaves the others for Snakemake.

A *job key* names one job (``score/{metric}/{variant}/shard-{shard}``); its log, benchmark and cost
record are ``results/{logs,benchmarks,cost}/<key>.{log,tsv,json}`` (:func:`log`, :func:`benchmark`,
:func:`cost`). A *selection* is ``{metric}/{variant}/{keep}/b{budget}`` (:data:`SELECTION`,
:func:`selection`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import PurePosixPath

RESULTS = "results"

# --- data ---------------------------------------------------------------------------------
DOWNLOAD = "results/download/{source}.parquet"
DOWNLOAD_STATS = "results/download/{source}.json"
#: A document split: ``pool/shard-{i}``, ``target/ref``, ``target/test``.
DOCS = "results/data/{part}.parquet"
POOL_SHARD = "results/data/pool/shard-{shard}.parquet"
POOL_INDEX = "results/data/pool/index.parquet"
TARGET = "results/data/target/{split}.parquet"
HELDOUT = "results/data/heldout/{domain}.parquet"
PREPARE_STATS = "results/data/prepare.json"
#: The parts (document splits) that get embeddings and Task2Vec vectors.
PART_PATTERN = r"pool/shard-\d+|target/ref|target/test"

# --- embeddings, probe, Task2Vec --------------------------------------------------------------
EMBED = "results/embed/{part}.npy"
#: The static encoder (model2vec) distilled from ``embed.static.from`` by rule ``distill_static``: a model
#: directory; ``embed.model: static`` names it, and the static arm's embeddings come from it.
STATIC_MODEL = "results/static-model"
#: Embeddings of the static encoder (the encoder arm of the review: a method's ``space: static``).
EMBED_STATIC = "results/embed-static/{part}.npy"
TOKENIZER = "results/lm/tokenizer.json"
#: The Task2Vec probe: a Hugging Face ``GPT2LMHeadModel`` directory with its tokenizer (dqreview.lm.hf).
PROBE_DIR = "results/probe/hf"
T2V = "results/t2v/{part}.npy"
T2V_INFO = "results/t2v/{part}.parquet"
T2V_DIVERSITY_BATCHES = "results/t2v/diversity_batches.npz"

# --- metrics and selection --------------------------------------------------------------------
FEATURES = "results/features/{metric}/{variant}/shard-{shard}.npz"
STATE = "results/prototypes/{metric}/{variant}.npz"
SHARD_SCORES = "results/scores/{metric}/{variant}/shard-{shard}.parquet"
SCORES = "results/scores/{metric}/{variant}.parquet"
#: A variant whose scoring follows the run seed (``seed: run``) has a state and scores per grid seed.
STATE_SEEDED = "results/prototypes/{metric}/{variant}/s{seed}.npz"
SHARD_SCORES_SEEDED = "results/scores/{metric}/{variant}/s{seed}/shard-{shard}.parquet"
SCORES_SEEDED = "results/scores/{metric}/{variant}/s{seed}.parquet"
MIXTURE_STATE = "results/mixture/{metric}/{variant}/s{seed}.json"
SELECTION = "{metric}/{variant}/{keep}/b{budget}"
SELECT_IDS = f"results/select/{SELECTION}/s{{seed}}.parquet"
SELECT_INFO = f"results/select/{SELECTION}/s{{seed}}.json"
SELECT_ROOT = "results/select"
#: A selection's documents (id, order, text, domain, score, round); ``{format}``: parquet or jsonl.
EXPORT = f"results/export/{SELECTION}/s{{seed}}.{{format}}"

# --- training and evaluation ------------------------------------------------------------------
EVAL = f"results/eval/{SELECTION}/s{{seed}}.json"
TRAIN_LOG = f"results/train/{SELECTION}/s{{seed}}.json"
#: A final proxy as a Hugging Face ``GPT2LMHeadModel`` directory (``lm.train.keep_model``).
MODEL = f"results/models/{SELECTION}/s{{seed}}"
#: lm-eval-harness scores of a selection's proxies (``lm.eval.harness``), one row per seed, task and metric.
HARNESS = f"results/harness/{SELECTION}.csv"
CURVE_EVAL = f"results/curves/x{{mult}}/{SELECTION}/s{{seed}}.json"
CURVE_TRAIN_LOG = f"results/train_curve/x{{mult}}/{SELECTION}/s{{seed}}.json"
#: Resumable training state: outside declared outputs, which Snakemake deletes before a rerun.
CKPT_TRAIN = f"results/.ckpt/train/{SELECTION}"
CKPT_CURVE = f"results/.ckpt/train_curve/x{{mult}}/{SELECTION}"
CKPT_PROBE = "results/.ckpt/probe"
GPU_LOCKS = "results/.gpu-locks"

# --- reports ------------------------------------------------------------------------------
TABLE = "results/tables/{name}.csv"
TABLE_TEX = "results/tables/{name}.tex"
FIGURE = "results/figs/{name}.pdf"
MANIFEST = "results/manifest.json"
#: The cost curve of every per-document stage at review.scaling.sizes (rule scaling, dqreview.scaling).
SCALING_TABLE = "results/tables/scaling.csv"
SCALING_FIGURE = "results/figs/scaling.pdf"
#: The scaling rule's scratch pools (deleted when it finishes).
SCALING_SCRATCH = "results/.scaling"
PAPER_MACROS = "results/paper/macros.tex"
#: the last run's Snakemake-process CPU (written by the Snakefile's onsuccess/onerror, dqreview.overhead)
WORKFLOW_OVERHEAD = "results/logs/workflow_overhead.json"
#: per-rule job start-up and the Snakemake process's CPU share, rebuilt at the end of every run
OVERHEAD_TABLE = "results/tables/overhead.csv"
BENCHMARK_ROOT = "results/benchmarks"
LOG_ROOT = "results/logs"
PAPER_SOURCES = "results/paper/sources.tex"
PAPER_PDF = "results/paper/main.pdf"

#: The fixed figures (``results/figs/<name>.pdf``) and what draws each. A mixture method names its own
#: figure (``MixtureLearner.figure``); ablation figures take their names from the config and may reuse
#: neither.
FIGURES = {
    "comparison": "every method at every budget (rule comparison)",
    "cost": "the compute verdict per method (rule compute_table)",
    "learning_curves": "learning curves and random's compute curve (rule compute_table)",
    "composition": "what each selection contains (rule composition)",
    "metrics": "data metrics of each selection vs its bits per byte (rule metrics_vs_bpb)",
    "theory": "Sorscher et al.'s teacher-student theory (rule theory)",
    "diversity": "Task2Vec coefficients (rule diversity_figure)",
}
#: The tables the paper includes (it includes every figure: ``Plan.paper_figures``).
PAPER_TABLES = ("data", "comparison", "compute", "diversity", "contrasts", "metrics")


def fill(template: str, **wildcards) -> str:
    """``template`` with the given wildcards formatted; other ``{wildcards}`` are left as they are."""
    return re.sub(
        r"\{(\w+)\}",
        lambda m: str(wildcards[m.group(1)]) if m.group(1) in wildcards else m.group(0),
        template,
    )


def expand(template: str, **values: Iterable) -> list[str]:
    """``template`` filled with every combination of ``values`` (in the given order), others kept."""
    out = [template]
    for name, options in values.items():
        out = [fill(t, **{name: v}) for t in out for v in options]
    return out


def figure(name: str) -> str:
    return fill(FIGURE, name=name)


def table(name: str, tex: bool = False) -> str:
    return fill(TABLE_TEX if tex else TABLE, name=name)


def selection(metric: str, variant: str, keep: str, budget: str) -> str:
    """The selection key ``metric/variant/keep/bBUDGET`` (``budget`` formatted like ``0.10``)."""
    return fill(SELECTION, metric=metric, variant=variant, keep=keep, budget=budget)


def under_select(path: str) -> str:
    """``results/select/<selection>/s<seed>.<ext>`` → ``<selection>/s<seed>`` (how tables name a run)."""
    return str(PurePosixPath(path).relative_to(SELECT_ROOT).with_suffix(""))


def parse_selection(key: str) -> dict[str, str]:
    """``metric/variant/keep/bBUDGET[/sSEED]`` → its parts (``seed`` only when present)."""
    parts = key.split("/")
    if len(parts) not in (4, 5) or not parts[3].startswith("b"):
        raise ValueError(f"{key!r} is not a selection key metric/variant/keep/bBUDGET[/sSEED]")
    out = dict(zip(("metric", "variant", "keep"), parts[:3], strict=True), budget=parts[3][1:])
    if len(parts) == 5:
        out["seed"] = parts[4].removeprefix("s")
    return out


# --- controls: random draws keyed like selections (``review.controls``) -----------------------------
#: The pseudo-metric of every control selection; no method may take this name (the config check refuses it).
CONTROL_METRIC = "control"
#: A domain-matched control's variant is ``matched.<metric>.<variant>.<keep>`` of its source selection: a
#: metric name has no dot and keep is ``high`` or ``low``, so the source is read back unambiguously.
MATCHED_PREFIX = "matched"
#: The target-domain-only random arm's variant: random documents of the target's own pool domain.
TARGET_DOMAIN_VARIANT = "target-domain"


def matched_variant(metric: str, variant: str, keep: str) -> str:
    """The variant slug of the domain-matched control of ``metric/variant/keep`` (at the same budget)."""
    return f"{MATCHED_PREFIX}.{metric}.{variant}.{keep}"


def matched_source(variant: str) -> tuple[str, str, str] | None:
    """``matched.<metric>.<variant>.<keep>`` → ``(metric, variant, keep)``; None for any other slug."""
    head, _, rest = variant.partition(".")
    metric, _, tail = rest.partition(".")
    source, _, keep = tail.rpartition(".")
    if head != MATCHED_PREFIX or not metric or not source or keep not in ("high", "low"):
        return None
    return metric, source, keep


# --- job keys: one log, benchmark and cost record per job ---------------------------------------
class Job:
    """Job keys of the workflow's rules (templates)."""

    DOWNLOAD = "download/{source}"
    PREPARE = "prepare"
    EMBED = "embed/{part}"
    DISTILL_STATIC = "distill_static"
    EMBED_STATIC = "embed_static/{part}"
    TOKENIZER = "tokenizer"
    PROBE = "probe/train"
    T2V = "t2v/{part}"
    T2V_DIVERSITY = "t2v/diversity_table"
    #: the second label seed's vectors of a pool sample and target ref, and the reliability table
    T2V_RELIABILITY = "t2v/reliability"
    FEATURES = "features/{metric}/{variant}/shard-{shard}"
    FIT = "fit/{metric}/{variant}"
    SCORE = "score/{metric}/{variant}/shard-{shard}"
    MERGE_SCORES = "merge_scores/{metric}/{variant}"
    FIT_SEEDED = "fit/{metric}/{variant}/s{seed}"
    SCORE_SEEDED = "score/{metric}/{variant}/s{seed}/shard-{shard}"
    MERGE_SCORES_SEEDED = "merge_scores/{metric}/{variant}/s{seed}"
    MIXTURE = "mixture/{metric}/{variant}"
    SELECT = f"select/{SELECTION}/s{{seed}}"
    EXPORT = f"export/{SELECTION}/s{{seed}}-{{format}}"
    TRAIN = f"train/{SELECTION}"
    TRAIN_CURVE = f"train_curve/x{{mult}}/{SELECTION}"
    HARNESS = f"harness/{SELECTION}"
    MANIFEST = "manifest"

    @staticmethod
    def report(name: str) -> str:
        return f"report/{name}"


def log(job: str) -> str:
    return f"{RESULTS}/logs/{job}.log"


def benchmark(job: str) -> str:
    return f"{RESULTS}/benchmarks/{job}.tsv"


def cost(job: str) -> str:
    return f"{RESULTS}/cost/{job}.json"
