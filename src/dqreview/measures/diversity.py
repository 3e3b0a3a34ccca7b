"""Task2Vec diversity and alignment coefficients (Miranda et al. 2023; Chawla et al. 2025).

Given Task2Vec embeddings of N batches of a dataset (rows of an (N, D) array):

* diversity ``div(D)`` = mean Task2Vec distance over all pairs ``i < j`` of its batches;
* cross-diversity ``cdiv(D1, D2)`` = mean distance over all pairs with one batch from each dataset;
* alignment ``align(S, T) = 1 − cdiv(S, T)`` (batch-pair variant), and the whole-dataset variant
  ``1 − d(e(S), e(T))`` with one embedding per dataset.

Every distance enters the mean, zeros included (the reference ``stats_of_distance_matrix`` drops exact
zeros, so true duplicate batches were silently excluded). The 95% confidence half-width is the paper's
``1.96 · sd / sqrt(number of distances)``; pairs sharing a batch are not independent, so it understates
the uncertainty — quoted for comparability with the paper, not as a calibrated interval.

Batches (:func:`sample_batches`) are drawn without replacement within a batch, each with its own seed
``(seed, hash(key), i)`` — the reference library reused one seed for every batch of a stream.

Synthetic bounds, built with OUR tokenizer's vocabulary: the lower bound (:func:`lower_bound_docs`) is
one random non-special token (drawn once per dataset), each position being eos with probability ``1/|V|``
and that token otherwise; the upper bound (:func:`upper_bound_docs`) has i.i.d. uniform tokens over the whole
vocabulary.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from dqreview.errors import DQError
from dqreview.hashing import stable_hash64
from dqreview.progress import Progress
from dqreview.task2vec import distance_matrix

Z95 = 1.959963984540054


@dataclass(frozen=True)
class Coefficient:
    """A mean of distances (or of 1 − distances) with its spread."""

    value: float
    ci95: float
    sd: float
    n_pairs: int

    def as_dict(self, prefix: str = "") -> dict:
        return {f"{prefix}{k}": v for k, v in asdict(self).items()}


def _summary(values: np.ndarray) -> Coefficient:
    values = np.asarray(values, dtype=np.float64).ravel()
    n = len(values)
    if n == 0:
        raise DQError("diversity: no pairs of batches (need at least 2 batches)")
    sd = float(values.std(ddof=1)) if n > 1 else 0.0
    return Coefficient(float(values.mean()), Z95 * sd / math.sqrt(n), sd, n)


def diversity(E: np.ndarray, distance: str = "cosine") -> Coefficient:
    """Diversity coefficient of a dataset from its batch embeddings ``E`` (N, D), ``N >= 2``."""
    E = np.asarray(E)
    if E.ndim != 2 or E.shape[0] < 2:
        raise DQError(
            f"diversity: need the embeddings of at least 2 batches as an (N, D) array; got {E.shape}"
        )
    D = distance_matrix(E, None, distance)
    iu = np.triu_indices(len(E), k=1)
    return _summary(D[iu])


def cross_diversity(A: np.ndarray, B: np.ndarray, distance: str = "cosine") -> Coefficient:
    """Cross-diversity between two datasets' batch embeddings (all ``N_A × N_B`` pairs)."""
    return _summary(distance_matrix(A, B, distance))


def alignment(A: np.ndarray, B: np.ndarray, distance: str = "cosine") -> Coefficient:
    """Batch-pair alignment coefficient ``1 − cross_diversity`` (cosine distance only)."""
    if distance != "cosine":
        raise DQError("alignment is defined as 1 − cosine Task2Vec distance; use distance='cosine'")
    c = cross_diversity(A, B, distance)
    return Coefficient(1.0 - c.value, c.ci95, c.sd, c.n_pairs)


def full_alignment(a: np.ndarray, b: np.ndarray) -> float:
    """Whole-dataset alignment ``1 − d(e(S), e(T))`` of two dataset embeddings (D,)."""
    return 1.0 - float(distance_matrix(a, b, "cosine")[0, 0])


