"""Selection methods: the registry, and loading a method named by the config.

A method is one module that sets ``METHOD`` to an instance of
:class:`~dqreview.metrics.base.DocumentScorer` or :class:`~dqreview.metrics.base.MixtureLearner`
(the protocol, :mod:`dqreview.metrics.base`). A config entry names it either by a registered name
(:data:`REGISTRY`) or, for a method that lives outside dq-review, by import path::

    metrics:
      - name: length                       # the name used in results/ paths
        module: mylab.metrics.length       # importable in every job (installed, or on PYTHONPATH)
        keep: [high, low]
        variants: [{slug: p1, params: {power: 1.0}}]

Every variant's parameters are parsed into the method's typed ``Params`` when the workflow loads
(:func:`validate_metric_entry`), so a bad value stops ``snakemake -n`` with the config key.
"""

from __future__ import annotations

import functools
import importlib
import re
from typing import Any

import numpy as np

from dqreview.errors import DQError
from dqreview.metrics.base import KEEP_DIRECTIONS, DocumentScorer, Method, MixtureLearner, check_method
from dqreview.params import Params

__all__ = ["REGISTRY", "KEEP_DIRECTIONS", "DocumentScorer", "Method", "MixtureLearner", "load_method"]

#: Registered name → module (imported on first use, so unused methods cost nothing).
REGISTRY: dict[str, str] = {
    "random": "dqreview.metrics.random",
    "ssl_proto": "dqreview.metrics.prototypes",
    "proto_align": "dqreview.metrics.proto_align",
    "semdedup": "dqreview.metrics.semdedup",
    "d4": "dqreview.metrics.d4",
    "minhash": "dqreview.metrics.minhash",  # also exact dedup: variant param mode=exact
    "dsir": "dqreview.metrics.dsir",
    "doremi": "dqreview.metrics.doremi",
    "skillit": "dqreview.metrics.skillit",
    "t2v_align": "dqreview.metrics.t2v_align",
    "t2v_complexity": "dqreview.metrics.t2v_complexity",
    "dq": "dqreview.metrics.dq",
}

NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
SLUG_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def known_metrics() -> list[str]:
    """Names of the registered methods, sorted."""
    return sorted(REGISTRY)


@functools.cache
def load_method(name: str, module: str | None = None) -> Method:
    """The method ``name``: from ``module`` (an import path) when given, else from :data:`REGISTRY`."""
    where = f"metric {name!r}"
    if module is None:
        if name not in REGISTRY:
            raise DQError(
                f"unknown metric {name!r}; known metrics: {', '.join(known_metrics())} "
                "(or name your own module with `module: package.module`)"
            )
        module = REGISTRY[name]
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name is None or not (module == exc.name or module.startswith(exc.name + ".")):
            raise  # the module exists but imports something missing: its own bug, with its traceback
        raise DQError(
            f"{where}: cannot import module {module!r} ({exc}); install it or put it on PYTHONPATH"
        ) from None
    if not hasattr(mod, "METHOD"):
        raise DQError(
            f"{where}: module {module!r} defines no METHOD (an instance of a dqreview.metrics.base class)"
        )
    method = check_method(mod.METHOD, f"{where} (module {module})")
    if method.name != name:  # one instance per name: a module may serve under another name
        method = type(method)(name)
    return method


def method_of(config: dict, metric: str) -> Method:
    """The method of the config's entry named ``metric``."""
    entry = metric_entry(config, metric)
    return load_method(entry["name"], entry.get("module"))


def params_of(config: dict, metric: str, variant: str) -> Params:
    """Typed parameters of one variant (validated again here; the Snakefile validated them at load)."""
    from dqreview.config import variant_params

    i = next(i for i, e in enumerate(config["metrics"]) if e["name"] == metric)
    j = next(j for j, v in enumerate(config["metrics"][i]["variants"]) if v["slug"] == variant)
    return method_of(config, metric).params(
        variant_params(config, metric, variant), f"metrics[{i}].variants[{j}].params"
    )


def variant_of(
    config: dict, metric: str, variant: str, seed: int | str | None = None
) -> tuple[Method, Params]:
    """The method of ``metric`` and the typed parameters of its ``variant`` (what a job script needs);
    with ``seed`` (the job's run seed), every scoring seed set to ``"run"`` takes that value."""
    params = params_of(config, metric, variant)
    if seed is not None:
        params = params.with_run_seed(int(seed))
    return method_of(config, metric), params


