# Sentence-encoder embeddings, one .npy per pool shard and per target split (rows = Parquet rows).


rule embed:
    input:
        docs=paths.DOCS,
    output:
        emb=paths.EMBED,
        cost=paths.cost(Job.EMBED),
    log:
        paths.log(Job.EMBED),
    benchmark:
        paths.benchmark(Job.EMBED)
    conda:
        "../envs/torch.yaml"
    threads: THREADS
    resources:
        gpu=1,
        mem_mb=4000,
        runtime=60,
    script:
        f"../{SCRIPTS}/embed.py"
