"""Task2Vec alignment: similarity of each pool document to a target prototype in Task2Vec space.

Per-document Task2Vec vectors (docs/methods.md, "Task2Vec"; :func:`dqreview.task2vec.document_vectors`) of
every pool shard and of target ref are computed once by the workflow (``features = T2V``). The
prototypes come from target ref only (``fit_inputs``), chosen by the variant's parameters:

``prototype``
    ``"mean"`` — one whole-set embedding of the target: the mean of its documents' vectors (a set's
    Task2Vec vector, by definition); ``"kmeans"`` — ``k`` centroids of :func:`task2vec_kmeans`.
``source``
    ``"all"`` — every target-ref document; ``"hard"`` — its ``hard_fraction`` hardest documents, by
    ``hard_by``: ``"probe_loss"`` (the default) — the highest probe loss (mean next-token cross-entropy
    under the probe); ``"distance"`` — the farthest, by the Task2Vec ``distance``, from the prototypes of
    every target-ref document (its mean, or its ``k`` k-means centroids), as ``proto_align``'s
    source=hard does in encoder space. Ties by row order.
``distance``
    ``"cosine"`` — the Task2Vec distance (cosine of the pair-normalised Fisher vectors); ``"l1"``/``"l2"``
    — norms of the difference of the same pair-normalised vectors.

score = 1 − distance to the nearest prototype for cosine (the alignment coefficient of the document with
that prototype), −distance for l1/l2. HIGH = aligned with the target; keep=low is the misaligned ablation.

Why not :mod:`dqreview.metrics.proto_align`'s prototypes: they live on the unit sphere (rows are
L2-normalised and centroids are normalised means), which would drop the per-parameter scale the Task2Vec
distance normalises pair by pair. Here the centroid of a cluster is the mean of its members' vectors, i.e.
the cluster's own set embedding, and assignment uses the Task2Vec distance itself.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd

from dqreview.errors import DQError
from dqreview.metrics.base import DocumentScorer
from dqreview.metrics.inputs import T2V, TARGET_LOSSES, TARGET_T2V, Input
from dqreview.metrics.prototypes import check_scoring_inputs, hardest
from dqreview.params import Ge, Gt, Le, Params, RunSeed
from dqreview.progress import Progress
from dqreview.task2vec import distance_matrix


class T2VAlignParams(Params):
    """``prototype`` (one whole-set ``mean`` or ``k`` k-means centroids), ``source`` (``all`` target
    documents or the ``hard_fraction`` hardest ``hard_by`` probe loss or distance), ``distance``; k-means
    ``seed``, ``n_iter``, ``n_init``."""

    prototype: Literal["mean", "kmeans"] = "mean"
    source: Literal["all", "hard"] = "all"
    hard_by: Literal["probe_loss", "distance"] = "probe_loss"
    distance: Literal["cosine", "l1", "l2"] = "cosine"
    k: Annotated[int, Ge(1)] = 1
    seed: RunSeed = 0
    hard_fraction: Annotated[float, Gt(0), Le(1)] = 0.3
    n_iter: Annotated[int, Ge(1)] = 30
    n_init: Annotated[int, Ge(1)] = 2

    def run_seed_fields(self) -> list[str]:
        # the mean prototype draws nothing: no scoring seed to fix or follow
        return [] if self.prototype == "mean" else super().run_seed_fields()

    def check(self, where: str) -> None:
        if self.prototype == "mean" and self.k != 1:
            self.fail(where, "k", "prototype=mean is one whole-set embedding; drop k or use prototype=kmeans")
        if self.source != "hard" and self.hard_by != "probe_loss":
            self.fail(where, "hard_by", "only means something with source=hard; drop it or set source: hard")


def _kmeans_pp(X: np.ndarray, k: int, rng: np.random.Generator, distance: str) -> np.ndarray:
    """k-means++ seeding with the Task2Vec distance (next centre ∝ squared distance to the nearest)."""
    centres = [int(rng.integers(len(X)))]
    best = distance_matrix(X, X[centres[0]], distance)[:, 0]
    for _ in range(1, k):
        weight = best**2
        total = weight.sum()
        pick = (
            int(rng.integers(len(X)))
            if total <= 0
            else int(np.searchsorted(np.cumsum(weight), rng.random() * total, side="right"))
        )
        centres.append(min(pick, len(X) - 1))
        best = np.minimum(best, distance_matrix(X, X[centres[-1]], distance)[:, 0])
    return X[centres].astype(np.float64)


def task2vec_kmeans(
    X: np.ndarray, k: int, seed: int, distance: str = "cosine", n_iter: int = 30, n_init: int = 2
) -> np.ndarray:
    """Lloyd-style k-means in Task2Vec space.

    Assignment by the Task2Vec ``distance``; update = the mean of the members' vectors (the cluster's set
    embedding; not the exact minimiser of the summed Task2Vec distance, so iterations stop when the
    assignment stops changing or after ``n_iter``). Empty clusters are re-seeded with the points farthest
    from their centroid. The restart with the smallest total distance wins (first on ties).

    Returns
    -------
    ndarray (k, D), float64
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or len(X) == 0:
        raise DQError(f"t2v_align: need a non-empty (n, D) array of Task2Vec vectors; got shape {X.shape}")
    if k > len(X):
        raise DQError(f"task2vec k-means: k={k} is more prototypes than the {len(X)} vectors; lower k")
    best_cost, best = math.inf, None
    bar = Progress(n_init * n_iter, f"task2vec k-means (n={len(X)}, k={k})", "iteration", brief=True)
    for init in range(n_init):
        rng = np.random.default_rng((seed, init))
        C = _kmeans_pp(X, k, rng, distance)
        labels = None
        for _ in range(n_iter):
            D = distance_matrix(X, C, distance)
            new = D.argmin(axis=1)
            bar.update(1)
            if labels is not None and np.array_equal(new, labels):
                break
            labels = new
            near = D[np.arange(len(X)), labels]
            counts = np.bincount(labels, minlength=k)
            for j in range(k):
                if counts[j]:
                    C[j] = X[labels == j].mean(axis=0)
            dead = np.flatnonzero(counts == 0)
            if dead.size:
                C[dead] = X[np.argsort(-near, kind="stable")[: dead.size]]
        bar.update((init + 1) * n_iter - bar.done)  # converged early: the rest of this start is skipped
        cost = distance_matrix(X, C, distance).min(axis=1).sum()
        if cost < best_cost:
            best_cost, best = cost, C.copy()
    bar.close()
    return best


