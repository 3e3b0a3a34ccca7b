# Proxy LM: a byte-level BPE tokenizer trained on the pool, then one training job per selection
# that trains every seed (torch start-up is paid once) and evaluates each along the way, beside the
# n-gram reference (lm.ngram) fitted on the same seed's selection.


rule tokenizer:
    input:
        shards=PLAN.pool_shards(),
    output:
        tokenizer=paths.TOKENIZER,
    log:
        paths.log(Job.TOKENIZER),
    benchmark:
        paths.benchmark(Job.TOKENIZER)
    conda:
        "../envs/torch.yaml"
    threads: THREADS
    resources:
        mem_mb=4000,
        runtime=20,
    script:
        f"../{SCRIPTS}/tokenizer.py"


rule train:
    input:
        ids=per_seed(paths.SELECT_IDS),
        shards=PLAN.pool_shards(),
        tokenizer=paths.TOKENIZER,
        eval_sets=list(PLAN.eval_sets().values()),
        tasks=PLAN.task_files(),
    output:
        evals=per_seed(paths.EVAL),
        logs=per_seed(paths.TRAIN_LOG),
        models=directory(per_seed(paths.MODEL)) if PLAN.keep_models else [],
        cost=paths.cost(Job.TRAIN),
    log:
        paths.log(Job.TRAIN),
    benchmark:
        paths.benchmark(Job.TRAIN)
    conda:
        "../envs/torch.yaml"
    threads: THREADS
    resources:
        gpu=1,
        mem_mb=4000,
        runtime=120,
    params:
        ckpt=paths.CKPT_TRAIN,
        eval_names=list(PLAN.eval_sets()),
        stage="train",
        train_overrides=train_overrides,
        ngram_orders=config["lm"]["ngram"]["orders"],
    script:
        f"../{SCRIPTS}/train.py"


# The baselines' compute curves (random at every budget, full data): the same selection trained for
# `review.curve_multipliers` x lm.train.tokens, each run with its own schedule, so the tokens random
# needs to reach any method's result can be read off (the compute accounting). A long run's
# intermediate checkpoints would not do: their learning rate has not decayed yet.
rule train_curve:
    input:
        ids=per_seed(paths.SELECT_IDS),
        shards=PLAN.pool_shards(),
        tokenizer=paths.TOKENIZER,
        eval_sets=list(PLAN.eval_sets().values()),
        tasks=PLAN.task_files(),
    output:
        evals=per_seed(paths.CURVE_EVAL),
        logs=per_seed(paths.CURVE_TRAIN_LOG),
        cost=paths.cost(Job.TRAIN_CURVE),
    log:
        paths.log(Job.TRAIN_CURVE),
    benchmark:
        paths.benchmark(Job.TRAIN_CURVE)
    conda:
        "../envs/torch.yaml"
    threads: THREADS
    resources:
        gpu=1,
        mem_mb=4000,
        runtime=240,
    params:
        ckpt=paths.CKPT_CURVE,
        eval_names=list(PLAN.eval_sets()),
        stage="train_curve",
        train_overrides=curve_overrides,
        ngram_orders=[],  # the n-gram reference does not depend on the training tokens: rule train has it
    script:
        f"../{SCRIPTS}/train.py"


# lm-eval-harness (lm.eval.harness) on every seed's exported proxy of a selection: one small CSV.
rule harness:
    input:
        models=per_seed(paths.MODEL),
        tasks=PLAN.harness_task_files(),
    output:
        table=paths.HARNESS,
    log:
        paths.log(Job.HARNESS),
    benchmark:
        paths.benchmark(Job.HARNESS)
    conda:
        "../envs/harness.yaml"
    threads: THREADS
    resources:
        gpu=1,
        mem_mb=8000,
        runtime=120,
    params:
        tasks=PLAN.harness_tasks,
    script:
        f"../{SCRIPTS}/harness.py"
