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
    script:
        f"../{SCRIPTS}/train.py"
