"""Exact and MinHash-LSH near-duplicate removal (Lee et al. 2022; METHODS §5).

Shingles: word ``ngram``-grams (default 5) of the lower-cased, whitespace-split normalised text
(:func:`dqreview.corpus.text.normalise`), joined by one space; a text shorter than ``ngram`` words is
ONE shingle (its words joined by one space; the empty text gives the shingle ``""``).

Two signature families:

``legacy``
    Bit-identical to ``datasketch.MinHash(num_perm, seed=seed, scheme="legacy").hashvalues`` after
    ``update(shingle.encode("utf-8"))`` for every shingle: H(s) = first 4 bytes of sha1(s) as
    little-endian uint32; h_i(s) = ((a_i·H + b_i) mod (2^61−1)) & (2^32−1) where a_i·H + b_i is
    computed in uint64 and wraps around 2^64 (as datasketch does); (a_i, b_i) drawn interleaved from
    ``np.random.RandomState(seed)``, a ∈ [1, p), b ∈ [0, p). Values are uint64 (< 2^32).
``fast``
    Each distinct word is hashed once per call (64-bit BLAKE2b, cached in a dict); a shingle's 64-bit
    hash is a polynomial combination of its word hashes (wrapping uint64) followed by the murmur3
    ``fmix64`` finaliser, computed with numpy for all shingles of a batch at once. Permutation i is
    the multiply-shift family h_i(x) = (a_i·x + b_i mod 2^64) >> 32 (Dietzfelbinger et al.), a_i odd,
    (a_i, b_i) from ``np.random.default_rng(seed)``; values are uint32. Not comparable with legacy
    values, only statistically (P[h_i(A) = h_i(B)] ≈ J(A, B)).

LSH: ``b`` bands × ``r`` rows chosen by :func:`optimal_bands` (a port of datasketch's
``_optimal_param``); documents sharing an identical band are candidates; optional verification keeps a
candidate pair only if the true Jaccard of the shingle sets is ≥ threshold; connected components of the
kept pairs are duplicate clusters. ``mode: exact`` instead clusters documents with equal
:func:`dqreview.hashing.text_hash` of the normalised text.

Representative policy: in each cluster the member with the smallest ``stable_hash64(id, seed)``
(ties by id) is kept — score 1.0; every other member gets score 0.0, ``removed`` True and
``duplicate_of`` = the representative's id. The choice depends only on the ids and the seed, never on
row order or sharding. ``fit`` works over the whole pool; ``score`` is a lookup by id.
"""

from __future__ import annotations

import hashlib
import sys

import numpy as np
import pandas as pd
from scipy.integrate import quad
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from dqreview.corpus.text import normalise
from dqreview.errors import DQError
from dqreview.hashing import stable_hash64, text_hash
from dqreview.metrics.semdedup import scores_from_state

PER_DOCUMENT = True  # scores come from the state fitted once over the whole pool
REMOVES = True
KEEP = ("high",)
NEEDS: tuple[str, ...] = ()
FIT_NEEDS = ("pool_texts", "pool_ids")

MODES = ("fast", "legacy", "exact")
MERSENNE = np.uint64((1 << 61) - 1)
MAX_HASH32 = np.uint64((1 << 32) - 1)
#: Shingles processed per numpy block (block matrix = BLOCK_SHINGLES × num_perm uint64).
BLOCK_SHINGLES = 1 << 12
#: Candidate groups (identical band) larger than this emit a star (first member – others), not all pairs.
MAX_GROUP_PAIRS = 64

_KEY = "metrics[minhash].variants[].params"
_U = np.uint64


# --- shingles -----------------------------------------------------------------------------------


def _words(text: str, assume_normalised: bool = False) -> list[str]:
    return (text if assume_normalised else normalise(text)).lower().split()


def shingles(text: str, n: int = 5, assume_normalised: bool = False) -> list[str]:
    """Word ``n``-grams (lower-cased, normalised, space-joined); the whole text as one when shorter."""
    w = _words(text, assume_normalised)
    if len(w) < n:
        return [" ".join(w)]
    return [" ".join(w[i : i + n]) for i in range(len(w) - n + 1)]


