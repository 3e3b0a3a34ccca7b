# Tables, figures and provenance.


rule comparison:
    input:
        evals=PLAN.evals(),
        infos=PLAN.selection_infos(),
        harness=PLAN.harness_tables(),
    output:
        figure=report(
            paths.figure("comparison"),
            caption="../report/captions/comparison_figure.rst",
            category="1 Main comparison",
        ),
        table=report(
            paths.table("comparison"),
            caption="../report/captions/comparison_table.rst",
            category="1 Main comparison",
        ),
        table_tex=paths.table("comparison", tex=True),
        runs=paths.table("runs"),
    log:
        paths.log(Job.report("comparison")),
    benchmark:
        paths.benchmark(Job.report("comparison"))
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
        costs=PLAN.all_costs(),
    output:
        table=report(
            paths.table("cost"),
            caption="../report/captions/cost_table.rst",
            category="5 Cost",
        ),
        table_tex=paths.table("cost", tex=True),
    log:
        paths.log(Job.report("cost_table")),
    benchmark:
        paths.benchmark(Job.report("cost_table"))
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
        downloads=paths.expand(paths.DOWNLOAD_STATS, source=PLAN.sources),
    output:
        manifest=paths.MANIFEST,
    log:
        paths.log(Job.MANIFEST),
    benchmark:
        paths.benchmark(Job.MANIFEST)
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
        index=paths.POOL_INDEX,
        pool=PLAN.pool_embeddings(),
        ref=paths.fill(paths.EMBED, part="target/ref"),
        test=paths.fill(paths.EMBED, part="target/test"),
        selections=PLAN.selection_ids(),
    output:
        table=report(
            paths.table("vendi"),
            caption="../report/captions/vendi_table.rst",
            category="4 Data metrics",
        ),
        table_tex=paths.table("vendi", tex=True),
    log:
        paths.log(Job.report("vendi_table")),
    benchmark:
        paths.benchmark(Job.report("vendi_table"))
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
        index=paths.POOL_INDEX,
        shards=PLAN.pool_shards(),
        scores=PLAN.dedup_scores(),
    output:
        table=report(
            paths.table("dedup_quality"),
            caption="../report/captions/dedup_quality_table.rst",
            category="4 Data metrics",
        ),
        table_tex=paths.table("dedup_quality", tex=True),
        by_domain=paths.table("dedup_by_domain"),
    log:
        paths.log(Job.report("dedup_quality")),
    benchmark:
        paths.benchmark(Job.report("dedup_quality"))
    localrule: True
    conda:
        "../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        variants=PLAN.dedup_variants(),
    script:
        f"../{SCRIPTS}/dedup_quality.py"


rule theory:
    output:
        figure=report(
            paths.figure("theory"),
            caption="../report/captions/theory_figure.rst",
            category="6 Theory",
        ),
        table=paths.table("theory"),
        table_tex=paths.table("theory", tex=True),
    log:
        paths.log(Job.report("theory")),
    benchmark:
        paths.benchmark(Job.report("theory"))
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
        shards=PLAN.pool_shards(),
        ref=paths.fill(paths.TARGET, split="ref"),
        selections=PLAN.selection_ids(),
    output:
        table=report(
            paths.table("kl_reduction"),
            caption="../report/captions/kl_table.rst",
            category="4 Data metrics",
        ),
    log:
        paths.log(Job.report("kl_table")),
    benchmark:
        paths.benchmark(Job.report("kl_table"))
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
        unpack(compute_scaling),
        evals=PLAN.evals(),
        infos=PLAN.selection_infos(),
        curves=PLAN.curves(),
        train_logs=PLAN.train_logs(),
        costs=PLAN.all_costs(),
        pool_index=paths.POOL_INDEX,
    output:
        table=report(
            paths.table("compute"),
            caption="../report/captions/compute_table.rst",
            category="5 Cost",
        ),
        table_tex=paths.table("compute", tex=True),
        figure=report(
            paths.figure("cost"),
            caption="../report/captions/cost_figure.rst",
            category="5 Cost",
        ),
        curves_figure=report(
            paths.figure("learning_curves"),
            caption="../report/captions/learning_curves_figure.rst",
            category="5 Cost",
        ),
        curves_table=paths.table("compute_curves"),
    log:
        paths.log(Job.report("compute_table")),
    benchmark:
        paths.benchmark(Job.report("compute_table"))
    localrule: True
    conda:
        "../envs/report.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    script:
        f"../{SCRIPTS}/compute_table.py"


rule contrasts:
    input:
        runs=paths.table("runs"),
    output:
        table=report(
            paths.table("contrasts"),
            caption="../report/captions/contrasts_table.rst",
            category="2 Ablations",
        ),
        table_tex=paths.table("contrasts", tex=True),
    log:
        paths.log(Job.report("contrasts")),
    benchmark:
        paths.benchmark(Job.report("contrasts"))
    localrule: True
    conda:
        "../envs/report.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        ablations=ABLATIONS,
        pool_fractions=PLAN.contrast_pool_fractions(),
    script:
        f"../{SCRIPTS}/contrasts.py"


