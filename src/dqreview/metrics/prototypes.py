"""SSL prototypes (Sorscher et al. 2022): distance to the nearest spherical k-means centroid.

Embed with a self-supervised encoder, L2-normalise, run spherical k-means on the pool, and score each
document by its cosine distance to the nearest centroid: HIGH = hard / atypical (keep=high keeps the
hard examples, keep=low the easy, prototypical ones).

The building blocks (:func:`spherical_kmeans`, :func:`nearest_centroid`, :func:`distance_to_nearest`)
take any embedding matrix, so other spaces (e.g. Task2Vec) and other prototype sources (e.g. target
prototypes) can reuse them. ``distance`` (a ``score`` parameter, default ``"cosine"``) is one of
``"cosine"`` (1 − cos), ``"l1"`` or ``"l2"`` (norm of the difference to the nearest centroid, nearest by
that same distance); the score is that distance (HIGH = far = hard).

Pool-size ablation (Sorscher et al.'s "scarce data → keep easy, abundant → keep hard"): with
``pool_fraction`` f < 1 the method sees only a nested prefix of the shuffled pool — the documents with
``unit_uniform(id, pool_seed) < f``, so a smaller pool is always a subset of a larger one — fits its
prototypes on that sub-pool alone, and marks every other document ``removed`` (never selected; a budget
above the sub-pool's bytes is capped).

Space (``space``): ``"encoder"`` (the default) clusters the sentence embeddings; ``"task2vec"`` the
per-document Task2Vec vectors (docs/methods.md, "Task2Vec"), so the SSL margin measures how atypical a
document is for the probe rather than for the encoder. Spherical k-means needs unit rows, and raw Fisher
diagonals on the sphere would be dominated by a few parameters (on the default pool, 10 of 5,632 entries
carry half of the squared norm). The Task2Vec distance avoids that by normalising every entry by the pair's
sum, ``F_a/(F_a+F_b)``, which has no centroid form; here every entry is divided by its mean over the fitted
(sub-)pool (the pool in place of the pair; saved as the state's ``scale``, an entry that is zero across the
pool keeps scale 1), and the rows are then L2-normalised. Like the Task2Vec cosine distance this ignores a
document's overall scale, i.e. its Task2Vec complexity (:mod:`dqreview.metrics.t2v_complexity`), so the
two hardness scores measure different things: direction vs magnitude of the Fisher.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp

from dqreview.errors import DQError
from dqreview.hashing import unit_uniform
from dqreview.metrics.base import DocumentScorer
from dqreview.metrics.inputs import (
    EMBEDDINGS,
    POOL_EMBEDDINGS,
    POOL_IDS,
    POOL_T2V,
    T2V,
    Input,
    in_static_space,
)
from dqreview.params import Ge, Gt, Le, Params, RunSeed
from dqreview.progress import Progress

#: Distances between a document and a prototype that :func:`distance_to_nearest` implements.
DISTANCES = ("cosine", "l1", "l2")

#: Rows per block in the chunked similarity computations (bounds memory at chunk × k float64).
CHUNK_ROWS = 8192


class SSLProtoParams(Params):
    """``k`` pool prototypes (required), their spherical k-means ``seed``, ``n_iter`` and ``n_init``;
    the score's ``distance`` and ``chunk_size`` (rows per block when scoring); the pool-size ablation's
    ``pool_fraction`` (1 = the whole pool) and ``pool_seed`` (which nested sub-pool); ``space``: the
    sentence ``encoder``'s embeddings, the per-document ``task2vec`` vectors, or the ``static`` encoder's
    embeddings (the distilled encoder arm, ``results/embed-static``)."""

    k: Annotated[int, Ge(1)]
    seed: RunSeed = 0
    n_iter: Annotated[int, Ge(1)] = 50
    n_init: Annotated[int, Ge(1)] = 3
    distance: Literal["cosine", "l1", "l2"] = "cosine"
    chunk_size: Annotated[int, Ge(1)] = CHUNK_ROWS
    pool_fraction: Annotated[float, Gt(0), Le(1)] = 1.0
    pool_seed: int = 0
    space: Literal["encoder", "task2vec", "static"] = "encoder"


def task2vec_scale(X: np.ndarray) -> np.ndarray:
    """Per-entry scale of Task2Vec vectors: each entry's mean over the rows (1 where it is 0), float64."""
    mean = np.asarray(X, dtype=np.float64).mean(axis=0)
    return np.where(mean > 0, mean, 1.0)


