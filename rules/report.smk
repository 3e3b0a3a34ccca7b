# Tables, figures and provenance.


rule bpb_vs_budget:
    input:
        evals=all_evals(),
        infos=all_selection_infos(),
    output:
        figure="results/figs/bpb_vs_budget.pdf",
        table="results/tables/bpb_vs_budget.csv",
        table_tex="results/tables/bpb_vs_budget.tex",
        runs="results/tables/runs.csv",
    log:
        "results/logs/report/bpb_vs_budget.log",
    benchmark:
        "results/benchmarks/report/bpb_vs_budget.tsv"
    localrule: True
    conda:
        "../envs/report.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    script:
        f"../{SCRIPTS}/bpb_vs_budget.py"


rule cost_table:
    input:
        costs=all_costs(),
    output:
        table="results/tables/cost.csv",
        table_tex="results/tables/cost.tex",
    log:
        "results/logs/report/cost_table.log",
    benchmark:
        "results/benchmarks/report/cost_table.tsv"
    localrule: True
    conda:
        "../envs/report.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    script:
        f"../{SCRIPTS}/cost_table.py"


rule manifest:
    input:
        downloads=expand("results/download/{source}.json", source=SOURCES),
    output:
        manifest="results/manifest.json",
    log:
        "results/logs/manifest.log",
    benchmark:
        "results/benchmarks/manifest.tsv"
    localrule: True
    conda:
        "../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    script:
        f"../{SCRIPTS}/manifest.py"


rule vendi_table:
    input:
        index="results/data/pool/index.parquet",
        pool=pool_embeddings(),
        ref="results/embed/target/ref.npy",
        test="results/embed/target/test.npy",
        selections=all_selection_ids(),
    output:
        table="results/tables/vendi.csv",
        table_tex="results/tables/vendi.tex",
    log:
        "results/logs/report/vendi_table.log",
    benchmark:
        "results/benchmarks/report/vendi_table.tsv"
    conda:
        "../envs/data.yaml"
    threads: THREADS
    resources:
        mem_mb=4000,
        runtime=20,
    script:
        f"../{SCRIPTS}/vendi_table.py"


rule dedup_quality:
    input:
        index="results/data/pool/index.parquet",
        shards=pool_shards(),
        scores=dedup_scores(),
    output:
        table="results/tables/dedup_quality.csv",
        table_tex="results/tables/dedup_quality.tex",
        by_domain="results/tables/dedup_by_domain.csv",
    log:
        "results/logs/report/dedup_quality.log",
    benchmark:
        "results/benchmarks/report/dedup_quality.tsv"
    localrule: True
    conda:
        "../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    script:
        f"../{SCRIPTS}/dedup_quality.py"


rule theory:
    output:
        figure="results/figs/theory.pdf",
        table="results/tables/theory.csv",
        table_tex="results/tables/theory.tex",
    log:
        "results/logs/report/theory.log",
    benchmark:
        "results/benchmarks/report/theory.tsv"
    conda:
        "../envs/report.yaml"
    threads: THREADS
    resources:
        mem_mb=2000,
        runtime=30,
    script:
        f"../{SCRIPTS}/theory.py"


rule kl_table:
    input:
        shards=pool_shards(),
        ref="results/data/target/ref.parquet",
        selections=all_selection_ids(),
    output:
        table="results/tables/kl_reduction.csv",
    log:
        "results/logs/report/kl_table.log",
    benchmark:
        "results/benchmarks/report/kl_table.tsv"
    conda:
        "../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=20,
    script:
        f"../{SCRIPTS}/kl_table.py"
