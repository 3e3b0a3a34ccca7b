"""Task2Vec complexity: the L1 norm of a document's Task2Vec embedding (its diagonal Fisher) as a hardness score.

A document's Task2Vec vector is the diagonal of the probe's Fisher information on it (docs/methods.md,
"Task2Vec"): how much, and in how many directions, the probe's parameters would have to move to fit it.
Its L1 norm, the trace of that diagonal, is a target-blind hardness score (HIGH = hard, keep=low keeps the
easy documents), a more principled one than the SSL margin (:mod:`dqreview.metrics.prototypes`), which
measures atypicality in an encoder's space instead of the probe's own difficulty.

What the cached vectors are (``task2vec.token_scale: true``, the default): every window's term is
``n · g²``, ``g`` the gradient of the window's token-MEAN log-likelihood over its ``n`` predictions; with
labels sampled from the probe the cross terms between positions vanish in expectation, so ``n · g²``
estimates the mean per-token Fisher of the window, and the document's vector ``f(x)`` (the mean of its
windows') is a per-token quantity: it does not grow with the document's length. The two forms
(``normalise``) are therefore:

``"tokens"`` (variant ``l1-per-token``)
    ``‖f(x)‖₁``, the cached vector's L1 norm: the document's Fisher divided by its number of predicted
    tokens, a division the estimator has already made window by window (nothing is divided at scoring).
``"none"`` (variant ``l1``)
    ``n_tokens(x) · ‖f(x)‖₁``: the Fisher of the document's whole log-likelihood (the sum over its
    predicted tokens), which grows with length; ``n_tokens`` = the document's tokens plus its closing eos,
    as the Task2Vec windows predict them (``n_tokens`` of ``results/t2v/pool/shard-<i>.parquet``).

Dividing the cached vector by the token count once more would give a score of ``1/length``, not a
length-free one. With ``token_scale: false`` the cached window term is ``g²`` (a per-token Fisher divided by
the window's predictions), and neither form is length-free; keep the default.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd

from dqreview.errors import DQError
from dqreview.metrics.base import DocumentScorer
from dqreview.metrics.inputs import POOL_IDS, POOL_T2V_TOKENS, T2V
from dqreview.params import Params


class T2VComplexityParams(Params):
    """``normalise``: ``none`` (the document's whole Fisher, n_tokens · ‖f‖₁) or ``tokens`` (per token,
    the cached vector's ‖f‖₁)."""

    normalise: Literal["none", "tokens"] = "none"


def l1_norms(vectors: np.ndarray, where: str = "t2v_complexity") -> np.ndarray:
    """‖f‖₁ of each row of a (n, D) array of Task2Vec vectors (Fisher diagonals, >= 0), float64."""
    X = np.asarray(vectors, dtype=np.float64)
    if X.ndim != 2:
        raise DQError(f"{where}: need an (n, D) array of Task2Vec vectors; got shape {X.shape}")
    if not np.all(np.isfinite(X)) or (X < 0).any():
        raise DQError(
            f"{where}: Task2Vec vectors with negative or non-finite entries (Fisher diagonals are >= 0); "
            "delete results/t2v and rerun snakemake to rebuild them"
        )
    return np.abs(X).sum(axis=1)


def complexity(l1: np.ndarray, n_tokens: np.ndarray, normalise: str) -> np.ndarray:
    """The score of each document from its ‖f‖₁ and its predicted tokens (see the module docstring)."""
    l1 = np.asarray(l1, dtype=np.float64)
    if normalise == "tokens":
        return l1
    if normalise == "none":
        return l1 * np.asarray(n_tokens, dtype=np.float64)
    raise DQError(f"t2v_complexity: unknown normalise={normalise!r}; use none or tokens")


class T2VComplexity(DocumentScorer):
    """‖f(x)‖₁ of each document's Task2Vec vector, whole-document or per token (HIGH = hard)."""

    Params = T2VComplexityParams
    keep = ("high", "low")
    family = "target-blind"
    features = T2V
    fit_inputs = (POOL_T2V_TOKENS, POOL_IDS)

    def fit(self, inputs: dict[str, Any], params: T2VComplexityParams) -> dict[str, np.ndarray]:
        """Each pool document's predicted tokens, by id: ``{"id": str array, "n_tokens": int64}``."""
        ids = np.asarray(inputs["pool_ids"]).astype(str)
        n_tokens = np.asarray(inputs["pool_t2v_tokens"], dtype=np.int64)
        if len(ids) != len(n_tokens):
            raise DQError(
                f"t2v_complexity: {len(n_tokens)} Task2Vec token counts for {len(ids)} pool documents; "
                "delete results/t2v and rerun snakemake to rebuild them"
            )
        if (n_tokens < 1).any():
            raise DQError("t2v_complexity: a pool document with no predicted tokens in its Task2Vec vector")
        return {"id": ids, "n_tokens": n_tokens}

    def score(self, docs, features, state, params: T2VComplexityParams) -> pd.DataFrame:
        """``id``, ``score`` (the complexity), ``l1`` (‖f‖₁ of the cached vector), ``n_tokens``, in
        ``docs`` order."""
        if features is None:
            raise DQError("t2v_complexity needs the shard's per-document Task2Vec vectors; none were given")
        if state is None or "n_tokens" not in state:
            raise DQError(
                "t2v_complexity needs the fitted token counts (state['n_tokens']); run its fit first"
            )
        if len(features) != len(docs):
            raise DQError(
                f"t2v_complexity: {len(features)} Task2Vec vectors for {len(docs)} documents; the vectors "
                "file does not belong to this shard, rebuild it"
            )
        ids = docs["id"].to_numpy().astype(str)
        where = pd.Index(np.asarray(state["id"]).astype(str)).get_indexer(ids)
        if (where < 0).any():
            raise DQError(
                f"t2v_complexity: {int((where < 0).sum())} documents of the shard (e.g. {str(ids[where < 0][0])!r}) "
                "have no token count in the fitted state; the state belongs to another pool: delete "
                "results/prototypes/t2v_complexity and rerun snakemake"
            )
        n_tokens = np.asarray(state["n_tokens"], dtype=np.int64)[where]
        l1 = l1_norms(features)
        return pd.DataFrame(
            {
                "id": docs["id"].to_numpy(),
                "score": complexity(l1, n_tokens, params.normalise),
                "l1": l1,
                "n_tokens": n_tokens,
            }
        )


METHOD = T2VComplexity()
