"""Configuration: schema validation with messages that name the key, and the experiment grid.

The Snakefile validates the merged config before any job starts, so a typo or a wrong type is
reported once, up front, as ``config key 'lm.train.tokens': expected integer, got '1e5' (str)``.
"""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from dqreview import paths
from dqreview.errors import DQError

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "config.schema.yaml"


def load_schema(path: str | Path = SCHEMA_PATH) -> dict:
    return yaml.safe_load(Path(path).read_text())


def _key(path) -> str:
    parts: list[str] = []
    for p in path:
        if isinstance(p, int):
            parts.append(f"[{p}]")
        else:
            parts.append(("." if parts else "") + str(p))
    return "".join(parts) or "(top level)"


def _describe(error: jsonschema.ValidationError) -> str:
    key = _key(error.absolute_path)
    inst = error.instance
    got = f"{inst!r} ({type(inst).__name__})"
    v = error.validator
    if v == "type":
        return f"config key '{key}': expected {error.validator_value}, got {got}"
    if v == "additionalProperties":
        known = sorted(error.schema.get("properties", {}))
        extra = sorted(set(inst) - set(known)) if isinstance(inst, dict) else []
        where = f"'{key}'" if error.absolute_path else "the top level"
        return f"unknown config key(s) {extra} in {where}; allowed keys: {known}"
    if v == "required":
        return f"config key '{key}': {error.message}"
    if v == "enum":
        return f"config key '{key}': {got} is not one of {error.validator_value}"
    if v in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        return f"config key '{key}': {got} violates {v} {error.validator_value}"
    return f"config key '{key}': {error.message}"


def _fill_defaults(schema: dict, instance: Any, root: dict) -> None:
    """Insert schema ``default`` values for absent keys (recursively, through $ref and arrays)."""
    if "$ref" in schema:
        ref = schema["$ref"].split("/")[-1]
        schema = {**root["$defs"][ref], **{k: v for k, v in schema.items() if k != "$ref"}}
    if isinstance(instance, dict):
        for key, sub in schema.get("properties", {}).items():
            if key not in instance and "default" in sub:
                instance[key] = copy.deepcopy(sub["default"])
            if key in instance:
                _fill_defaults(sub, instance[key], root)
    elif isinstance(instance, list) and isinstance(schema.get("items"), dict):
        for item in instance:
            _fill_defaults(schema["items"], item, root)


def validate_config(config: dict, schema: dict | None = None) -> dict:
    """Validate ``config`` in place (defaults filled) and return it; raise DQError on the first problems."""
    schema = schema or load_schema()
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: (len(e.absolute_path), str(e.absolute_path)))
    if errors:
        lines = [_describe(e) for e in errors[:5]]
        more = f"\n  ... and {len(errors) - 5} more" if len(errors) > 5 else ""
        raise DQError("invalid configuration:\n  " + "\n  ".join(lines) + more)
    _fill_defaults(schema, config, schema)
    _check_semantics(config)
    return config