def sample_batches(n_items: int, n_batches: int, batch_size: int, seed: int, key: str) -> list[np.ndarray]:
    """Index arrays of ``n_batches`` batches of ``batch_size`` distinct items, one seed per batch.

    Batch ``i`` is ``default_rng((seed, hash(key), i)).choice(n_items, batch_size, replace=False)``, sorted.
    """
    if n_batches < 1 or batch_size < 1:
        raise DQError(f"diversity: n_batches={n_batches} and batch_size={batch_size} must be positive")
    if n_items < batch_size:
        raise DQError(
            f"diversity: dataset {key!r} has {n_items} documents, fewer than a batch of {batch_size}; "
            "lower task2vec.coefficients.batch_size"
        )
    h = stable_hash64("batches", key) & (2**63 - 1)
    return [
        np.sort(np.random.default_rng((int(seed), h, i)).choice(n_items, size=batch_size, replace=False))
        for i in range(n_batches)
    ]


def lower_bound_docs(
    n_docs: int, length: int, vocab_size: int, eos_id: int, seed: int, special_ids: Sequence[int] = ()
) -> list[np.ndarray]:
    """Lowest-diversity synthetic sequences: one random non-special token (drawn once for the dataset) at
    every position, replaced by eos with probability 1/|V|."""
    specials = {int(eos_id), *map(int, special_ids)}
    allowed = np.array([t for t in range(vocab_size) if t not in specials], dtype=np.int64)
    if len(allowed) == 0:
        raise DQError("diversity: the vocabulary has no non-special token for the lower bound")
    rng = np.random.default_rng((int(seed), stable_hash64("lower-bound") & (2**63 - 1)))
    token = int(rng.choice(allowed))  # one token for the whole dataset: all mass on one arbitrary token
    return [
        np.where(rng.random(length) < 1.0 / vocab_size, eos_id, token).astype(np.int64) for _ in range(n_docs)
    ]


def upper_bound_docs(n_docs: int, length: int, vocab_size: int, seed: int) -> list[np.ndarray]:
    """Highest-diversity synthetic sequences: i.i.d. uniform tokens over the whole vocabulary."""
    rng = np.random.default_rng((int(seed), stable_hash64("upper-bound") & (2**63 - 1)))
    return [rng.integers(0, vocab_size, size=length, dtype=np.int64) for _ in range(n_docs)]


def dataset_embeddings(
    probe,
    docs: Sequence[np.ndarray],
    n_batches: int,
    batch_size: int,
    seed: int,
    key: str,
    bar: Progress | None = None,
    **embed_kwargs,
) -> np.ndarray:
    """Task2Vec embeddings (n_batches, D) of batches drawn from ``docs`` (see :func:`sample_batches`).

    ``embed_kwargs`` go to :func:`dqreview.task2vec.embed_batch` (window, layers, finetune, ...);
    batch ``i`` samples its labels with key ``"{key}/{i}"``. ``bar``, when given, counts each batch.
    """
    from dqreview.task2vec import embed_batch

    batches = sample_batches(len(docs), n_batches, batch_size, seed, key)
    out = []
    for i, idx in enumerate(batches):
        out.append(embed_batch(probe, [docs[j] for j in idx], seed=seed, key=f"{key}/{i}", **embed_kwargs))
        if bar is not None:
            bar.update(1, set=key)
    return np.stack(out)


def batch_vectors_from_documents(
    doc_vectors: np.ndarray, n_batches: int, batch_size: int, seed: int, key: str
) -> np.ndarray:
    """Batch embeddings from cached per-document vectors: the mean of each sampled batch's rows.

    A set's Task2Vec vector is the mean of its documents' (docs/methods.md, "Task2Vec coefficients"), so this needs no probe. A set
    smaller than one batch is an error (as for :func:`sample_batches`): its "batches" would all be the
    whole set.
    """
    doc_vectors = np.asarray(doc_vectors, dtype=np.float64)
    return np.stack(
        [
            doc_vectors[idx].mean(axis=0)
            for idx in sample_batches(len(doc_vectors), n_batches, batch_size, seed, key)
        ]
    )