# --- legacy (datasketch-compatible) ---------------------------------------------------------------


def legacy_permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(a, b) uint64 arrays exactly as datasketch ``scheme="legacy"`` draws them (interleaved)."""
    gen = np.random.RandomState(seed)
    ab = np.array(
        [
            (gen.randint(1, MERSENNE, dtype=np.uint64), gen.randint(0, MERSENNE, dtype=np.uint64))
            for _ in range(num_perm)
        ],
        dtype=np.uint64,
    ).T
    return ab[0].copy(), ab[1].copy()


def _sha1_32(s: str) -> int:
    return int.from_bytes(hashlib.sha1(s.encode("utf-8")).digest()[:4], "little")


def _block_min(H: np.ndarray, owner: np.ndarray, perm, out: np.ndarray) -> None:
    """out[d] = min over shingles of doc d of perm(H, buf) — H (S,) uint64, owner (S,) sorted doc index.

    Works in blocks of BLOCK_SHINGLES rows with one reused uint64 buffer (cache-sized, no temporaries).
    """
    buf = np.empty((min(H.size, BLOCK_SHINGLES), out.shape[1]), dtype=np.uint64)
    for lo in range(0, H.size, BLOCK_SHINGLES):
        hi = min(H.size, lo + BLOCK_SHINGLES)
        V = perm(H[lo:hi], buf[: hi - lo])
        own = owner[lo:hi]
        starts = np.flatnonzero(np.r_[True, own[1:] != own[:-1]])
        mins = np.minimum.reduceat(V, starts, axis=0)
        docs = own[starts]
        out[docs] = np.minimum(out[docs], mins)


def signatures_legacy(
    texts, num_perm: int = 128, seed: int = 1, ngram: int = 5, assume_normalised: bool = False
) -> np.ndarray:
    """(n, num_perm) uint64 MinHash signatures bit-identical to datasketch legacy ``hashvalues``."""
    a, b = legacy_permutations(num_perm, seed)
    hs: list[int] = []
    counts: list[int] = []
    for t in texts:
        sh = set(shingles(t, ngram, assume_normalised))
        counts.append(len(sh))
        hs.extend(_sha1_32(s) for s in sh)
    n = len(counts)
    out = np.full((n, num_perm), MAX_HASH32, dtype=np.uint64)
    if n == 0:
        return out
    H = np.asarray(hs, dtype=np.uint64)
    owner = np.repeat(np.arange(n), counts)

    def perm(h, v):
        np.multiply(h[:, None], a[None, :], out=v)  # uint64 arithmetic wraps around 2^64, as in datasketch
        v += b
        v %= MERSENNE
        v &= MAX_HASH32
        return v

    _block_min(H, owner, perm, out)
    return out


# --- fast ---------------------------------------------------------------------------------------

_M1 = _U(0x9E3779B97F4A7C15)
_C1 = _U(0xFF51AFD7ED558CCD)
_C2 = _U(0xC4CEB9FE1A85EC53)


def _fmix64(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        x = x ^ (x >> _U(33))
        x = x * _C1
        x = x ^ (x >> _U(33))
        x = x * _C2
        return x ^ (x >> _U(33))


def fast_permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(a odd, b) uint64 for the multiply-shift family (a·x + b mod 2^64) >> 32."""
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 2**64, size=num_perm, dtype=np.uint64, endpoint=False) | _U(1)
    b = rng.integers(0, 2**64, size=num_perm, dtype=np.uint64, endpoint=False)
    return a, b


