"""The experiment plan: every file the workflow builds for a validated config, and which job reads what.

The rules' input functions (``rules/common.smk``) are thin wrappers around one :class:`Plan`, so the
file lists are plain Python, testable without Snakemake, and defined in one place; the paths
themselves come from :mod:`dqreview.paths`, the inputs of each method from its declaration
(:mod:`dqreview.metrics.base`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from dqreview import paths
from dqreview.config import Selection, budget_slug, selection_grid, target_pool_domain
from dqreview.lm.harness_tasks import is_task_file
from dqreview.metrics import DocumentScorer, Method, MixtureLearner, method_of, params_of
from dqreview.metrics.inputs import SHARED_STAGES, Input, shared_stage_costs
from dqreview.params import Params


@dataclass(frozen=True)
class MethodJobs:
    """The jobs one method variant's selections cost: its own cost records, and the shared stages it uses."""

    own: tuple[str, ...]
    shared: tuple[str, ...]


class Plan:
    """Files and jobs of one run of the workflow (``config`` already validated)."""

    def __init__(self, config: dict[str, Any], basedir: str | Path = ".") -> None:
        self.config = config
        self.basedir = Path(basedir)
        self.seeds = list(config["seeds"])
        self.shards = list(range(config["prepare"]["shards"]))
        self.sources = [s["name"] for s in config["sources"]]
        self.domains = [d["name"] for d in config["domains"]]
        self.selections: list[Selection] = selection_grid(config)
        # the controls are trained and reported like any selection (docs/methods.md, "Controls")
        self.selections += self.control_selections()
        self.ablations: dict[str, dict] = config["review"]["ablations"]
        self._params: dict[tuple[str, str], Params] = {}

    # --- methods -------------------------------------------------------------------------------
    def method(self, metric: str) -> Method:
        return method_of(self.config, metric)

    def params(self, metric: str, variant: str) -> Params:
        key = (metric, variant)
        if key not in self._params:  # input functions ask once per job
            self._params[key] = params_of(self.config, metric, variant)
        return self._params[key]

    def variants(self) -> list[tuple[str, str]]:
        """Every configured (metric, variant), in config order."""
        return [(e["name"], v["slug"]) for e in self.config["metrics"] for v in e["variants"]]

    def metrics_of_kind(self, kind: type[Method]) -> list[str]:
        return [e["name"] for e in self.config["metrics"] if isinstance(self.method(e["name"]), kind)]

    @cached_property
    def mixture_metrics(self) -> list[str]:
        return self.metrics_of_kind(MixtureLearner)

    @cached_property
    def scoring_metrics(self) -> list[str]:
        return self.metrics_of_kind(DocumentScorer)

    @property
    def probe_trained(self) -> bool:
        """The Task2Vec probe is trained by the workflow (not a pretrained model named in the config)."""
        return self.config["task2vec"]["probe"].get("kind", "gpt") == "gpt"

    def _paths(self, inputs: tuple[Input, ...], metric: str, variant: str) -> dict[str, Any]:
        # another variant's scores (``requires``): the first grid seed's when that variant is scored per seed
        return {
            i.name: self.scores(*i.requires)
            if i.requires and self.scored_per_seed(*i.requires)
            else i.paths(self.shards, metric=metric, variant=variant)
            for i in inputs
        }

    # --- data -----------------------------------------------------------------------------------
    def pool_shards(self) -> list[str]:
        return paths.expand(paths.POOL_SHARD, shard=self.shards)

    def pool_embeddings(self) -> list[str]:
        return paths.expand(paths.EMBED, part=[f"pool/shard-{s}" for s in self.shards])

    def encoder_inputs(self) -> dict[str, str]:
        """The distilled static encoder when ``embed.model: static`` names it (rules prepare and embed)."""
        from dqreview.embed import STATIC_MODEL_NAME

        return {"encoder": paths.STATIC_MODEL} if self.config["embed"]["model"] == STATIC_MODEL_NAME else {}

    def pool_t2v(self) -> list[str]:
        return paths.expand(paths.T2V, part=[f"pool/shard-{s}" for s in self.shards])

    def eval_sets(self) -> dict[str, str]:
        """Evaluation name → documents: ``target`` (target test) and ``heldout/<domain>``."""
        sets = {"target": paths.fill(paths.TARGET, split="test")}
        sets.update({f"heldout/{d}": paths.fill(paths.HELDOUT, domain=d) for d in self.domains})
        return sets

    def task_files(self) -> list[str]:
        """Multiple-choice task files: relative to the working directory, else to the repository."""
        out = []
        for task in self.config["lm"]["eval"]["tasks"]:
            path = Path(task["path"])
            if not path.is_absolute() and not path.exists():
                path = self.basedir / path
            out.append(str(path))
        return out

    # --- scoring ----------------------------------------------------------------------------------
    @property
    def first_seed(self) -> int:
        """The seed whose scores a report reads where it needs one score file per variant."""
        return self.seeds[0]

    def scored_per_seed(self, metric: str, variant: str) -> bool:
        """A document scorer whose scoring follows the run seed (``seed: run``): one state and one score
        file per grid seed. Mixture learners learn per seed anyway; other scorers share one score file."""
        method = self.method(metric)
        return isinstance(method, DocumentScorer) and method.scored_per_seed(self.params(metric, variant))

    def _scoring(self, template: str, seeded: str, metric: str, variant: str, seed: int | str | None) -> str:
        if not self.scored_per_seed(metric, variant):
            return paths.fill(template, metric=metric, variant=variant)
        seed = self.first_seed if seed is None else seed
        return paths.fill(seeded, metric=metric, variant=variant, seed=seed)

    def state(self, metric: str, variant: str, seed: int | str | None = None) -> str:
        """The fitted state seed ``seed``'s scores come from (the first grid seed's when None)."""
        return self._scoring(paths.STATE, paths.STATE_SEEDED, metric, variant, seed)

    def scores(self, metric: str, variant: str, seed: int | str | None = None) -> str:
        """The merged scores seed ``seed`` selects from: per seed for a variant scored per seed (the first
        grid seed's when ``seed`` is None: what reports that need one score file read), else shared."""
        return self._scoring(paths.SCORES, paths.SCORES_SEEDED, metric, variant, seed)

    def scoring_fixed(self, metric: str, variant: str) -> str:
        """What stays fixed across the run seeds in a variant's selections ("" when nothing does): scoring
        seeds set to an integer, a shared stage's seeds (the Task2Vec probe and labels) and another
        variant's scores read at one seed. The confidence intervals over seeds exclude that randomness."""
        method, params = self.method(metric), self.params(metric, variant)
        fixed = [f"scoring {key} {value}" for key, value in params.fixed_seeds().items()]
        stages = {i.stage for i in method.inputs(params)}
        if "task2vec" in stages:
            t2v = self.config["task2vec"]
            labels = int(t2v["documents"].get("seed", 0))
            probe = int(t2v["probe"].get("seed", 0))
            if not self.probe_trained:
                fixed.append(f"Task2Vec labels (seed {labels})")
            elif probe == labels:
                fixed.append(f"probe and Task2Vec labels (seed {probe})")
            else:
                fixed.append(f"probe (seed {probe}) and Task2Vec labels (seed {labels})")
        fixed += [
            f"{i.requires[0]}/{i.requires[1]} scores (seed {self.first_seed})"
            for i in method.inputs(params)
            if i.requires and self.scored_per_seed(*i.requires)
        ]
        return "; ".join(fixed)

    def fit_inputs(self, metric: str, variant: str) -> dict[str, Any]:
        return self._paths(self.method(metric).fit_inputs_for(self.params(metric, variant)), metric, variant)

    def score_inputs(
        self, metric: str, variant: str, shard: int | str, seed: int | str | None = None
    ) -> dict[str, str]:
        method = self.method(metric)
        inputs = {"docs": paths.fill(paths.POOL_SHARD, shard=shard)}
        features = method.features_for(self.params(metric, variant))
        if features is not None:
            inputs["features"] = features.shard_path(shard)
        if method.fits:
            inputs["state"] = self.state(metric, variant, seed)
        return inputs

    # --- mixtures -------------------------------------------------------------------------------
    def learn_inputs(self, metric: str, variant: str) -> dict[str, Any]:
        return self._paths(self.method(metric).learn_inputs(self.params(metric, variant)), metric, variant)

    def select_inputs(self, metric: str, variant: str) -> dict[str, Any]:
        """Inputs of a mixture selection: those of the variant whose learned state it samples from."""
        source = self.state_variant(metric, variant)
        return self._paths(self.method(metric).select_inputs(self.params(metric, source)), metric, source)

    def state_variant(self, metric: str, variant: str) -> str:
        return self.method(metric).state_variant(variant, self.params(metric, variant))

    def mixture_state(self, metric: str, variant: str, seed: int | str) -> str:
        return paths.fill(
            paths.MIXTURE_STATE, metric=metric, variant=self.state_variant(metric, variant), seed=seed
        )

    def learned_variants(self, metric: str) -> list[str]:
        """The variants of a mixture method that run their own proxies (others reuse one's state)."""
        return sorted({self.state_variant(metric, v) for m, v in self.variants() if m == metric})

    def mixture_states(self, metric: str) -> list[str]:
        return [
            paths.fill(paths.MIXTURE_STATE, metric=metric, variant=v, seed=s)
            for v in self.learned_variants(metric)
            for s in self.seeds
        ]

    # --- per selection ------------------------------------------------------------------------------
    def _per_seed(self, template: str, selections: list[Selection] | None = None) -> list[str]:
        return [
            paths.fill(template, **sel.wildcards, seed=seed)
            for sel in (self.selections if selections is None else selections)
            for seed in self.seeds
        ]

    def evals(self, selections: list[Selection] | None = None) -> list[str]:
        return self._per_seed(paths.EVAL, selections)

    def selection_infos(self, selections: list[Selection] | None = None) -> list[str]:
        return self._per_seed(paths.SELECT_INFO, selections)

    def selection_ids(self) -> list[str]:
        return self._per_seed(paths.SELECT_IDS)

    def exports(self, fmt: str) -> list[str]:
        """Every selection's exported documents (every seed), as ``fmt`` (parquet or jsonl)."""
        return [paths.fill(p, format=fmt) for p in self._per_seed(paths.EXPORT)]

    def export_inputs(self, metric: str, variant: str, keep: str, budget: str, seed: int | str) -> dict:
        """A selection's ids, the pool's shards and, for a document scorer, its merged scores."""
        wildcards = {"metric": metric, "variant": variant, "keep": keep, "budget": budget, "seed": seed}
        inputs: dict[str, Any] = {
            "ids": paths.fill(paths.SELECT_IDS, **wildcards),
            "shards": self.pool_shards(),
        }
        if metric in self.scoring_metrics:
            inputs["scores"] = self.scores(metric, variant, seed)
        return inputs

    def train_logs(self) -> list[str]:
        return self._per_seed(paths.TRAIN_LOG)

    @property
    def harness_tasks(self) -> list[str]:
        """lm-eval-harness tasks (``lm.eval.harness``): names, or local task YAMLs resolved like task files."""
        out = []
        for task in self.config["lm"]["eval"].get("harness") or []:
            path = Path(task)
            if is_task_file(task) and not path.is_absolute() and not path.exists():
                task = str(self.basedir / path)
            out.append(task)
        return out

    @property
    def keep_models(self) -> bool:
        """The final proxies are kept as Hugging Face directories (``lm.train.keep_model``, or for the harness)."""
        return bool(self.config["lm"]["train"].get("keep_model", True) or self.harness_tasks)

    def harness_task_files(self) -> list[str]:
        """The local task YAMLs among the harness tasks (inputs of rule harness)."""
        return [t for t in self.harness_tasks if is_task_file(t)]

    def models(self, selections: list[Selection] | None = None) -> list[str]:
        return self._per_seed(paths.MODEL, selections) if self.keep_models else []

    def harness_tables(self) -> list[str]:
        """One lm-eval-harness CSV per selection; none when ``lm.eval.harness`` is empty."""
        if not self.harness_tasks:
            return []
        return [paths.fill(paths.HARNESS, **sel.wildcards) for sel in self.selections]

    def mixture_selection_infos(self) -> list[str]:
        return self.selection_infos([s for s in self.selections if s.metric in self.mixture_metrics])

    def dedup_variants(self) -> list[tuple[str, str]]:
        """Every variant of a deduplicating method (judged on the planted duplicates)."""
        return [(m, v) for m, v in self.variants() if self.method(m).deduplicates]

    def dedup_scores(self) -> list[str]:
        """Each deduplicating variant's scores (the first grid seed's where scored per seed)."""
        return [self.scores(m, v) for m, v in self.dedup_variants()]

    # --- controls -------------------------------------------------------------------------------------
    #: The method families whose selections get a domain-matched control: those that choose documents for
    #: what they are (random is its own control; a dedup method keeps the pool's domain shares up to its
    #: duplicates; the mixture learners choose at the domain level).
    MATCHED_FAMILIES = ("target-aware", "target-blind")

    @property
    def controls(self) -> dict[str, bool]:
        """``review.controls``: ``domain_matched`` and ``target_domain`` (both off when absent)."""
        given = self.config.get("review", {}).get("controls", {})
        return {k: bool(given.get(k, False)) for k in ("domain_matched", "target_domain")}

    def _controlled_budget(self, budget: str) -> bool:
        """Whether ``review.controls.budgets`` (default: every budget) includes ``budget``."""
        budgets = self.config.get("review", {}).get("controls", {}).get("budgets")
        return not budgets or budget_slug(float(budget)) in {budget_slug(b) for b in budgets}

    def _controlled(self, sel: Selection) -> bool:
        """Whether ``review.controls.budgets``, ``.keep`` and ``.metrics`` (default: all) include ``sel``."""
        given = self.config.get("review", {}).get("controls", {})
        metrics = given.get("metrics")
        return (
            self._controlled_budget(sel.budget)
            and sel.keep in given.get("keep", ["high", "low"])
            and (not metrics or sel.metric in metrics)
        )

    def matched_sources(self) -> list[Selection]:
        """The selections that get a domain-matched control: document scorers of :attr:`MATCHED_FAMILIES`,
        below the whole pool."""
        if not self.controls["domain_matched"]:
            return []
        scorers = set(self.scoring_metrics)
        return [
            sel
            for sel in selection_grid(self.config)
            if sel.metric in scorers
            and self.method(sel.metric).family in self.MATCHED_FAMILIES
            and not sel.is_full_data
            and self._controlled(sel)
        ]

    @staticmethod
    def matched_control(sel: Selection) -> Selection:
        """The domain-matched control of ``sel``: ``control/matched.<metric>.<variant>.<keep>/high/b<budget>``."""
        variant = paths.matched_variant(sel.metric, sel.variant, sel.keep)
        return Selection(paths.CONTROL_METRIC, variant, "high", sel.budget)

    @property
    def target_domain(self) -> str:
        """The target's own pool domain (the one whose sources include ``target.source``)."""
        return target_pool_domain(self.config)

    def control_selections(self) -> list[Selection]:
        """Every control the config asks for: each eligible selection's domain-matched control, then the
        target-domain-only random arm at every budget below the whole pool."""
        out = [self.matched_control(sel) for sel in self.matched_sources()]
        if self.controls["target_domain"]:
            budgets = sorted(
                {
                    s.budget
                    for s in selection_grid(self.config)
                    if not s.is_full_data and self._controlled_budget(s.budget)
                }
            )
            out += [Selection(paths.CONTROL_METRIC, paths.TARGET_DOMAIN_VARIANT, "high", b) for b in budgets]
        return out

    def control_inputs(self, variant: str, budget: str, seed: int | str) -> dict[str, str]:
        """A control's inputs: the pool index and, for a domain-matched control, its source selection's ids
        at the same budget and seed."""
        inputs = {"index": paths.POOL_INDEX}
        source = paths.matched_source(variant)
        if source is not None:
            metric, source_variant, keep = source
            inputs["source"] = paths.fill(
                paths.SELECT_IDS, metric=metric, variant=source_variant, keep=keep, budget=budget, seed=seed
            )
        return inputs

    # --- the review ---------------------------------------------------------------------------------
    def train_tokens(self, budget: float | str) -> int:
        """Training tokens of every run at ``budget``: ``lm.train.tokens_at_budget``'s entry, else
        ``lm.train.tokens``."""
        train = self.config["lm"]["train"]
        for entry in train["tokens_at_budget"]:
            if budget_slug(entry["budget"]) == budget_slug(float(budget)):
                return int(entry["tokens"])
        return int(train["tokens"])

    @property
    def curve_multipliers(self) -> list[str]:
        """Token multipliers of the baselines' compute curves (1 is the main run itself)."""
        return [f"{float(m):g}" for m in self.config["review"]["curve_multipliers"] if float(m) != 1.0]

    @property
    def curve_selections(self) -> list[Selection]:
        """Random at every budget and the full-data baseline: the selections with compute curves."""
        return [sel for sel in self.selections if sel.metric == "random"]

    def curves(self) -> list[str]:
        return [
            paths.fill(paths.CURVE_EVAL, mult=mult, **sel.wildcards, seed=seed)
            for mult in self.curve_multipliers
            for sel in self.curve_selections
            for seed in self.seeds
        ]

    def compute_scaling(self) -> dict[str, str]:
        """The compute table's scaling input: the benchmark's table where it is drawn, else none (the
        per-million selection costs then extrapolate the run's own)."""
        return {"scaling": paths.SCALING_TABLE} if self.scaling_sizes else {}

    def ablation_selections(self, name: str) -> list[Selection]:
        """An ablation's series at every budget, plus random (the paired reference) and full data."""
        keys = {(s["metric"], s["variant"], s.get("keep", "high")) for s in self.ablations[name]["series"]}
        random = next(e for e in self.config["metrics"] if e["name"] == "random")
        keys.add(("random", random["variants"][0]["slug"], "high"))
        # each series' domain-matched control and the target-domain arm, drawn as references
        keys |= {(paths.CONTROL_METRIC, paths.matched_variant(*key), "high") for key in keys}
        keys.add((paths.CONTROL_METRIC, paths.TARGET_DOMAIN_VARIANT, "high"))
        return [sel for sel in self.selections if (sel.metric, sel.variant, sel.keep) in keys]

    def ablation_pool_fractions(self, name: str) -> dict[str, float]:
        """``metric/variant`` → the fraction of the pool the variant sees (pool-size ablations)."""
        return {
            f"{s['metric']}/{s['variant']}": self.method(s["metric"]).pool_fraction(
                self.params(s["metric"], s["variant"])
            )
            for s in self.ablations[name]["series"]
        }

    def contrast_pool_fractions(self) -> dict[str, dict[str, float]]:
        """Ablation → :meth:`ablation_pool_fractions` (rule contrasts: ``by: pool`` contrasts)."""
        return {name: self.ablation_pool_fractions(name) for name in self.ablations}

    def mixture_figures(self) -> dict[str, str]:
        """Figure name → the mixture method that draws it (from every learned state)."""
        return {self.method(m).figure: m for m in self.mixture_metrics if self.method(m).figure}

    def targets(self, paper: bool) -> list[str]:
        """What ``snakemake all`` builds: every figure (whose rule then writes its tables), the tables no
        figure comes with, both target splits' embeddings, the manifest and, when asked, the paper."""
        out = self.figures()
        out += [
            paths.table(n)
            for n in ("data", "cost", "vendi", "dedup_quality", "kl_reduction", "t2v_selections", "contrasts")
        ]
        out += paths.expand(paths.EMBED, part=["target/ref", "target/test"])
        out += self.t2v_reliability_tables()
        out += [paths.MANIFEST, *([paths.PAPER_PDF] if paper else [])]
        if self.mixture_metrics:
            out.append(paths.table("mixture_selection"))
        if self.scaling_sizes:
            out += [paths.SCALING_TABLE, paths.SCALING_FIGURE]
        return out + self.models() + self.harness_tables()

    @property
    def scaling_sizes(self) -> list[int]:
        """Pool sizes of the cost curve (``review.scaling.sizes``); empty: rule scaling is not drawn."""
        return list(self.config["review"].get("scaling", {}).get("sizes", []))

    # --- Task2Vec reliability (task2vec.reliability) ---------------------------------------------
    @property
    def t2v_reliability(self) -> bool:
        """Whether the run writes the Task2Vec reliability table: a sample size above 0 and the alignment
        method it re-scores (``task2vec.reliability.metric``) configured."""
        rel = self.config["task2vec"]["reliability"]
        configured = {e["name"] for e in self.config["metrics"]}
        return bool(rel["sample"]) and rel["metric"] in configured

    def t2v_reliability_scores(self) -> dict[str, str]:
        """Merged scores (the first grid seed's) of the alignment method's first variant and of each
        configured method of ``task2vec.reliability.compare``: ``{metric: path}``, alignment first."""
        rel = self.config["task2vec"]["reliability"]
        first = {e["name"]: e["variants"][0]["slug"] for e in self.config["metrics"]}
        names = [rel["metric"], *(m for m in rel["compare"] if m != rel["metric"])]
        return {m: self.scores(m, first[m]) for m in names if m in first}

    def t2v_reliability_variant(self) -> tuple[str, str]:
        """(metric, variant) the reliability table re-scores: the alignment method's first variant."""
        metric = self.config["task2vec"]["reliability"]["metric"]
        entry = next(e for e in self.config["metrics"] if e["name"] == metric)
        return metric, entry["variants"][0]["slug"]

    def t2v_reliability_tables(self) -> list[str]:
        """The reliability table (CSV) when the run writes it, else none (rule paper_macros reads it)."""
        return [paths.table("t2v_reliability")] if self.t2v_reliability else []

    def paper_sources(self) -> list[str]:
        """The paper's hand-written sources: ``paper/main.tex``, its section files and its bibliography."""
        root = self.basedir / "paper"
        return sorted(str(p) for p in root.rglob("*") if p.suffix in {".tex", ".bib"})

    def figures(self) -> list[str]:
        """Every figure of the run: the fixed ones, each mixture method's and each ablation's."""
        return [paths.figure(n) for n in [*paths.FIGURES, *self.mixture_figures(), *self.ablations]]

    def paper_figures(self) -> list[str]:
        """The paper's figures: all of them (main.tex includes every fixed figure, the ablations' and, where
        they exist, the mixture methods'), so that the paper never runs before one is drawn."""
        return self.figures()

    def paper_tables(self) -> list[str]:
        extra = ["t2v_reliability"] if self.t2v_reliability else []
        return [paths.table(n, tex=True) for n in [*paths.PAPER_TABLES, *extra]]

    def first_variant_states(self, metric: str) -> list[str]:
        """The learned states (every seed) of a mixture method's first variant; none when not configured."""
        entry = next((e for e in self.config["metrics"] if e["name"] == metric), None)
        if entry is None:
            return []
        slug = entry["variants"][0]["slug"]
        return [paths.fill(paths.MIXTURE_STATE, metric=metric, variant=slug, seed=s) for s in self.seeds]

    # --- cost accounting ----------------------------------------------------------------------------
    def method_jobs(self, metric: str, variant: str, seed: int | str | None = None) -> MethodJobs:
        """The cost records of one variant's own jobs (fit, per-shard work, scoring, proxy training)
        and the shared stages it uses, from its declared inputs. A variant scored per seed is charged
        one seed's fit and scoring (``seed``; the first grid seed's when None), as it is one seed's
        selection."""
        method, params = self.method(metric), self.params(metric, variant)
        own: list[str] = []
        if isinstance(method, MixtureLearner):
            own.append(
                paths.cost(
                    paths.fill(paths.Job.MIXTURE, metric=metric, variant=self.state_variant(metric, variant))
                )
            )
        else:
            job = {"metric": metric, "variant": variant}
            score, fit = paths.Job.SCORE, paths.Job.FIT
            if self.scored_per_seed(metric, variant):
                job["seed"] = self.first_seed if seed is None else seed
                score, fit = paths.Job.SCORE_SEEDED, paths.Job.FIT_SEEDED
            own += paths.expand(paths.cost(paths.fill(score, **job)), shard=self.shards)
            if method.fits:
                own.append(paths.cost(paths.fill(fit, **job)))
            job.pop("seed", None)  # per-shard features are shared by every seed
            if method.has_shard_features:
                own += paths.expand(paths.cost(paths.fill(paths.Job.FEATURES, **job)), shard=self.shards)
        shared = sorted({i.stage for i in method.inputs(params) if i.stage in SHARED_STAGES})
        return MethodJobs(own=tuple(own), shared=tuple(shared))

    def stage_costs(self) -> dict[str, list[str]]:
        """Cost records of each shared stage's jobs that serve selection."""
        costs = {s: shared_stage_costs(s, self.shards, self.probe_trained) for s in SHARED_STAGES}
        if self.encoder_inputs():  # embed.model: static: the encoder pass includes its distillation
            costs["embed"].insert(0, paths.cost(paths.Job.DISTILL_STATIC))
        return costs

    def uses_stage(self, stage: str) -> bool:
        """Whether a configured variant reads an input of this shared stage."""
        return any(stage in self.method_jobs(metric, variant).shared for metric, variant in self.variants())

    def select_costs(self, sel: Selection) -> list[str]:
        return [paths.cost(paths.fill(paths.Job.SELECT, **sel.wildcards, seed=s)) for s in self.seeds]

    def all_costs(self) -> list[str]:
        """Every cost record of the run (the cost table and the compute accounting read them)."""
        costs = self.stage_costs()["embed"]
        if self.uses_stage("embed_static"):  # the static encoder arm (a variant's space: static)
            costs += [c for c in self.stage_costs()["embed_static"] if c not in costs]
        costs += [paths.cost(paths.fill(paths.Job.TRAIN, **sel.wildcards)) for sel in self.selections]
        costs += [c for sel in self.selections for c in self.select_costs(sel)]
        for metric, variant in self.variants():
            for seed in self.seeds if self.scored_per_seed(metric, variant) else [None]:
                costs += [c for c in self.method_jobs(metric, variant, seed).own if c not in costs]
        task2vec = self.stage_costs()["task2vec"]
        probe = task2vec[:1] if self.probe_trained else []
        costs += task2vec[len(probe) :] + [paths.cost(paths.Job.T2V_DIVERSITY)] + probe
        return costs
