# Task2Vec: the probe (trained on the pool, or a pretrained HF model), per-document vectors of every pool
# shard and of target ref, and the diversity/alignment tables.


def probe_inputs(wildcards=None):
    # the workflow-trained GPT probe and its tokenizer; a pretrained (hf) probe is named in the config
    if config["task2vec"]["probe"].get("kind", "gpt") != "gpt":
        return {}
    return {
        "probe": "results/probe/model.safetensors",
        "probe_config": "results/probe/config.json",
        "tokenizer": "results/lm/tokenizer.json",
    }


def pool_t2v():
    return expand("results/t2v/pool/shard-{shard}.npy", shard=SHARDS)


def task2vec_costs():
    costs = expand("results/cost/t2v/pool/shard-{shard}.json", shard=SHARDS)
    costs += [
        "results/cost/t2v/target/ref.json",
        "results/cost/t2v/diversity_table.json",
    ]
    if probe_inputs():
        costs.append("results/cost/probe/train.json")
    return costs


rule train_probe:
    input:
        shards=pool_shards(),
        tokenizer="results/lm/tokenizer.json",
    output:
        model="results/probe/model.safetensors",
        config="results/probe/config.json",
        cost="results/cost/probe/train.json",
    log:
        "results/logs/probe/train.log",
    benchmark:
        "results/benchmarks/probe/train.tsv"
    conda:
        "../envs/torch.yaml"
    threads: THREADS
    resources:
        gpu=1,
        mem_mb=4000,
        runtime=120,
    params:
        ckpt="results/.ckpt/probe",
    script:
        f"../{SCRIPTS}/train_probe.py"


rule t2v_vectors:
    input:
        unpack(probe_inputs),
        docs="results/data/{part}.parquet",
    output:
        vectors="results/t2v/{part}.npy",
        info="results/t2v/{part}.parquet",
        cost="results/cost/t2v/{part}.json",
    log:
        "results/logs/t2v/{part}.log",
    benchmark:
        "results/benchmarks/t2v/{part}.tsv"
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
        shards=pool_shards(),
        ref="results/data/target/ref.parquet",
    output:
        table="results/tables/diversity.csv",
        table_tex="results/tables/diversity.tex",
        embeddings="results/t2v/diversity_batches.npz",
        cost="results/cost/t2v/diversity_table.json",
    log:
        "results/logs/report/diversity_table.log",
    benchmark:
        "results/benchmarks/report/diversity_table.tsv"
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
        index="results/data/pool/index.parquet",
        pool=pool_t2v(),
        ref="results/t2v/target/ref.npy",
        selections=all_selection_ids(),
    output:
        table="results/tables/t2v_selections.csv",
        table_tex="results/tables/t2v_selections.tex",
    log:
        "results/logs/report/t2v_table.log",
    benchmark:
        "results/benchmarks/report/t2v_table.tsv"
    conda:
        "../envs/data.yaml"
    threads: THREADS
    resources:
        mem_mb=4000,
        runtime=20,
    script:
        f"../{SCRIPTS}/t2v_table.py"
