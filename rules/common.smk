# Path helpers and wildcard constraints shared by every rule.
from dqreview.config import budget_slug

SEEDS = config["seeds"]
SHARDS = list(range(config["prepare"]["shards"]))
SOURCES = [s["name"] for s in config["sources"]]
DOMAINS = [d["name"] for d in config["domains"]]
SELECTIONS = selection_grid(config)
SCRIPTS = "workflow/scripts"
THREADS = config["threads"]


wildcard_constraints:
    source=r"[A-Za-z0-9][A-Za-z0-9_-]*",
    domain=r"[A-Za-z0-9][A-Za-z0-9_-]*",
    shard=r"\d+",
    metric=r"[a-z][a-z0-9_]*",
    variant=r"[A-Za-z0-9][A-Za-z0-9._-]*",
    keep=r"high|low",
    budget=r"\d\.\d\d",
    seed=r"\d+",
    part=r"pool/shard-\d+|target/ref|target/test",


def pool_shards():
    return expand("results/data/pool/shard-{shard}.parquet", shard=SHARDS)


def pool_embeddings():
    return expand("results/embed/pool/shard-{shard}.npy", shard=SHARDS)


def eval_sets():
    return ["results/data/target/test.parquet"] + expand(
        "results/data/heldout/{domain}.parquet", domain=DOMAINS
    )


def selection_of(wildcards):
    return f"{wildcards.metric}/{wildcards.variant}/{wildcards.keep}/b{wildcards.budget}"


def source_spec(wildcards):
    return next(s for s in config["sources"] if s["name"] == wildcards.source)


def checkpoint_dir(wildcards):
    # Resumable training state lives outside declared outputs: Snakemake deletes a job's
    # outputs before rerunning it, and the state must survive that.
    return f"results/.ckpt/train/{selection_of(wildcards)}"
