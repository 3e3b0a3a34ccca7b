# download → prepare: raw documents per source, then the pool shards and evaluation splits.


rule download:
    output:
        docs="results/download/{source}.parquet",
        stats="results/download/{source}.json",
    log:
        "results/logs/download/{source}.log",
    benchmark:
        "results/benchmarks/download/{source}.tsv"
    localrule: True
    conda:
        "../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=20,
    params:
        spec=source_spec,
        cache=config["cache"],
    script:
        f"../{SCRIPTS}/download.py"


rule prepare:
    input:
        docs=expand("results/download/{source}.parquet", source=SOURCES),
    output:
        shards=pool_shards(),
        index="results/data/pool/index.parquet",
        ref="results/data/target/ref.parquet",
        test="results/data/target/test.parquet",
        heldout=expand("results/data/heldout/{domain}.parquet", domain=DOMAINS),
        stats="results/data/prepare.json",
        table=report("results/tables/data.csv", category="3 Composition"),
        table_tex="results/tables/data.tex",
    log:
        "results/logs/prepare.log",
    benchmark:
        "results/benchmarks/prepare.tsv"
    conda:
        "../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    script:
        f"../{SCRIPTS}/prepare.py"