def metric_entry(config: dict, metric: str) -> dict:
    for e in config["metrics"]:
        if e["name"] == metric:
            return e
    raise DQError(f"metric '{metric}' is not in the config's metrics list")


def canonical_pool_order(inputs: dict[str, Any], pool_rows: tuple[str, ...]) -> dict[str, Any]:
    """``inputs`` with the per-document pool arrays (``pool_rows``) sorted by document id.

    The workflow concatenates the pool in shard order, which depends on the number of shards; sorting
    by id makes every ``fit`` see the same rows in the same order for 1 or many shards. Inputs without
    ``pool_ids`` are returned unchanged.
    """
    if "pool_ids" not in inputs:
        return dict(inputs)
    ids = np.asarray(inputs["pool_ids"]).astype(str)
    order = np.argsort(ids, kind="stable")
    out = dict(inputs)
    for name in pool_rows:
        if name in out:
            rows = np.asarray(out[name])
            if len(rows) != len(ids):
                raise DQError(
                    f"fit input {name!r} has {len(rows)} rows but the pool index has {len(ids)} ids; "
                    "the files are from different runs: delete results/embed and results/t2v and rerun snakemake"
                )
            out[name] = rows[order]
    return out


def fit_state(method: DocumentScorer, inputs: dict[str, Any], params: Params) -> dict[str, Any]:
    """``method.fit`` on the pool in id order (see :func:`canonical_pool_order`)."""
    pool_rows = tuple(i.name for i in method.fit_inputs_for(params) if i.pool_rows)
    return method.fit(canonical_pool_order(inputs, pool_rows), params)


def validate_metric_entry(entry: Any, index: int = 0) -> tuple[Method, dict[str, Params]]:
    """Check one entry of the config's ``metrics`` list against its method and parse its variants.

    Returns
    -------
    method, params
        The method, and each variant's typed parameters by slug.
    """
    where = f"metrics[{index}]"
    if not isinstance(entry, dict):
        raise DQError(f"{where}: expected a mapping with name, keep and variants; got {entry!r}")
    name = entry.get("name")
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise DQError(
            f"{where}.name: {name!r} is not a metric name (lower-case letters, digits and '_'); "
            f"known metrics: {', '.join(known_metrics())}"
        )
    module = entry.get("module")
    try:
        method = load_method(name, module)
    except DQError as exc:
        raise DQError(f"{where}.{'module' if module else 'name'}: {exc}") from None
    keep = entry.get("keep", ["high"])
    _check_keep(keep, method, f"{where}.keep")
    variants = entry.get("variants")
    if not isinstance(variants, list) or not variants:
        raise DQError(f"{where}.variants: expected a non-empty list of {{slug: ..., params: {{...}}}}")
    parsed: dict[str, Params] = {}
    seen: dict[str, int] = {}
    for j, variant in enumerate(variants):
        vwhere = f"{where}.variants[{j}]"
        if not isinstance(variant, dict):
            raise DQError(f"{vwhere}: expected a mapping with slug and params; got {variant!r}")
        slug = variant.get("slug")
        if not isinstance(slug, str) or not SLUG_RE.match(slug):
            raise DQError(
                f"{vwhere}.slug: {slug!r} is not a valid slug; use letters, digits, '.', '_' or '-', "
                "starting with a letter or digit (it becomes a directory name)"
            )
        if slug in seen:
            raise DQError(
                f"{vwhere}.slug: {slug!r} repeats {where}.variants[{seen[slug]}].slug; slugs must be unique"
            )
        seen[slug] = j
        if "keep" in variant:
            _check_keep(variant["keep"], method, f"{vwhere}.keep")
        parsed[slug] = method.params(variant.get("params"), f"{vwhere}.params")
    method.check_variants(parsed, where)
    return method, parsed


def _check_keep(keep: Any, method: Method, where: str) -> None:
    if isinstance(keep, str) or not isinstance(keep, list | tuple) or not keep:
        raise DQError(f"{where}: expected a non-empty list such as [high]; got {keep!r}")
    bad = [k for k in keep if k not in method.keep]
    if bad:
        raise DQError(f"{where}: {bad} not allowed for metric {method.name!r}; it allows {list(method.keep)}")
    if len(set(keep)) != len(keep):
        raise DQError(f"{where}: repeated direction in {list(keep)}")