def shingle_hashes_fast(texts, ngram: int = 5, assume_normalised: bool = False):
    """64-bit shingle hashes of every text: (H uint64 (S,), counts (n,)) — duplicates within a doc kept."""
    cache: dict[str, int] = {}
    word_h: list[int] = []
    lens: list[int] = []
    for t in texts:
        w = _words(t, assume_normalised)
        lens.append(len(w))
        for x in w:
            h = cache.get(x)
            if h is None:
                h = cache[x] = int.from_bytes(
                    hashlib.blake2b(x.encode("utf-8"), digest_size=8).digest(), "little"
                )
            word_h.append(h)
    W = np.asarray(word_h, dtype=np.uint64)
    L = np.asarray(lens, dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(L)[:-1]]) if L.size else np.zeros(0, np.int64)
    counts = np.where(L >= ngram, L - ngram + 1, 1)
    # first word position of each shingle; short docs: one "shingle" over their L < ngram words
    owner = np.repeat(np.arange(L.size), counts)
    offs = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    pos = starts[owner] + offs
    width = np.minimum(L[owner], ngram)
    H = np.zeros(pos.size, dtype=np.uint64)
    Wp = np.concatenate([W, np.zeros(ngram, np.uint64)])
    with np.errstate(over="ignore"):
        for k in range(ngram):
            use = k < width
            H = np.where(use, H * _M1 + Wp[np.minimum(pos + k, Wp.size - 1)], H)
        H = H + width.astype(np.uint64)  # length tag: short texts differ from their own prefixes
    return _fmix64(H), counts


if sys.byteorder != "little":  # pragma: no cover
    raise ImportError("dqreview.metrics.minhash assumes a little-endian machine")


def signatures_fast(
    texts, num_perm: int = 128, seed: int = 1, ngram: int = 5, assume_normalised: bool = False
) -> np.ndarray:
    """(n, num_perm) uint32 MinHash signatures with the multiply-shift family (module docstring)."""
    texts = list(texts)
    a, b = fast_permutations(num_perm, seed)
    H, counts = shingle_hashes_fast(texts, ngram, assume_normalised)
    n = counts.size
    out = np.full((n, num_perm), np.iinfo(np.uint32).max, dtype=np.uint32)
    if n == 0:
        return out
    owner = np.repeat(np.arange(n), counts)

    def perm(h, v):
        np.multiply(h[:, None], a[None, :], out=v)
        v += b
        return v.view(np.uint32)[:, 1::2]  # high 32 bits (little-endian): (a·x + b mod 2^64) >> 32

    _block_min(H, owner, perm, out)
    return out


def signatures(texts, num_perm=128, seed=1, ngram=5, mode="fast", assume_normalised=False) -> np.ndarray:
    if mode == "legacy":
        return signatures_legacy(texts, num_perm, seed, ngram, assume_normalised)
    if mode == "fast":
        return signatures_fast(texts, num_perm, seed, ngram, assume_normalised)
    raise DQError(f"{_KEY}.mode: {mode!r} has no MinHash signatures; use fast or legacy")


# --- LSH ----------------------------------------------------------------------------------------


def _fp_area(t: float, b: int, r: int) -> float:
    return quad(lambda s: 1 - (1 - s ** float(r)) ** float(b), 0.0, t)[0]


def _fn_area(t: float, b: int, r: int) -> float:
    return quad(lambda s: 1 - (1 - (1 - s ** float(r)) ** float(b)), t, 1.0)[0]


