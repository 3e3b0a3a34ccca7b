# Export: a selection's documents (id, order, text, domain, score, round) as Parquet or JSON Lines,
# in training order, for other pipelines. On demand only (not part of `all`):
#   snakemake --cores 2 results/export/{metric}/{variant}/{keep}/b{budget}/s{seed}.parquet
#   snakemake --cores 2 export_all          (every selection of the config, Parquet)
#   snakemake --cores 2 export_all_jsonl    (the same as JSON Lines)


rule export_selection:
    input:
        unpack(export_inputs),
    output:
        paths.EXPORT,
    log:
        paths.log(Job.EXPORT),
    benchmark:
        paths.benchmark(Job.EXPORT)
    conda:
        "../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    script:
        f"../{SCRIPTS}/export_selection.py"


rule export_all:
    input:
        PLAN.exports("parquet"),


rule export_all_jsonl:
    input:
        PLAN.exports("jsonl"),
