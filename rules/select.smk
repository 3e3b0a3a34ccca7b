# Selection: metric × variant × keep × budget × seed → ids, taken in score order to a byte budget.


rule select:
    input:
        scores="results/scores/{metric}/{variant}.parquet",
        index="results/data/pool/index.parquet",
    output:
        ids="results/select/{metric}/{variant}/{keep}/b{budget}/s{seed}.parquet",
        info="results/select/{metric}/{variant}/{keep}/b{budget}/s{seed}.json",
        cost="results/cost/select/{metric}/{variant}/{keep}/b{budget}/s{seed}.json",
    log:
        "results/logs/select/{metric}/{variant}/{keep}/b{budget}/s{seed}.log",
    benchmark:
        "results/benchmarks/select/{metric}/{variant}/{keep}/b{budget}/s{seed}.tsv"
    conda:
        "../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    script:
        f"../{SCRIPTS}/select.py"
