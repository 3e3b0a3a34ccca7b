# Document scores: a method's global state is fitted once (e.g. k-means prototypes), then every
# pool shard is scored independently and the shards are merged. A method with shard_features
# (e.g. MinHash signatures) does its per-document work per shard before the global fit.
# A variant whose scoring follows the run seed (`seed: run`) is fitted, scored and merged once per
# seed by the *_seeded rules (same scripts; the seed wildcard sets the scoring seed).


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


use rule fit_metric as fit_metric_seeded with:
    output:
        state=paths.STATE_SEEDED,
        cost=paths.cost(Job.FIT_SEEDED),
    log:
        paths.log(Job.FIT_SEEDED),
    benchmark:
        paths.benchmark(Job.FIT_SEEDED)


use rule score_shard as score_shard_seeded with:
    output:
        scores=paths.SHARD_SCORES_SEEDED,
        cost=paths.cost(Job.SCORE_SEEDED),
    log:
        paths.log(Job.SCORE_SEEDED),
    benchmark:
        paths.benchmark(Job.SCORE_SEEDED)


use rule merge_scores as merge_scores_seeded with:
    input:
        shards=paths.expand(paths.SHARD_SCORES_SEEDED, shard=SHARDS),
    output:
        scores=paths.SCORES_SEEDED,
    log:
        paths.log(Job.MERGE_SCORES_SEEDED),
    benchmark:
        paths.benchmark(Job.MERGE_SCORES_SEEDED)
