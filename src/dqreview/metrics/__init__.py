"""Data-quality metrics: the metric protocol and the registry of metric modules.

The metric protocol
-------------------
A metric is a module (imported lazily from :data:`REGISTRY`) that defines:

``PER_DOCUMENT : bool``
    True when a document's score depends only on the document (and on global state computed once by
    ``fit``), so the workflow may score each pool shard independently.
``KEEP : tuple[str, ...]``
    The keep directions the metric allows, a subset of ``("high", "low")``. ``"high"`` keeps what the
    method itself prefers; ``"low"`` is the reversed ablation, only where it means something.
``NEEDS : tuple[str, ...]``
    Inputs that scoring needs besides the documents, from ``{"embeddings", "t2v"}``. ``"t2v"`` = the
    shard's per-document Task2Vec vectors (``results/t2v/pool/shard-{i}.npy``); they reach ``score`` as its
    ``embeddings`` argument (a metric needs one or the other).
``FIT_NEEDS : tuple[str, ...]`` and ``fit(inputs, params) -> dict[str, np.ndarray]`` (optional)
    Global state computed once (e.g. k-means centroids of the pool, target prototypes). ``inputs``
    maps each name in ``FIT_NEEDS`` (from :data:`KNOWN_FIT_NEEDS`: ``pool_embeddings``, all pool
    shards' embeddings concatenated in shard order; ``pool_ids``, the matching document ids (str);
    ``pool_texts``, the matching texts; ``target_embeddings`` and ``target_texts``, target ref's) to
    its array; ``pool_t2v`` / ``target_t2v`` are the per-document Task2Vec vectors and ``target_losses``
    target ref's per-document probe losses (for "hardest example" prototypes). The workflow saves the
    state as ``.npz`` without pickle, so every value must be a plain numeric or string array.
``shard_features(docs, params) -> dict[str, np.ndarray]`` (optional)
    Per-document work that ``fit`` needs, done per pool shard (embarrassingly parallel) instead of
    inside the global ``fit``: ``docs`` is one pool shard (``id``, ``text``, ``domain``, ``n_bytes``), the
    result plain arrays (saved as ``.npz`` without pickle). A metric that defines it lists
    ``shard_features`` in ``FIT_NEEDS``; ``fit`` then gets ``inputs["shard_features"]``, the list of the
    shards' dicts in shard order (e.g. MinHash: signatures per shard; LSH and union-find in ``fit``).
``score(docs, embeddings, state, params) -> pd.DataFrame``
    ``docs`` is a pool shard (data contract columns, at least ``id``); ``embeddings`` is ``None`` or a
    float32 array whose row i belongs to ``docs.iloc[i]``; ``state`` is ``fit``'s output or ``None``;
    ``params`` the variant's parameters. Returns one row per document, in ``docs`` order, with ``id``,
    ``score`` (float; HIGH = what the method itself prefers) and metric-specific columns.

Optional ``selection_score(scores, seed, params, keep) -> ndarray`` turns the stored scores into the
per-seed ordering key (e.g. DSIR adds Gumbel noise keyed by hash(id, seed) to sample without
replacement ∝ importance weight). Selection (:mod:`dqreview.select`) turns scores into budgeted
selections; ties are broken by hash(id, seed), never by row order.

Optional ``select_budget(pool, state, budget, seed, params) -> (selection, info)`` (with ``MIXTURE =
True``) marks a mixture method (DoReMi, Skill-It): it has no per-document scores; a training rule
(``rules/mixture.smk``) writes its learned mixture or schedule per seed as JSON (``state``), and
selection samples the pool (``id``, ``n_bytes``, ``domain``) per domain from it to the byte budget
(:mod:`dqreview.mixture`), returning the selection (``id``, ``order``, ``n_bytes``, optionally ``round``)
and its info (as :func:`dqreview.select.select_budget`'s, plus the requested and achieved mixture).

The workflow calls :func:`fit_state`, not ``fit`` directly: it hands ``fit`` the pool's rows sorted by
document id, so a fitted state (k-means seeding depends on row order) is the same for any number of
pool shards.

Adding a metric = one module implementing this protocol + one entry in :data:`REGISTRY` + one entry in
the config's ``metrics`` list.
"""

from __future__ import annotations

import importlib
import re
from types import ModuleType
from typing import Any

from dqreview.errors import DQError

#: Metric name → module path, imported on first use so that unused metrics cost nothing.
REGISTRY: dict[str, str] = {
    "random": "dqreview.metrics.random",
    "ssl_proto": "dqreview.metrics.prototypes",
    "proto_align": "dqreview.metrics.proto_align",
    "semdedup": "dqreview.metrics.semdedup",
    "d4": "dqreview.metrics.d4",
    "minhash": "dqreview.metrics.minhash",  # also exact dedup: variant param mode=exact
    "dsir": "dqreview.metrics.dsir",
    "doremi": "dqreview.metrics.doremi",  # a learned domain mixture: select_budget, rules/mixture.smk
    "skillit": "dqreview.metrics.skillit",  # a learned per-round schedule; static control by variant
    "t2v_align": "dqreview.metrics.t2v_align",  # Task2Vec similarity to target-ref prototypes
    "dq": "dqreview.metrics.dq",  # greedy α·alignment + (1−α)·diversity over Task2Vec vectors
}

