"""The cost curve: every per-document stage timed at growing pool sizes.

:func:`synthetic_pool` makes ``n`` realistic documents from the real pool's chunks: each is a chunk
with word-level edits (adjacent swaps, drops, substitutions from the pool's vocabulary) at
``edit_rate`` per word, and a ``near_rate`` fraction are near-duplicates of an earlier synthetic
document (``near_edit_rate`` per word), so MinHash and SemDeDup have real work. It is deterministic
given the seed and streams batches of :data:`BATCH_DOCS` documents, so a 1M-document pool is never
held in Python objects twice; the first documents of a larger pool are those of a smaller one.

:func:`run_scaling` then writes, in a scratch directory laid out as the workflow's ``results/``,
the pool shards (the prepare chunk/hash code), static and MiniLM embeddings, and each method's shard
features, fitted state, scores and selections, through the same library calls the workflow's job
scripts make. Every stage runs in a fresh child process (a new interpreter), which reports
its wall time, CPU time (user + system) and peak resident memory (VmHWM of that child
alone). MiniLM is timed on a sample and extrapolated linearly (``extrapolated`` = True).
:func:`scaling_table` adds µs per document and the least-squares log-log slope of wall time
against documents per stage; :func:`plot_scaling` draws the curves.
"""

from __future__ import annotations

import functools
import glob
import logging
import math
import os
import resource
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dqreview import paths
from dqreview.errors import DQError

log = logging.getLogger("dqreview.scaling")

#: Columns of the scaling table (results/tables/scaling.csv), in order.
COLUMNS = [
    "stage", "method", "n_docs", "wall_s", "cpu_s", "peak_rss_mb", "us_per_doc", "slope", "complexity",
    "extrapolated",
]  # fmt: skip

#: Documents per streamed batch of :func:`synthetic_pool` (fixed, so pools of every size share a prefix).
BATCH_DOCS = 20_000
#: Raw synthetic documents in the scratch directory (outside ``results/``: the prepare stage's input).
RAW_PART = "raw/part-{part}.parquet"
#: The source name of synthetic documents (their ids are ``doc_id(SOURCE, document, chunk)``).
SOURCE = "synthetic"
#: The ``planted`` tag of a near-duplicate synthetic document.
NEAR = "near"

#: Inputs the runner can provide (a method reading anything else, e.g. Task2Vec vectors, is skipped).
SUPPORTED_INPUTS = frozenset(
    {"embeddings", "pool_embeddings", "pool_ids", "pool_texts", "target_embeddings", "target_texts",
     "target_docs", "shard_features"}
)  # fmt: skip

#: Stated complexity of each stage (n pool documents, L words or tokens per document, d embedding
#: dimensions, k clusters, m target documents, p permutations, b LSH bands); a stage not listed says so.
COMPLEXITY = {
    "prepare": "O(n L)",
    "embed:static": "O(n L): a token lookup and a mean per document",
    "embed:minilm": "O(n L^2 d): linear in n at fixed document length",
    "dsir:fit": "O(n L): hashed n-gram counts of pool and target",
    "dsir:score": "O(n L)",
    "minhash:features": "O(n L p)",
    "minhash:fit": "O(n b) LSH buckets + O(candidate pairs) Jaccard checks",
    "minhash:score": "O(n): lookup by id",
    "ssl_proto:fit": "O(n k d) per Lloyd iteration, k fixed",
    "ssl_proto:score": "O(n k d)",
    "proto_align:fit": "O(m k d) per Lloyd iteration on the m target documents: constant in n",
    "proto_align:score": "O(n k d)",
    "semdedup:fit": "O(n k d) per Lloyd iteration + O(n min(n/k, max_cluster) d) inside clusters: "
    "super-linear until clusters reach max_cluster rows, linear after",
    "semdedup:score": "O(n): lookup by id",
    "d4:fit": "as semdedup:fit, plus O(n k d) per Lloyd iteration for the prototypes",
    "random:score": "O(n)",
    "select": "O(n log n): one sort per selection",
}


# --- synthetic pool --------------------------------------------------------------------------------


@dataclass
class ChunkBank:
    """The real pool's chunks as word-id arrays over one vocabulary (what :func:`synthetic_pool` edits)."""

    vocab: np.ndarray  # object array of words
    words: list[np.ndarray]  # per chunk, int32 word ids
    domains: np.ndarray  # per chunk, str

    @classmethod
    def from_texts(cls, texts: Sequence[str], domains: Sequence[str] | None = None) -> ChunkBank:
        """Split ``texts`` on whitespace into word ids (the vocabulary is every word of the pool)."""
        if len(texts) == 0:
            raise DQError("synthetic pool: no chunks to draw from; give the pool shards of a prepared run")
        split = [t.split() for t in texts]
        vocab, inverse = np.unique(np.concatenate([np.asarray(w, dtype=object) for w in split]).astype(str),
                                   return_inverse=True)  # fmt: skip
        bounds = np.cumsum([0] + [len(w) for w in split])
        words = [inverse[bounds[i] : bounds[i + 1]].astype(np.int32) for i in range(len(split))]
        keep = [i for i, w in enumerate(words) if len(w) > 0]
        doms = np.asarray(domains if domains is not None else ["pool"] * len(texts)).astype(str)
        return cls(vocab.astype(object), [words[i] for i in keep], doms[keep])


