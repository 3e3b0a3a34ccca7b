"""MinHash signature throughput: datasketch 2.0.0 vs dqreview.metrics.minhash (same documents).

Usage: python benchmarks/minhash_vs_datasketch.py [N_DOCS] [N_E2E]
Documents: ~100 random words from a 5,000-word vocabulary; num_perm 128, seed 1, word 5-grams.
Modes: datasketch legacy per document (MinHash(..., scheme="legacy") + update_batch), datasketch legacy
via MinHash.bulk (reuses the permutations), datasketch default scheme (affine32) per document, ours
legacy (bit-identical), ours fast; shingling/normalisation is included for ours and done once (not
timed) for datasketch. Then an end-to-end fast-mode dedup (signatures + LSH + union-find) on N_E2E docs.
"""

import random
import sys
import time

import numpy as np
from datasketch import MinHash

from dqreview.metrics import minhash as M

n = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
n_e2e = int(sys.argv[2]) if len(sys.argv) > 2 else 100_000
rng = random.Random(0)
vocab = [f"w{i}" for i in range(5000)]
docs = [" ".join(rng.choices(vocab, k=100)) for _ in range(n)]
enc = [[s.encode("utf-8") for s in M.shingles(d)] for d in docs]
rates = {}


def bench(name, fn):
    t = time.perf_counter()
    out = fn()
    rates[name] = n / (time.perf_counter() - t)
    print(f"{name:45s} {rates[name]:10.0f} docs/s")
    return out


def ds_per_doc(scheme):
    out = []
    for e in enc:
        m = MinHash(num_perm=128, seed=1, scheme=scheme)
        m.update_batch(e)
        out.append(m.hashvalues)
    return np.array(out)


ref = bench("datasketch legacy per-doc (update_batch)", lambda: ds_per_doc("legacy"))
bench("datasketch legacy MinHash.bulk", lambda: MinHash.bulk(enc, num_perm=128, seed=1, scheme="legacy"))
bench("datasketch default (affine32) per-doc", lambda: ds_per_doc(None))
ours = bench("ours legacy (normalise included)", lambda: M.signatures_legacy(docs, 128, 1))
assert (ours == ref).all(), "legacy signatures differ from datasketch"
bench("ours fast (normalise included)", lambda: M.signatures_fast(docs, 128, 1))
bench("ours fast (assume_normalised)", lambda: M.signatures_fast(docs, 128, 1, assume_normalised=True))
base = rates["datasketch legacy per-doc (update_batch)"]
for k, v in rates.items():
    print(f"ratio vs datasketch legacy per-doc: {k:45s} {v / base:6.2f}x")

if n_e2e:
    big = [" ".join(rng.choices(vocab, k=100)) for _ in range(n_e2e)]
    for i in range(0, n_e2e, 20):  # plant 5% near-duplicates (2 substitutions)
        w = big[i].split()
        w[3], w[60] = "zz1", "zz2"
        big[i + 1] = " ".join(w)
    t0 = time.perf_counter()
    sigs = M.signatures_fast(big, 128, 1)
    t1 = time.perf_counter()
    b, r = M.optimal_bands(0.8, 128)
    pairs = M.lsh_candidates(sigs, b, r)
    t2 = time.perf_counter()
    labels = M.union_find_clusters(n_e2e, pairs)
    t3 = time.perf_counter()
    print(
        f"end-to-end {n_e2e} docs (fast, T=0.8, b={b}, r={r}): signatures {t1 - t0:.1f}s, LSH {t2 - t1:.1f}s, "
        f"union-find {t3 - t2:.2f}s, total {t3 - t0:.1f}s; {len(pairs)} candidate pairs, "
        f"{n_e2e - len(np.unique(labels))} removed (planted {n_e2e // 20})"
    )