def optimal_bands(threshold: float, num_perm: int, fp_weight: float = 0.5, fn_weight: float = 0.5):
    """(b, r) minimising fp_weight·∫_0^T P + fn_weight·∫_T^1 (1−P), P(s) = 1−(1−s^r)^b, b·r ≤ num_perm.

    Same search order and strict-< tie rule as datasketch ``lsh._optimal_param``.
    """
    best, opt = float("inf"), (0, 0)
    for b in range(1, num_perm + 1):
        for r in range(1, num_perm // b + 1):
            err = _fp_area(threshold, b, r) * fp_weight + _fn_area(threshold, b, r) * fn_weight
            if err < best:
                best, opt = err, (b, r)
    return opt


def _group_pairs(inv: np.ndarray) -> np.ndarray:
    """Pairs (i < j) of rows with equal group label ``inv``; star for groups above MAX_GROUP_PAIRS."""
    order = np.argsort(inv, kind="stable")
    g = inv[order]
    bounds = np.flatnonzero(np.r_[True, g[1:] != g[:-1], True])
    sizes = np.diff(bounds)
    out = []
    for k in np.flatnonzero(sizes > 1):
        m = order[bounds[k] : bounds[k + 1]]
        if m.size <= MAX_GROUP_PAIRS:
            i, j = np.triu_indices(m.size, 1)
            out.append(np.stack([m[i], m[j]], 1))
        else:
            out.append(np.stack([np.full(m.size - 1, m[0]), m[1:]], 1))
    if not out:
        return np.zeros((0, 2), dtype=np.int64)
    p = np.concatenate(out).astype(np.int64)
    return np.sort(p, axis=1)


def lsh_candidates(sigs: np.ndarray, b: int, r: int) -> np.ndarray:
    """(m, 2) int64 unique candidate pairs (i < j): rows identical on at least one band of r values."""
    sigs = np.ascontiguousarray(sigs)
    n = sigs.shape[0]
    if b * r > sigs.shape[1]:
        raise DQError(f"lsh: b·r = {b}·{r} exceeds the {sigs.shape[1]} signature values")
    allp = []
    for j in range(b):
        band = np.ascontiguousarray(sigs[:, j * r : (j + 1) * r])
        key = band.view(np.dtype((np.void, band.dtype.itemsize * r))).ravel()
        _, inv = np.unique(key, return_inverse=True)
        allp.append(_group_pairs(inv.ravel()))
    p = np.concatenate(allp) if allp else np.zeros((0, 2), np.int64)
    if p.size == 0:
        return p
    code = np.unique(p[:, 0] * n + p[:, 1])
    return np.stack([code // n, code % n], 1)


def jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if (a or b) else 1.0


def verify_pairs(texts, pairs: np.ndarray, threshold: float, ngram: int = 5, assume_normalised=False):
    """The pairs whose true shingle-set Jaccard is ≥ threshold."""
    cache: dict[int, set] = {}

    def sh(i):
        s = cache.get(i)
        if s is None:
            s = cache[i] = set(shingles(texts[i], ngram, assume_normalised))
        return s

    keep = np.array([jaccard(sh(int(i)), sh(int(j))) >= threshold for i, j in pairs], dtype=bool)
    return pairs[keep] if pairs.size else pairs


def union_find_clusters(n: int, pairs: np.ndarray) -> np.ndarray:
    """Connected-component label (int64) of each of n nodes; labels numbered by smallest member index."""
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    g = coo_matrix((np.ones(len(pairs), np.int8), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    _, labels = connected_components(g, directed=False)
    return labels.astype(np.int64)


def exact_clusters(text_hashes) -> np.ndarray:
    """Cluster label (int64) per row: rows with equal text hash share a label."""
    _, inv = np.unique(np.asarray(text_hashes).astype(str), return_inverse=True)
    return inv.ravel().astype(np.int64)


# --- representatives ----------------------------------------------------------------------------


def representatives(labels: np.ndarray, ids: np.ndarray, seed: int) -> np.ndarray:
    """Row of each row's cluster representative: the member with the smallest stable_hash64(id, seed)."""
    ids = np.asarray(ids).astype(str)
    h = np.fromiter((stable_hash64(i, seed) for i in ids), dtype=np.uint64, count=len(ids))
    order = np.lexsort((ids, h, labels))  # by label, then hash, then id
    lab = labels[order]
    first = np.r_[True, lab[1:] != lab[:-1]]
    rep_of_group = order[first]
    group_idx = np.cumsum(first) - 1
    rep = np.empty(len(ids), dtype=np.int64)
    rep[order] = rep_of_group[group_idx]
    return rep


# --- protocol -----------------------------------------------------------------------------------


def check_params(params: dict | None, key: str = _KEY) -> dict:
    """num_perm (128), threshold (0.8), lsh_threshold (= threshold; the (b, r) design point — set it
    lower than threshold together with verify to catch pairs near T, datasketch #105), ngram (5), mode ("fast" | "legacy" | "exact"), verify (False),
    seed (1), bands/rows (optional; both or neither, default :func:`optimal_bands`)."""
    p = dict(params or {})
    unknown = set(p) - {
        "num_perm",
        "threshold",
        "lsh_threshold",
        "ngram",
        "mode",
        "verify",
        "seed",
        "bands",
        "rows",
    }
    if unknown:
        raise DQError(f"{key}: unknown parameter(s) {sorted(unknown)}")
    out = {}
    for name, default, lo in (("num_perm", 128, 1), ("ngram", 5, 1), ("seed", 1, 0)):
        v = p.get(name, default)
        if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < lo:
            raise DQError(f"{key}.{name} must be an integer ≥ {lo}; got {v!r}")
        out[name] = int(v)
    t = p.get("threshold", 0.8)
    if isinstance(t, bool) or not isinstance(t, int | float) or not 0 < t <= 1:
        raise DQError(f"{key}.threshold must be a number in (0, 1]; got {t!r}")
    out["threshold"] = float(t)
    lt = p.get("lsh_threshold", t)
    if isinstance(lt, bool) or not isinstance(lt, int | float) or not 0 < lt <= 1:
        raise DQError(f"{key}.lsh_threshold must be a number in (0, 1]; got {lt!r}")
    out["lsh_threshold"] = float(lt)
    mode = p.get("mode", "fast")
    if mode not in MODES:
        raise DQError(f"{key}.mode: unknown mode {mode!r}; use one of {', '.join(MODES)}")
    out["mode"] = mode
    v = p.get("verify", False)
    if not isinstance(v, bool):
        raise DQError(f"{key}.verify must be true or false; got {v!r}")
    out["verify"] = v
    bands, rows = p.get("bands"), p.get("rows")
    if (bands is None) != (rows is None):
        raise DQError(f"{key}: give both bands and rows, or neither")
    if bands is not None:
        if not all(isinstance(x, int) and not isinstance(x, bool) and x >= 1 for x in (bands, rows)):
            raise DQError(f"{key}.bands/rows must be integers ≥ 1; got {bands!r}, {rows!r}")
        if bands * rows > out["num_perm"]:
            raise DQError(f"{key}: bands·rows = {bands * rows} exceeds num_perm = {out['num_perm']}")
    out["bands"], out["rows"] = bands, rows
    return out


def dedup_labels(texts, p: dict) -> tuple[np.ndarray, dict]:
    """Cluster label per text and diagnostics for validated params ``p``."""
    texts = list(texts)
    n = len(texts)
    if p["mode"] == "exact":
        return exact_clusters([text_hash(normalise(t)) for t in texts]), {"bands": 0, "rows": 0, "n_pairs": 0}
    b, r = (p["bands"], p["rows"]) if p["bands"] else optimal_bands(p["lsh_threshold"], p["num_perm"])
    sigs = signatures(texts, p["num_perm"], p["seed"], p["ngram"], p["mode"])
    pairs = lsh_candidates(sigs, b, r)
    n_cand = len(pairs)
    if p["verify"]:
        pairs = verify_pairs(texts, pairs, p["threshold"], p["ngram"])
    return union_find_clusters(n, pairs), {"bands": b, "rows": r, "n_pairs": n_cand, "n_verified": len(pairs)}


def fit(inputs: dict[str, np.ndarray], params: dict) -> dict[str, np.ndarray]:
    """Cluster the whole pool; per pool row (keyed by ``ids``) score/removed/duplicate_of/cluster."""
    p = check_params(params)
    ids = np.asarray(inputs["pool_ids"]).astype(str)
    texts = list(np.asarray(inputs["pool_texts"]).astype(str))
    if len(texts) != len(ids):
        raise DQError(f"minhash: {len(texts)} pool texts for {len(ids)} pool ids; rebuild the pool")
    if len(np.unique(ids)) != len(ids):
        raise DQError("minhash: the pool ids are not unique; rebuild the pool (ids must identify documents)")
    labels, info = dedup_labels(texts, p)
    return state_from_labels(labels, ids, p["seed"], info)


def state_from_labels(labels: np.ndarray, ids: np.ndarray, seed: int, info: dict | None = None) -> dict:
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


def score(docs: pd.DataFrame, embeddings, state: dict | None, params: dict | None = None) -> pd.DataFrame:
    """Look up each document by id: ``id``, ``score`` (1 kept / 0 duplicate), ``duplicate_of``,
    ``removed``, ``cluster``, ``cluster_size``."""
    out = scores_from_state(docs, state, "minhash")
    out["cluster_size"] = np.asarray(state["cluster_size"], dtype=np.int64)[
        pd.Index(np.asarray(state["ids"]).astype(str)).get_indexer(docs["id"].astype(str).to_numpy())
    ]
    return out