def load_chunks(pool: str | Sequence[str]) -> ChunkBank:
    """The chunks (``text``, ``domain``) of the pool shards ``pool``: a list of files or a glob."""
    from dqreview.io import read_parquet

    files = sorted(glob.glob(pool)) if isinstance(pool, str) else list(pool)
    if not files:
        raise DQError(
            f"synthetic pool: no file matches {pool!r}; give the pool shards (data/pool/shard-*.parquet)"
        )
    df = pd.concat([read_parquet(f, columns=["text", "domain"]) for f in files], ignore_index=True)
    return ChunkBank.from_texts(df["text"].tolist(), df["domain"].tolist())


def edit_words(words: np.ndarray, rate: float, vocab_size: int, rng: np.random.Generator) -> np.ndarray:
    """Word-level edits at ``rate`` per word, a third each: swap with the next word, drop, substitute
    with a uniformly drawn vocabulary word. At least one word always survives."""
    n = len(words)
    if n == 0 or rate <= 0:
        return words.copy()
    out = words.copy()
    r = rng.random(n)
    swap = np.flatnonzero(r[:-1] < rate / 3)
    for i in swap:  # sequential so overlapping swaps stay a permutation
        out[i], out[i + 1] = out[i + 1], out[i]
    sub = (r >= rate / 3) & (r < 2 * rate / 3)
    out[sub] = rng.integers(vocab_size, size=int(sub.sum()))
    keep = ~((r >= 2 * rate / 3) & (r < rate))
    return out[keep] if keep.any() else out[:1]


def synthetic_pool(
    chunks: ChunkBank,
    n_docs: int,
    seed: int = 0,
    edit_rate: float = 0.1,
    near_rate: float = 0.05,
    near_edit_rate: float = 0.02,
) -> Iterator[pd.DataFrame]:
    """``n_docs`` realistic documents made from the real pool's chunks, in batches of :data:`BATCH_DOCS`.

    Parameters
    ----------
    chunks : ChunkBank
        The real pool's chunks (:func:`load_chunks`).
    n_docs : int
        Documents in all.
    seed : int
        Everything is drawn from ``default_rng([seed, batch])``: the same seed gives the same
        documents, and a larger pool starts with the documents of a smaller one.
    edit_rate : float
        Word edits per word of a fresh document (a chunk drawn uniformly; see :func:`edit_words`).
    near_rate : float
        Expected fraction of near-duplicates: copies of an earlier document of the same batch with
        ``near_edit_rate`` edits per word (the first document of a batch is always fresh).
    near_edit_rate : float
        Word edits per word of a near-duplicate.

    Yields
    ------
    DataFrame
        ``document`` (str, ``"d<index>"``), ``text``, ``domain`` (of the source chunk), ``planted``
        (:data:`NEAR` or ""), ``near_of`` (index of the original, -1 for a fresh document).
    """
    if n_docs < 1:
        raise DQError(f"synthetic pool: n_docs={n_docs}; need at least 1 document")
    for name, rate in (
        ("edit_rate", edit_rate),
        ("near_rate", near_rate),
        ("near_edit_rate", near_edit_rate),
    ):
        if not 0 <= rate < 1:
            raise DQError(f"synthetic pool: {name}={rate}; need a rate in [0, 1)")
    vocab, n_vocab = chunks.vocab, len(chunks.vocab)
    for batch, start in enumerate(range(0, n_docs, BATCH_DOCS)):
        size = min(BATCH_DOCS, n_docs - start)
        rng = np.random.default_rng([seed, batch])
        base = rng.integers(len(chunks.words), size=BATCH_DOCS)[:size]
        near = rng.random(BATCH_DOCS)[:size] < near_rate
        near[0] = False
        docs: list[np.ndarray] = []
        near_of = np.full(size, -1, dtype=np.int64)
        for i in range(size):
            if near[i]:
                j = int(rng.integers(i))
                near_of[i] = start + j
                docs.append(edit_words(docs[j], near_edit_rate, n_vocab, rng))
            else:
                docs.append(edit_words(chunks.words[base[i]], edit_rate, n_vocab, rng))
        domains = chunks.domains[base].copy()
        domains[near] = domains[near_of[near] - start]
        yield pd.DataFrame(
            {
                "document": [f"d{start + i}" for i in range(size)],
                "text": [" ".join(vocab[w]) for w in docs],
                "domain": domains,
                "planted": np.where(near, NEAR, ""),
                "near_of": near_of,
            }
        )


