"""Stable, process-independent hashes.

Python's built-in ``hash`` is salted per process, so everything that must be equal across runs,
shard counts and machines (document ids, text hashes, per-document randomness) goes through
BLAKE2b here.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import numpy as np

_SEP = "\x1f"  # unit separator: cannot occur in keys after control characters are stripped


def stable_hash64(*parts: object) -> int:
    """Unsigned 64-bit BLAKE2b hash of the parts joined by an unprintable separator."""
    data = _SEP.join(str(p) for p in parts).encode("utf-8", "surrogatepass")
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little")


def doc_id(source: str, document: str, chunk: int) -> str:
    """Document id = hash(source, document key, chunk index), 16 hex characters."""
    return f"{stable_hash64(source, document, chunk):016x}"


def text_hash(text: str) -> str:
    """Hash of already-normalised text; equal for exact duplicates."""
    return f"{stable_hash64(text):016x}"


def unit_uniform(ids: Iterable[str], seed: int) -> np.ndarray:
    """Per-document uniform numbers in [0, 1) keyed by hash(id, seed).

    The value of a document depends only on its id and the seed, never on its position,
    its shard or the number of shards.
    """
    u = np.fromiter((stable_hash64(i, seed) >> 11 for i in ids), dtype=np.float64)
    return u * 2.0**-53
