"""Target-prototype alignment: similarity of a pool document to the nearest *target* prototype.

The prototypes come from target ref's embeddings (``fit_inputs = (TARGET_EMBEDDINGS,)``), never from
the pool. The variant's ``source`` chooses them:

``"kmeans"``
    spherical k-means centroids of target ref (``k`` of them);
``"hard"``
    centroids of target ref's hardest examples, the ``hard_fraction`` of its rows chosen by ``hard_by``
    (ties by row order) and clustered into ``k`` centroids: ``"distance"`` (the default) — after a first
    spherical k-means (``k``), the rows farthest from their nearest centroid (by ``distance``);
    ``"probe_loss"`` — the rows with the highest Task2Vec probe loss (mean next-token cross-entropy, the
    definition ``t2v_align`` uses; input ``target_losses``), so "hard" can mean the same in both spaces;
``"mean"``
    one whole-set prototype, the normalised mean of the normalised target embeddings (``k`` unused).

score = −(distance to the nearest prototype), nearest by that same distance; for ``"cosine"`` it is
reported as the cosine similarity itself (= 1 − cosine distance), for ``"l1"``/``"l2"`` as the negated
norm of the difference. HIGH = aligned with the target; keep=low is the "misaligned" ablation.

All embeddings (target and pool) are L2-normalised first, so every prototype and document lies on the
unit sphere whatever the distance. The building blocks (:func:`build_prototypes`,
:func:`alignment_scores`) take plain arrays, so another space (e.g. Task2Vec embeddings) can reuse them.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd

from dqreview.errors import DQError
from dqreview.metrics.base import DocumentScorer
from dqreview.metrics.inputs import EMBEDDINGS, TARGET_EMBEDDINGS, TARGET_LOSSES, Input, in_static_space
from dqreview.metrics.prototypes import (
    CHUNK_ROWS,
    check_scoring_inputs,
    distance_to_nearest,
    hardest,
    l2_normalise,
    spherical_kmeans,
)
from dqreview.params import Ge, Gt, Le, Params, RunSeed

#: Where the target prototypes come from.
SOURCES = ("kmeans", "hard", "mean")


class ProtoAlignParams(Params):
    """``source`` of the prototypes, nearest by ``distance``; ``k`` prototypes (required unless
    source=mean), k-means ``seed``, ``n_iter`` and ``n_init``; ``hard_fraction`` of target rows
    re-clustered for source=hard, hardest ``hard_by`` distance or probe loss; ``chunk_size`` rows per block
    when scoring; ``space``: the sentence ``encoder``'s embeddings or the distilled ``static`` encoder's
    (``results/embed-static``), for pool and target alike."""

    source: Literal["kmeans", "hard", "mean"] = "kmeans"
    hard_by: Literal["distance", "probe_loss"] = "distance"
    distance: Literal["cosine", "l1", "l2"] = "cosine"
    k: Annotated[int, Ge(1)] | None = None
    seed: RunSeed = 0
    hard_fraction: Annotated[float, Gt(0), Le(1)] = 0.3
    n_iter: Annotated[int, Ge(1)] = 50
    n_init: Annotated[int, Ge(1)] = 3
    chunk_size: Annotated[int, Ge(1)] = CHUNK_ROWS
    space: Literal["encoder", "static"] = "encoder"

    def run_seed_fields(self) -> list[str]:
        # the mean prototype draws nothing: no scoring seed to fix or follow
        return [] if self.source == "mean" else super().run_seed_fields()

    def check(self, where: str) -> None:
        if self.k is None and self.source != "mean":
            self.fail(where, "k", f"required for source={self.source!r} (e.g. k: 20)")
        if self.source != "hard" and self.hard_by != "distance":
            self.fail(where, "hard_by", "only means something with source=hard; drop it or set source: hard")


def mean_prototype(T: np.ndarray) -> np.ndarray:
    """The whole-set prototype: normalised mean of the normalised rows, shape (1, d), float32."""
    T = l2_normalise(T).astype(np.float64)
    mean = T.sum(axis=0)
    norm = np.linalg.norm(mean)
    if norm <= 1e-12:
        raise DQError(
            "the target embeddings average to the zero vector, so the mean prototype is undefined; "
            "use source: kmeans in the variant's params"
        )
    return (mean / norm)[None, :].astype(np.float32)


def hard_subset(
    T: np.ndarray, centroids: np.ndarray, hard_fraction: float, distance: str = "cosine", min_rows: int = 1
) -> np.ndarray:
    """Indices of the ``hard_fraction`` rows of ``T`` farthest from their nearest centroid.

    ``ceil(hard_fraction · n)`` rows (at least ``min_rows``), farthest first, ties by row order.
    """
    dist, _, _ = distance_to_nearest(T, centroids, distance)
    n_hard = min(len(T), max(int(min_rows), math.ceil(hard_fraction * len(T) - 1e-9)))
    order = np.argsort(-dist, kind="stable")
    return np.sort(order[:n_hard])


def build_prototypes(
    T: np.ndarray,
    source: str = "kmeans",
    k: int = 1,
    seed: int = 0,
    distance: str = "cosine",
    hard_fraction: float = 0.3,
    n_iter: int = 50,
    n_init: int = 3,
    hard_by: str = "distance",
    losses: np.ndarray | None = None,
) -> np.ndarray:
    """Prototypes of a reference set ``T`` (n, d): unit rows, float32, shape (k, d) or (1, d) for "mean".

    For ``source="hard"``, ``hard_by="probe_loss"`` takes the rows with the highest ``losses`` (one per row
    of ``T``) instead of those farthest from a first k-means."""
    if source not in SOURCES:
        raise DQError(f"proto_align: unknown prototype source {source!r}; use one of {', '.join(SOURCES)}")
    T = l2_normalise(T)
    if T.ndim != 2 or T.shape[0] == 0:
        raise DQError(f"proto_align needs a non-empty 2-D target embedding matrix; got shape {T.shape}")
    if source == "mean":
        return mean_prototype(T)
    if k > len(T):
        raise DQError(
            f"proto_align: k={k} exceeds the number of target ref documents n={len(T)}; "
            f"lower the variant's k to at most {len(T)}"
        )
    if source == "hard" and hard_by == "probe_loss":
        if losses is None or len(losses) != len(T):
            raise DQError(
                f"proto_align: hard_by=probe_loss needs one probe loss per target ref document; got "
                f"{'none' if losses is None else len(losses)} for {len(T)}: rebuild results/t2v/target/ref.parquet"
            )
        hard = hardest(losses, hard_fraction, min_rows=k, where="proto_align")
        return spherical_kmeans(T[hard], k, seed, n_iter=n_iter, n_init=n_init)
    centroids = spherical_kmeans(T, k, seed, n_iter=n_iter, n_init=n_init)
    if source == "kmeans":
        return centroids
    hard = hard_subset(T, centroids, hard_fraction, distance, min_rows=k)
    return spherical_kmeans(T[hard], k, seed, n_iter=n_iter, n_init=n_init)


def alignment_scores(
    X: np.ndarray, prototypes: np.ndarray, distance: str = "cosine", chunk_size: int = CHUNK_ROWS
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Alignment of each row of ``X`` with its nearest prototype (HIGH = aligned).

    Returns
    -------
    score : ndarray (n,), float64
        Cosine similarity for ``"cosine"``; −‖x − p‖ (l1 or l2) otherwise.
    index : ndarray (n,), int64
        Nearest prototype (by ``distance``).
    distance : ndarray (n,), float64
        The distance to it.
    """
    X = l2_normalise(X)
    dist, index, _ = distance_to_nearest(X, prototypes, distance, chunk_size)
    return -dist if distance != "cosine" else 1.0 - dist, index, dist