# --- stages (each runs in its own child process, cwd = the scratch directory of one size) ------------


@dataclass(frozen=True)
class Variant:
    """One method variant to time: its metric name, slug and raw parameters (as in the config)."""

    metric: str
    slug: str
    params: dict = field(default_factory=dict, hash=False, compare=False)

    def load(self):
        """The method and its typed parameters (a ``"run"`` seed set to 0)."""
        from dqreview.metrics import load_method

        method = load_method(self.metric)
        return method, method.params(self.params, f"scaling variant {self.metric}/{self.slug}").with_run_seed(
            0
        )


def variants_from_config(config: dict, metrics: Sequence[str] | None = None) -> list[Variant]:
    """The first variant of each config metric (or of those named in ``metrics``) that the runner can
    time: a document scorer whose inputs are all in :data:`SUPPORTED_INPUTS`."""
    from dqreview.metrics import DocumentScorer, load_method

    out = []
    for entry in config.get("metrics", []):
        if metrics is not None and entry["name"] not in metrics:
            continue
        method = load_method(entry["name"], entry.get("module"))
        if not isinstance(method, DocumentScorer):
            continue
        variant = entry["variants"][0]
        params = method.params(variant.get("params"))
        if all(i.name in SUPPORTED_INPUTS for i in method.inputs(params)):
            out.append(Variant(entry["name"], variant["slug"], dict(variant.get("params") or {})))
    missing = sorted(set(metrics or ()) - {v.metric for v in out})
    if missing:
        raise DQError(
            f"scaling: metrics {missing} are not in the config or read inputs the runner cannot make"
        )
    return out


def static_encoder(model_dir: str):
    """The static (model2vec) encoder of ``model_dir`` through :func:`dqreview.embed.encoder_from_config`."""
    from dqreview.embed import encoder_from_config

    return encoder_from_config(
        {"model": str(model_dir), "max_tokens": 256, "batch_size": 64, "precision": "fp32"}, "cpu"
    )


def _generate(pool: str, n_docs: int, seed: int, edit_rate: float, near_rate: float) -> dict:
    from dqreview.io import write_parquet

    chunks = load_chunks(pool)
    done = 0
    for part, batch in enumerate(synthetic_pool(chunks, n_docs, seed, edit_rate, near_rate)):
        write_parquet(batch, RAW_PART.format(part=f"{part:04d}"))
        done += len(batch)
        log.info("generate: %d/%d documents", done, n_docs)
    return {"items": done}


def _prepare_part(part: str, shards: int, chunk_words: int, max_chunk_words: int) -> int:
    """Prepare one raw part: its chunks, one parquet per pool shard under ``prep/`` and its index rows."""
    from dqreview.corpus.prepare import DOC_COLUMNS, shard_of
    from dqreview.corpus.text import chunk, count_words, normalise
    from dqreview.hashing import doc_id, text_hash
    from dqreview.io import read_parquet, write_parquet

    encoder = _SHARED["encoder"]
    count, limit = encoder.count_tokens, encoder.max_tokens
    raw = read_parquet(part, columns=["document", "text", "domain", "planted"])
    rows = []
    for document, text, domain, planted in raw[["document", "text", "domain", "planted"]].itertuples(
        index=False
    ):
        for i, c in enumerate(chunk(normalise(text), chunk_words, max_chunk_words, count, limit)):
            rows.append((doc_id(SOURCE, document, i), text_hash(c), domain, c, len(c.encode("utf-8")),
                         count_words(c), planted))  # fmt: skip
    df = pd.DataFrame(rows, columns=DOC_COLUMNS)
    df["shard"] = shard_of(df["id"].tolist(), shards)
    stem = Path(PREP_DIR) / Path(part).stem
    for s in range(shards):
        write_parquet(
            df.loc[df["shard"] == s, DOC_COLUMNS].reset_index(drop=True), f"{stem}.shard-{s}.parquet"
        )
    write_parquet(df.drop(columns="text"), f"{stem}.index.parquet")
    log.info("prepare: %s, %d chunks", part, len(df))
    return len(df)


