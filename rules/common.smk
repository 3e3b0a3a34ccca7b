# Shared by all rules files: the experiment plan, wildcard constraints and the input functions.
# Included first by the Snakefile; the other rule files use only what is defined here (and
# dqreview.paths), so their include order does not matter (tests/policy/test_policy.py checks that no
# other rule file defines a function).
from dqreview import paths
from dqreview.paths import Job
from dqreview.plan import Plan

PLAN = Plan(config, workflow.basedir)
SEEDS = PLAN.seeds
SHARDS = PLAN.shards
SCRIPTS = "workflow/scripts"
THREADS = config["threads"]
ABLATIONS = PLAN.ablations
MIXTURE_METRICS = PLAN.mixture_metrics


wildcard_constraints:
    source=r"[A-Za-z0-9][A-Za-z0-9_-]*",
    domain=r"[A-Za-z0-9][A-Za-z0-9_-]*",
    shard=r"\d+",
    metric=r"[a-z][a-z0-9_]*",
    variant=r"[A-Za-z0-9][A-Za-z0-9._-]*",
    keep=r"high|low",
    budget=r"\d\.\d\d",
    seed=r"\d+",
    part=paths.PART_PATTERN,
    split=r"ref|test",
    mult=r"\d+(\.\d+)?",
    ablation="|".join(ABLATIONS) or "(?!)",
    format=r"parquet|jsonl",


def per_seed(template):
    # one file per seed, the other wildcards left to the rule
    return paths.expand(template, seed=SEEDS)


def source_spec(wildcards):
    return next(s for s in config["sources"] if s["name"] == wildcards.source)


def encoder_inputs(wildcards=None):
    return PLAN.encoder_inputs()


def fit_inputs(wildcards):
    return PLAN.fit_inputs(wildcards.metric, wildcards.variant)


def score_inputs(wildcards):
    # score_shard_seeded has a seed wildcard and reads that seed's state
    return PLAN.score_inputs(
        wildcards.metric, wildcards.variant, wildcards.shard, wildcards.get("seed")
    )


def select_scores(wildcards):
    return PLAN.scores(wildcards.metric, wildcards.variant, wildcards.seed)


def learn_inputs(wildcards):
    return PLAN.learn_inputs(wildcards.metric, wildcards.variant)


def select_mixture_inputs(wildcards):
    inputs = PLAN.select_inputs(wildcards.metric, wildcards.variant)
    inputs["state"] = PLAN.mixture_state(
        wildcards.metric, wildcards.variant, wildcards.seed
    )
    return inputs


def control_inputs(wildcards):
    return PLAN.control_inputs(wildcards.variant, wildcards.budget, wildcards.seed)


def export_inputs(wildcards):
    return PLAN.export_inputs(
        wildcards.metric,
        wildcards.variant,
        wildcards.keep,
        wildcards.budget,
        wildcards.seed,
    )


def probe_inputs(wildcards=None):
    # the workflow-trained GPT probe and its tokenizer; a pretrained (hf) probe is named in the config
    if not PLAN.probe_trained:
        return {}
    return {
        "probe": paths.PROBE_DIR,
        "tokenizer": paths.TOKENIZER,
    }


def train_overrides(wildcards):
    return {"tokens": PLAN.train_tokens(wildcards.budget)}


def curve_overrides(wildcards):
    return {
        "tokens": int(
            round(PLAN.train_tokens(wildcards.budget) * float(wildcards.mult))
        )
    }


def compute_scaling(wildcards):
    # the scaling benchmark's table, only where review.scaling.sizes draws it
    return PLAN.compute_scaling()


def ablation_runs(wildcards):
    selections = PLAN.ablation_selections(wildcards.ablation)
    return {
        "evals": PLAN.evals(selections),
        "infos": PLAN.selection_infos(selections),
    }
