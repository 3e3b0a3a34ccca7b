# Tables, figures and provenance.


def all_evals():
    return [
        f"results/eval/{sel.path}/s{seed}.json" for sel in SELECTIONS for seed in SEEDS
    ]


def all_selection_infos():
    return [
        f"results/select/{sel.path}/s{seed}.json" for sel in SELECTIONS for seed in SEEDS
    ]


def all_costs():
    costs = expand("results/cost/embed/pool/shard-{shard}.json", shard=SHARDS)
    costs += [f"results/cost/train/{sel.path}.json" for sel in SELECTIONS]
    costs += [f"results/cost/select/{sel.path}/s{seed}.json" for sel in SELECTIONS for seed in SEEDS]
    for entry in config["metrics"]:
        for v in entry["variants"]:
            costs += expand(
                "results/cost/score/{metric}/{variant}/shard-{shard}.json",
                metric=entry["name"],
                variant=v["slug"],
                shard=SHARDS,
            )
            if metric_fits(entry["name"]):
                costs.append(f"results/cost/fit/{entry['name']}/{v['slug']}.json")
    return costs


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
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    localrule: True
    conda:
        "../envs/report.yaml"
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
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    localrule: True
    conda:
        "../envs/report.yaml"
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
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    localrule: True
    conda:
        "../envs/data.yaml"
    script:
        f"../{SCRIPTS}/manifest.py"
