# Mixture methods (DoReMi, Skill-It): a proxy training job per variant (every seed in one job)
# learns a domain mixture or a per-round schedule; selection samples the pool from it to each
# byte budget (select_mixture, instead of the score-order `select`), and the selections train
# and evaluate like every other method's.
from dqreview.config import variant_params
from dqreview.metrics.skillit import check_params as check_skillit_params
from dqreview.metrics.skillit import schedule_variant

MIXTURE_METRICS = [
    e["name"]
    for e in config["metrics"]
    if getattr(get_metric(e["name"]), "MIXTURE", False)
]


def check_mixture_variants():
    # parameters are checked before any job starts, like the rest of the config
    for i, entry in enumerate(config["metrics"]):
        if entry["name"] not in MIXTURE_METRICS:
            continue
        metric_module = get_metric(entry["name"])
        slugs = [v["slug"] for v in entry["variants"]]
        for j, v in enumerate(entry["variants"]):
            where = f"config key 'metrics[{i}].variants[{j}].params'"
            params = metric_module.check_params(v.get("params"), where)
            skills = params.get("skills", "domains")
            if skills != "domains":
                ssl = next(
                    (e for e in config["metrics"] if e["name"] == "ssl_proto"), None
                )
                ssl_slugs = [u["slug"] for u in ssl["variants"]] if ssl else []
                if skills.split("/", 1)[1] not in ssl_slugs:
                    raise DQError(
                        f"{where}.skills: {skills!r} names no configured ssl_proto variant; "
                        f"ssl_proto variants: {ssl_slugs}"
                    )
            source = params.get("from")
            static = {
                u["slug"]
                for u in entry["variants"]
                if (u.get("params") or {}).get("static")
            }
            if source is not None and (source not in slugs or source in static):
                raise DQError(
                    f"{where}.from: {source!r} is not a non-static variant of "
                    f"{entry['name']}; variants: {slugs}"
                )


try:
    check_mixture_variants()
except DQError as exc:
    sys.exit(f"Configuration error: {exc}")


def mixture_state(wildcards):
    params = variant_params(config, wildcards.metric, wildcards.variant)
    variant = (
        schedule_variant(params, wildcards.variant)
        if wildcards.metric == "skillit"
        else wildcards.variant
    )
    return f"results/mixture/{wildcards.metric}/{variant}/s{wildcards.seed}.json"


def skill_inputs(wildcards):
    # Skill-It over k-means clusters reads the cluster of each document from ssl_proto's scores
    if getattr(wildcards, "metric", "skillit") != "skillit":
        return {}
    params = variant_params(config, "skillit", wildcards.variant)
    source = schedule_variant(params, wildcards.variant)
    skills = check_skillit_params(variant_params(config, "skillit", source))["skills"]
    return {} if skills == "domains" else {"skills": f"results/scores/{skills}.parquet"}


def mixture_costs(entry):
    # the proxy training a variant needs (a static Skill-It variant reuses another's run)
    slugs = {
        (
            schedule_variant(v.get("params"), v["slug"])
            if entry["name"] == "skillit"
            else v["slug"]
        )
        for v in entry["variants"]
    }
    return [f"results/cost/mixture/{entry['name']}/{s}.json" for s in sorted(slugs)]


def mixture_states(metric):
    entry = next(e for e in config["metrics"] if e["name"] == metric)
    return [
        p.replace("results/cost/mixture/", "results/mixture/").replace(
            ".json", f"/s{seed}.json"
        )
        for p in mixture_costs(entry)
        for seed in SEEDS
    ]


def mixture_selection_infos():
    return [
        f"results/select/{sel.path}/s{seed}.json"
        for sel in SELECTIONS
        if sel.metric in MIXTURE_METRICS
        for seed in SEEDS
    ]


def mixture_outputs():
    outputs = []
    if "doremi" in MIXTURE_METRICS:
        outputs.append("results/figs/doremi_weights.pdf")
    if "skillit" in MIXTURE_METRICS:
        outputs.append("results/figs/skillit_schedule.pdf")
    if MIXTURE_METRICS:
        outputs.append("results/tables/mixture_selection.csv")
    return outputs


rule doremi:
    input:
        shards=pool_shards(),
        tokenizer="results/lm/tokenizer.json",
    output:
        weights=expand("results/mixture/doremi/{{variant}}/s{seed}.json", seed=SEEDS),
        cost="results/cost/mixture/doremi/{variant}.json",
    log:
        "results/logs/mixture/doremi/{variant}.log",
    benchmark:
        "results/benchmarks/mixture/doremi/{variant}.tsv"
    conda:
        "../envs/torch.yaml"
    threads: THREADS
    resources:
        gpu=1,
        mem_mb=4000,
        runtime=120,
    script:
        f"../{SCRIPTS}/doremi.py"


rule skillit:
    input:
        unpack(skill_inputs),
        shards=pool_shards(),
        tokenizer="results/lm/tokenizer.json",
        ref="results/data/target/ref.parquet",
    output:
        schedules=expand("results/mixture/skillit/{{variant}}/s{seed}.json", seed=SEEDS),
        cost="results/cost/mixture/skillit/{variant}.json",
    log:
        "results/logs/mixture/skillit/{variant}.log",
    benchmark:
        "results/benchmarks/mixture/skillit/{variant}.tsv"
    conda:
        "../envs/torch.yaml"
    threads: THREADS
    resources:
        gpu=1,
        mem_mb=4000,
        runtime=120,
    script:
        f"../{SCRIPTS}/skillit.py"


rule select_mixture:
    input:
        unpack(skill_inputs),
        state=mixture_state,
        index="results/data/pool/index.parquet",
    output:
        ids="results/select/{metric}/{variant}/{keep}/b{budget}/s{seed}.parquet",
        info="results/select/{metric}/{variant}/{keep}/b{budget}/s{seed}.json",
        cost="results/cost/select/{metric}/{variant}/{keep}/b{budget}/s{seed}.json",
    log:
        "results/logs/select/{metric}/{variant}/{keep}/b{budget}/s{seed}.log",
    benchmark:
        "results/benchmarks/select/{metric}/{variant}/{keep}/b{budget}/s{seed}.tsv"
    wildcard_constraints:
        metric="|".join(MIXTURE_METRICS) or "(?!)",
    conda:
        "../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    script:
        f"../{SCRIPTS}/select.py"


ruleorder: select_mixture > select


rule doremi_figure:
    input:
        weights=mixture_states("doremi") if "doremi" in MIXTURE_METRICS else [],
    output:
        figure="results/figs/doremi_weights.pdf",
    log:
        "results/logs/report/doremi_weights.log",
    benchmark:
        "results/benchmarks/report/doremi_weights.tsv"
    localrule: True
    conda:
        "../envs/report.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    script:
        f"../{SCRIPTS}/mixture_report.py"


rule skillit_figure:
    input:
        schedules=mixture_states("skillit") if "skillit" in MIXTURE_METRICS else [],
    output:
        figure="results/figs/skillit_schedule.pdf",
    log:
        "results/logs/report/skillit_schedule.log",
    benchmark:
        "results/benchmarks/report/skillit_schedule.tsv"
    localrule: True
    conda:
        "../envs/report.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    script:
        f"../{SCRIPTS}/mixture_report.py"


rule mixture_table:
    input:
        infos=mixture_selection_infos(),
    output:
        table="results/tables/mixture_selection.csv",
    log:
        "results/logs/report/mixture_selection.log",
    benchmark:
        "results/benchmarks/report/mixture_selection.tsv"
    localrule: True
    conda:
        "../envs/report.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    script:
        f"../{SCRIPTS}/mixture_report.py"