def _prepare(
    target: str, shards: int, chunk_words: int, max_chunk_words: int, model_dir: str, workers: int = 1
) -> dict:
    """The prepare stage's per-document work: normalise, chunk (no chunk over the static encoder's token
    limit, counted by its tokenizer as the workflow's prepare does), id, hash, count, shard. Raw parts are
    prepared ``workers`` at a time, then each pool shard is written once from the parts' pieces."""
    import pyarrow.parquet as pq

    from dqreview.io import atomic_path, read_parquet, write_parquet

    _SHARED["encoder"] = static_encoder(model_dir)
    parts = sorted(glob.glob(RAW_PART.format(part="*")))
    Path(PREP_DIR).mkdir(exist_ok=True)
    _, worker_mb = _map(functools.partial(_prepare_part, shards=shards, chunk_words=chunk_words,
                                          max_chunk_words=max_chunk_words), parts, workers)  # fmt: skip
    stems = [Path(PREP_DIR) / Path(part).stem for part in parts]
    for s in range(shards):
        out = paths.fill(paths.POOL_SHARD, shard=s)
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        pieces = [pq.read_table(f"{stem}.shard-{s}.parquet") for stem in stems]
        if sum(t.num_rows for t in pieces) == 0:
            raise DQError(f"scaling: no document fell in {out}; use fewer shards for this size")
        with atomic_path(out) as tmp, pq.ParquetWriter(tmp, pieces[0].schema) as writer:
            for t in pieces:
                writer.write_table(t)
    index_df = pd.concat([read_parquet(f"{stem}.index.parquet") for stem in stems], ignore_index=True)
    write_parquet(index_df, paths.POOL_INDEX)
    write_parquet(read_parquet(target), paths.fill(paths.TARGET, split="ref"))
    shutil.rmtree(PREP_DIR)
    return {"items": len(index_df), "worker_peak_rss_mb": worker_mb}


def _embed_part(part: str) -> int:
    from dqreview.embed import check_embeddings
    from dqreview.io import read_parquet, write_npy

    texts = read_parquet(paths.fill(paths.DOCS, part=part), columns=["text"])["text"].tolist()
    emb = _SHARED["encoder"].encode(texts, batch_size=1024, progress=False)
    out = paths.fill(paths.EMBED, part=part)
    check_embeddings(emb, len(texts), out)
    write_npy(emb, out)
    log.info("embed:static: %s, %d documents", part, len(texts))
    return len(texts)


def _embed_static(model_dir: str, shards: int, workers: int = 1) -> dict:
    _SHARED["encoder"] = static_encoder(model_dir)
    parts = [f"pool/shard-{s}" for s in range(shards)] + ["target/ref"]
    done, worker_mb = _map(_embed_part, parts, workers)
    return {"items": sum(done), "worker_peak_rss_mb": worker_mb}


def _embed_minilm(embed: dict, sample: int) -> dict:
    from dqreview.embed import encoder_from_config
    from dqreview.io import read_parquet

    texts: list[str] = []
    for shard in sorted(glob.glob(paths.fill(paths.POOL_SHARD, shard="*"))):  # the first `sample` documents
        texts += read_parquet(shard, columns=["text"])["text"].tolist()[: sample - len(texts)]
    encoder = encoder_from_config(embed, "cpu")
    # prepare here chunks by words alone (no tokenizer pass), so a few chunks may exceed MiniLM's limit
    counts = encoder.count_tokens(texts)
    texts = [t for t, c in zip(texts, counts, strict=True) if c <= encoder.max_tokens]
    t0, c0 = time.perf_counter(), _cpu()
    encoder.encode(texts, batch_size=embed.get("batch_size", 64), progress=False)
    return {"items": len(texts), "work_s": time.perf_counter() - t0, "work_cpu_s": _cpu() - c0}


def _shard_features(shard: int, variant: Variant) -> int:
    from dqreview.io import atomic_path, read_parquet

    method, params = variant.load()
    docs = read_parquet(
        paths.fill(paths.POOL_SHARD, shard=shard), columns=["id", "text", "domain", "n_bytes"]
    )
    features = method.shard_features(docs, params)
    out = paths.fill(paths.FEATURES, metric=variant.metric, variant=variant.slug, shard=shard)
    with atomic_path(out) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, **features)
    log.info("%s:features: shard %d", variant.metric, shard)
    return len(docs)


def _features(variant: Variant, shards: int, workers: int = 1) -> dict:
    done, worker_mb = _map(functools.partial(_shard_features, variant=variant), list(range(shards)), workers)
    return {"items": sum(done), "worker_peak_rss_mb": worker_mb}


def _fit(variant: Variant, shards: int) -> dict:
    from dqreview.io import atomic_path
    from dqreview.metrics import fit_state

    method, params = variant.load()
    where = {"metric": variant.metric, "variant": variant.slug}
    inputs = {i.name: i.load(i.paths(range(shards), **where)) for i in method.fit_inputs_for(params)}
    state = fit_state(method, inputs, params)
    with atomic_path(paths.fill(paths.STATE, **where)) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, **state)
    return {}


def _shard_score(shard: int, variant: Variant) -> int:
    from dqreview.io import read_npz, read_parquet, write_parquet
    from dqreview.metrics.inputs import check_rows

    method, params = variant.load()
    where = {"metric": variant.metric, "variant": variant.slug}
    state = read_npz(paths.fill(paths.STATE, **where)) if method.fits else None
    feature_input = method.features_for(params)
    docs = read_parquet(
        paths.fill(paths.POOL_SHARD, shard=shard), columns=["id", "text", "domain", "n_bytes"]
    )
    features = None
    if feature_input is not None:
        path = feature_input.shard_path(shard, **where)
        features = feature_input.load(path)
        check_rows(features, len(docs), path)
    write_parquet(
        method.score(docs, features, state, params), paths.fill(paths.SHARD_SCORES, shard=shard, **where)
    )
    return len(docs)


