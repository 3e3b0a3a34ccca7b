"""DSIR (Xie et al. 2023): importance resampling on hashed n-gram features.

Each document is lower-cased, tokenised with the regex ``\\w+|[^\\w\\s]+`` (nltk's WordPunctTokenizer,
the package's default), and its unigrams and bigrams (``"a b"``) are hashed into ``num_buckets``
buckets. Two bag-of-buckets distributions are fitted by counting: γ on the target reference
(``target_texts``) and β on the pool (``pool_texts``). The log importance weight of a document is linear in its bucket counts z:

    log w(x) = Σ_j z_j(x) · (log(γ_j + 1e-8) − log(β_j + 1e-8))

The score is log w (HIGH = more target-like). Sampling ∝ w without replacement is the Gumbel top-k
trick: keep the k largest ``log w + G`` with G from :func:`gumbel_keys` (keyed by hash(id, seed), not a
global RNG); the workflow's selection applies it. ``keep=low`` is the reversed ablation.

Featurisers (``featurizer`` parameter)
--------------------------------------
Both give the package's buckets, bucket = ``int(sha256(s).hexdigest(), 16) % B`` of the n-gram string
(``hash_bucket('alice') == 6720``), hence the package's counts, distributions and (to rounding) log
weights. Both run on compiled kernels (:mod:`dqreview.textkernels`, numba): a SHA-256 in
numba, run once per *distinct* unigram and bigram and cached in open-addressing tables kept between
calls (per ``num_buckets``), so that later occurrences cost a table look-up instead of a Python
``hashlib`` call. They differ in the tokeniser and in how a document's log weight is summed:

``"compat"``
    Reproduces ``data-selection`` 1.0.3 bit for bit: tokens from the package's own call
    (stdlib ``re.findall`` of :data:`TOKEN_RE` on the lower-cased text), and log w =
    ``np.dot(log_ratio, counts)`` on each document's dense count vector, as the package computes it.
``"fast"`` (default)
    A compiled scanner of the same character classes on the UTF-8 bytes (classes decided by
    stdlib ``re`` per code point, so the tokens are the same; tested on text from all of Unicode) and
    log w summed over the document's n-grams in token order: equal to ``compat`` within ≈ 1e-12
    relative (summation order only).

Why numba (a declared dependency, widely used for numeric kernels): the package's time goes to one
``hashlib.sha256`` call per n-gram occurrence and to nltk's regex; a vectorised numpy version still
paid one Python-level hash per distinct n-gram. A different hash (scikit-learn's MurmurHash
``HashingVectorizer``) was tried and rejected: with B = 10,000 the changed collision pattern moves the
weights too much (against sha256 buckets: Spearman 0.91–0.98, top-100 Jaccard 0.6–0.8 on stdlib
docstrings; Spearman 0.987, top-10% Jaccard 0.71 on the wiki + chat text of the benchmark).
``ngrams > 2`` and ``num_buckets`` ≥ 2**31 use a pure-Python path (same buckets, slower).

Traps (docs/methods.md, "DSIR"): log w grows with document length (the paper scores fixed 128-word
chunks); target buckets that are empty cost ≈ −18 per occurrence — ``laplace`` adds a pseudo-count to
every target bucket before normalising (the package's later ``target_laplace_smoothing``; 0 = 1.0.3).

Submodules: :mod:`~dqreview.metrics.dsir.features` (tokenising and hashed n-gram counts),
:mod:`~dqreview.metrics.dsir.weights` (distributions, log ratio, importance weights, KL, Gumbel keys).
This module holds the metric protocol and re-exports their public functions.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd

from dqreview.errors import DQError
from dqreview.metrics.base import DocumentScorer
from dqreview.metrics.dsir.features import (
    CHUNK_CHARS,
    CHUNK_DOCS,
    FEATURIZERS,
    TOKEN_RE,
    bucket_counts,
    featurize,
    hash_bucket,
    tokenize,
)
from dqreview.metrics.dsir.weights import (
    DENSE_ROWS_BYTES,
    KL_EPS,
    LOG_EPS,
    document_log_weights,
    fit_distribution,
    gumbel_keys,
    kl_divergence,
    kl_reduction,
    log_importance_weights,
    log_ratio,
)
from dqreview.metrics.inputs import POOL_TEXTS, TARGET_TEXTS
from dqreview.params import Ge, Params

__all__ = [
    "CHUNK_CHARS", "CHUNK_DOCS", "DENSE_ROWS_BYTES", "DSIR", "DSIRParams", "FEATURIZERS", "KL_EPS",
    "LOG_EPS", "METHOD", "SAMPLINGS", "TOKEN_RE", "bucket_counts", "document_log_weights", "featurize",
    "fit_distribution", "fit_weights", "gumbel_keys", "hash_bucket", "kl_divergence", "kl_reduction",
    "log_importance_weights", "log_ratio", "sampling_keys", "tokenize",
]  # fmt: skip

#: Selection orderings: resample without replacement ∝ w (the paper), or deterministic top-k by log w.
SAMPLINGS = ("gumbel", "top_k")


class DSIRParams(Params):
    """``num_buckets`` hashed buckets, ``ngrams`` (2 = unigrams + bigrams), ``featurizer`` (``fast`` |
    ``compat``), ``laplace`` (a pseudo-count added to every target bucket; 0 = none), ``sampling``
    (``gumbel``: resample ∝ w without replacement; ``top_k``: deterministic by log w)."""

    num_buckets: Annotated[int, Ge(1)] = 10000
    ngrams: Annotated[int, Ge(1)] = 2
    featurizer: Literal["fast", "compat"] = "fast"
    laplace: Annotated[float, Ge(0)] = 0.0
    sampling: Literal["gumbel", "top_k"] = "gumbel"

    def check(self, where: str) -> None:
        if not math.isfinite(self.laplace):
            self.fail(where, "laplace", "expected a finite pseudo-count >= 0 (0 = none)")


# ------------------------------------------------------------------------------- the steps
def _texts(x: Any, name: str) -> list[str]:
    if x is None:
        raise DQError(f"dsir: fit input {name!r} is missing")
    arr = list(x)
    if not arr:
        raise DQError(f"dsir: fit input {name!r} has no documents")
    return [str(t) for t in arr]


def fit_weights(
    target_texts: Any,
    pool_texts: Any,
    num_buckets: int = 10000,
    ngrams: int = 2,
    featurizer: str = "fast",
    laplace: float = 0.0,
) -> dict[str, np.ndarray]:
    """Fit γ on ``target_texts`` (``laplace`` pseudo-counts per bucket) and β on ``pool_texts``.

    Returns
    -------
    dict
        ``log_ratio``, ``target_dist``, ``pool_dist``: float64 arrays of shape (num_buckets,).
    """
    B, n, f = num_buckets, ngrams, featurizer
    target = bucket_counts(_texts(target_texts, "target_texts"), B, n, f)
    pool = bucket_counts(_texts(pool_texts, "pool_texts"), B, n, f)
    if target.sum() == 0:
        raise DQError("dsir: the target texts contain no tokens; check target_texts")
    if pool.sum() == 0:
        raise DQError("dsir: the pool texts contain no tokens; check pool_texts")
    target_dist = fit_distribution(target, laplace)
    pool_dist = fit_distribution(pool)
    return {
        "log_ratio": log_ratio(target_dist, pool_dist),
        "target_dist": target_dist,
        "pool_dist": pool_dist,
    }


def sampling_keys(
    log_w: np.ndarray, ids: Any, seed: int, sampling: str = "gumbel", keep: str = "high"
) -> np.ndarray:
    """The per-seed ordering key: ``log_w`` plus Gumbel noise keyed by hash(id, seed) (``gumbel``).

    Taking the top k of ``log w + G`` samples k documents without replacement with probability ∝ w
    (the Gumbel top-k trick). For keep=low the noise is subtracted, so the ascending order samples ∝ 1/w.
    ``top_k`` returns log w unchanged.
    """
    log_w = np.asarray(log_w, dtype=np.float64)
    if sampling == "top_k":
        return log_w
    noise = gumbel_keys(ids, seed)
    return log_w + noise if keep == "high" else log_w - noise


# ------------------------------------------------------------------------------------ protocol
class DSIR(DocumentScorer):
    """Log importance weight of each document (HIGH = more target-like), sampled by Gumbel top-k."""

    Params = DSIRParams
    keep = ("high", "low")
    family = "target-aware"
    fit_inputs = (TARGET_TEXTS, POOL_TEXTS)

    def fit(self, inputs: dict[str, Any], params: DSIRParams) -> dict[str, np.ndarray]:
        """:func:`fit_weights` on ``inputs["target_texts"]`` and ``inputs["pool_texts"]``."""
        p = params
        return fit_weights(
            inputs.get("target_texts"), inputs.get("pool_texts"), p.num_buckets, p.ngrams, p.featurizer,
            p.laplace,
        )  # fmt: skip

    def score(self, docs, features, state, params: DSIRParams) -> pd.DataFrame:
        """Log importance weight of each document (``score``; HIGH = more target-like) and ``n_tokens``."""
        p = params
        if state is None or "log_ratio" not in state:
            raise DQError("dsir: score needs the fitted state (log_ratio); run fit first")
        lr = np.asarray(state["log_ratio"], dtype=np.float64)
        if lr.shape != (p.num_buckets,):
            raise DQError(
                f"dsir: the variant's num_buckets={p.num_buckets} does not match the fitted state "
                f"({lr.shape[0]} buckets); the state is stale, rerun its fit step"
            )
        if "text" not in docs.columns:
            raise DQError("dsir: the documents have no 'text' column")
        texts = docs["text"].fillna("").astype(str).tolist()
        scores, n_tokens = document_log_weights(texts, lr, p.num_buckets, p.ngrams, p.featurizer)
        return pd.DataFrame({"id": docs["id"].to_numpy(), "score": scores, "n_tokens": n_tokens})

    def selection_score(self, scores: pd.DataFrame, seed: int, params: DSIRParams, keep: str) -> np.ndarray:
        """:func:`sampling_keys` of the merged scores (``sampling: gumbel``; ``top_k``: log w itself)."""
        return sampling_keys(
            scores["score"].to_numpy(dtype=np.float64), scores["id"].to_numpy(), seed, params.sampling, keep
        )


METHOD = DSIR()