rule ablation:
    input:
        unpack(ablation_runs),
    output:
        figure=report(
            paths.figure("{ablation}"),
            caption="../report/captions/ablation_figure.rst",
            category="2 Ablations",
        ),
        table=report(
            paths.table("{ablation}"),
            caption="../report/captions/ablation_table.rst",
            category="2 Ablations",
        ),
        table_tex=paths.table("{ablation}", tex=True),
    log:
        paths.log(Job.report("{ablation}")),
    benchmark:
        paths.benchmark(Job.report("{ablation}"))
    localrule: True
    conda:
        "../envs/report.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        spec=lambda wc: ABLATIONS[wc.ablation],
        pool_fractions=lambda wc: PLAN.ablation_pool_fractions(wc.ablation),
    script:
        f"../{SCRIPTS}/ablation.py"


rule composition:
    input:
        index=paths.POOL_INDEX,
        selections=PLAN.selection_ids(),
    output:
        figure=report(
            paths.figure("composition"),
            caption="../report/captions/composition_figure.rst",
            category="3 Composition",
        ),
        table=report(
            paths.table("composition"),
            caption="../report/captions/composition_table.rst",
            category="3 Composition",
        ),
        table_tex=paths.table("composition", tex=True),
    log:
        paths.log(Job.report("composition")),
    benchmark:
        paths.benchmark(Job.report("composition"))
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
        runs=paths.table("runs"),
        vendi=paths.table("vendi"),
        kl=paths.table("kl_reduction"),
        t2v=paths.table("t2v_selections"),
        composition=paths.table("composition"),
    output:
        figure=report(
            paths.figure("metrics"),
            caption="../report/captions/metrics_figure.rst",
            category="4 Data metrics",
        ),
        table=report(
            paths.table("metrics"),
            caption="../report/captions/metrics_table.rst",
            category="4 Data metrics",
        ),
        table_tex=paths.table("metrics", tex=True),
        points=paths.table("metrics_points"),
    log:
        paths.log(Job.report("metrics_vs_bpb")),
    benchmark:
        paths.benchmark(Job.report("metrics_vs_bpb"))
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
        data=paths.table("data"),
        comparison=paths.table("comparison"),
        compute=paths.table("compute"),
        cost=paths.table("cost"),
        dedup=paths.table("dedup_quality"),
        metrics=paths.table("metrics"),
        contrasts=paths.table("contrasts"),
        runs=paths.table("runs"),
        theory=paths.table("theory"),
        t2v_reliability=PLAN.t2v_reliability_tables(),
        diversity=paths.table("diversity"),
        doremi=PLAN.first_variant_states("doremi"),  # the paper quotes its weights
        manifest=paths.MANIFEST,
    output:
        macros=paths.PAPER_MACROS,
        sources=paths.PAPER_SOURCES,
    log:
        paths.log(Job.report("paper_macros")),
    benchmark:
        paths.benchmark(Job.report("paper_macros"))
    localrule: True
    conda:
        "../envs/report.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        ablations=ABLATIONS,
    script:
        f"../{SCRIPTS}/paper_macros.py"


rule paper:
    input:
        paper=PLAN.paper_sources(),  # main.tex, paper/sections/*.tex, paper/*.bib
        macros=paths.PAPER_MACROS,
        sources=paths.PAPER_SOURCES,
        figures=PLAN.paper_figures(),
        tables=PLAN.paper_tables(),
    output:
        pdf=report(
            paths.PAPER_PDF, caption="../report/captions/paper.rst", category="0 Paper"
        ),
    log:
        paths.log(Job.report("paper")),
    benchmark:
        paths.benchmark(Job.report("paper"))
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
        table=paths.table("diversity"),
    output:
        figure=report(
            paths.figure("diversity"),
            caption="../report/captions/diversity_figure.rst",
            category="4 Data metrics",
        ),
    log:
        paths.log(Job.report("diversity_figure")),
    benchmark:
        paths.benchmark(Job.report("diversity_figure"))
    localrule: True
    conda:
        "../envs/report.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    script:
        f"../{SCRIPTS}/diversity_figure.py"


rule scaling:
    input:
        shards=PLAN.pool_shards(),
        ref=paths.fill(paths.TARGET, split="ref"),
        encoder=paths.STATIC_MODEL,  # the static encoder of rule distill_static
    output:
        table=report(
            paths.SCALING_TABLE,
            caption="../report/captions/scaling_table.rst",
            category="5 Cost",
        ),
        figure=report(
            paths.SCALING_FIGURE,
            caption="../report/captions/scaling_figure.rst",
            category="5 Cost",
        ),
    log:
        paths.log(Job.report("scaling")),
    benchmark:
        paths.benchmark(Job.report("scaling"))
    conda:
        "../envs/report.yaml"
    # the cost curve's goal is stated on 2 cores: per-shard stages run this many at a time, fits get as many
    # BLAS threads (Snakemake scales it down to --cores)
    threads: max(2, THREADS)
    resources:
        mem_mb=8000,
        runtime=120,
    script:
        f"../{SCRIPTS}/scaling.py"