def _score(variant: Variant, shards: int, workers: int = 1) -> dict:
    """Score every shard (``workers`` at a time), then merge the shard scores as rule merge_scores does."""
    from dqreview.io import read_parquet, write_parquet

    _, worker_mb = _map(functools.partial(_shard_score, variant=variant), list(range(shards)), workers)
    where = {"metric": variant.metric, "variant": variant.slug}
    scores = [read_parquet(paths.fill(paths.SHARD_SCORES, shard=s, **where)) for s in range(shards)]
    write_parquet(pd.concat(scores, ignore_index=True), paths.fill(paths.SCORES, **where))
    return {"worker_peak_rss_mb": worker_mb}


def _select(variants: list[Variant], budget: float) -> dict:
    from dqreview.io import read_parquet, write_parquet
    from dqreview.select import select_budget, supply_fraction

    pool = read_parquet(paths.POOL_INDEX, columns=["id", "n_bytes"])
    for v in variants:
        method, params = v.load()
        scores = read_parquet(paths.fill(paths.SCORES, metric=v.metric, variant=v.slug))
        scores = scores.assign(score=method.selection_score(scores, 0, params, "high"))
        cols = [c for c in ("id", "score", "removed") if c in scores.columns]
        selection, _ = select_budget(pool, scores[cols], budget, "high", 0,
                                     max_fraction=supply_fraction(pool, scores))  # fmt: skip
        key = paths.selection(v.metric, v.slug, "high", str(budget))
        write_parquet(selection, paths.fill(paths.SELECT_IDS.replace(paths.SELECTION, key), seed=0))
    return {}


_STAGES = {
    "generate": _generate,
    "prepare": _prepare,
    "embed_static": _embed_static,
    "embed_minilm": _embed_minilm,
    "features": _features,
    "fit": _fit,
    "score": _score,
    "select": _select,
}


#: What a stage's worker processes inherit from it (fork): the encoder, loaded once per stage.
_SHARED: dict[str, Any] = {}
#: Per-part pieces of the pool shards while prepare runs (in the size's scratch directory).
PREP_DIR = "prep"


def _with_peak(fn: Callable[[Any], Any], item: Any) -> tuple[Any, int, float]:
    return fn(item), os.getpid(), _vm_hwm_mb()


def _map(fn: Callable[[Any], Any], items: Sequence[Any], workers: int) -> tuple[list, float]:
    """``[fn(i) for i in items]``, ``workers`` at a time in forked processes when ``workers`` > 1 (the
    items — shards, raw parts — are independent, as the workflow's per-shard jobs are), and the summed
    peak RSS (MB) of those processes (0 in-process). ``fn`` returns small values: files carry the data."""
    workers = min(int(workers), len(items))
    if workers <= 1:
        return [fn(i) for i in items], 0.0
    import multiprocessing

    pool = multiprocessing.get_context("fork").Pool(workers)
    try:
        out = pool.map(functools.partial(_with_peak, fn), items, chunksize=1)
    finally:
        pool.close()
        pool.join()  # reaped, so their CPU time shows in RUSAGE_CHILDREN
    peaks: dict[int, float] = {}
    for _, pid, peak in out:
        peaks[pid] = max(peaks.get(pid, 0.0), peak)
    return [r for r, _, _ in out], float(sum(peaks.values()))


def _cpu() -> float:
    """CPU seconds (user + system) of this process and of its reaped children (a stage's workers)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _vm_hwm_mb() -> float:
    """This process's peak resident memory in MB: VmHWM of /proc/self/status (Linux), else ru_maxrss.

    Not ru_maxrss on Linux: it survives exec and so counts the forking parent's memory at fork time."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _run_stage(kind: str, kwargs: dict, peak_rss_mb: Callable[[], float]) -> dict:
    """Run one stage in the current directory: what it returned, with its wall, CPU and peak RSS."""
    t0, c0 = time.perf_counter(), _cpu()
    out = _STAGES[kind](**kwargs) or {}
    # workers run beside the stage's own process: their peaks add up (an upper bound, pages are shared)
    peak = peak_rss_mb() + out.pop("worker_peak_rss_mb", 0.0)
    out.update(wall_s=time.perf_counter() - t0, cpu_s=_cpu() - c0, peak_rss_mb=peak)
    return out


