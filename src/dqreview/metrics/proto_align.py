"""Target-prototype alignment: similarity of a pool document to the nearest *target* prototype.

The prototypes come from target ref's embeddings (``FIT_NEEDS = ("target_embeddings",)``), never from
the pool. ``params.source`` chooses them:

``"kmeans"``
    spherical k-means centroids of target ref (``k`` of them);
``"hard"``
    centroids of target ref's hardest examples: after a first spherical k-means (``k``), the
    ``hard_fraction`` of target rows farthest from their nearest centroid (by ``distance``; ties by
    row order) are re-clustered into ``k`` centroids;
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

import numpy as np
import pandas as pd

from dqreview.errors import DQError
from dqreview.metrics.prototypes import (
    CHUNK_ROWS,
    DISTANCES,
    _l2_normalise,
    check_scoring_inputs,
    distance_to_nearest,
    spherical_kmeans,
)

PER_DOCUMENT = True
KEEP = ("high", "low")
NEEDS = ("embeddings",)
FIT_NEEDS = ("target_embeddings",)

#: Where the target prototypes come from.
SOURCES = ("kmeans", "hard", "mean")

_KEY = "metrics[proto_align].variants[].params"


def _param_error(name: str, message: str) -> DQError:
    return DQError(f"{_KEY}.{name}: {message}")


def check_params(params: dict | None) -> dict:
    """Validated parameters with defaults filled in.

    ``source`` ("kmeans"), ``distance`` ("cosine"), ``k`` (required unless source="mean"),
    ``seed`` (0), ``hard_fraction`` (0.3), ``n_iter`` (50), ``n_init`` (3), ``chunk_size``.
    """
    params = dict(params or {})
    out: dict = {}
    out["source"] = params.get("source", "kmeans")
    if out["source"] not in SOURCES:
        raise _param_error("source", f"unknown source {out['source']!r}; use one of {', '.join(SOURCES)}")
    out["distance"] = params.get("distance", "cosine")
    if out["distance"] not in DISTANCES:
        raise _param_error(
            "distance", f"unknown distance {out['distance']!r}; known distances: {', '.join(DISTANCES)}"
        )
    for name, default in (
        ("k", None),
        ("seed", 0),
        ("n_iter", 50),
        ("n_init", 3),
        ("chunk_size", CHUNK_ROWS),
    ):
        value = params.get(name, default)
        if value is None:
            if name == "k" and out["source"] == "mean":
                out[name] = 1
                continue
            raise _param_error(name, f"required for source={out['source']!r} (e.g. {name}: 20)")
        if isinstance(value, bool) or not isinstance(value, int | np.integer):
            raise _param_error(name, f"must be an integer; got {value!r}")
        out[name] = int(value)
    hf = params.get("hard_fraction", 0.3)
    if isinstance(hf, bool) or not isinstance(hf, int | float) or not 0 < float(hf) <= 1:
        raise _param_error("hard_fraction", f"must be a number in (0, 1]; got {hf!r}")
    out["hard_fraction"] = float(hf)
    return out


def mean_prototype(T: np.ndarray) -> np.ndarray:
    """The whole-set prototype: normalised mean of the normalised rows, shape (1, d), float32."""
    T = _l2_normalise(T).astype(np.float64)
    mean = T.sum(axis=0)
    norm = np.linalg.norm(mean)
    if norm <= 1e-12:
        raise DQError(
            "the target embeddings average to the zero vector, so the mean prototype is undefined; "
            f"use {_KEY}.source: kmeans"
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
) -> np.ndarray:
    """Prototypes of a reference set ``T`` (n, d): unit rows, float32, shape (k, d) or (1, d) for "mean"."""
    if source not in SOURCES:
        raise _param_error("source", f"unknown source {source!r}; use one of {', '.join(SOURCES)}")
    T = _l2_normalise(T)
    if T.ndim != 2 or T.shape[0] == 0:
        raise DQError(f"proto_align needs a non-empty 2-D target embedding matrix; got shape {T.shape}")
    if source == "mean":
        return mean_prototype(T)
    centroids = spherical_kmeans(T, k, seed, n_iter=n_iter, n_init=n_init, key=f"{_KEY}.k")
    if source == "kmeans":
        return centroids
    hard = hard_subset(T, centroids, hard_fraction, distance, min_rows=k)
    return spherical_kmeans(T[hard], k, seed, n_iter=n_iter, n_init=n_init, key=f"{_KEY}.k")


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
    X = _l2_normalise(X)
    dist, index, _ = distance_to_nearest(X, prototypes, distance, chunk_size)
    return -dist if distance != "cosine" else 1.0 - dist, index, dist


def fit(inputs: dict[str, np.ndarray], params: dict) -> dict[str, np.ndarray]:
    """Target prototypes. Returns ``{"prototypes": ndarray (k, d) float32}``."""
    p = check_params(params)
    protos = build_prototypes(
        inputs["target_embeddings"],
        p["source"],
        p["k"],
        p["seed"],
        p["distance"],
        p["hard_fraction"],
        p["n_iter"],
        p["n_init"],
    )
    return {"prototypes": protos}


def score(
    docs: pd.DataFrame, embeddings: np.ndarray | None, state: dict | None, params: dict | None = None
) -> pd.DataFrame:
    """Alignment with the nearest target prototype (HIGH = aligned).

    Returns
    -------
    DataFrame
        ``id``, ``score``, ``prototype`` (int64, nearest prototype), ``distance`` (to it), in
        ``docs`` order.
    """
    p = check_params(params)
    embeddings, protos = check_scoring_inputs("proto_align", docs, embeddings, state, "prototypes")
    s, index, dist = alignment_scores(embeddings, protos, p["distance"], p["chunk_size"])
    return pd.DataFrame({"id": docs["id"].to_numpy(), "score": s, "prototype": index, "distance": dist})