def build_prototypes(
    target: np.ndarray,
    losses: np.ndarray | None,
    prototype: str = "mean",
    source: str = "all",
    k: int = 1,
    seed: int = 0,
    distance: str = "cosine",
    hard_fraction: float = 0.3,
    n_iter: int = 30,
    n_init: int = 2,
    hard_by: str = "probe_loss",
) -> np.ndarray:
    """Target prototypes (k, D): the mean of ``target`` (``prototype="mean"``) or its
    :func:`task2vec_kmeans` centroids, over every row (``source="all"``) or the ``hard_fraction``
    hardest rows (``"hard"``): highest ``losses`` (``hard_by="probe_loss"``) or farthest from the
    prototypes of every row (``"distance"``)."""
    target = np.asarray(target, dtype=np.float64)
    if target.ndim != 2 or len(target) == 0:
        raise DQError(
            f"t2v_align: target ref Task2Vec vectors must be a non-empty (n, D) array; got {target.shape}"
        )
    if prototype == "kmeans" and k > len(target):
        raise DQError(
            f"t2v_align: k={k} is more prototypes than the {len(target)} target ref documents; "
            "lower the variant's k"
        )

    def prototypes_of(rows: np.ndarray) -> np.ndarray:
        if prototype == "mean":
            return rows.mean(axis=0, keepdims=True)
        return task2vec_kmeans(rows, k, seed, distance, n_iter, n_init)

    if source == "hard" and hard_by == "distance":
        far = distance_matrix(target, prototypes_of(target), distance).min(axis=1)
        target = target[hardest(far, hard_fraction, min_rows=k)]
    elif source == "hard":
        if losses is None or len(losses) != len(target):
            raise DQError("t2v_align: source=hard needs one probe loss per target document (target_losses)")
        target = target[hardest(losses, hard_fraction, min_rows=k)]
    return prototypes_of(target)


def alignment_scores(
    X: np.ndarray, prototypes: np.ndarray, distance: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(score, nearest prototype, distance to it); score = 1 − d (cosine) or −d (l1/l2)."""
    D = distance_matrix(X, prototypes, distance)
    index = D.argmin(axis=1)
    dist = D[np.arange(len(D)), index]
    return (1.0 - dist if distance == "cosine" else -dist), index.astype(np.int64), dist


class T2VAlign(DocumentScorer):
    """Alignment with the nearest target prototype in Task2Vec space (HIGH = aligned)."""

    Params = T2VAlignParams
    keep = ("high", "low")
    family = "target-aware"
    features = T2V
    fit_inputs = (TARGET_T2V, TARGET_LOSSES)

    def fit_inputs_for(self, params: T2VAlignParams) -> tuple[Input, ...]:
        # the probe losses pick the hard rows only for source=hard, hard_by=probe_loss; the default
        # keeps reading them (an unchanged rule input for every existing variant)
        if params.source == "hard" and params.hard_by == "distance":
            return (TARGET_T2V,)
        return self.fit_inputs

    def fit(self, inputs: dict[str, Any], params: T2VAlignParams) -> dict[str, np.ndarray]:
        """Target prototypes in Task2Vec space: ``{"prototypes": (k, D) float64}``."""
        p = params
        protos = build_prototypes(
            inputs["target_t2v"], inputs.get("target_losses"), p.prototype, p.source, p.k, p.seed,
            p.distance, p.hard_fraction, p.n_iter, p.n_init, p.hard_by,
        )  # fmt: skip
        return {"prototypes": protos}

    def score(self, docs, features, state, params: T2VAlignParams) -> pd.DataFrame:
        """Alignment of each document (``features``: the shard's per-document Task2Vec vectors) with
        its nearest target prototype: ``id``, ``score``, ``prototype``, ``distance``, in ``docs`` order."""
        X, protos = check_scoring_inputs("t2v_align", docs, features, state, "prototypes")
        s, index, dist = alignment_scores(X, protos, params.distance)
        return pd.DataFrame({"id": docs["id"].to_numpy(), "score": s, "prototype": index, "distance": dist})


METHOD = T2VAlign()