def _check_semantics(config: dict) -> None:
    from dqreview.metrics import (
        MixtureLearner,
        known_metrics,
        validate_metric_entry,
    )  # lazy: keeps the Snakefile import light

    names = [s["name"] for s in config["sources"]]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise DQError(f"config key 'sources': duplicate source name(s) {sorted(dup)}; names must be unique")
    if config["target"]["source"] not in names:
        raise DQError(
            f"config key 'target.source': '{config['target']['source']}' is not a source; sources: {names}"
        )
    domains = [d["name"] for d in config["domains"]]
    if len(set(domains)) != len(domains):
        raise DQError(f"config key 'domains': duplicate domain names in {domains}")
    if "target" in domains:  # the target splits' domain (planted noise takes a pool domain, so no "noise")
        raise DQError(
            "config key 'domains': 'target' is reserved (the target splits' domain); rename that domain"
        )
    for i, d in enumerate(config["domains"]):
        for s in d["sources"]:
            if s not in names:
                raise DQError(f"config key 'domains[{i}].sources': unknown source '{s}'; sources: {names}")
    _check_revisions(config)
    p = config["prepare"]
    if p["max_chunk_words"] < p["chunk_words"]:
        raise DQError("config key 'prepare.max_chunk_words' must be >= 'prepare.chunk_words'")
    m = config["lm"]["model"]
    if m["n_embd"] % m["n_head"]:
        raise DQError(
            f"config key 'lm.model.n_head': n_embd={m['n_embd']} is not divisible by n_head={m['n_head']}"
        )
    from dqreview.lm.harness_tasks import check_harness

    check_harness(config)
    metric_names = [e["name"] for e in config["metrics"]]
    if paths.CONTROL_METRIC in metric_names:
        raise DQError(
            f"config key 'metrics': {paths.CONTROL_METRIC!r} is reserved (the controls' selections, "
            "results/select/control/...); rename that metric"
        )
    budgets = {budget_slug(b) for b in config["select"]["budgets"]}
    parsed = {}
    for i, entry in enumerate(config["metrics"]):
        method, variants = validate_metric_entry(entry, i)
        parsed[entry["name"]] = (i, method, variants)
        for j, variant in enumerate(entry["variants"]):
            _check_grid_budgets(
                f"metrics[{i}].variants[{j}].budgets", variant.get("budgets", []), budgets,
                "a variant's budgets are a subset (random runs at the same budgets)",
            )  # fmt: skip
    grid_budgets = budgets | ({budget_slug(1.0)} if config["select"]["full_data"] else set())
    seen: set[str] = set()
    for i, entry in enumerate(config["lm"]["train"]["tokens_at_budget"]):
        slug = budget_slug(entry["budget"])
        if slug not in grid_budgets or slug in seen:
            raise DQError(
                f"config key 'lm.train.tokens_at_budget[{i}].budget': {entry['budget']} is "
                + ("listed twice" if slug in seen else f"not a budget of the grid {sorted(grid_budgets)}")
                + "; give each budget of 'select.budgets' (or 1.0 with 'select.full_data') at most once"
            )
        seen.add(slug)
    if len(set(metric_names)) != len(metric_names):
        raise DQError(
            f"config key 'metrics': a metric is listed twice in {metric_names}; use variants instead"
        )
    if config["review"]["controls"]["target_domain"]:
        target_pool_domain(config)  # raises when the target's source is in no pool domain
    _check_grid_budgets(
        "review.controls.budgets", config["review"]["controls"].get("budgets", []), budgets,
        "controls are drawn at budgets of the grid",
    )  # fmt: skip
    # A registered method this run does not configure is no error: a config that narrows 'metrics' on top
    # of another (a second --configfile) keeps that config's controls; a misspelt name still stops the run.
    unknown = sorted(
        set(config["review"]["controls"].get("metrics", [])) - set(metric_names) - set(known_metrics())
    )
    if unknown:
        raise DQError(
            f"config key 'review.controls.metrics': {unknown} is neither configured in 'metrics' {metric_names} "
            f"nor a registered method {known_metrics()}; fix the name"
        )
    _check_required_outputs(parsed)
    _check_t2v_reliability(config)
    method_figures = {m.figure for _, m, _ in parsed.values() if isinstance(m, MixtureLearner) and m.figure}
    if config["select"]["full_data"] and "random" not in metric_names:
        raise DQError(
            "config key 'select.full_data': the full-data baseline needs the 'random' metric configured"
        )
    _check_ablations(config, method_figures)


def _check_grid_budgets(key: str, values: list, budgets: set[str], why: str) -> None:
    """``values`` (budgets named under config ``key``) must be budgets of ``select.budgets``."""
    extra = sorted({budget_slug(b) for b in values} - budgets)
    if extra:
        raise DQError(f"config key '{key}': {extra} not in 'select.budgets' {sorted(budgets)}; {why}")


def target_pool_domain(config: dict) -> str:
    """The pool domain whose sources include ``target.source`` (the target-domain-only random arm's domain)."""
    source = config["target"]["source"]
    for domain in config["domains"]:
        if source in domain["sources"]:
            return domain["name"]
    raise DQError(
        f"config key 'review.controls.target_domain': the target's source {source!r} is in no pool domain "
        f"(domains: {[d['name'] for d in config['domains']]}); add it to one under 'domains' or set "
        "review.controls.target_domain: false"
    )


