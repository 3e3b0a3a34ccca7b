# Metric scores: a metric's global state is fitted once (e.g. k-means prototypes), then every
# pool shard is scored independently and the shards are merged.
from dqreview.metrics import get_metric


def metric_needs(metric):
    return set(get_metric(metric).NEEDS)


def metric_fits(metric):
    return hasattr(get_metric(metric), "fit")


def score_inputs(wildcards):
    inputs = {"docs": f"results/data/pool/shard-{wildcards.shard}.parquet"}
    if "embeddings" in metric_needs(wildcards.metric):
        inputs["emb"] = f"results/embed/pool/shard-{wildcards.shard}.npy"
    if metric_fits(wildcards.metric):
        inputs["state"] = f"results/prototypes/{wildcards.metric}/{wildcards.variant}.npz"
    return inputs


rule fit_metric:
    input:
        emb=pool_embeddings(),
    output:
        state="results/prototypes/{metric}/{variant}.npz",
        cost="results/cost/fit/{metric}/{variant}.json",
    log:
        "results/logs/fit/{metric}/{variant}.log",
    benchmark:
        "results/benchmarks/fit/{metric}/{variant}.tsv"
    threads: THREADS
    resources:
        mem_mb=4000,
        runtime=30,
    conda:
        "../envs/data.yaml"
    script:
        f"../{SCRIPTS}/fit_metric.py"


rule score_shard:
    input:
        unpack(score_inputs),
    output:
        scores="results/scores/{metric}/{variant}/shard-{shard}.parquet",
        cost="results/cost/score/{metric}/{variant}/shard-{shard}.json",
    log:
        "results/logs/score/{metric}/{variant}/shard-{shard}.log",
    benchmark:
        "results/benchmarks/score/{metric}/{variant}/shard-{shard}.tsv"
    threads: THREADS
    resources:
        mem_mb=2000,
        runtime=30,
    conda:
        "../envs/data.yaml"
    script:
        f"../{SCRIPTS}/score_shard.py"


rule merge_scores:
    input:
        shards=expand(
            "results/scores/{{metric}}/{{variant}}/shard-{shard}.parquet", shard=SHARDS
        ),
    output:
        scores="results/scores/{metric}/{variant}.parquet",
    log:
        "results/logs/merge_scores/{metric}/{variant}.log",
    benchmark:
        "results/benchmarks/merge_scores/{metric}/{variant}.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../envs/data.yaml"
    script:
        f"../{SCRIPTS}/merge_scores.py"