class ProtoAlign(DocumentScorer):
    """Alignment with the nearest target prototype (HIGH = aligned); keep=low is the misaligned ablation."""

    Params = ProtoAlignParams
    keep = ("high", "low")
    family = "target-aware"
    features = EMBEDDINGS
    fit_inputs = (TARGET_EMBEDDINGS,)

    def features_for(self, params: ProtoAlignParams) -> Input:
        return in_static_space(EMBEDDINGS) if params.space == "static" else EMBEDDINGS

    def fit_inputs_for(self, params: ProtoAlignParams) -> tuple[Input, ...]:
        inputs = self.fit_inputs
        if params.source == "hard" and params.hard_by == "probe_loss":  # the Task2Vec probe's losses
            inputs = (TARGET_EMBEDDINGS, TARGET_LOSSES)
        return in_static_space(inputs) if params.space == "static" else inputs

    def fit(self, inputs: dict[str, Any], params: ProtoAlignParams) -> dict[str, np.ndarray]:
        """Target prototypes: ``{"prototypes": ndarray (k, d) float32}``."""
        p = params
        protos = build_prototypes(
            inputs["target_embeddings"],
            p.source,
            p.k if p.k is not None else 1,
            p.seed,
            p.distance,
            p.hard_fraction,
            p.n_iter,
            p.n_init,
            p.hard_by,
            inputs.get("target_losses"),
        )
        return {"prototypes": protos}

    def score(self, docs, features, state, params: ProtoAlignParams) -> pd.DataFrame:
        """``id``, ``score``, ``prototype`` (int64, nearest prototype), ``distance`` (to it), in
        ``docs`` order."""
        X, protos = check_scoring_inputs("proto_align", docs, features, state, "prototypes")
        s, index, dist = alignment_scores(X, protos, params.distance, params.chunk_size)
        return pd.DataFrame({"id": docs["id"].to_numpy(), "score": s, "prototype": index, "distance": dist})


METHOD = ProtoAlign()
