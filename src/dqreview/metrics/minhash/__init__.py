"""Exact and MinHash-LSH near-duplicate removal (Lee et al. 2022; docs/methods.md, "MinHash").

Shingles: word ``ngram``-grams (default 5) of the lower-cased, whitespace-split normalised text
(:func:`dqreview.corpus.text.normalise`), joined by one space; a text shorter than ``ngram`` words is
ONE shingle (its words joined by one space; the empty text gives the shingle ``""``). :func:`shingles`
is the plain-Python definition; the compiled path below produces the same words (tested against it).

Compiled path (numba, one pass over a whole shard; :mod:`dqreview.textkernels`): every text is
lower-cased and UTF-8 encoded into one byte buffer, and a scanner splits it into words at ``str.split``
whitespace (:class:`dqreview.textkernels.scan.SplitWords`: only texts with control/format characters,
lone surrogates or not in NFC go through ``normalise``); prepared pool shards are already normalised,
so in the workflow none does.

Two signature families (:mod:`dqreview.metrics.minhash.sketch`): ``legacy``, bit-identical to
datasketch's legacy scheme (SHA-1 of every shingle, ``(a·H + b) mod (2^61 − 1)``), and ``fast``
(64-bit FNV-1a/fmix64 shingle hashes, multiply-shift permutations), equal to legacy only statistically.

Per shard / global split (:meth:`MinHash.shard_features` / :meth:`MinHash.fit`): signatures (and, with ``verify``,
each document's sorted distinct 64-bit shingle hashes) depend only on the document, so the workflow
computes them per pool shard; ``fit`` merges the shards in shard order and does what needs the whole
pool: LSH buckets, verification, union-find, representatives.

LSH: ``b`` bands × ``r`` rows chosen by :func:`optimal_bands` (a port of datasketch's
``_optimal_param``); documents sharing an identical band are candidates; optional verification keeps a
candidate pair only if the Jaccard of the two documents' 64-bit shingle-hash sets is ≥ threshold (the
shingle-set Jaccard unless two distinct shingles of the pair collide in 64 bits); connected components
of the kept pairs are duplicate clusters. ``mode: exact`` instead clusters documents with equal
:func:`dqreview.hashing.text_hash` of the normalised text.

Representative policy: in each cluster the member with the smallest ``stable_hash64(id, seed)``
(ties by id) is kept — score 1.0; every other member gets score 0.0, ``removed`` True and
``duplicate_of`` = the representative's id. The choice depends only on the ids and the seed, never on
row order or sharding. ``score`` is a lookup by id.

Ground truth for the dedup-quality report: :func:`jaccard_pairs` finds every pair of texts whose exact
shingle-set Jaccard is ≥ T (exact shingle ids; prefix-filter join, complete).

Submodules: :mod:`~dqreview.metrics.minhash.shingling` (shingles, their hashes and exact ids),
:mod:`~dqreview.metrics.minhash.sketch` (permutations and signatures), :mod:`~dqreview.metrics.minhash.lsh`
(bands and candidates), :mod:`~dqreview.metrics.minhash.jaccard` (verification, exact all-pairs join),
:mod:`~dqreview.metrics.minhash.clusters` (union-find, representatives). This module holds the metric
protocol and re-exports their public functions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd

from dqreview.corpus.text import normalise
from dqreview.errors import DQError
from dqreview.hashing import text_hash
from dqreview.metrics.base import DocumentScorer
from dqreview.metrics.inputs import SHARD_FEATURES
from dqreview.metrics.minhash.clusters import exact_clusters, representatives, union_find_clusters
from dqreview.metrics.minhash.jaccard import (
    distinct_sorted,
    jaccard,
    jaccard_pairs,
    pair_jaccard,
    verify_pairs,
)
from dqreview.metrics.minhash.lsh import MAX_GROUP_PAIRS, lsh_candidates, optimal_bands
from dqreview.metrics.minhash.shingling import shingle_hashes, shingle_ids, shingles
from dqreview.metrics.minhash.sketch import (
    MERSENNE,
    fast_permutations,
    legacy_permutations,
    minhash_multiply_shift,
    signatures,
    signatures_fast,
    signatures_legacy,
)
from dqreview.metrics.semdedup import scores_from_state
from dqreview.params import Ge, Gt, Le, Params

__all__ = [
    "MAX_GROUP_PAIRS", "MERSENNE", "METHOD", "MODES", "MinHash", "MinHashParams", "dedup_labels",
    "document_features", "exact_clusters", "fast_permutations", "fit_texts", "jaccard", "jaccard_pairs",
    "legacy_permutations", "lsh_candidates", "merge_features", "optimal_bands", "pair_jaccard",
    "representatives", "shingle_hashes", "shingle_ids", "shingles", "signatures", "signatures_fast",
    "signatures_legacy", "state_from_labels", "union_find_clusters", "verify_pairs",
]  # fmt: skip

MODES = ("fast", "legacy", "exact")


class MinHashParams(Params):
    """``num_perm`` permutations, duplicate ``threshold`` (shingle-set Jaccard), ``lsh_threshold`` (the
    (b, r) design point; default = threshold — set it lower together with ``verify`` to catch pairs
    near T, datasketch #105), word ``ngram`` shingles, ``mode`` (``fast`` | ``legacy`` | ``exact``),
    ``verify`` (keep a candidate pair only if its shingle-set Jaccard is ≥ threshold), ``seed`` of the
    permutations and representatives; ``bands``/``rows`` (both or neither; default
    :func:`optimal_bands`)."""

    num_perm: Annotated[int, Ge(1)] = 128
    threshold: Annotated[float, Gt(0), Le(1)] = 0.8
    lsh_threshold: Annotated[float, Gt(0), Le(1)] | None = None
    ngram: Annotated[int, Ge(1)] = 5
    mode: Literal["fast", "legacy", "exact"] = "fast"
    verify: bool = False
    seed: Annotated[int, Ge(0)] = 1
    bands: Annotated[int, Ge(1)] | None = None
    rows: Annotated[int, Ge(1)] | None = None

    def check(self, where: str) -> None:
        if (self.bands is None) != (self.rows is None):
            self.fail(where, "bands" if self.rows is None else "rows", "give both bands and rows, or neither")
        if self.bands is not None and self.bands * self.rows > self.num_perm:
            self.fail(
                where, "bands", f"bands·rows = {self.bands * self.rows} exceeds num_perm = {self.num_perm}"
            )

    @property
    def lsh_at(self) -> float:
        """The LSH design threshold: ``lsh_threshold``, else ``threshold``."""
        return self.threshold if self.lsh_threshold is None else self.lsh_threshold


# --- the numerical steps ------------------------------------------------------------------------


def document_features(
    docs: pd.DataFrame,
    mode: str = "fast",
    num_perm: int = 128,
    seed: int = 1,
    ngram: int = 5,
    verify: bool = False,
) -> dict[str, np.ndarray]:
    """Per-document features of one pool shard (no dependence on other shards).

    Returns ``ids`` (str) and, for ``mode="exact"``, ``text_hash`` (str, of the normalised text); else
    ``signatures`` (n, num_perm) and, when ``verify`` is on, ``shingle_sets`` / ``shingle_offsets``:
    each document's sorted distinct 64-bit shingle hashes, ``shingle_sets[offsets[d]:offsets[d+1]]``.
    """
    for col in ("id", "text"):
        if col not in docs.columns:
            raise DQError(f"minhash: the pool shard has no {col!r} column; rebuild the pool shards")
    ids = docs["id"].astype(str).to_numpy().astype(str)
    texts = ["" if t is None else str(t) for t in docs["text"].to_numpy(dtype=object)]
    if mode == "exact":
        return {"ids": ids, "text_hash": np.array([text_hash(normalise(t)) for t in texts], dtype=str)}
    out = {"ids": ids}
    if mode == "legacy":
        out["signatures"] = signatures_legacy(texts, num_perm, seed, ngram)
        if verify:
            sh, doc_s = shingle_hashes(texts, ngram)
    else:
        a, b = fast_permutations(num_perm, seed)
        sh, doc_s = shingle_hashes(texts, ngram)
        out["signatures"] = minhash_multiply_shift(sh, doc_s, a, b)
    if verify:
        out["shingle_sets"], out["shingle_offsets"] = distinct_sorted(sh, doc_s)
    return out


def merge_features(
    features: list[dict], mode: str = "fast", num_perm: int = 128, verify: bool = False
) -> dict[str, np.ndarray]:
    """The shards' :func:`document_features` concatenated in shard order (set offsets shifted), checked
    against the variant's ``mode``, ``num_perm`` and ``verify``."""
    if isinstance(features, dict) or not features:
        raise DQError("minhash: fit needs the list of per-shard features (shard_features); got none")
    need = ["ids"] + (
        ["text_hash"]
        if mode == "exact"
        else ["signatures"] + (["shingle_sets", "shingle_offsets"] if verify else [])
    )
    for k, f in enumerate(features):
        missing = [name for name in need if name not in f]
        if missing:
            raise DQError(
                f"minhash: shard features {k} lack {missing} for mode={mode}, verify={verify}; "
                "rebuild results/features/minhash/ (the variant's params changed)"
            )
        n = len(f["ids"])
        if mode != "exact" and f["signatures"].shape != (n, num_perm):
            raise DQError(
                f"minhash: shard features {k}: signatures of shape {f['signatures'].shape} for {n} ids "
                f"and num_perm {num_perm}; rebuild results/features/minhash/"
            )
    merged = {"ids": np.concatenate([np.asarray(f["ids"]).astype(str) for f in features])}
    if mode == "exact":
        merged["text_hash"] = np.concatenate([np.asarray(f["text_hash"]).astype(str) for f in features])
        return merged
    merged["signatures"] = np.concatenate([f["signatures"] for f in features])
    if verify:
        merged["shingle_sets"] = np.concatenate([f["shingle_sets"] for f in features])
        shift = np.cumsum([0] + [len(f["shingle_sets"]) for f in features[:-1]])
        merged["shingle_offsets"] = np.concatenate(
            [[0]]
            + [
                np.asarray(f["shingle_offsets"][1:], np.int64) + s
                for f, s in zip(features, shift, strict=True)
            ]
        ).astype(np.int64)
    return merged


def dedup_labels(
    features: dict[str, np.ndarray],
    mode: str = "fast",
    threshold: float = 0.8,
    lsh_threshold: float | None = None,
    verify: bool = False,
    bands: int | None = None,
    rows: int | None = None,
) -> tuple[np.ndarray, dict]:
    """Cluster label per document and diagnostics, from :func:`merge_features`' output.

    LSH with ``bands`` × ``rows`` (default :func:`optimal_bands` at ``lsh_threshold``, itself defaulting
    to ``threshold``; the number of permutations is the signatures' width); with ``verify``, candidate
    pairs are kept only if their shingle-set Jaccard is ≥ ``threshold``.
    """
    if mode == "exact":
        return exact_clusters(features["text_hash"]), {"bands": 0, "rows": 0, "n_pairs": 0}
    sigs = features["signatures"]
    lsh_at = threshold if lsh_threshold is None else lsh_threshold
    b, r = (bands, rows) if bands else optimal_bands(lsh_at, sigs.shape[1])
    pairs = lsh_candidates(sigs, b, r)
    n_cand = len(pairs)
    if verify:
        pairs = verify_pairs(features["shingle_sets"], features["shingle_offsets"], pairs, threshold)
    return union_find_clusters(len(sigs), pairs), {
        "bands": b,
        "rows": r,
        "n_pairs": n_cand,
        "n_verified": len(pairs),
    }


def state_from_labels(labels: np.ndarray, ids: np.ndarray, seed: int, info: dict | None = None) -> dict:
    """The saved state from cluster ``labels``: per pool row (keyed by ``ids``) ``score``, ``removed``,
    ``duplicate_of``, ``cluster``, ``cluster_size``; plus ``removed_fraction`` and ``info``'s counts."""
    rep = representatives(labels, ids, seed)
    is_rep = rep == np.arange(len(ids))
    sizes = np.bincount(labels, minlength=int(labels.max()) + 1 if labels.size else 0)[labels]
    # cluster number independent of row order: rank of the representative's id among all ids
    id_rank = np.empty(len(ids), np.int64)
    id_rank[np.argsort(ids, kind="stable")] = np.arange(len(ids))
    removed = ~is_rep
    state = {
        "ids": ids,
        "score": np.where(is_rep, 1.0, 0.0),
        "duplicate_of": np.where(removed, ids[rep], "").astype(str),
        "removed": removed,
        "cluster": id_rank[rep],
        "cluster_size": sizes.astype(np.int64),
        "removed_fraction": np.float64(removed.mean() if removed.size else 0.0),
    }
    for k, v in (info or {}).items():
        state[k] = np.int64(v)
    return state


# --- protocol -----------------------------------------------------------------------------------


class MinHash(DocumentScorer):
    """MinHash-LSH (or exact) duplicate clusters over the whole pool; one representative per cluster is
    kept (score 1), the others are ``removed`` (score 0). Scoring looks each document up by id."""

    Params = MinHashParams
    keep = ("high",)
    family = "dedup"
    deduplicates = True
    fit_inputs = (SHARD_FEATURES,)

    def judged_at(self, params: MinHashParams) -> tuple[float, int]:
        """Removals are judged at the variant's own threshold and shingle length (every mode)."""
        return params.threshold, params.ngram

    def shard_features(self, docs: pd.DataFrame, params: MinHashParams) -> dict[str, np.ndarray]:
        """:func:`document_features` of one pool shard."""
        p = params
        return document_features(docs, p.mode, p.num_perm, p.seed, p.ngram, p.verify)

    def fit(self, inputs: dict[str, Any], params: MinHashParams) -> dict[str, np.ndarray]:
        """Cluster the whole pool from ``inputs["shard_features"]`` (the list of :meth:`shard_features`
        outputs in shard order); per pool row (keyed by ``ids``) score/removed/duplicate_of/cluster."""
        p = params
        features = merge_features(inputs.get("shard_features"), p.mode, p.num_perm, p.verify)
        ids = features["ids"]
        if len(np.unique(ids)) != len(ids):
            raise DQError(
                "minhash: the pool ids are not unique; rebuild the pool (ids must identify documents)"
            )
        labels, info = dedup_labels(features, p.mode, p.threshold, p.lsh_at, p.verify, p.bands, p.rows)
        return state_from_labels(labels, ids, p.seed, info)

    def score(self, docs, features, state, params: MinHashParams) -> pd.DataFrame:
        """Look up each document by id: ``id``, ``score`` (1 kept / 0 duplicate), ``duplicate_of``,
        ``removed``, ``cluster``, ``cluster_size``."""
        out = scores_from_state(docs, state, "minhash")
        out["cluster_size"] = np.asarray(state["cluster_size"], dtype=np.int64)[
            pd.Index(np.asarray(state["ids"]).astype(str)).get_indexer(docs["id"].astype(str).to_numpy())
        ]
        return out


METHOD = MinHash()


def fit_texts(
    texts, ids, params: MinHashParams | Mapping[str, Any] | None = None, n_shards: int = 1
) -> dict[str, np.ndarray]:
    """:meth:`MinHash.fit` on texts directly (library use, tests, benchmarks): features of ``n_shards``
    contiguous shards, then the global merge — exactly what the workflow does. ``params``: typed, or a
    config mapping (parsed, defaults filled)."""
    p = METHOD.params(params)
    docs = pd.DataFrame({"id": np.asarray(ids).astype(str), "text": list(texts)})
    parts = np.array_split(np.arange(len(docs)), max(1, n_shards))
    return METHOD.fit({"shard_features": [METHOD.shard_features(docs.iloc[i], p) for i in parts]}, p)
