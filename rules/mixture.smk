# Mixture learners (DoReMi, Skill-It): one proxy-training job per variant (every seed in one job)
# learns a domain mixture or a per-round schedule; select_mixture (rules/select.smk) samples the
# pool from it to each byte budget, and the selections train and evaluate like every other method's.


rule learn_mixture:
    input:
        unpack(learn_inputs),
        shards=PLAN.pool_shards(),
        tokenizer=paths.TOKENIZER,
    output:
        states=per_seed(paths.MIXTURE_STATE),
        cost=paths.cost(Job.MIXTURE),
    log:
        paths.log(Job.MIXTURE),
    benchmark:
        paths.benchmark(Job.MIXTURE)
    wildcard_constraints:
        metric="|".join(MIXTURE_METRICS) or "(?!)",
    conda:
        "../envs/torch.yaml"
    threads: THREADS
    resources:
        gpu=1,
        mem_mb=4000,
        runtime=120,
    script:
        f"../{SCRIPTS}/learn_mixture.py"


rule mixture_figure:
    input:
        states=lambda wc: PLAN.mixture_states(PLAN.mixture_figures()[wc.name]),
    output:
        figure=paths.FIGURE,
    log:
        paths.log(Job.report("{name}")),
    benchmark:
        paths.benchmark(Job.report("{name}"))
    wildcard_constraints:
        name="|".join(PLAN.mixture_figures()) or "(?!)",
    localrule: True
    conda:
        "../envs/report.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        metric=lambda wc: PLAN.mixture_figures()[wc.name],
    script:
        f"../{SCRIPTS}/mixture_figure.py"


rule mixture_table:
    input:
        infos=PLAN.mixture_selection_infos(),
    output:
        table=paths.table("mixture_selection"),
    log:
        paths.log(Job.report("mixture_selection")),
    benchmark:
        paths.benchmark(Job.report("mixture_selection"))
    localrule: True
    conda:
        "../envs/report.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    script:
        f"../{SCRIPTS}/mixture_table.py"
