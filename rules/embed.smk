# Sentence-encoder embeddings, one .npy per pool shard and per target split (rows = Parquet rows).


rule embed:
    input:
        docs="results/data/{part}.parquet",
    output:
        emb="results/embed/{part}.npy",
        cost="results/cost/embed/{part}.json",
    log:
        "results/logs/embed/{part}.log",
    benchmark:
        "results/benchmarks/embed/{part}.tsv"
    conda:
        "../envs/torch.yaml"
    threads: THREADS
    resources:
        gpu=1,
        mem_mb=4000,
        runtime=60,
    script:
        f"../{SCRIPTS}/embed.py"
