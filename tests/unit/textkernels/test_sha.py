"""dqreview.textkernels.sha: the numba SHA-256 port against hashlib (the SHA-1 port is checked against datasketch
through the MinHash signatures in tests/unit/metrics/test_minhash.py)."""

from __future__ import annotations

import hashlib

import numpy as np

from conftest import random_unicode
from dqreview.textkernels.sha import sha256_mod_many


def test_sha256_kernel_matches_hashlib():
    rng = np.random.default_rng(0)
    strings = ["", "alice", "alice went"] + [random_unicode(rng, int(n)) for n in rng.integers(0, 90, 400)]
    strings += ["a" * n for n in (54, 55, 56, 57, 63, 64, 65, 118, 119, 120, 128, 1000)]
    data = [s.encode("utf-8") for s in strings]
    ends = np.cumsum([len(b) for b in data], dtype=np.int64)
    starts = ends - np.array([len(b) for b in data], dtype=np.int64)
    buf = np.frombuffer(b"".join(data), dtype=np.uint8)
    for B in (10000, 97, 1, 2**31 - 1):
        got = sha256_mod_many(buf, starts, ends, B)
        assert got.tolist() == [int(hashlib.sha256(b).hexdigest(), 16) % B for b in data]
