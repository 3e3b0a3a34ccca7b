# Path helpers and wildcard constraints shared by every rule.
from dqreview.metrics import get_metric

SEEDS = config["seeds"]
SHARDS = list(range(config["prepare"]["shards"]))
SOURCES = [s["name"] for s in config["sources"]]
DOMAINS = [d["name"] for d in config["domains"]]
SELECTIONS = selection_grid(config)
SCRIPTS = "workflow/scripts"
THREADS = config["threads"]


wildcard_constraints:
    source=r"[A-Za-z0-9][A-Za-z0-9_-]*",
    domain=r"[A-Za-z0-9][A-Za-z0-9_-]*",
    shard=r"\d+",
    metric=r"[a-z][a-z0-9_]*",
    variant=r"[A-Za-z0-9][A-Za-z0-9._-]*",
    keep=r"high|low",
    budget=r"\d\.\d\d",
    seed=r"\d+",
    part=r"pool/shard-\d+|target/ref|target/test",
    mult=r"\d+(\.\d+)?",
    ablation="|".join(config.get("review", {}).get("ablations", {})) or "(?!)",


def pool_shards():
    return expand("results/data/pool/shard-{shard}.parquet", shard=SHARDS)


def pool_embeddings():
    return expand("results/embed/pool/shard-{shard}.npy", shard=SHARDS)


def eval_sets():
    return ["results/data/target/test.parquet"] + expand(
        "results/data/heldout/{domain}.parquet", domain=DOMAINS
    )


def task_files():
    # relative to the working directory, else to the repository (configs/tasks/ ships with it)
    paths = []
    for task in config["lm"]["eval"]["tasks"]:
        path = Path(task["path"])
        if not path.is_absolute() and not path.exists():
            path = Path(workflow.basedir) / path
        paths.append(str(path))
    return paths


def selection_of(wildcards):
    return (
        f"{wildcards.metric}/{wildcards.variant}/{wildcards.keep}/b{wildcards.budget}"
    )


def source_spec(wildcards):
    return next(s for s in config["sources"] if s["name"] == wildcards.source)


def checkpoint_dir(wildcards):
    # Resumable training state lives outside declared outputs: Snakemake deletes a job's
    # outputs before rerunning it, and the state must survive that.
    return f"results/.ckpt/train/{selection_of(wildcards)}"


def metric_needs(metric):
    return set(get_metric(metric).NEEDS)


def metric_fits(metric):
    return hasattr(get_metric(metric), "fit")


def fit_inputs(wildcards):
    needs = get_metric(wildcards.metric).FIT_NEEDS
    inputs = {}
    if "pool_embeddings" in needs:
        inputs["pool_embeddings"] = pool_embeddings()
    if "target_embeddings" in needs:
        inputs["target_embeddings"] = "results/embed/target/ref.npy"
    if "pool_ids" in needs:
        inputs["pool_ids"] = "results/data/pool/index.parquet"
    if "pool_texts" in needs:
        inputs["pool_texts"] = pool_shards()
    if "target_texts" in needs:
        inputs["target_texts"] = "results/data/target/ref.parquet"
    if "shard_features" in needs:
        inputs["shard_features"] = shard_features(wildcards.metric, wildcards.variant)
    if "pool_t2v" in needs:
        inputs["pool_t2v"] = expand("results/t2v/pool/shard-{shard}.npy", shard=SHARDS)
    if "target_t2v" in needs:
        inputs["target_t2v"] = "results/t2v/target/ref.npy"
    if "target_losses" in needs:
        inputs["target_losses"] = "results/t2v/target/ref.parquet"
    return inputs


def shard_features(metric, variant):
    return expand(
        "results/features/{metric}/{variant}/shard-{shard}.npz",
        metric=metric,
        variant=variant,
        shard=SHARDS,
    )


def score_inputs(wildcards):
    inputs = {"docs": f"results/data/pool/shard-{wildcards.shard}.parquet"}
    if "embeddings" in metric_needs(wildcards.metric):
        inputs["emb"] = f"results/embed/pool/shard-{wildcards.shard}.npy"
    if "t2v" in metric_needs(wildcards.metric):
        inputs["t2v"] = f"results/t2v/pool/shard-{wildcards.shard}.npy"
    if metric_fits(wildcards.metric):
        inputs["state"] = (
            f"results/prototypes/{wildcards.metric}/{wildcards.variant}.npz"
        )
    return inputs


def all_evals():
    return [
        f"results/eval/{sel.path}/s{seed}.json" for sel in SELECTIONS for seed in SEEDS
    ]


def all_selection_infos():
    return [
        f"results/select/{sel.path}/s{seed}.json"
        for sel in SELECTIONS
        for seed in SEEDS
    ]


def all_selection_ids():
    return [
        f"results/select/{sel.path}/s{seed}.parquet"
        for sel in SELECTIONS
        for seed in SEEDS
    ]


def dedup_scores():
    # metrics that remove documents (a `removed` score column) are judged on the planted duplicates
    return [
        f"results/scores/{entry['name']}/{v['slug']}.parquet"
        for entry in config["metrics"]
        if getattr(get_metric(entry["name"]), "REMOVES", False)
        for v in entry["variants"]
    ]