def task2vec_unit_rows(X: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Task2Vec vectors divided entry-wise by ``scale``, then L2-normalised (float32 unit rows)."""
    return l2_normalise(np.asarray(X, dtype=np.float64) / np.asarray(scale, dtype=np.float64))


def _check_distance(distance: str) -> None:
    if distance not in DISTANCES:
        raise DQError(f"unknown distance {distance!r}; known distances: {', '.join(DISTANCES)}")


def l2_normalise(X: np.ndarray) -> np.ndarray:
    """Rows scaled to unit norm (float32); zero rows stay zero. No copy when rows are already unit."""
    X = np.asarray(X, dtype=np.float32)
    norms = np.linalg.norm(X, axis=1)
    if np.all(np.abs(norms - 1.0) < 1e-6):
        return X
    return (X / np.where(norms > 0, norms, 1.0)[:, None]).astype(np.float32)


def nearest_centroid(
    X: np.ndarray, C: np.ndarray, chunk_size: int = CHUNK_ROWS
) -> tuple[np.ndarray, np.ndarray]:
    """Most similar centroid of each row, by cosine similarity (dot product of unit rows).

    Parameters
    ----------
    X : ndarray of shape (n, d)
        Unit-norm rows.
    C : ndarray of shape (k, d)
        Unit-norm centroids.
    chunk_size : int
        Rows of ``X`` per block; memory is bounded by ``chunk_size × k`` float64. The result does
        not depend on it.

    Returns
    -------
    similarity : ndarray of shape (n,), float64
        Largest cosine similarity of each row.
    index : ndarray of shape (n,), int64
        Index of that centroid (the first one on exact ties).
    """
    X = np.asarray(X)
    C64 = np.asarray(C, dtype=np.float64)
    n = X.shape[0]
    similarity = np.empty(n, dtype=np.float64)
    index = np.empty(n, dtype=np.int64)
    for lo in range(0, n, max(1, int(chunk_size))):
        hi = min(n, lo + chunk_size)
        sims = X[lo:hi].astype(np.float64) @ C64.T
        best = np.argmax(sims, axis=1)
        index[lo:hi] = best
        similarity[lo:hi] = sims[np.arange(hi - lo), best]
    return similarity, index


def distance_to_nearest(
    X: np.ndarray, prototypes: np.ndarray, distance: str = "cosine", chunk_size: int = CHUNK_ROWS
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distance of each row to its nearest prototype, nearest by that same distance.

    Parameters
    ----------
    X : ndarray of shape (n, d)
        Rows (unit rows for ``"cosine"``; ``"l1"``/``"l2"`` use the rows as given).
    prototypes : ndarray of shape (k, d)
        Prototypes (unit rows for ``"cosine"``).
    distance : {"cosine", "l1", "l2"}
        ``1 − x·c``; ``Σ|x − c|``; ``‖x − c‖₂``.
    chunk_size : int
        Rows per block; the result does not depend on it.

    Returns
    -------
    distance : ndarray (n,), float64
        Distance to the nearest prototype.
    index : ndarray (n,), int64
        Index of the nearest prototype (the first one on exact ties).
    similarity : ndarray (n,), float64
        Dot product with that prototype (the cosine similarity for unit rows).
    """
    _check_distance(distance)
    if distance == "cosine":
        similarity, index = nearest_centroid(X, prototypes, chunk_size)
        return 1.0 - similarity, index, similarity
    X = np.asarray(X)
    C64 = np.asarray(prototypes, dtype=np.float64)
    n, k = X.shape[0], C64.shape[0]
    dist = np.empty(n, dtype=np.float64)
    index = np.empty(n, dtype=np.int64)
    similarity = np.empty(n, dtype=np.float64)
    step = max(1, int(chunk_size))
    for lo in range(0, n, step):
        hi = min(n, lo + step)
        block = X[lo:hi].astype(np.float64)
        D = np.empty((hi - lo, k), dtype=np.float64)
        for j in range(k):  # memory: one (chunk, d) difference at a time
            diff = block - C64[j]
            D[:, j] = (
                np.abs(diff).sum(axis=1) if distance == "l1" else np.sqrt(np.einsum("ij,ij->i", diff, diff))
            )
        best = np.argmin(D, axis=1)
        rows = np.arange(hi - lo)
        dist[lo:hi] = D[rows, best]
        index[lo:hi] = best
        similarity[lo:hi] = np.einsum("ij,ij->i", block, C64[best])
    return dist, index, similarity


def _kmeans_pp(X: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """k-means++ seeding on the sphere: next centre drawn with probability ∝ 1 − max cosine.

    For unit vectors ‖x − c‖² = 2(1 − cos), so this is ordinary k-means++ (D² weighting).
    The k sequential passes are matrix–vector products in the data's own precision (float32 for
    embeddings): seeding only needs sampling weights, and a float64 copy per pass would dominate
    the cost of the whole k-means.
    """
    n = X.shape[0]
    centres = np.empty((k, X.shape[1]), dtype=np.float64)

    def similarity_to(centre: np.ndarray) -> np.ndarray:
        return (X @ centre.astype(X.dtype, copy=False)).astype(np.float64)

    first = int(rng.integers(n))
    centres[0] = X[first]
    best_sim = similarity_to(centres[0])
    for j in range(1, k):
        weight = np.clip(1.0 - best_sim, 0.0, None)
        total = weight.sum()
        if total <= 0:  # every point already coincides with a centre: any point will do
            pick = int(rng.integers(n))
        else:
            pick = int(np.searchsorted(np.cumsum(weight), rng.random() * total, side="right"))
            pick = min(pick, n - 1)
        centres[j] = X[pick]
        best_sim = np.maximum(best_sim, similarity_to(centres[j]))
    return centres


#: Rows whose bounds leave less than this margin are recomputed exactly (bounds carry float rounding).
_BOUND_MARGIN = 1e-9


def float32_dot_margin(d: int) -> float:
    """Twice the largest error of a float32 dot product of two unit ``d``-vectors, ``d·2⁻²⁴`` whatever the
    summation order: two float32 similarities further apart than this are ordered as in float64."""
    return d * 2.0**-23


def _top2(
    X: np.ndarray, C64: np.ndarray, chunk_size: int, rows: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Most similar centroid of each unit row (of ``X[rows]``; first on ties), a lower bound on that
    similarity and an upper bound on the second-largest one; the centroid is the one float64 picks.

    float32 rows are compared in float32 (half the cost, no float64 copy of the rows): a dot product of
    ``d`` terms is then off by at most ``d·2⁻²⁴`` (for unit vectors, whatever the summation order), plus
    the centroids' own rounding to float32. Rows whose best and second similarities are closer than
    twice that bound are recomputed in float64; for the others the float32 winner is the float64 winner
    and the bounds are widened by it.
    """
    n, d = (X.shape[0] if rows is None else rows.size), X.shape[1]
    best = np.empty(n, dtype=np.int64)
    first = np.empty(n, dtype=np.float64)
    second = np.full(n, -np.inf)
    single = X.dtype == np.float32
    C = C64.astype(np.float32) if single else C64
    margin = float32_dot_margin(d) + 1e-6 if single else 0.0  # + the centroids' rounding to float32
    for lo in range(0, n, max(1, int(chunk_size))):
        hi = min(n, lo + chunk_size)
        block = X[lo:hi] if rows is None else X[rows[lo:hi]]  # gathered a chunk at a time
        sims = block @ C.T
        at = np.arange(hi - lo)
        b = np.argmax(sims, axis=1)
        s1 = sims[at, b].astype(np.float64)
        sims[at, b] = -np.inf
        s2 = sims.max(axis=1).astype(np.float64) if C.shape[0] > 1 else np.full(hi - lo, -np.inf)
        if single:
            close = np.flatnonzero(s1 - s2 <= 2 * margin)
            s1 -= margin
            s2 += margin
            if close.size:
                exact = block[close].astype(np.float64) @ C64.T
                b[close] = np.argmax(exact, axis=1)
                s1[close] = exact[np.arange(close.size), b[close]]
                exact[np.arange(close.size), b[close]] = -np.inf
                s2[close] = exact.max(axis=1) if C.shape[0] > 1 else -np.inf
        best[lo:hi], first[lo:hi], second[lo:hi] = b, s1, s2
    return best, first, second


def assigned_similarity(
    X: np.ndarray, C: np.ndarray, labels: np.ndarray, chunk_size: int = CHUNK_ROWS
) -> np.ndarray:
    """Float64 dot product of each row with its centroid ``C[labels]``, (n,), a chunk of rows at a time."""
    n = X.shape[0]
    out = np.empty(n, dtype=np.float64)
    for lo in range(0, n, max(1, int(chunk_size))):
        hi = min(n, lo + chunk_size)
        out[lo:hi] = np.einsum("ij,ij->i", X[lo:hi].astype(np.float64), C[labels[lo:hi]])
    return out


def _member_sums(X: np.ndarray, rows: np.ndarray, labels: np.ndarray, k: int, chunk_size: int) -> np.ndarray:
    """(k, d) float64 sums of the rows ``X[rows]`` by their ``labels``."""
    sums = np.zeros((k, X.shape[1]), dtype=np.float64)
    for lo in range(0, rows.size, chunk_size):
        part = rows[lo : lo + chunk_size]
        onehot = sp.csr_matrix((np.ones(part.size), (labels[lo : lo + chunk_size], np.arange(part.size))),
                               shape=(k, part.size))  # fmt: skip
        sums += onehot @ X[part].astype(np.float64)
    return sums


def _lloyd(
    X: np.ndarray, centroids: np.ndarray, n_iter: int, chunk_size: int, bar: Progress
) -> tuple[np.ndarray, float]:
    """Lloyd iterations from ``centroids`` until no assignment changes, at most ``n_iter`` updates; the
    final unit centroids (float64) and the objective (total similarity of rows to their centroid).

    Each update sets a centroid to its members' normalised mean; an empty (or cancelling) cluster is
    reseeded to the rows worst served by their centroid, farthest first. The assignments are exactly
    those of full passes, with Hamerly's bounds: a row keeps a lower bound on its similarity to its own
    centroid and an upper bound on its similarity to any other; a centroid that moved by δ changes a unit
    row's similarity by at most δ, so a row whose lower bound still beats its upper bound cannot change
    centroid and is skipped. Late iterations, where few rows move, touch only the undecided rows, and the
    member sums are updated by the rows that moved.
    """
    n = X.shape[0]
    k = centroids.shape[0]
    C = np.asarray(centroids, dtype=np.float64)
    labels, lower, upper = _top2(X, C, chunk_size)
    sums = _member_sums(X, np.arange(n), labels, k, chunk_size)
    for _ in range(n_iter):
        norms = np.linalg.norm(sums, axis=1)
        dead = np.flatnonzero(norms <= 1e-12)
        new = sums / np.where(norms > 1e-12, norms, 1.0)[:, None]
        if dead.size:
            similarity = assigned_similarity(X, C, labels, chunk_size)
            new[dead] = X[np.argsort(similarity, kind="stable")[: dead.size]]
        bar.update(1)
        moved = np.linalg.norm(new - C, axis=1)
        lower -= moved[labels]
        upper += moved.max()
        C = new
        rows = np.flatnonzero(lower <= upper + _BOUND_MARGIN)
        best, lower[rows], upper[rows] = _top2(X, C, chunk_size, rows)
        changed = best != labels[rows]
        if not changed.any() and not dead.size:
            break
        rows, best = rows[changed], best[changed]
        sums += _member_sums(X, rows, best, k, chunk_size) - _member_sums(
            X, rows, labels[rows], k, chunk_size
        )
        labels[rows] = best
    return C, float(assigned_similarity(X, C, labels, chunk_size).sum())


def spherical_kmeans(
    X: np.ndarray,
    k: int,
    seed: int,
    n_iter: int = 50,
    n_init: int = 3,
    chunk_size: int = CHUNK_ROWS,
) -> np.ndarray:
    """Spherical k-means: assign by largest cosine similarity, centroid = normalised member mean.

    Parameters
    ----------
    X : ndarray of shape (n, d)
        Embeddings (normalised here if they are not unit rows already).
    k : int
        Number of clusters, 1 ≤ k ≤ n.
    seed : int
        Seeds ``np.random.default_rng`` for the k-means++ initialisations; the result is a
        deterministic function of ``(X, k, seed, n_iter, n_init)``.
    n_iter : int
        Maximum Lloyd iterations per initialisation; stops earlier once assignments stop changing.
    n_init : int
        Initialisations; the one with the largest total cosine similarity to the assigned centroids wins.
    chunk_size : int
        Rows per block in the similarity computations.

    Returns
    -------
    centroids : ndarray of shape (k, d), float32, unit rows
    """
    X = l2_normalise(X)
    if X.ndim != 2:
        raise DQError(f"spherical k-means needs a 2-D embedding matrix; got shape {X.shape}")
    n = X.shape[0]
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise DQError(f"spherical k-means: the number of clusters k must be a positive integer; got {k!r}")
    if k > n:
        raise DQError(
            f"spherical k-means: k={k} exceeds the number of documents n={n}; lower the variant's k to at most {n}"
        )
    rng = np.random.default_rng(seed)
    best_centroids, best_objective = None, -np.inf
    n_init, n_iter = max(1, int(n_init)), max(1, int(n_iter))
    # a pool-sized fit takes minutes; the many small ones (sub-cluster splits) stay out of the log
    bar = Progress(n_init * n_iter, f"spherical k-means (n={n}, k={k})", "iteration", brief=True)
    for init in range(n_init):
        centroids, objective = _lloyd(X, _kmeans_pp(X, k, rng), n_iter, chunk_size, bar)
        bar.update((init + 1) * n_iter - bar.done)  # converged early: the rest of this start is skipped
        if objective > best_objective:
            best_centroids, best_objective = centroids, objective
    bar.close()
    return best_centroids.astype(np.float32)


def check_scoring_inputs(
    metric: str, docs: pd.DataFrame, embeddings: np.ndarray | None, state: dict | None, key: str
) -> tuple[np.ndarray, np.ndarray]:
    """The shard's embeddings and the fitted prototypes ``state[key]``, checked against each other.

    Shared by every metric that scores a shard by its distance to fitted prototypes.
    """
    if embeddings is None:
        raise DQError(f"{metric} needs the shard's per-document features (embeddings); none were given")
    if state is None or key not in state:
        raise DQError(f"{metric} needs the fitted {key} (state[{key!r}]); run its fit step first")
    embeddings = np.asarray(embeddings)
    prototypes = np.asarray(state[key])
    if embeddings.ndim != 2 or embeddings.shape[0] != len(docs):
        raise DQError(
            f"{metric}: {embeddings.shape} embeddings for {len(docs)} documents; the embeddings file does "
            "not belong to this shard, rebuild it"
        )
    if prototypes.ndim != 2 or prototypes.shape[1] != embeddings.shape[1]:
        raise DQError(
            f"{metric}: {key} of shape {prototypes.shape} do not match embeddings of dimension "
            f"{embeddings.shape[1]}; they were fitted in another space, rebuild them"
        )
    return embeddings, prototypes


def hardest(losses: np.ndarray, fraction: float, min_rows: int = 1, where: str = "t2v_align") -> np.ndarray:
    """Row indices of the ``ceil(fraction · n)`` highest-loss rows (at least ``min_rows``), sorted.

    Also the rows farthest from their prototype when ``losses`` are those distances."""
    losses = np.asarray(losses, dtype=np.float64)
    if not np.all(np.isfinite(losses)):
        raise DQError(f"{where}: target probe losses contain NaN/inf; rebuild the target Task2Vec vectors")
    n = min(len(losses), max(int(min_rows), math.ceil(fraction * len(losses) - 1e-9)))
    return np.sort(np.argsort(-losses, kind="stable")[:n])


def in_sub_pool(ids: np.ndarray, pool_fraction: float, pool_seed: int = 0) -> np.ndarray:
    """Membership of the nested sub-pool of fraction ``pool_fraction`` (1: the whole pool).

    A document belongs iff ``unit_uniform(id, pool_seed) < pool_fraction``, so the sub-pool of a
    smaller fraction is a subset of a larger one's and membership does not depend on row order.
    """
    if not 0 < pool_fraction <= 1:
        raise DQError(f"ssl_proto: the sub-pool fraction must be in (0, 1]; got {pool_fraction!r}")
    if pool_fraction >= 1.0:
        return np.ones(len(ids), dtype=bool)
    return unit_uniform(np.asarray(ids).astype(str), pool_seed) < pool_fraction


class SSLPrototypes(DocumentScorer):
    """Distance to the nearest pool prototype (HIGH = hard / atypical); keep=low keeps the easy ones."""

    Params = SSLProtoParams
    keep = ("high", "low")
    family = "target-blind"
    features = EMBEDDINGS
    fit_inputs = (POOL_EMBEDDINGS, POOL_IDS)

    def features_for(self, params: SSLProtoParams) -> Input:
        if params.space == "static":
            return in_static_space(EMBEDDINGS)
        return T2V if params.space == "task2vec" else EMBEDDINGS

    def fit_inputs_for(self, params: SSLProtoParams) -> tuple[Input, ...]:
        if params.space == "static":
            return in_static_space((POOL_EMBEDDINGS, POOL_IDS))
        return (POOL_T2V, POOL_IDS) if params.space == "task2vec" else (POOL_EMBEDDINGS, POOL_IDS)

    def fit(self, inputs: dict[str, Any], params: SSLProtoParams) -> dict[str, np.ndarray]:
        """Spherical k-means centroids of the pool (of its sub-pool when ``pool_fraction`` < 1):
        ``{"centroids": ndarray (k, d) float32}``, plus ``scale`` (d,) in Task2Vec space (see the module
        docstring). ``pool_ids`` may be left out for the whole pool."""
        p = params
        X = inputs["pool_t2v" if p.space == "task2vec" else "pool_embeddings"]
        ids = inputs.get("pool_ids")
        if ids is None:
            if p.pool_fraction < 1.0:
                raise DQError(
                    f"ssl_proto: pool_fraction={p.pool_fraction} needs the pool ids (fit input pool_ids)"
                )
            in_pool = np.ones(len(X), bool)
        else:
            if len(ids) != len(X):
                raise DQError(f"pool ids ({len(ids)}) and pool embeddings ({len(X)}) differ in length")
            in_pool = in_sub_pool(ids, p.pool_fraction, p.pool_seed)
        n = int(in_pool.sum())
        if p.k > n:
            sub = f" of its pool_fraction={p.pool_fraction} sub-pool" if p.pool_fraction < 1.0 else ""
            raise DQError(
                f"ssl_proto: k={p.k} exceeds the number of documents{sub} n={n}; lower the variant's k to at "
                f"most {n}"
            )
        if p.space == "task2vec":
            scale = task2vec_scale(X[in_pool])
            unit = task2vec_unit_rows(X[in_pool], scale)
            centroids = spherical_kmeans(unit, p.k, p.seed, n_iter=p.n_iter, n_init=p.n_init)
            return {"centroids": centroids, "scale": scale}
        return {"centroids": spherical_kmeans(X[in_pool], p.k, p.seed, n_iter=p.n_iter, n_init=p.n_init)}

    def pool_fraction(self, params: SSLProtoParams) -> float:
        return params.pool_fraction

    def score(self, docs, features, state, params: SSLProtoParams) -> pd.DataFrame:
        """Distance to the nearest pool centroid, nearest by that same ``distance`` (HIGH = hard).

        Returns
        -------
        DataFrame
            ``id``, ``score`` (the distance: 1 − max cosine similarity for cosine), ``cluster`` (int64,
            nearest centroid), ``similarity`` (dot product with that centroid), in ``docs`` order; plus
            ``removed`` (outside the sub-pool) when ``pool_fraction`` < 1.
        """
        X, centroids = check_scoring_inputs("ssl_proto", docs, features, state, "centroids")
        if params.space == "task2vec":
            if "scale" not in state:
                raise DQError("ssl_proto space=task2vec: the fitted state has no scale; rerun its fit step")
            X = task2vec_unit_rows(X, state["scale"])
        distance, cluster, similarity = distance_to_nearest(X, centroids, params.distance, params.chunk_size)
        out = pd.DataFrame(
            {"id": docs["id"].to_numpy(), "score": distance, "cluster": cluster, "similarity": similarity}
        )
        if params.pool_fraction < 1.0:
            out["removed"] = ~in_sub_pool(out["id"].to_numpy(), params.pool_fraction, params.pool_seed)
        return out


METHOD = SSLPrototypes()
