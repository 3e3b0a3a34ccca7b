# Metric scores: a metric's global state is fitted once (e.g. k-means prototypes), then every
# pool shard is scored independently and the shards are merged. A metric with shard_features
# (e.g. MinHash signatures) does its per-document work per shard before the global fit.


rule shard_features:
    input:
        docs="results/data/pool/shard-{shard}.parquet",
    output:
        features="results/features/{metric}/{variant}/shard-{shard}.npz",
        cost="results/cost/features/{metric}/{variant}/shard-{shard}.json",
    log:
        "results/logs/features/{metric}/{variant}/shard-{shard}.log",
    benchmark:
        "results/benchmarks/features/{metric}/{variant}/shard-{shard}.tsv"
    conda:
        "../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    script:
        f"../{SCRIPTS}/shard_features.py"


rule fit_metric:
    input:
        unpack(fit_inputs),
    output:
        state="results/prototypes/{metric}/{variant}.npz",
        cost="results/cost/fit/{metric}/{variant}.json",
    log:
        "results/logs/fit/{metric}/{variant}.log",
    benchmark:
        "results/benchmarks/fit/{metric}/{variant}.tsv"
    conda:
        "../envs/data.yaml"
    threads: THREADS
    resources:
        mem_mb=4000,
        runtime=30,
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
    conda:
        "../envs/data.yaml"
    threads: THREADS
    resources:
        mem_mb=2000,
        runtime=30,
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
    conda:
        "../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    script:
        f"../{SCRIPTS}/merge_scores.py"
