# Task2Vec: the probe (trained on the pool, or a pretrained HF model), per-document vectors of every pool
# shard and of target ref, and the diversity/alignment tables.


rule train_probe:
    input:
        shards=PLAN.pool_shards(),
        tokenizer=paths.TOKENIZER,
    output:
        model=directory(paths.PROBE_DIR),
        cost=paths.cost(Job.PROBE),
    log:
        paths.log(Job.PROBE),
    benchmark:
        paths.benchmark(Job.PROBE)
    conda:
        "../envs/torch.yaml"
    threads: THREADS
    resources:
        gpu=1,
        mem_mb=4000,
        runtime=120,
    params:
        ckpt=paths.CKPT_PROBE,
    script:
        f"../{SCRIPTS}/train_probe.py"


rule t2v_vectors:
    input:
        unpack(probe_inputs),
        docs=paths.DOCS,
    output:
        vectors=paths.T2V,
        info=paths.T2V_INFO,
        cost=paths.cost(Job.T2V),
    log:
        paths.log(Job.T2V),
    benchmark:
        paths.benchmark(Job.T2V)
    conda:
        "../envs/torch.yaml"
    threads: THREADS
    resources:
        gpu=1,
        mem_mb=4000,
        runtime=120,
    script:
        f"../{SCRIPTS}/t2v_vectors.py"


rule diversity_table:
    input:
        unpack(probe_inputs),
        shards=PLAN.pool_shards(),
        ref=paths.fill(paths.TARGET, split="ref"),
    output:
        table=paths.table("diversity"),
        table_tex=paths.table("diversity", tex=True),
        embeddings=paths.T2V_DIVERSITY_BATCHES,
        cost=paths.cost(Job.T2V_DIVERSITY),
    log:
        paths.log(Job.report("diversity_table")),
    benchmark:
        paths.benchmark(Job.report("diversity_table"))
    conda:
        "../envs/torch.yaml"
    threads: THREADS
    resources:
        gpu=1,
        mem_mb=4000,
        runtime=120,
    script:
        f"../{SCRIPTS}/diversity_table.py"


rule t2v_table:
    input:
        index=paths.POOL_INDEX,
        pool=PLAN.pool_t2v(),
        ref=paths.fill(paths.T2V, part="target/ref"),
        selections=PLAN.selection_ids(),
    output:
        table=paths.table("t2v_selections"),
        table_tex=paths.table("t2v_selections", tex=True),
    log:
        paths.log(Job.report("t2v_table")),
    benchmark:
        paths.benchmark(Job.report("t2v_table"))
    conda:
        "../envs/data.yaml"
    threads: THREADS
    resources:
        mem_mb=4000,
        runtime=20,
    script:
        f"../{SCRIPTS}/t2v_table.py"


rule t2v_reliability:
    input:
        unpack(probe_inputs),
        shards=PLAN.pool_shards(),
        pool=PLAN.pool_t2v(),
        ref_docs=paths.fill(paths.TARGET, split="ref"),
        ref=paths.fill(paths.T2V, part="target/ref"),
        ref_info=paths.fill(paths.T2V_INFO, part="target/ref"),
        scores=list(PLAN.t2v_reliability_scores().values()),
    output:
        table=paths.table("t2v_reliability"),
        table_tex=paths.table("t2v_reliability", tex=True),
    log:
        paths.log(Job.T2V_RELIABILITY),
    benchmark:
        paths.benchmark(Job.T2V_RELIABILITY)
    conda:
        "../envs/torch.yaml"
    threads: THREADS
    resources:
        gpu=1,
        mem_mb=4000,
        runtime=30,
    params:
        scores=PLAN.t2v_reliability_scores(),
        variant=PLAN.t2v_reliability_variant() if PLAN.t2v_reliability else None,
    script:
        f"../{SCRIPTS}/t2v_reliability.py"