def _check_revisions(config: dict) -> None:
    """A revision pins a Hugging Face hub model or dataset; anywhere else it would be silently ignored."""
    from dqreview.embed import PACKAGED_MODEL, STATIC_MODEL_NAME  # light: numpy only

    embed = config["embed"]
    if embed.get("normalize") is False:
        raise DQError(
            "config key 'embed.normalize': false is not usable in the workflow: every embedding method "
            "compares directions (cosine, spherical k-means) and results/embed holds unit rows; use auto "
            "or true"
        )
    if embed.get("revision") and embed["model"] == STATIC_MODEL_NAME:
        raise DQError(
            f"config key 'embed.revision': embed.model {STATIC_MODEL_NAME!r} is the static encoder distilled "
            "here (results/static-model); a revision pins a Hugging Face hub model. Remove embed.revision"
        )
    if embed.get("revision") and embed["model"].replace("_", "-").lower() == PACKAGED_MODEL:
        raise DQError(
            f"config key 'embed.revision': embed.model {embed['model']!r} is the packaged encoder (pinned "
            "by its package version); a revision pins a Hugging Face hub model. Remove embed.revision"
        )
    for i, source in enumerate(config["sources"]):
        if "revision" in source and source["kind"] != "hf":
            raise DQError(
                f"config key 'sources[{i}].revision': source {source['name']!r} is kind {source['kind']}; "
                "revision is for kind hf (a pypi archive is pinned by sha256)"
            )
    probe = config.get("task2vec", {}).get("probe", {})
    if "revision" in probe and probe.get("kind", "gpt") != "hf":
        raise DQError(
            "config key 'task2vec.probe.revision': only a kind hf probe (task2vec.probe.hf_model) has a "
            "revision"
        )


def _check_t2v_reliability(config: dict) -> None:
    """The reliability table re-embeds with a SECOND label seed: the same seed would report 1 by construction."""
    t2v = config["task2vec"]
    rel = t2v["reliability"]
    if rel["sample"] and rel["seed"] == t2v["documents"]["seed"]:
        raise DQError(
            f"config key 'task2vec.reliability.seed': {rel['seed']} is task2vec.documents.seed too; the "
            "reliability table compares two label seeds, so give another seed (or sample: 0 to turn it off)"
        )


def _check_required_outputs(parsed: dict) -> None:
    """An input that is another method's output (e.g. Skill-It's skills: an ssl_proto variant's
    clusters) must name a configured variant of that method."""
    for i, method, variants in parsed.values():
        for j, params in enumerate(variants.values()):
            for inp in method.inputs(params):
                if inp.requires is None:
                    continue
                metric, variant = inp.requires
                configured = list(parsed[metric][2]) if metric in parsed else []
                if variant not in configured:
                    raise DQError(
                        f"config key 'metrics[{i}].variants[{j}].params': input {inp.name!r} reads "
                        f"{metric}/{variant}, which is not configured; {metric} variants: {configured}"
                    )


def _check_ablations(config: dict, method_figures: set[str]) -> None:
    """Ablation names must not take a fixed figure's name or a method's; contrasts must be well formed; a swept
    parameter (``x``) is given for every series or for none, once per label, with the ablation's ``x_label``."""
    reserved = sorted({*paths.FIGURES, *method_figures})
    for name, spec in config.get("review", {}).get("ablations", {}).items():
        key = f"review.ablations.{name}"
        if name in reserved:
            raise DQError(
                f"{key}: {name!r} is the name of a fixed figure ({paths.figure(name)}); reserved: {reserved}"
            )
        _check_contrasts(name, spec)
        _check_swept_parameter(key, spec)


def _check_contrasts(name: str, spec: dict) -> None:
    """``review.ablations.<name>.contrasts``: each ``{id, a, b}`` (optionally ``by: pool``) names two series
    labels of the ablation, or ``{id, interaction}`` a ``by: pool`` contrast of it; ids are unique, and an
    ablation with contrasts states its ``question``."""
    contrasts = spec.get("contrasts") or []
    if not contrasts:
        return
    key = f"review.ablations.{name}"
    if not spec.get("question"):
        raise DQError(f"config key '{key}.question': required when '{key}.contrasts' is given")
    labels = [s["label"] for s in spec["series"]]
    seen: dict[str, dict] = {}
    for i, c in enumerate(contrasts):
        at = f"{key}.contrasts[{i}]"
        if c["id"] in seen:
            raise DQError(f"config key '{at}.id': {c['id']!r} is declared twice in {key}.contrasts")
        if "interaction" in c:
            if {"a", "b", "by"} & set(c):
                raise DQError(
                    f"config key '{at}': give either 'interaction' or 'a' and 'b' (with 'by'), not both"
                )
            of = seen.get(c["interaction"])
            if of is None or of.get("by") != "pool":
                pooled = [k for k, v in seen.items() if v.get("by") == "pool"]
                raise DQError(
                    f"config key '{at}.interaction': {c['interaction']!r} is not a 'by: pool' contrast declared "
                    f"before it in {key}.contrasts; those are: {pooled}"
                )
        else:
            for side in ("a", "b"):
                if side not in c:
                    raise DQError(f"config key '{at}': needs '{side}' (a series label) or 'interaction'")
                if c[side] not in labels:
                    raise DQError(
                        f"config key '{at}.{side}': {c[side]!r} is not a series label of {key}; labels: {labels}"
                    )
            if c["a"] == c["b"]:
                raise DQError(f"config key '{at}': 'a' and 'b' are the same series {c['a']!r}")
        seen[c["id"]] = c


