# Sentence-encoder embeddings, one .npy per pool shard and per target split (rows = Parquet rows);
# the static encoder distilled here, and its embeddings (the encoder arm of the review).


rule embed:
    input:
        unpack(encoder_inputs),
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


rule distill_static:
    output:
        model=directory(paths.STATIC_MODEL),
        cost=paths.cost(Job.DISTILL_STATIC),
    log:
        paths.log(Job.DISTILL_STATIC),
    benchmark:
        paths.benchmark(Job.DISTILL_STATIC)
    conda:
        "../envs/torch.yaml"
    threads: THREADS
    resources:
        mem_mb=4000,
        runtime=30,
    script:
        f"../{SCRIPTS}/distill_static.py"


rule embed_static:
    input:
        docs=paths.DOCS,
        encoder=paths.STATIC_MODEL,
    output:
        emb=paths.EMBED_STATIC,
        cost=paths.cost(Job.EMBED_STATIC),
    log:
        paths.log(Job.EMBED_STATIC),
    benchmark:
        paths.benchmark(Job.EMBED_STATIC)
    conda:
        "../envs/torch.yaml"
    threads: THREADS
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        stage="embed_static",
    script:
        f"../{SCRIPTS}/embed.py"