def _child(kind: str, workdir: str, kwargs: dict) -> dict:
    """Run one stage in this (fresh) process and measure it."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    os.chdir(workdir)
    return _run_stage(kind, kwargs, _vm_hwm_mb)


def _child_main() -> None:
    """Entry of a stage's child process: (kind, workdir, kwargs) as JSON on stdin, the result as JSON to argv[1]."""
    import json
    import sys

    kind, workdir, kwargs = json.loads(sys.stdin.buffer.read(), object_hook=_from_json)
    out = _child(kind, workdir, kwargs)
    with open(sys.argv[1], "w") as fh:
        json.dump(out, fh, default=_json_scalar)


def _json_scalar(value: Any) -> Any:
    """What JSON cannot say natively: numpy scalars, and a :class:`Variant` as a tagged mapping."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Variant):
        return {_VARIANT_TAG: [value.metric, value.slug, value.params]}
    raise TypeError(f"scaling: {type(value).__name__} cannot pass between stage processes as JSON")


#: The key of a :class:`Variant` in the JSON between a stage's parent and child process.
_VARIANT_TAG = "__scaling_variant__"


def _from_json(mapping: dict) -> Any:
    if set(mapping) == {_VARIANT_TAG}:
        metric, slug, params = mapping[_VARIANT_TAG]
        return Variant(metric, slug, params)
    return mapping


def _in_process(kind: str, workdir: str, kwargs: dict) -> dict:
    """Run one stage in this process (tests): cwd restored after; peak RSS is this process's so far."""
    cwd = os.getcwd()
    try:
        os.chdir(workdir)
        return _run_stage(kind, kwargs, lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0)
    finally:
        os.chdir(cwd)


#: Environment variables that set the BLAS / OpenMP thread count of a stage's process.
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")


def measure_stage(
    kind: str, workdir: str | os.PathLike, isolate: bool = True, threads: int | None = None, **kwargs
) -> dict:
    """Run stage ``kind`` in a fresh child interpreter with cwd ``workdir``; its measurements
    (``wall_s``, ``cpu_s``, ``peak_rss_mb`` of the child and its workers) and what the stage returned.
    ``threads`` sets the child's BLAS/OpenMP threads (:data:`THREAD_VARS`; default: inherited).

    A subprocess rather than ``multiprocessing``: spawn re-imports the parent's main module, which in a
    Snakemake script job is the job script itself. The child's log lines are passed on as they come.
    """
    import json
    import subprocess
    import sys
    import tempfile

    if not isolate:
        return _in_process(kind, str(workdir), kwargs)
    with tempfile.TemporaryDirectory() as tmp:
        result = Path(tmp) / "result.json"
        code = "from dqreview.scaling import _child_main; _child_main()"
        env = {**os.environ, **dict.fromkeys(THREAD_VARS, str(threads))} if threads else None
        proc = subprocess.Popen([sys.executable, "-c", code, str(result)], stdin=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=False, env=env)  # fmt: skip
        proc.stdin.write(json.dumps([kind, str(workdir), kwargs], default=_json_scalar).encode())
        proc.stdin.close()
        tail: list[str] = []
        for line in proc.stderr:
            text = line.decode("utf-8", "replace").rstrip()
            tail = (tail + [text])[-30:]
            log.info("  | %s", text)
        if proc.wait() != 0 or not result.exists():
            raise DQError(
                f"scaling: stage {kind} in {workdir} failed (exit {proc.returncode}):\n" + "\n".join(tail)
            )
        with open(result) as fh:
            return json.load(fh)


# --- the runner --------------------------------------------------------------------------------------


def check_sizes(sizes: Any, key: str = "review.scaling.sizes") -> list[int]:
    """``sizes`` as a sorted list of distinct positive ints, or a DQError naming ``key``."""
    if not isinstance(sizes, list | tuple) or not all(
        isinstance(s, int | np.integer) and not isinstance(s, bool) and s > 0 for s in sizes
    ):
        raise DQError(
            f"{key}: expected a list of positive integers (documents), e.g. [10000, 100000]; got {sizes!r}"
        )
    if len(set(sizes)) != len(sizes):
        raise DQError(f"{key}: repeated size in {list(sizes)}; give each pool size once")
    return sorted(int(s) for s in sizes)


def _timed(
    rows: list[dict],
    n: int,
    wd: Path,
    isolate: bool,
    name: str,
    kind: str,
    method: str = "",
    threads: int | None = None,
    **kwargs,
) -> dict:
    """Measure one stage at size ``n`` and append its row to ``rows``."""
    log.info("n=%d: %s ...", n, name)
    m = measure_stage(kind, wd, isolate, threads, **kwargs)
    log.info(
        "n=%d: %s took %.1f s wall, %.1f s CPU, peak %.0f MB",
        n,
        name,
        m["wall_s"],
        m["cpu_s"],
        m["peak_rss_mb"],
    )
    rows.append({"stage": name, "method": method, "n_docs": n, "wall_s": m["wall_s"], "cpu_s": m["cpu_s"],
                 "peak_rss_mb": m["peak_rss_mb"], "extrapolated": False})  # fmt: skip
    return m


