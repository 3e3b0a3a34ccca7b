# download → prepare: raw documents per source, then the pool shards and evaluation splits.


rule download:
    output:
        docs="results/download/{source}.parquet",
        stats="results/download/{source}.json",
    params:
        spec=source_spec,
        cache=config["cache"],
    log:
        "results/logs/download/{source}.log",
    benchmark:
        "results/benchmarks/download/{source}.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=20,
    localrule: True
    conda:
        "../envs/data.yaml"
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
        table="results/tables/data.csv",
        table_tex="results/tables/data.tex",
    log:
        "results/logs/prepare.log",
    benchmark:
        "results/benchmarks/prepare.tsv"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    conda:
        "../envs/data.yaml"
    script:
        f"../{SCRIPTS}/prepare.py"