def all_costs():
    costs = expand("results/cost/embed/pool/shard-{shard}.json", shard=SHARDS)
    costs.append("results/cost/embed/target/ref.json")
    costs += [f"results/cost/train/{sel.path}.json" for sel in SELECTIONS]
    costs += [
        f"results/cost/select/{sel.path}/s{seed}.json"
        for sel in SELECTIONS
        for seed in SEEDS
    ]
    for entry in config["metrics"]:
        if getattr(get_metric(entry["name"]), "MIXTURE", False):
            # proxy training instead of scoring (rules/mixture.smk)
            costs += mixture_costs(entry)
            continue
        for v in entry["variants"]:
            costs += expand(
                "results/cost/score/{metric}/{variant}/shard-{shard}.json",
                metric=entry["name"],
                variant=v["slug"],
                shard=SHARDS,
            )
            if metric_fits(entry["name"]):
                costs.append(f"results/cost/fit/{entry['name']}/{v['slug']}.json")
            if "shard_features" in getattr(get_metric(entry["name"]), "FIT_NEEDS", ()):
                costs += expand(
                    "results/cost/features/{metric}/{variant}/shard-{shard}.json",
                    metric=entry["name"],
                    variant=v["slug"],
                    shard=SHARDS,
                )
    costs += task2vec_costs()  # rules/task2vec.smk
    return costs


# --- the review: baselines' learning curves, compute accounting, figures -------------------
REVIEW = config["review"]
# random at every budget and the full-data baseline are also trained for other token counts, each
# run with its own learning-rate schedule: the baselines' compute curves
CURVE_SELECTIONS = [sel for sel in SELECTIONS if sel.metric == "random"]
CURVE_MULTIPLIERS = [
    f"{float(m):g}" for m in REVIEW["curve_multipliers"] if float(m) != 1.0
]


def curve_overrides(wildcards):
    return {
        "tokens": int(round(config["lm"]["train"]["tokens"] * float(wildcards.mult)))
    }


def all_curves():
    return [
        f"results/curves/x{mult}/{sel.path}/s{seed}.json"
        for mult in CURVE_MULTIPLIERS
        for sel in CURVE_SELECTIONS
        for seed in SEEDS
    ]


def all_train_logs():
    return [
        f"results/train/{sel.path}/s{seed}.json" for sel in SELECTIONS for seed in SEEDS
    ]


def metric_uses():
    # which shared stages (charged in full and amortised) each metric variant depends on
    from dqreview.report.compute import shared_stages

    uses = {}
    for entry in config["metrics"]:
        metric_module = get_metric(entry["name"])
        needs = [*metric_module.NEEDS, *getattr(metric_module, "FIT_NEEDS", ())]
        for v in entry["variants"]:
            uses[f"{entry['name']}/{v['slug']}"] = shared_stages(needs)
    return uses


ABLATIONS = REVIEW["ablations"]


def ablation_selections(name):
    # the figure's series at every budget, plus random (paired reference) and full data
    spec = ABLATIONS[name]
    keys = {(s["metric"], s["variant"], s.get("keep", "high")) for s in spec["series"]}
    random = next(e for e in config["metrics"] if e["name"] == "random")
    keys.add(("random", random["variants"][0]["slug"], "high"))
    return [sel for sel in SELECTIONS if (sel.metric, sel.variant, sel.keep) in keys]


def ablation_runs(wildcards):
    sels = ablation_selections(wildcards.ablation)
    return {
        "evals": [
            f"results/eval/{s.path}/s{seed}.json" for s in sels for seed in SEEDS
        ],
        "infos": [
            f"results/select/{s.path}/s{seed}.json" for s in sels for seed in SEEDS
        ],
    }


def variant_param(metric, variant, key, default):
    from dqreview.config import variant_params

    return variant_params(config, metric, variant).get(key, default)


def paper_figures():
    names = [
        "comparison",
        "composition",
        "cost",
        "learning_curves",
        "metrics",
        "theory",
    ]
    return [f"results/figs/{n}.pdf" for n in [*names, *ABLATIONS]]


def paper_tables():
    return [
        f"results/tables/{n}.tex"
        for n in ["data", "comparison", "compute", "diversity"]
    ]


def metric_runs_as():
    # variants that reuse another variant's jobs (Skill-It's static control: the online run's proxy)
    from dqreview.config import variant_params

    return {
        f"{e['name']}/{v['slug']}": variant_params(config, e["name"], v["slug"])["from"]
        for e in config["metrics"]
        for v in e["variants"]
        if variant_params(config, e["name"], v["slug"]).get("from")
    }


def doremi_states():
    # the first DoReMi variant's learned weights, every seed (for the paper's text)
    entry = next((e for e in config["metrics"] if e["name"] == "doremi"), None)
    if entry is None:
        return []
    slug = entry["variants"][0]["slug"]
    return [f"results/mixture/doremi/{slug}/s{seed}.json" for seed in SEEDS]