def run_scaling(
    sizes: Sequence[int],
    workdir: str | os.PathLike,
    pool: str | Sequence[str],
    target: str,
    static_model: str,
    variants: Sequence[Variant],
    minilm: dict | None = None,
    minilm_sample: int = 2000,
    shards: int = 4,
    seed: int = 0,
    edit_rate: float = 0.1,
    near_rate: float = 0.05,
    budget: float = 0.1,
    chunk_words: int = 128,
    max_chunk_words: int = 192,
    key: str = "sizes",
    keep_scratch: bool = False,
    isolate: bool = True,
    workers: int = 1,
) -> pd.DataFrame:
    """Time every stage at every size; the raw measurements (one row per stage and size).

    Parameters
    ----------
    sizes : list of int
        Pool sizes in documents (checked by :func:`check_sizes`, errors name ``key``).
    workdir : path
        Scratch directory; size ``n`` is written under ``workdir/n<n>/results/...`` as the workflow writes.
    pool : str or list of str
        The real pool's shards (the chunks to perturb): a glob or the files.
    target : str
        The target ref parquet.
    static_model : str
        The static encoder's directory (or name) for :func:`static_encoder`.
    variants : list of Variant
        The method variants to time (:func:`variants_from_config`).
    minilm : dict, optional
        The config's ``embed`` mapping for the MiniLM encoder, timed on ``minilm_sample`` documents
        once (at the smallest size) and extrapolated linearly to each size; None skips it.
    shards : int
        Pool shards at every size.
    workers : int
        Cores to use: per-shard stages (and prepare's raw parts) run ``workers`` at a time in forked
        processes, as the workflow runs per-shard jobs side by side; fits get ``workers`` BLAS threads.
    keep_scratch : bool
        Keep each size's scratch directory (deleted once measured by default).
    isolate : bool
        Each stage in a fresh child process (the default: its own wall, CPU and peak RSS); False runs
        the stages in this process (tests: no interpreter start per stage; peak RSS is then cumulative).

    Returns
    -------
    DataFrame
        ``stage``, ``method``, ``n_docs``, ``wall_s``, ``cpu_s``, ``peak_rss_mb``, ``extrapolated``, plus
        ``prepared`` (documents after chunking); :func:`scaling_table` finishes it.
    """
    sizes = check_sizes(list(sizes), key)
    # every stage runs with the size's scratch directory as cwd: inputs given relative to ours must not move
    workdir, target = os.path.abspath(workdir), os.path.abspath(target)
    pool = os.path.abspath(pool) if isinstance(pool, str) else [os.path.abspath(p) for p in pool]
    if os.path.exists(static_model):
        static_model = os.path.abspath(static_model)
    rows: list[dict] = []
    minilm_rate = None
    for n in sizes:
        wd = Path(workdir) / f"n{n}"
        wd.mkdir(parents=True, exist_ok=True)

        stage = functools.partial(_timed, rows, n, wd, isolate)

        gen = measure_stage(
            "generate", wd, isolate, pool=pool, n_docs=n, seed=seed, edit_rate=edit_rate, near_rate=near_rate
        )
        log.info("n=%d: generated in %.1f s", n, gen["wall_s"])
        prepared = stage("prepare", "prepare", target=target, shards=shards, chunk_words=chunk_words,
                         max_chunk_words=max_chunk_words, model_dir=static_model, workers=workers)["items"]  # fmt: skip
        stage("embed:static", "embed_static", model_dir=static_model, shards=shards, workers=workers)
        if minilm is not None:
            if minilm_rate is None:
                minilm_rate = measure_stage(
                    "embed_minilm", wd, isolate, embed=minilm, sample=min(minilm_sample, n)
                )
                log.info("MiniLM: %d documents in %.1f s", minilm_rate["items"], minilm_rate["work_s"])
            r = minilm_rate
            per_doc, per_doc_cpu = r["work_s"] / r["items"], r["work_cpu_s"] / r["items"]
            rows.append({"stage": "embed:minilm", "method": "", "n_docs": n,
                         "wall_s": r["wall_s"] - r["work_s"] + per_doc * n,
                         "cpu_s": r["cpu_s"] - r["work_cpu_s"] + per_doc_cpu * n,
                         "peak_rss_mb": r["peak_rss_mb"], "extrapolated": True})  # fmt: skip
        for v in variants:
            method, params = v.load()
            if method.has_shard_features:
                stage(f"{v.metric}:features", "features", v.metric, variant=v, shards=shards, workers=workers)
            if method.fits:
                stage(f"{v.metric}:fit", "fit", v.metric, threads=workers, variant=v, shards=shards)
            stage(f"{v.metric}:score", "score", v.metric, variant=v, shards=shards, workers=workers)
        stage("select", "select", variants=list(variants), budget=budget)
        for r in rows:
            if r["n_docs"] == n:
                r["prepared"] = prepared
        if not keep_scratch:
            shutil.rmtree(wd)
    return pd.DataFrame(rows)


