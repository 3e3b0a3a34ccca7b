"""DSIR (Xie et al. 2023): importance resampling on hashed n-gram features.

Each document is lower-cased, tokenised with the regex ``\\w+|[^\\w\\s]+`` (nltk's WordPunctTokenizer),
and its unigrams and bigrams (``"a b"``) are hashed into ``num_buckets`` buckets. Two bag-of-buckets
distributions are fitted by counting: γ on the target reference (``target_texts``) and β on the pool
(``pool_texts``). The log importance weight of a document is linear in its bucket counts z:

    log w(x) = Σ_j z_j(x) · (log(γ_j + 1e-8) − log(β_j + 1e-8))

The score is log w (HIGH = more target-like). Sampling ∝ w without replacement is the Gumbel top-k
trick: keep the k largest ``log w + G`` with G from :func:`gumbel_keys` (keyed by hash(id, seed), not a
global RNG); the workflow's selection applies it. ``keep=low`` is the reversed ablation.

Featurisers (``featurizer`` parameter)
--------------------------------------
``"compat"``
    Reproduces ``data-selection`` 1.0.3 exactly: bucket = ``int(sha256(s).hexdigest(), 16) % B``
    (``hash_buckets('alice') == 6720``). Pure Python, with a per-call cache of n-gram → bucket.
``"fast"`` (default)
    The same sha256 buckets, hence the same counts and log weights as ``"compat"`` (to float
    summation order), computed with numpy: tokens are mapped to integer ids through a vocabulary, each
    distinct token and each distinct bigram (a pair of ids, deduplicated with ``np.unique``) is hashed
    once, and the results are cached between calls (per ``num_buckets``). A different hash (e.g.
    scikit-learn's MurmurHash ``HashingVectorizer``) was tried and rejected: with B = 10,000 the
    collision pattern changes the weights too much (Spearman 0.91–0.98 and top-100 Jaccard 0.6–0.8
    against compat on stdlib docstrings). ``ngrams > 2`` falls back to the compat code path.

Traps (see METHODS.md §2): log w grows with document length (the paper scores fixed 128-word
chunks); target buckets that are empty cost ≈ −18 per occurrence — ``laplace`` adds a pseudo-count to
every target bucket before normalising (the package's later ``target_laplace_smoothing``; 0 = 1.0.3).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from dqreview.errors import DQError
from dqreview.hashing import unit_uniform

PER_DOCUMENT = True
KEEP = ("high", "low")
NEEDS: tuple[str, ...] = ()
FIT_NEEDS = ("target_texts", "pool_texts")

FEATURIZERS = ("fast", "compat")
DEFAULTS: dict[str, Any] = {
    "num_buckets": 10000,
    "ngrams": 2,
    "featurizer": "fast",
    "laplace": 0.0,
    "sampling": "gumbel",  # resample without replacement ∝ w (the paper); "top_k" = deterministic
}
SAMPLINGS = ("gumbel", "top_k")

#: Tokeniser of nltk's WordPunctTokenizer (stdlib ``re``, as nltk 3.9 uses it).
TOKEN_RE = re.compile(r"\w+|[^\w\s]+", flags=re.UNICODE | re.MULTILINE | re.DOTALL)
#: Smoothing constants of the reference implementation.
LOG_EPS = 1e-8
KL_EPS = 1e-10
#: Documents featurised per block when summing counts (bounds memory at block × nnz).
CHUNK_DOCS = 4096

_KEY = "metrics[dsir].variants[].params."


# --------------------------------------------------------------------------------------- params
def _params(params: dict[str, Any] | None) -> dict[str, Any]:
    """Parameters with defaults filled in, validated; errors name the config key."""
    p = dict(DEFAULTS)
    p.update(params or {})
    B = p["num_buckets"]
    if isinstance(B, bool) or not isinstance(B, int | np.integer) or B < 1:
        raise DQError(f"{_KEY}num_buckets: expected a positive integer such as 10000; got {B!r}")
    n = p["ngrams"]
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise DQError(f"{_KEY}ngrams: expected a positive integer (2 = unigrams + bigrams); got {n!r}")
    if p["featurizer"] not in FEATURIZERS:
        raise DQError(f"{_KEY}featurizer: {p['featurizer']!r} is not one of {', '.join(FEATURIZERS)}")
    lap = p["laplace"]
    if (
        isinstance(lap, bool)
        or not isinstance(lap, int | float | np.number)
        or not np.isfinite(lap)
        or lap < 0
    ):
        raise DQError(f"{_KEY}laplace: expected a pseudo-count >= 0 (0 = none); got {lap!r}")
    if p["sampling"] not in SAMPLINGS:
        raise DQError(f"{_KEY}sampling: {p['sampling']!r} is not one of {', '.join(SAMPLINGS)}")
    p["num_buckets"], p["ngrams"], p["laplace"] = int(B), int(n), float(lap)
    return p


# ------------------------------------------------------------------------------------ features
def hash_bucket(text: str, num_buckets: int = 10000) -> int:
    """Bucket of one n-gram string, as ``data_selection.hash_buckets``: sha256 mod ``num_buckets``."""
    return int(hashlib.sha256(text.encode("utf-8")).hexdigest(), 16) % num_buckets


def tokenize(text: str) -> list[str]:
    """Lower-case ``text`` and split it with ``\\w+|[^\\w\\s]+`` (nltk WordPunctTokenizer)."""
    return TOKEN_RE.findall(text.lower())


def _ngram_strings(words: list[str], ngrams: int) -> Iterable[str]:
    yield from words
    for k in range(2, ngrams + 1):
        for i in range(len(words) - k + 1):
            yield " ".join(words[i : i + k])


def _featurize_compat(
    texts: Sequence[str], num_buckets: int, ngrams: int
) -> tuple[sp.csr_matrix, np.ndarray]:
    cache: dict[str, int] = {}
    cols: list[int] = []
    indptr = [0]
    n_tokens = np.empty(len(texts), dtype=np.int64)
    for r, text in enumerate(texts):
        words = tokenize(text)
        n_tokens[r] = len(words)
        for s in _ngram_strings(words, ngrams):
            b = cache.get(s)
            if b is None:
                b = cache[s] = hash_bucket(s, num_buckets)
            cols.append(b)
        indptr.append(len(cols))
        if len(cache) > 2_000_000:  # bound memory on very large inputs
            cache.clear()
    indices = np.asarray(cols, dtype=np.int64)
    X = sp.csr_matrix(
        (np.ones(indices.size, dtype=np.float64), indices, np.asarray(indptr, dtype=np.int64)),
        shape=(len(texts), num_buckets),
    )
    X.sum_duplicates()
    return X, n_tokens


class _Sha256Cache:
    """Bucket caches for one ``num_buckets``: token → id, id → bucket, bigram (id, id) → bucket.

    Kept between calls (fit and score see the same vocabulary) and cleared when it grows too large.
    """

    MAX_VOCAB = 2_000_000
    MAX_BIGRAMS = 20_000_000

    def __init__(self, num_buckets: int) -> None:
        self.B = num_buckets
        self.clear()

    def clear(self) -> None:
        self.vocab: dict[str, int] = {}
        self.words: list[str] = []
        self.ubucket = np.zeros(0, dtype=np.int64)
        self.codes = np.zeros(0, dtype=np.int64)  # sorted bigram codes a << 32 | b
        self.cbucket = np.zeros(0, dtype=np.int64)

    def ids(self, tokens: list[str]) -> np.ndarray:
        if len(self.vocab) > self.MAX_VOCAB or self.codes.size > self.MAX_BIGRAMS:
            self.clear()
        vocab, words = self.vocab, self.words
        new = sorted(set(tokens).difference(vocab))  # sorted: ids independent of set order
        if new:
            vocab.update(zip(new, range(len(words), len(words) + len(new)), strict=True))
            words.extend(new)
            B = self.B
            nb = np.fromiter((hash_bucket(w, B) for w in new), dtype=np.int64, count=len(new))
            self.ubucket = np.concatenate([self.ubucket, nb])
        out = np.fromiter(map(vocab.__getitem__, tokens), dtype=np.int64, count=len(tokens))
        return out

    def bigram_buckets(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        code = (a << 32) | b
        uniq, inv = np.unique(code, return_inverse=True)
        pos = np.searchsorted(self.codes, uniq)
        pos_c = np.minimum(pos, max(self.codes.size - 1, 0))
        known = (
            (self.codes.size > 0) & (self.codes[pos_c] == uniq)
            if self.codes.size
            else np.zeros(uniq.size, bool)
        )
        ub = np.empty(uniq.size, dtype=np.int64)
        ub[known] = self.cbucket[pos_c[known]]
        new = uniq[~known]
        if new.size:
            words, B = self.words, self.B
            nb = np.fromiter(
                (hash_bucket(words[c >> 32] + " " + words[c & 0xFFFFFFFF], B) for c in new.tolist()),
                dtype=np.int64,
                count=new.size,
            )
            ub[~known] = nb
            codes = np.concatenate([self.codes, new])
            order = np.argsort(codes, kind="stable")
            self.codes, self.cbucket = codes[order], np.concatenate([self.cbucket, nb])[order]
        return ub[inv]


_CACHES: dict[int, _Sha256Cache] = {}


def _featurize_fast(texts: Sequence[str], num_buckets: int, ngrams: int) -> tuple[sp.csr_matrix, np.ndarray]:
    if ngrams > 2:
        return _featurize_compat(texts, num_buckets, ngrams)
    cache = _CACHES.setdefault(num_buckets, _Sha256Cache(num_buckets))
    findall = TOKEN_RE.findall
    toks = [findall(t.lower()) for t in texts]
    n_tokens = np.fromiter((len(t) for t in toks), dtype=np.int64, count=len(toks))
    flat = [w for t in toks for w in t]
    ids = cache.ids(flat)
    uni = cache.ubucket[ids]
    starts = np.concatenate([[0], np.cumsum(n_tokens)])
    rows_u = np.repeat(np.arange(len(texts)), n_tokens)
    if ngrams == 2 and ids.size > 1:
        ok = np.ones(ids.size - 1, dtype=bool)
        ends = starts[1:-1] - 1  # last token of each document but the last: no bigram across documents
        ok[ends[(ends >= 0) & (ends < ids.size - 1)]] = False
        first = np.flatnonzero(ok)
        bi = cache.bigram_buckets(ids[first], ids[first + 1])
        rows = np.concatenate([rows_u, rows_u[first]])
        cols = np.concatenate([uni, bi])
    else:
        rows, cols = rows_u, uni
    X = sp.coo_matrix(
        (np.ones(cols.size, dtype=np.float64), (rows, cols)), shape=(len(texts), num_buckets)
    ).tocsr()  # sums duplicates
    return X, n_tokens


def featurize(
    texts: Sequence[str],
    num_buckets: int = 10000,
    ngrams: int = 2,
    featurizer: str = "fast",
    return_n_tokens: bool = False,
) -> sp.csr_matrix | tuple[sp.csr_matrix, np.ndarray]:
    """Hashed n-gram counts of each text.

    Parameters
    ----------
    texts : sequence of str
        Documents.
    num_buckets : int
        Number of hash buckets B.
    ngrams : int
        Largest n-gram order (2 = unigrams and bigrams).
    featurizer : {"fast", "compat"}
        Hash function (see the module docstring).
    return_n_tokens : bool
        Also return the number of tokens of each text.

    Returns
    -------
    counts : scipy.sparse.csr_matrix of shape (n, B), float64
        Integer-valued counts.
    n_tokens : ndarray (n,), int64
        Only when ``return_n_tokens``.
    """
    if featurizer not in FEATURIZERS:
        raise DQError(f"unknown featurizer {featurizer!r}; known: {', '.join(FEATURIZERS)}")
    texts = [str(t) for t in texts]
    fn = _featurize_compat if featurizer == "compat" else _featurize_fast
    X, n_tokens = fn(texts, int(num_buckets), int(ngrams))
    return (X, n_tokens) if return_n_tokens else X


def bucket_counts(
    texts: Sequence[str],
    num_buckets: int = 10000,
    ngrams: int = 2,
    featurizer: str = "fast",
    chunk_docs: int = CHUNK_DOCS,
) -> np.ndarray:
    """Summed bucket counts of ``texts`` (B,), featurised in blocks of ``chunk_docs`` documents.

    Sums of shards add up: ``bucket_counts(a + b) == bucket_counts(a) + bucket_counts(b)``.
    """
    total = np.zeros(int(num_buckets), dtype=np.float64)
    texts = list(texts) if not isinstance(texts, list | np.ndarray) else texts
    for lo in range(0, len(texts), max(1, int(chunk_docs))):
        X = featurize(texts[lo : lo + chunk_docs], num_buckets, ngrams, featurizer)
        total += np.asarray(X.sum(axis=0)).ravel()
    return total


def fit_distribution(counts: np.ndarray | sp.spmatrix, smoothing: float = 0.0) -> np.ndarray:
    """Bucket probabilities from counts.

    Parameters
    ----------
    counts : ndarray (B,) or (n, B), or sparse (n, B)
        Per-document counts (summed over rows) or already summed counts — to stream, sum the counts
        of each shard and pass the total.
    smoothing : float
        Laplace pseudo-count added to every bucket before normalising.

    Returns
    -------
    ndarray (B,), float64
        Probabilities summing to 1 (all zero if there are no counts and no smoothing).
    """
    if sp.issparse(counts):
        c = np.asarray(counts.sum(axis=0)).ravel().astype(np.float64)
    else:
        c = np.asarray(counts, dtype=np.float64)
        if c.ndim == 2:
            c = c.sum(axis=0)
    c = c + float(smoothing)
    total = c.sum()
    return c / total if total > 0 else c


def log_ratio(target_dist: np.ndarray, pool_dist: np.ndarray) -> np.ndarray:
    """Per-bucket ``log(γ + 1e-8) − log(β + 1e-8)``, as the reference implementation."""
    return np.log(np.asarray(target_dist, dtype=np.float64) + LOG_EPS) - np.log(
        np.asarray(pool_dist, dtype=np.float64) + LOG_EPS
    )


def log_importance_weights(counts: np.ndarray | sp.spmatrix, log_ratio: np.ndarray) -> np.ndarray:
    """log w = counts @ log_ratio, one value per document (row of ``counts``)."""
    lr = np.asarray(log_ratio, dtype=np.float64)
    out = counts @ lr
    return np.asarray(out, dtype=np.float64).ravel()


def _as_dist(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=np.float64).ravel()
    s = v.sum()
    return v / s if s > 0 else v


def kl_divergence(p: np.ndarray, q: np.ndarray) -> float:
    """KL(p‖q) = Σ p_j (log(p_j + 1e-10) − log(q_j + 1e-10)) on bucket distributions.

    ``p`` and ``q`` are normalised to sum 1 first (so counts are accepted).
    """
    p, q = _as_dist(p), _as_dist(q)
    if p.shape != q.shape:
        raise DQError(f"kl_divergence: shapes differ, {p.shape} vs {q.shape}")
    return float(np.sum(p * (np.log(p + KL_EPS) - np.log(q + KL_EPS))))


def kl_reduction(target: np.ndarray, pool: np.ndarray, selected: np.ndarray) -> float:
    """The paper's data metric: KL(target‖pool) − KL(target‖selected) (positive = closer to target).

    Each argument is a bucket distribution or bucket counts (B,).
    """
    return kl_divergence(target, pool) - kl_divergence(target, selected)


def gumbel_keys(ids: Iterable[str], seed: int) -> np.ndarray:
    """Gumbel(0, 1) noise per document, G = −log(−log U) with U keyed by hash(id, seed).

    The k largest ``log w + G`` are a sample of k documents without replacement with probability
    ∝ w. U lies strictly inside (0, 1), so G is finite; it depends only on the id and the seed.
    """
    u = unit_uniform(ids, seed) + 2.0**-54
    return -np.log(-np.log(u))


# ------------------------------------------------------------------------------------ protocol
def _texts(x: Any, name: str) -> list[str]:
    if x is None:
        raise DQError(f"dsir: fit input {name!r} is missing")
    arr = list(x)
    if not arr:
        raise DQError(f"dsir: fit input {name!r} has no documents")
    return [str(t) for t in arr]


def fit(inputs: dict[str, Any], params: dict[str, Any] | None = None) -> dict[str, np.ndarray]:
    """Fit γ on ``inputs["target_texts"]`` and β on ``inputs["pool_texts"]``.

    Returns
    -------
    dict
        ``log_ratio``, ``target_dist``, ``pool_dist``: float64 arrays of shape (num_buckets,).
    """
    p = _params(params)
    B, n, f = p["num_buckets"], p["ngrams"], p["featurizer"]
    target = bucket_counts(_texts(inputs.get("target_texts"), "target_texts"), B, n, f)
    pool = bucket_counts(_texts(inputs.get("pool_texts"), "pool_texts"), B, n, f)
    if target.sum() == 0:
        raise DQError("dsir: the target texts contain no tokens; check target_texts")
    if pool.sum() == 0:
        raise DQError("dsir: the pool texts contain no tokens; check pool_texts")
    target_dist = fit_distribution(target, p["laplace"])
    pool_dist = fit_distribution(pool)
    return {
        "log_ratio": log_ratio(target_dist, pool_dist),
        "target_dist": target_dist,
        "pool_dist": pool_dist,
    }


def score(
    docs: pd.DataFrame,
    embeddings: Any,
    state: dict[str, np.ndarray] | None,
    params: dict[str, Any] | None = None,
) -> pd.DataFrame:
    """Log importance weight of each document (``score``; HIGH = more target-like) and ``n_tokens``."""
    p = _params(params)
    if state is None or "log_ratio" not in state:
        raise DQError("dsir: score needs the fitted state (log_ratio); run fit first")
    lr = np.asarray(state["log_ratio"], dtype=np.float64)
    if lr.shape != (p["num_buckets"],):
        raise DQError(
            f"{_KEY}num_buckets: {p['num_buckets']} does not match the fitted state ({lr.shape[0]} buckets); refit"
        )
    if "text" not in docs.columns:
        raise DQError("dsir: the documents have no 'text' column")
    texts = docs["text"].fillna("").astype(str).tolist()
    scores = np.empty(len(texts), dtype=np.float64)
    n_tokens = np.empty(len(texts), dtype=np.int64)
    for lo in range(0, len(texts), CHUNK_DOCS):
        X, nt = featurize(texts[lo : lo + CHUNK_DOCS], p["num_buckets"], p["ngrams"], p["featurizer"], True)
        scores[lo : lo + len(nt)] = log_importance_weights(X, lr)
        n_tokens[lo : lo + len(nt)] = nt
    return pd.DataFrame({"id": docs["id"].to_numpy(), "score": scores, "n_tokens": n_tokens})


def selection_score(scores: pd.DataFrame, seed: int, params: dict | None, keep: str) -> np.ndarray:
    """The per-seed ordering key: log w plus Gumbel noise keyed by hash(id, seed) (``sampling: gumbel``).

    Taking the top k of ``log w + G`` samples k documents without replacement with probability ∝ w
    (the Gumbel top-k trick). For keep=low the noise is subtracted, so the ascending order samples ∝ 1/w.
    ``sampling: top_k`` returns log w unchanged.
    """
    p = _params(params)
    log_w = scores["score"].to_numpy(dtype=np.float64)
    if p["sampling"] == "top_k":
        return log_w
    noise = gumbel_keys(scores["id"].to_numpy(), seed)
    return log_w + noise if keep == "high" else log_w - noise
