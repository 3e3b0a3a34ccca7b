# Document scores: a method's global state is fitted once (e.g. k-means prototypes), then every
# pool shard is scored independently and the shards are merged. A method with shard_features
# (e.g. MinHash signatures) does its per-document work per shard before the global fit.


rule shard_features:
    input:
        docs=paths.POOL_SHARD,
    output:
        features=paths.FEATURES,
        cost=paths.cost(Job.FEATURES),
    log:
        paths.log(Job.FEATURES),
    benchmark:
        paths.benchmark(Job.FEATURES)
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
        state=paths.STATE,
        cost=paths.cost(Job.FIT),
    log:
        paths.log(Job.FIT),
    benchmark:
        paths.benchmark(Job.FIT)
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
        scores=paths.SHARD_SCORES,
        cost=paths.cost(Job.SCORE),
    log:
        paths.log(Job.SCORE),
    benchmark:
        paths.benchmark(Job.SCORE)
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
        shards=paths.expand(paths.SHARD_SCORES, shard=SHARDS),
    output:
        scores=paths.SCORES,
    log:
        paths.log(Job.MERGE_SCORES),
    benchmark:
        paths.benchmark(Job.MERGE_SCORES)
    conda:
        "../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    script:
        f"../{SCRIPTS}/merge_scores.py"