def loglog_slope(n_docs: Sequence[float], wall_s: Sequence[float]) -> float:
    """Least-squares slope of log(wall) against log(n); NaN with fewer than two distinct sizes."""
    x, y = np.log(np.asarray(n_docs, dtype=float)), np.log(np.maximum(np.asarray(wall_s, dtype=float), 1e-9))
    if len(np.unique(x)) < 2:
        return math.nan
    return float(np.polyfit(x, y, 1)[0])


def scaling_table(raw: pd.DataFrame) -> pd.DataFrame:
    """The scaling table (:data:`COLUMNS`) from :func:`run_scaling`'s measurements."""
    df = raw.copy()
    df["us_per_doc"] = df["wall_s"] / df["n_docs"] * 1e6
    slopes = {s: loglog_slope(g["n_docs"], g["wall_s"]) for s, g in df.groupby("stage", sort=False)}
    df["slope"] = df["stage"].map(slopes)
    df["complexity"] = df["stage"].map(lambda s: COMPLEXITY.get(s, "not stated"))
    df["extrapolated"] = df["extrapolated"].astype(bool)
    return df[COLUMNS].reset_index(drop=True)


def check_table(df: pd.DataFrame, path: str = "scaling table") -> None:
    """A DQError unless ``df`` has exactly :data:`COLUMNS`, one row per (stage, n_docs)."""
    if list(df.columns) != COLUMNS:
        raise DQError(f"{path}: columns {list(df.columns)}; expected exactly {COLUMNS}")
    if df.duplicated(["stage", "n_docs"]).any():
        raise DQError(f"{path}: repeated (stage, n_docs) rows; one row per stage and size")


#: Stages of the issue's end-to-end goal (1M documents on 2 cores in 10 minutes, peak RSS 8 GB): every
#: measured stage except MiniLM (the static encoder replaces it).
def goal_stages(table: pd.DataFrame) -> pd.Series:
    """Rows of ``table`` that count toward the end-to-end goal (all but MiniLM)."""
    return table["stage"] != "embed:minilm"


def summary(table: pd.DataFrame, minutes: float = 10.0, rss_gb: float = 8.0) -> str:
    """Per size: the goal stages' total wall time and largest peak RSS against the goal."""
    lines = []
    goal = table[goal_stages(table)]
    for n, g in goal.groupby("n_docs"):
        wall, rss = g["wall_s"].sum(), g["peak_rss_mb"].max()
        lines.append(
            f"n={n:,}: end to end {wall:.0f} s ({wall / 60:.1f} min; goal <= {minutes:g} min: "
            f"{'met' if wall <= minutes * 60 else 'MISSED'}), peak RSS {rss / 1024:.2f} GB "
            f"(goal <= {rss_gb:g} GB: {'met' if rss <= rss_gb * 1024 else 'MISSED'}), slowest stage "
            f"{g.loc[g['wall_s'].idxmax(), 'stage']}"
        )
    return "\n".join(lines)


def plot_scaling(table: pd.DataFrame, path: str | os.PathLike) -> None:
    """Log-log wall time against documents per stage, slopes in the legend, a dotted slope-1 guide."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from dqreview.io import atomic_path

    fig, ax = plt.subplots(figsize=(8, 5.5))
    stages = list(dict.fromkeys(table["stage"]))
    cmap = plt.get_cmap("tab20")
    for i, s in enumerate(stages):
        g = table[table["stage"] == s].sort_values("n_docs")
        slope = g["slope"].iloc[0]
        label = f"{s} (slope {slope:.2f})" if np.isfinite(slope) else s
        style = "--" if g["extrapolated"].any() else "-"
        ax.plot(g["n_docs"], g["wall_s"], style, marker="osD^vPX*"[i % 8], ms=5, color=cmap(i % 20),
                label=label + (", extrapolated" if style == "--" else ""))  # fmt: skip
    ns = np.array(sorted(table["n_docs"].unique()), dtype=float)
    ref = table.loc[table["n_docs"] == ns[0], "wall_s"].median()
    ax.plot(ns, ref * ns / ns[0], ":", color="black", lw=1.5, label="slope 1 (linear)")
    total = table[goal_stages(table)].groupby("n_docs")["wall_s"].sum()
    ax.plot(total.index, total.to_numpy(), "-", color="black", lw=2.5, marker="o",
            label="end to end, every stage but MiniLM")  # fmt: skip
    ax.axhline(600, color="grey", ls="--", lw=1, label="goal at 1M documents: 10 min")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("pool documents")
    ax.set_ylabel("wall time (s)")
    ax.set_title("Cost of each per-document stage against pool size")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="pdf", bbox_inches="tight")
    plt.close(fig)
