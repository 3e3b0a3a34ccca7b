"""From raw source documents to the document frames of the data contract.

:func:`prepare_corpus` runs, deterministically from ``prepare.seed``:

1. normalise every document, cut over-long ones, drop empty ones;
2. assign roles per *source document* (target ref / target test / heldout / pool), so the
   chunks of one article never straddle two splits;
3. chunk, with per-split caps taken in hash order of the documents;
4. decontaminate: drop pool chunks sharing a word n-gram with any evaluation split;
5. plant exact copies, near-duplicates and synthetic noise into the pool;
6. shard the pool by ``hash(id) % shards``.

Nothing depends on the order of the input rows: every choice goes through a stable hash or
through an RNG applied to id-sorted rows.

One module for one pipeline (about 550 lines): the steps share the row format and the hash-keyed
choices, and each is only meaningful in this order.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from dqreview.corpus.text import chunk, normalise
from dqreview.errors import DQError
from dqreview.hashing import doc_id, stable_hash64, text_hash

__all__ = [
    "DOC_COLUMNS",
    "Prepared",
    "prepare_corpus",
    "truncate_utf8",
    "decontaminate",
    "plant",
    "shard_of",
    "near_duplicate",
]

DOC_COLUMNS = ["id", "text_hash", "domain", "text", "n_bytes", "n_words", "planted"]
TARGET = "target"
NOISE = "noise"  #: the planted tag of synthetic noise documents (their domain is a host's)
_RESERVED_DOMAINS = {TARGET}

CountTokens = Callable[[list[str]], Sequence[int]]


@dataclass
class Prepared:
    """Everything prepare writes: pool shards, evaluation splits, counts."""

    pool_shards: list[pd.DataFrame]
    target_ref: pd.DataFrame
    target_test: pd.DataFrame
    heldout: dict[str, pd.DataFrame]
    stats: dict = field(default_factory=dict)
    domain_table: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def pool(self) -> pd.DataFrame:
        """All pool shards in one frame, sorted by id."""
        return pd.concat(self.pool_shards, ignore_index=True).sort_values("id", ignore_index=True)


# --- small pure helpers -------------------------------------------------------------------


def _u(*parts: object) -> float:
    """Uniform number in [0, 1) from a stable hash of the parts."""
    return (stable_hash64(*parts) >> 11) * 2.0**-53


def truncate_utf8(text: str, max_bytes: int) -> tuple[str, bool]:
    """Cut ``text`` to at most ``max_bytes`` UTF-8 bytes without splitting a character."""
    if len(text) * 4 <= max_bytes:  # cheap check: no character is longer than 4 bytes
        return text, False
    data = text.encode("utf-8")
    if len(data) <= max_bytes:
        return text, False
    return data[:max_bytes].decode("utf-8", errors="ignore").rstrip(), True


def shard_of(ids: Sequence[str], shards: int) -> np.ndarray:
    """Shard index of each id: ``stable_hash64(id) % shards`` (independent of order)."""
    return np.fromiter((stable_hash64(i) % shards for i in ids), dtype=np.int64, count=len(ids))


def _row(id_: str, text: str, domain: str, planted: str = "", src_doc: Any = None) -> dict:
    return {
        "id": id_,
        "text_hash": text_hash(text),
        "domain": domain,
        "text": text,
        "n_bytes": len(text.encode("utf-8")),
        "n_words": len(text.split()),
        "planted": planted,
        "_src_doc": src_doc,  # (source, document) for counting source documents; dropped on output
    }


def _frame(rows: list[dict]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=[*DOC_COLUMNS, "_src_doc"])
    df = df.astype({"id": str, "text_hash": str, "domain": str, "text": str, "planted": str})
    df = df.astype({"n_bytes": "int64", "n_words": "int64"})
    return df.sort_values("id", ignore_index=True)


def _public(df: pd.DataFrame) -> pd.DataFrame:
    return df[DOC_COLUMNS].reset_index(drop=True)


def _cfg(cfg: dict, dotted: str, default: Any = KeyError) -> Any:
    node: Any = cfg
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            if default is KeyError:
                raise DQError(f"config: missing key {dotted!r}; see config.yaml for an example")
            return default
        node = node[part]
    return node


# --- step 1: clean ------------------------------------------------------------------------


def _clean(raw: dict[str, pd.DataFrame], max_doc_bytes: int) -> tuple[dict[str, list], dict]:
    """Normalise, cut and drop empty documents; ``{source: [(document, text), ...]}`` sorted by key."""
    docs: dict[str, list[tuple[str, str]]] = {}
    stats: dict[str, dict] = {}
    for source, df in sorted(raw.items()):
        missing = [c for c in ("document", "text") if c not in df.columns]
        if missing:
            raise DQError(f"raw source {source!r}: missing column(s) {missing}; found {list(df.columns)}")
        keys = df["document"].astype(str)
        dup = keys[keys.duplicated()]
        if len(dup):
            raise DQError(
                f"raw source {source!r}: duplicate document key {dup.iloc[0]!r}; "
                "document keys must be unique within a source"
            )
        kept, empty, truncated = [], 0, 0
        for key, text in zip(keys, df["text"], strict=True):
            text = normalise("" if text is None else str(text))
            text, cut = truncate_utf8(text, max_doc_bytes)
            truncated += cut
            if not text:
                empty += 1
                continue
            kept.append((key, text))
        docs[source] = sorted(kept)
        stats[source] = {
            "input_documents": len(df),
            "empty_dropped": empty,
            "truncated_docs": truncated,
            "documents": len(kept),
        }
    return docs, stats


# --- steps 2-3: roles and chunks ----------------------------------------------------------


class _Chunker:
    """Chunk documents on demand (documents beyond every cap are never chunked)."""

    def __init__(self, prep: dict, count_tokens: CountTokens | None, max_tokens: int | None):
        self.kw = {
            "chunk_words": int(prep.get("chunk_words", 128)),
            "max_chunk_words": int(prep.get("max_chunk_words", 192)),
            "count_tokens": count_tokens,
            "max_tokens": max_tokens,
        }

    def __call__(self, source: str, document: str, text: str) -> list[tuple[str, str]]:
        return [(doc_id(source, document, i), c) for i, c in enumerate(chunk(text, **self.kw))]


def _hash_order(docs: list[tuple[str, str, str]], seed: int) -> list[tuple[str, str, str]]:
    """Documents ``(source, document, text)`` in a seeded hash order (ties broken by key)."""
    return sorted(docs, key=lambda d: (stable_hash64("order", d[0], d[1], seed), d[0], d[1]))


def _take_chunks(
    ordered: list[tuple[str, str, str]], chunker: _Chunker, cap: int | None, domain: str
) -> list[dict]:
    """Chunks of documents in order until ``cap`` chunks (the last document may be cut)."""
    rows: list[dict] = []
    for source, document, text in ordered:
        if cap is not None and len(rows) >= cap:
            break
        rows.extend(
            _row(i, c, domain, src_doc=(source, document)) for i, c in chunker(source, document, text)
        )
    return rows if cap is None else rows[:cap]


def _split_heldout(
    ordered: list[tuple[str, str, str]], chunker: _Chunker, want: int, domain: str
) -> tuple[list[dict], list[tuple[str, str, str]]]:
    """Hold out whole documents from the front of the order until ``want`` chunks.

    At most half of a domain's documents are held out, so a tiny domain keeps a pool. Chunks
    of the last held-out document beyond ``want`` are dropped, never given to the pool.
    """
    rows: list[dict] = []
    n_docs = 0
    limit = len(ordered) // 2
    while len(rows) < want and n_docs < limit:
        source, document, text = ordered[n_docs]
        rows.extend(
            _row(i, c, domain, src_doc=(source, document)) for i, c in chunker(source, document, text)
        )
        n_docs += 1
    return rows[:want], ordered[n_docs:]


# --- step 4: decontamination --------------------------------------------------------------


def _words(text: str) -> list[str]:
    return text.lower().split()


def _ngrams(words: list[str], n: int) -> Any:
    return (" ".join(words[i : i + n]) for i in range(len(words) - n + 1))


def decontaminate(pool: list[dict], evaluation: list[dict], n: int) -> tuple[list[dict], list[dict]]:
    """Split pool rows into (kept, removed) by overlap with the evaluation rows.

    A pool chunk is removed when it shares a lower-cased word ``n``-gram with any evaluation
    chunk, or when its lower-cased words equal those of an evaluation chunk (this covers
    chunks shorter than ``n`` words, which have no ``n``-gram).
    """
    grams: set[str] = set()
    whole: set[str] = set()
    for row in evaluation:
        words = _words(row["text"])
        grams.update(_ngrams(words, n))
        whole.add(" ".join(words))
    kept, removed = [], []
    for row in pool:
        words = _words(row["text"])
        hit = " ".join(words) in whole or any(g in grams for g in _ngrams(words, n))
        (removed if hit else kept).append(row)
    return kept, removed


# --- step 5: planting ---------------------------------------------------------------------

_TOKEN_SPLIT = re.compile(r"(\s+)")
_NOISE_CHARS = string.ascii_letters + string.digits + string.punctuation


def near_duplicate(text: str, m: int, rng: np.random.Generator, max_words: int | None = None) -> str:
    """Apply ``m`` random word edits (substitute, delete, insert) with words of ``text`` itself.

    Whitespace between untouched words is kept, so code keeps its lines. The result always
    differs from ``text`` and, when ``max_words`` is given, is not longer than that.
    """
    tokens = _TOKEN_SPLIT.split(text.strip())
    words, seps = tokens[0::2], tokens[1::2] + [""]
    vocab = sorted(set(words))
    for _ in range(m):
        op = int(rng.integers(3))
        if op == 1 and len(words) > 1:  # delete
            pos = int(rng.integers(len(words)))
            del words[pos], seps[pos]
        elif op == 0 and len(vocab) > 1:  # substitute with a different word
            pos = int(rng.integers(len(words)))
            choices = [w for w in vocab if w != words[pos]]
            words[pos] = choices[int(rng.integers(len(choices)))]
        elif max_words is not None and len(words) >= max_words:  # an insert would be too long
            del words[-1], seps[-1]
        else:  # insert
            pos = int(rng.integers(len(words) + 1))
            words.insert(pos, vocab[int(rng.integers(len(vocab)))])
            seps.insert(pos, " ")
    # Words that became neighbours through an edit at the end need a separator again.
    seps = [s or " " for s in seps[:-1]] + [""]
    out = "".join(w + s for w, s in zip(words, seps, strict=True)).strip()
    if out == text.strip():  # edits that cancelled out, e.g. a word deleted and re-inserted
        out = out.rsplit(None, 1)[0] if len(words) > 1 else f"{out} {out}"
    return out


def _noise_text(rng: np.random.Generator, vocab: list[str], max_words: int) -> str:
    n = int(rng.integers(min(30, max_words), min(150, max_words) + 1))
    words = []
    for _ in range(n):
        if vocab and rng.random() < 0.5:
            words.append(vocab[int(rng.integers(len(vocab)))])
        else:
            k = int(rng.integers(1, 13))
            words.append("".join(_NOISE_CHARS[int(i)] for i in rng.integers(len(_NOISE_CHARS), size=k)))
    return " ".join(words)


def _fit_tokens(text: str, count_tokens: CountTokens | None, max_tokens: int | None) -> str:
    """Drop trailing words until ``text`` fits the encoder (only planted rows need this)."""
    if count_tokens is None or max_tokens is None:
        return text
    while True:
        n = int(count_tokens([text])[0])
        words = text.split(" ")
        if n <= max_tokens or len(words) <= 1:
            return text
        # Cut proportionally to the excess, at least one word.
        keep = min(len(words) - 1, max(1, int(len(words) * max_tokens / n)))
        text = " ".join(words[:keep]).strip()


def plant(
    pool: list[dict],
    plant_cfg: dict,
    seed: int,
    max_words: int = 192,
    count_tokens: CountTokens | None = None,
    max_tokens: int | None = None,
) -> tuple[list[dict], dict]:
    """Planted rows for a pool (exact copies, near-duplicates, noise) and their counts.

    Counts are ``round(rate * len(pool))``; originals are drawn without replacement by a
    seeded RNG over the id-sorted pool, so the result does not depend on row order. Planted
    rows obey the same word and token limits as chunks. Copies keep their original's domain; a
    noise document takes the domain of a host row drawn uniformly (with replacement) from the
    pool, so noise spreads over the domains in proportion to their rows and no domain is noise.
    """
    rows = sorted(pool, key=lambda r: r["id"])
    size = len(rows)
    rng = np.random.default_rng([int(seed), 0x504C414E54])  # "PLANT": its own stream
    n_exact = min(size, int(round(float(plant_cfg.get("exact_rate", 0.0)) * size)))
    n_near = min(size - n_exact, int(round(float(plant_cfg.get("near_rate", 0.0)) * size)))
    n_noise = int(round(float(plant_cfg.get("noise_rate", 0.0)) * size))
    picks = rng.choice(size, n_exact + n_near, replace=False) if size else np.array([], dtype=int)
    edits_per_100 = float(plant_cfg.get("near_edits", 2))
    out = []
    for k, idx in enumerate(picks):
        orig = rows[int(idx)]
        if k < n_exact:
            tag = f"exact:{orig['id']}"
            out.append(_row(doc_id("planted", tag, 0), orig["text"], orig["domain"], tag))
        else:
            m = max(1, int(round(edits_per_100 * orig["n_words"] / 100)))
            text = normalise(near_duplicate(orig["text"], m, rng, max_words=max_words))
            text = _fit_tokens(text, count_tokens, max_tokens)
            tag = f"near:{orig['id']}"
            out.append(_row(doc_id("planted", tag, 0), text, orig["domain"], f"{tag}:m={m}"))
    vocab = sorted({w for r in rows for w in r["text"].split()}) if n_noise else []
    texts = [
        _fit_tokens(_noise_text(rng, vocab, max_words), count_tokens, max_tokens) for _ in range(n_noise)
    ]
    # Each noise document lands in the domain of a host row, drawn after every text so the texts (and
    # the copies above) are what they were when noise had a domain of its own. A real pool has no
    # "noise" label: the mixture methods (DoReMi, Skill-It) must find noise inside the domains, as
    # every other method does; the planted column still says what it is, for the composition table.
    hosts = rng.integers(size, size=n_noise) if n_noise else np.array([], dtype=int)
    for k, (text, host) in enumerate(zip(texts, hosts, strict=True)):
        out.append(_row(doc_id("planted", f"noise:{k}", 0), text, rows[int(host)]["domain"], NOISE))
    return out, {"exact": n_exact, "near": n_near, "noise": n_noise}


# --- step 7: tables -----------------------------------------------------------------------


def _summary(split: str, domain: str, df: pd.DataFrame, extra: dict | None = None) -> dict:
    src_docs = df["_src_doc"].dropna()
    planted = df["planted"].str.split(":").str[0]
    return {
        "split": split,
        "domain": domain,
        "documents": len(df),
        "words": int(df["n_words"].sum()),
        "bytes": int(df["n_bytes"].sum()),
        "source_documents": int(src_docs.nunique()),
        "planted_exact": int((planted == "exact").sum()),
        "planted_near": int((planted == "near").sum()),
        "planted_noise": int((planted == "noise").sum()),
        "decontaminated": 0,
        **(extra or {}),
    }


# --- entry point --------------------------------------------------------------------------


def _check_config(cfg: dict, raw: dict[str, pd.DataFrame]) -> None:
    target_source = _cfg(cfg, "target.source")
    if target_source not in raw:
        raise DQError(f"config: target.source {target_source!r} is not a source; sources: {sorted(raw)}")
    owner: dict[str, str] = {}
    names = set()
    for d in _cfg(cfg, "domains"):
        name = d.get("name")
        if name in _RESERVED_DOMAINS or name in names:
            raise DQError(
                f"config: domain name {name!r} is reserved or repeated; "
                f"domain names must be unique and not {sorted(_RESERVED_DOMAINS)}"
            )
        names.add(name)
        for s in d.get("sources", []):
            if s not in raw:
                raise DQError(
                    f"config: domain {name!r} lists source {s!r}, which is not defined in `sources`"
                )
            if s in owner:
                raise DQError(
                    f"config: source {s!r} is listed by domains {owner[s]!r} and {name!r}; "
                    "a source can feed only one pool domain"
                )
            owner[s] = name


def prepare_corpus(
    raw: dict[str, pd.DataFrame],
    cfg: dict,
    count_tokens: CountTokens | None = None,
    max_tokens: int | None = None,
) -> Prepared:
    """Build pool shards, target ref/test and heldout splits from raw documents.

    Parameters
    ----------
    raw : dict of str to DataFrame
        Source name → raw documents (columns ``document``, ``text``), as from
        :func:`dqreview.corpus.sources.fetch_source`.
    cfg : dict
        The whole config; ``target``, ``domains`` and ``prepare`` are read.
    count_tokens, max_tokens : optional
        The encoder tokenizer's counter and limit; no chunk is longer than ``max_tokens``.

    Returns
    -------
    Prepared
        Frames with the columns of :data:`DOC_COLUMNS`, each sorted by id, plus counts.
    """
    _check_config(cfg, raw)
    prep = _cfg(cfg, "prepare")
    seed = int(prep.get("seed", 0))
    shards = int(_cfg(cfg, "prepare.shards"))
    if shards < 1:
        raise DQError(f"config: prepare.shards={shards}; need at least 1")
    chunker = _Chunker(prep, count_tokens, max_tokens)

    # 1. clean
    docs, source_stats = _clean(raw, int(prep.get("max_doc_bytes", 4_000_000)))

    # 2. target documents (by hash of the source document), then ref vs test
    target_source = cfg["target"]["source"]
    share, ref_share = float(_cfg(cfg, "target.share")), float(_cfg(cfg, "target.ref_share", 0.5))
    ref_docs, test_docs, target_keys = [], [], set()
    for key, text in docs[target_source]:
        if _u("target", target_source, key, seed) < share:
            target_keys.add(key)
            is_ref = _u("ref", target_source, key, seed) < ref_share
            (ref_docs if is_ref else test_docs).append((target_source, key, text))

    # 3. chunks, capped in hash order
    caps = _cfg(cfg, "target.max_chunks", {}) or {}
    target_ref = _take_chunks(_hash_order(ref_docs, seed), chunker, caps.get("ref"), TARGET)
    target_test = _take_chunks(_hash_order(test_docs, seed), chunker, caps.get("test"), TARGET)
    heldout: dict[str, list[dict]] = {}
    pool: dict[str, list[dict]] = {}
    for d in cfg["domains"]:
        members = [
            (s, key, text)
            for s in d.get("sources", [])
            for key, text in docs[s]
            if not (s == target_source and key in target_keys)
        ]
        ordered = _hash_order(members, seed)
        heldout[d["name"]], rest = _split_heldout(
            ordered, chunker, int(prep.get("heldout_chunks", 0)), d["name"]
        )
        pool[d["name"]] = _take_chunks(rest, chunker, d.get("max_chunks"), d["name"])

    # 4. decontamination against every evaluation split
    evaluation = target_ref + target_test + [r for rows in heldout.values() for r in rows]
    n = int(prep.get("overlap_ngram", 13))
    removed: dict[str, int] = {}
    for name in pool:
        pool[name], gone = decontaminate(pool[name], evaluation, n)
        removed[name] = len(gone)

    # 5. planting
    pool_rows = [r for rows in pool.values() for r in rows]
    planted, planted_counts = plant(
        pool_rows,
        prep.get("plant", {}) or {},
        seed,
        max_words=chunker.kw["max_chunk_words"],
        count_tokens=count_tokens,
        max_tokens=max_tokens,
    )
    pool_rows += planted

    all_ids = [r["id"] for r in pool_rows + evaluation]
    if len(set(all_ids)) != len(all_ids):
        dup = pd.Series(all_ids)[pd.Series(all_ids).duplicated()].iloc[0]
        raise DQError(
            f"duplicate document id {dup} after chunking: two (source, document) keys hash alike; "
            "rename one of the documents"
        )

    # 6. shards
    pool_df = _frame(pool_rows)
    pool_df["_shard"] = shard_of(pool_df["id"].tolist(), shards)
    pool_shards = [_public(pool_df[pool_df["_shard"] == i]) for i in range(shards)]
    ref_df, test_df = _frame(target_ref), _frame(target_test)
    heldout_df = {name: _frame(rows) for name, rows in heldout.items()}

    # 7. counts
    table = []
    for name in pool:  # planted noise is counted in its host domain's planted_noise
        sub = pool_df[pool_df["domain"] == name]
        table.append(_summary("pool", name, sub, {"decontaminated": removed.get(name, 0)}))
    table.append(_summary("target_ref", TARGET, ref_df))
    table.append(_summary("target_test", TARGET, test_df))
    table += [_summary("heldout", name, df) for name, df in heldout_df.items()]
    domain_table = pd.DataFrame(table)
    stats = {
        "sources": source_stats,
        "empty_dropped": sum(s["empty_dropped"] for s in source_stats.values()),
        "truncated_docs": sum(s["truncated_docs"] for s in source_stats.values()),
        "decontaminated": removed,
        "decontaminated_total": sum(removed.values()),
        "planted": planted_counts,
        "pool_chunks": len(pool_df),
        "pool_chunks_before_planting": len(pool_df) - len(planted),
        # exact duplicates already present in the sources (not planted): kept, like real web data,
        # and counted so dedup methods can be judged against them too
        "duplicate_texts_unplanted": int(
            pool_df.loc[pool_df["planted"] == "", "text_hash"].duplicated().sum()
        ),
        "target_ref_chunks": len(ref_df),
        "target_test_chunks": len(test_df),
        "heldout_chunks": {name: len(df) for name, df in heldout_df.items()},
        "shard_chunks": [len(s) for s in pool_shards],
        "domains": {
            row["domain"]: {k: row[k] for k in ("documents", "words", "bytes", "source_documents")}
            for row in table
            if row["split"] == "pool"
        },
    }
    return Prepared(
        pool_shards=pool_shards,
        target_ref=_public(ref_df),
        target_test=_public(test_df),
        heldout={name: _public(df) for name, df in heldout_df.items()},
        stats=stats,
        domain_table=domain_table,
    )
