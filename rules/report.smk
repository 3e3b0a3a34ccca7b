# Tables, figures and provenance.


rule comparison:
    input:
        evals=all_evals(),
        infos=all_selection_infos(),
    output:
        figure=report("results/figs/comparison.pdf", category="1 Main comparison"),
        table=report("results/tables/comparison.csv", category="1 Main comparison"),
        table_tex="results/tables/comparison.tex",
        runs="results/tables/runs.csv",
    log:
        "results/logs/report/comparison.log",
    benchmark:
        "results/benchmarks/report/comparison.tsv"
    localrule: True
    conda:
        "../envs/report.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    script:
        f"../{SCRIPTS}/comparison.py"


rule cost_table:
    input:
        costs=all_costs(),
    output:
        table=report("results/tables/cost.csv", category="5 Cost"),
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
        table=report("results/tables/vendi.csv", category="4 Data metrics"),
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
        table=report("results/tables/dedup_quality.csv", category="4 Data metrics"),
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
        figure=report("results/figs/theory.pdf", category="6 Theory"),
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
        table=report("results/tables/kl_reduction.csv", category="4 Data metrics"),
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


rule compute_table:
    input:
        evals=all_evals(),
        infos=all_selection_infos(),
        curves=all_curves(),
        train_logs=all_train_logs(),
        costs=all_costs(),
    output:
        table=report("results/tables/compute.csv", category="5 Cost"),
        table_tex="results/tables/compute.tex",
        figure=report("results/figs/cost.pdf", category="5 Cost"),
        curves_figure=report("results/figs/learning_curves.pdf", category="5 Cost"),
        curves_table="results/tables/compute_curves.csv",
    log:
        "results/logs/report/compute_table.log",
    benchmark:
        "results/benchmarks/report/compute_table.tsv"
    localrule: True
    conda:
        "../envs/report.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        uses=metric_uses(),
        runs_as=metric_runs_as(),
    script:
        f"../{SCRIPTS}/compute_table.py"


rule ablation:
    input:
        unpack(ablation_runs),
    output:
        figure=report("results/figs/{ablation}.pdf", category="2 Ablations"),
        table=report("results/tables/{ablation}.csv", category="2 Ablations"),
        table_tex="results/tables/{ablation}.tex",
    log:
        "results/logs/report/{ablation}.log",
    benchmark:
        "results/benchmarks/report/{ablation}.tsv"
    localrule: True
    conda:
        "../envs/report.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        spec=lambda wc: ABLATIONS[wc.ablation],
        pool_fractions=lambda wc: {
            f"{s['metric']}/{s['variant']}": variant_param(
                s["metric"], s["variant"], "pool_fraction", 1.0
            )
            for s in ABLATIONS[wc.ablation]["series"]
        },
    script:
        f"../{SCRIPTS}/ablation.py"


rule composition:
    input:
        index="results/data/pool/index.parquet",
        selections=all_selection_ids(),
    output:
        figure=report("results/figs/composition.pdf", category="3 Composition"),
        table=report("results/tables/composition.csv", category="3 Composition"),
        table_tex="results/tables/composition.tex",
    log:
        "results/logs/report/composition.log",
    benchmark:
        "results/benchmarks/report/composition.tsv"
    localrule: True
    conda:
        "../envs/report.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    script:
        f"../{SCRIPTS}/composition.py"


rule metrics_vs_bpb:
    input:
        runs="results/tables/runs.csv",
        vendi="results/tables/vendi.csv",
        kl="results/tables/kl_reduction.csv",
        t2v="results/tables/t2v_selections.csv",
    output:
        figure=report("results/figs/metrics.pdf", category="4 Data metrics"),
        table=report("results/tables/metrics.csv", category="4 Data metrics"),
        table_tex="results/tables/metrics.tex",
        points="results/tables/metrics_points.csv",
    log:
        "results/logs/report/metrics_vs_bpb.log",
    benchmark:
        "results/benchmarks/report/metrics_vs_bpb.tsv"
    localrule: True
    conda:
        "../envs/report.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    script:
        f"../{SCRIPTS}/metrics_vs_bpb.py"


rule paper_macros:
    input:
        data="results/tables/data.csv",
        comparison="results/tables/comparison.csv",
        compute="results/tables/compute.csv",
        dedup="results/tables/dedup_quality.csv",
        metrics="results/tables/metrics.csv",
        ablations=expand("results/tables/{ablation}.csv", ablation=ABLATIONS),
        diversity="results/tables/diversity.csv",
        doremi=doremi_states(),
        manifest="results/manifest.json",
    output:
        macros="results/paper/macros.tex",
        sources="results/paper/sources.tex",
    log:
        "results/logs/report/paper_macros.log",
    benchmark:
        "results/benchmarks/report/paper_macros.tsv"
    localrule: True
    conda:
        "../envs/report.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        ablations=list(ABLATIONS),
    script:
        f"../{SCRIPTS}/paper_macros.py"


rule paper:
    input:
        tex=str(Path(workflow.basedir) / "paper/main.tex"),
        macros="results/paper/macros.tex",
        sources="results/paper/sources.tex",
        figures=paper_figures(),
        tables=paper_tables(),
    output:
        pdf=report("results/paper/main.pdf", category="0 Paper"),
    log:
        "results/logs/report/paper.log",
    benchmark:
        "results/benchmarks/report/paper.tsv"
    localrule: True
    conda:
        "../envs/report.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    script:
        f"../{SCRIPTS}/paper.py"


rule diversity_figure:
    input:
        table="results/tables/diversity.csv",
    output:
        figure=report("results/figs/diversity.pdf", category="4 Data metrics"),
    log:
        "results/logs/report/diversity_figure.log",
    benchmark:
        "results/benchmarks/report/diversity_figure.tsv"
    localrule: True
    conda:
        "../envs/report.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    script:
        f"../{SCRIPTS}/diversity_figure.py"
