# Selection: metric × variant × keep × budget × seed → ids, taken in score order to a byte budget
# (document scorers) or sampled per domain from a learned mixture (mixture learners).


rule select:
    input:
        scores=select_scores,
        index=paths.POOL_INDEX,
    output:
        ids=paths.SELECT_IDS,
        info=paths.SELECT_INFO,
        cost=paths.cost(Job.SELECT),
    log:
        paths.log(Job.SELECT),
    benchmark:
        paths.benchmark(Job.SELECT)
    wildcard_constraints:
        metric="|".join(PLAN.scoring_metrics) or "(?!)",
    conda:
        "../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    script:
        f"../{SCRIPTS}/select.py"


rule select_mixture:
    input:
        unpack(select_mixture_inputs),
        index=paths.POOL_INDEX,
    output:
        ids=paths.SELECT_IDS,
        info=paths.SELECT_INFO,
        cost=paths.cost(Job.SELECT),
    log:
        paths.log(Job.SELECT),
    benchmark:
        paths.benchmark(Job.SELECT)
    wildcard_constraints:
        metric="|".join(MIXTURE_METRICS) or "(?!)",
    conda:
        "../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    script:
        f"../{SCRIPTS}/select_mixture.py"


# Controls (review.controls): a selection's domain-matched random draw, and random documents of the
# target's own pool domain; trained and reported like any selection.
rule select_control:
    input:
        unpack(control_inputs),
    output:
        ids=paths.SELECT_IDS,
        info=paths.SELECT_INFO,
        cost=paths.cost(Job.SELECT),
    log:
        paths.log(Job.SELECT),
    benchmark:
        paths.benchmark(Job.SELECT)
    wildcard_constraints:
        metric=paths.CONTROL_METRIC,
    conda:
        "../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    script:
        f"../{SCRIPTS}/select_control.py"