def _check_swept_parameter(key: str, spec: dict) -> None:
    """An ablation's ``x``: on every series or none, one value per label, named by ``x_label``."""
    with_x = [j for j, s in enumerate(spec.get("series", [])) if "x" in s]
    if not with_x:
        if "x_label" in spec:
            raise DQError(
                f"config key '{key}.x_label': no series has an 'x'; give each series its x or drop x_label"
            )
        return
    without = [j for j in range(len(spec["series"])) if j not in with_x]
    if without:
        raise DQError(
            f"config key '{key}.series{without}': no 'x' while series{with_x} have one; give every series its x or none"
        )
    if "x_label" not in spec:
        raise DQError(
            f"config key '{key}': the series carry an 'x'; add 'x_label' (the name of the swept parameter)"
        )
    x_of: dict[str, float] = {}
    for j, s in enumerate(spec["series"]):
        if x_of.setdefault(s["label"], s["x"]) != s["x"]:
            raise DQError(
                f"config key '{key}.series[{j}]': label {s['label']!r} has x {s['x']} here and {x_of[s['label']]} "
                "before; one x per label"
            )


def drop_incomplete_ablations(config: dict) -> list[str]:
    """Remove the ablations whose series are not all points of the metrics grid; one message each.

    Runs are shared: an ablation only compares selections the grid already has. A config that trims the
    metrics list (lists replace, dicts merge, so the default's ablations stay) thus loses the figures it
    cannot draw, and says which and why, rather than failing or training extra runs.
    """
    grid = {(s.metric, s.variant, s.keep) for s in selection_grid(config)}
    messages = []
    ablations = config.get("review", {}).get("ablations", {})
    for name in list(ablations):
        missing = [
            f"series[{j}] {s['metric']}/{s['variant']}/{s.get('keep', 'high')}"
            for j, s in enumerate(ablations[name]["series"])
            if (s["metric"], s["variant"], s.get("keep", "high")) not in grid
        ]
        if missing:
            del ablations[name]
            messages.append(
                f"review.ablations.{name}: left out ({paths.figure(name)} not built): {', '.join(missing)} "
                "(metric/variant/keep) not in the metrics grid; add them to 'metrics' to draw it"
            )
    return messages


def config_hash(config: dict) -> str:
    """sha256 of the canonical JSON of the config (recorded in the manifest)."""
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()


def budget_slug(budget: float) -> str:
    return f"{float(budget):.2f}"


@dataclass(frozen=True)
class Selection:
    """One point of the experiment grid: metric × variant × keep × budget (seeds are run inside)."""

    metric: str
    variant: str
    keep: str
    budget: str  # formatted like "0.10"

    @property
    def wildcards(self) -> dict[str, str]:
        return {"metric": self.metric, "variant": self.variant, "keep": self.keep, "budget": self.budget}

    @property
    def path(self) -> str:
        return paths.selection(**self.wildcards)

    @property
    def is_full_data(self) -> bool:
        return self.budget == "1.00"


def selection_grid(config: dict) -> list[Selection]:
    """Every selection the config asks for; budget 1.0 appears once, as the full-data baseline."""
    grid = []
    for entry in config["metrics"]:
        for variant in entry["variants"]:
            for keep in variant.get("keep", entry["keep"]):
                for b in variant.get("budgets", config["select"]["budgets"]):
                    grid.append(Selection(entry["name"], variant["slug"], keep, budget_slug(b)))
    if config["select"]["full_data"]:
        random = next(e for e in config["metrics"] if e["name"] == "random")
        grid.append(Selection("random", random["variants"][0]["slug"], "high", budget_slug(1.0)))
    return grid


def variant_params(config: dict, metric: str, variant: str) -> dict:
    from dqreview.metrics import metric_entry

    for v in metric_entry(config, metric)["variants"]:
        if v["slug"] == variant:
            return dict(v.get("params") or {})
    raise DQError(f"metric '{metric}' has no variant '{variant}' in the config")