KEEP_DIRECTIONS = ("high", "low")
KNOWN_NEEDS = ("embeddings", "t2v")
KNOWN_FIT_NEEDS = (
    "pool_embeddings", "pool_ids", "pool_texts", "target_embeddings", "target_texts",
    "shard_features",  # the metric's own shard_features() outputs, in shard order
    "pool_t2v", "target_t2v", "target_losses",  # per-document Task2Vec vectors, target ref's probe losses
)  # fmt: skip
SLUG_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def known_metrics() -> list[str]:
    """Names of the registered metrics, sorted."""
    return sorted(REGISTRY)


def get_metric(name: str) -> ModuleType:
    """Import and return the module implementing metric ``name``."""
    if name not in REGISTRY:
        raise DQError(f"unknown metric {name!r}; known metrics: {', '.join(known_metrics())}")
    return importlib.import_module(REGISTRY[name])


#: Fit inputs with one row per pool document (in the order of ``pool_ids``).
POOL_ROW_INPUTS = ("pool_embeddings", "pool_ids", "pool_texts", "pool_t2v")


def canonical_pool_order(inputs: dict[str, Any]) -> dict[str, Any]:
    """``inputs`` with the per-document pool arrays sorted by document id.

    The workflow concatenates the pool in shard order, which depends on the number of shards; sorting
    by id makes every ``fit`` see the same rows in the same order for 1 or many shards. Inputs without
    ``pool_ids`` are returned unchanged.
    """
    if "pool_ids" not in inputs:
        return dict(inputs)
    import numpy as np

    ids = np.asarray(inputs["pool_ids"]).astype(str)
    order = np.argsort(ids, kind="stable")
    out = dict(inputs)
    for name in POOL_ROW_INPUTS:
        if name in out:
            rows = np.asarray(out[name])
            if len(rows) != len(ids):
                raise DQError(
                    f"fit input {name!r} has {len(rows)} rows but the pool index has {len(ids)} ids; "
                    "the files are from different runs: delete results/embed and results/t2v and rerun snakemake"
                )
            out[name] = rows[order]
    return out


def fit_state(module: ModuleType, inputs: dict[str, Any], params: dict) -> dict[str, Any]:
    """``module.fit`` on the pool in id order (see :func:`canonical_pool_order`)."""
    return module.fit(canonical_pool_order(inputs), params)


def validate_metric_entry(entry: dict[str, Any], index: int = 0) -> ModuleType:
    """Check one entry of the config's ``metrics`` list against its module.

    Parameters
    ----------
    entry : dict
        ``{"name": str, "keep": [..], "variants": [{"slug": str, "params": {..}}, ..]}``.
    index : int
        Position of the entry in ``metrics``, used in error messages (``metrics[i].keep``).

    Returns
    -------
    module
        The metric's module.
    """
    where = f"metrics[{index}]"
    if not isinstance(entry, dict):
        raise DQError(f"{where}: expected a mapping with name, keep and variants; got {entry!r}")
    name = entry.get("name")
    if not isinstance(name, str):
        raise DQError(f"{where}.name: missing or not a string; known metrics: {', '.join(known_metrics())}")
    try:
        module = get_metric(name)
    except DQError as exc:
        raise DQError(f"{where}.name: {exc}") from None
    keep = entry.get("keep", ["high"])
    if isinstance(keep, str) or not isinstance(keep, list | tuple) or not keep:
        raise DQError(f"{where}.keep: expected a non-empty list such as [high]; got {keep!r}")
    bad = [k for k in keep if k not in module.KEEP]
    if bad:
        raise DQError(f"{where}.keep: {bad} not allowed for metric {name!r}; it allows {list(module.KEEP)}")
    if len(set(keep)) != len(keep):
        raise DQError(f"{where}.keep: repeated direction in {list(keep)}")
    variants = entry.get("variants")
    if not isinstance(variants, list) or not variants:
        raise DQError(f"{where}.variants: expected a non-empty list of {{slug: ..., params: {{...}}}}")
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
        params = variant.get("params", {})
        if not isinstance(params, dict):
            raise DQError(f"{vwhere}.params: expected a mapping; got {params!r}")
        vkeep = variant.get("keep", [])
        bad = [k for k in vkeep if k not in module.KEEP]
        if bad:
            raise DQError(
                f"{vwhere}.keep: {bad} not allowed for metric {name!r}; it allows {list(module.KEEP)}"
            )
    return module
