# Proxy LM: a byte-level BPE tokenizer trained on the pool, then one training job per selection
# that trains every seed (torch start-up is paid once) and evaluates each along the way.


rule tokenizer:
    input:
        shards=pool_shards(),
    output:
        tokenizer="results/lm/tokenizer.json",
    log:
        "results/logs/tokenizer.log",
    benchmark:
        "results/benchmarks/tokenizer.tsv"
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
        ids=expand(
            "results/select/{{metric}}/{{variant}}/{{keep}}/b{{budget}}/s{seed}.parquet",
            seed=SEEDS,
        ),
        shards=pool_shards(),
        tokenizer="results/lm/tokenizer.json",
        eval_sets=eval_sets(),
        tasks=task_files(),
    output:
        evals=expand(
            "results/eval/{{metric}}/{{variant}}/{{keep}}/b{{budget}}/s{seed}.json",
            seed=SEEDS,
        ),
        logs=expand(
            "results/train/{{metric}}/{{variant}}/{{keep}}/b{{budget}}/s{seed}.json",
            seed=SEEDS,
        ),
        cost="results/cost/train/{metric}/{variant}/{keep}/b{budget}.json",
    log:
        "results/logs/train/{metric}/{variant}/{keep}/b{budget}.log",
    benchmark:
        "results/benchmarks/train/{metric}/{variant}/{keep}/b{budget}.tsv"
    conda:
        "../envs/torch.yaml"
    threads: THREADS
    resources:
        gpu=1,
        mem_mb=4000,
        runtime=120,
    params:
        ckpt=checkpoint_dir,
        stage="train",
        train_overrides={},
    script:
        f"../{SCRIPTS}/train.py"


# The baselines' compute curves (random at every budget, full data): the same selection trained for
# `review.curve_multipliers` x lm.train.tokens, each run with its own schedule, so the tokens random
# needs to reach any method's result can be read off (the compute accounting). A long run's
# intermediate checkpoints would not do: their learning rate has not decayed yet.
rule train_curve:
    input:
        ids=expand(
            "results/select/{{metric}}/{{variant}}/{{keep}}/b{{budget}}/s{seed}.parquet",
            seed=SEEDS,
        ),
        shards=pool_shards(),
        tokenizer="results/lm/tokenizer.json",
        eval_sets=eval_sets(),
        tasks=task_files(),
    output:
        evals=expand(
            "results/curves/x{{mult}}/{{metric}}/{{variant}}/{{keep}}/b{{budget}}/s{seed}.json",
            seed=SEEDS,
        ),
        logs=expand(
            "results/train_curve/x{{mult}}/{{metric}}/{{variant}}/{{keep}}/b{{budget}}/s{seed}.json",
            seed=SEEDS,
        ),
        cost="results/cost/train_curve/x{mult}/{metric}/{variant}/{keep}/b{budget}.json",
    log:
        "results/logs/train_curve/x{mult}/{metric}/{variant}/{keep}/b{budget}.log",
    benchmark:
        "results/benchmarks/train_curve/x{mult}/{metric}/{variant}/{keep}/b{budget}.tsv"
    conda:
        "../envs/torch.yaml"
    threads: THREADS
    resources:
        gpu=1,
        mem_mb=4000,
        runtime=240,
    params:
        ckpt=lambda wc: checkpoint_dir(wc).replace(
            "/.ckpt/train/", f"/.ckpt/train_curve/x{wc.mult}/"
        ),
        stage="train_curve",
        train_overrides=curve_overrides,
    script:
        f"../{SCRIPTS}/train.py"
