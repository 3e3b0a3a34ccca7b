"""MinHash signature throughput: datasketch 2.0.0 vs dqreview.metrics.minhash, same documents, one run.

Usage: python benchmarks/minhash_vs_datasketch.py [--n 5000] [--e2e 100000] [--shard PATH.parquet]

num_perm 128, seed 1, word 5-grams. Documents: the first N texts of a pool shard (--shard), else ~100
random words from a 5,000-word vocabulary. Reference modes (all fed the same shingles as UTF-8 bytes,
shingled once beforehand and NOT timed — the strictest comparison for ours, which starts from text):

- datasketch legacy per document: ``MinHash(num_perm=128, seed=1, scheme="legacy")`` + ``update_batch``
  (draws the permutations for every document);
- datasketch legacy reused: ``MinHash.bulk(..., scheme="legacy")`` (one permutation draw, copied);
- datasketch default per document: ``MinHash(num_perm=128, seed=1)`` (scheme affine32) + ``update_batch``;
- datasketch default reused: ``MinHash.bulk(...)``.

Ours (text in, normalisation and shingling included): legacy (asserted bit-identical to datasketch
legacy) and fast. Then an end-to-end dedup of E2E documents (per-shard signatures, LSH, union-find,
as the workflow runs it, in this one process), fast and legacy, and the exact-Jaccard ground truth.
"""

import argparse
import random
import time

import numpy as np
import pandas as pd
from datasketch import MinHash

from dqreview.metrics import minhash as M

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--n", type=int, default=5000, help="documents for the signature comparison")
parser.add_argument("--e2e", type=int, default=100_000, help="documents for the end-to-end dedup (0: skip)")
parser.add_argument("--shard", help="a pool shard parquet to take real documents from")
args = parser.parse_args()

rng = random.Random(0)
vocab = [f"w{i}" for i in range(5000)]
if args.shard:
    docs = pd.read_parquet(args.shard, columns=["text"])["text"].tolist()[: args.n]
else:
    docs = [" ".join(rng.choices(vocab, k=100)) for _ in range(args.n)]
n = len(docs)
M.signatures_fast(docs[:10])  # compile (or load the numba cache) before timing
M.signatures_legacy(docs[:10])
t = time.perf_counter()
enc = [[s.encode("utf-8") for s in M.shingles(d)] for d in docs]
shingling = n / (time.perf_counter() - t)
print(f"{n} documents, {sum(map(len, enc)) / n:.1f} shingles/doc, {sum(map(len, docs)) / n:.0f} chars/doc")
print(f"(untimed for datasketch: python shingling with dqreview's normalise: {shingling:.0f} docs/s)")
rates = {}


def bench(name, fn):
    t = time.perf_counter()
    out = fn()
    rates[name] = n / (time.perf_counter() - t)
    print(f"{name:44s} {rates[name]:10.0f} docs/s")
    return out


def ds_per_doc(scheme):
    out = []
    for e in enc:
        m = MinHash(num_perm=128, seed=1, scheme=scheme)
        m.update_batch(e)
        out.append(m.hashvalues)
    return np.array(out)


DS_LEGACY, DS_LEGACY_BULK = "datasketch legacy per-doc", "datasketch legacy reused (bulk)"
DS_DEFAULT, DS_DEFAULT_BULK = (
    "datasketch default/affine32 per-doc",
    "datasketch default/affine32 reused (bulk)",
)
ref = bench(DS_LEGACY, lambda: ds_per_doc("legacy"))
bulk = bench(DS_LEGACY_BULK, lambda: MinHash.bulk(enc, num_perm=128, seed=1, scheme="legacy"))
bench(DS_DEFAULT, lambda: ds_per_doc(None))
bench(DS_DEFAULT_BULK, lambda: MinHash.bulk(enc, num_perm=128, seed=1))
ours = bench("ours legacy (from text)", lambda: M.signatures_legacy(docs, 128, 1))
assert (ours == ref).all() and (ours == np.array([m.hashvalues for m in bulk])).all(), "legacy differs"
bench("ours fast (from text)", lambda: M.signatures_fast(docs, 128, 1))
for ours_name, ref_name in (
    ("ours legacy (from text)", DS_LEGACY),
    ("ours legacy (from text)", DS_LEGACY_BULK),
    ("ours fast (from text)", DS_DEFAULT),
    ("ours fast (from text)", DS_DEFAULT_BULK),
    ("ours fast (from text)", DS_LEGACY_BULK),
):
    print(f"ratio {ours_name} / {ref_name}: {rates[ours_name] / rates[ref_name]:.2f}x")

if args.e2e:
    big = [" ".join(rng.choices(vocab, k=100)) for _ in range(args.e2e)]
    for i in range(0, args.e2e - 1, 20):  # plant 5% near-duplicates (2 substitutions per 100 words)
        w = big[i].split()
        w[3], w[60] = "zz1", "zz2"
        big[i + 1] = " ".join(w)
    frame = pd.DataFrame({"id": [f"d{i:06d}" for i in range(args.e2e)], "text": big})
    shards = np.array_split(np.arange(args.e2e), 4)
    settings = (
        ("fast, T=0.8", {"mode": "fast", "threshold": 0.8}),
        ("legacy, T=0.8", {"mode": "legacy", "threshold": 0.8}),
        ("fast, LSH at 0.6 + verify at 0.8 (config.yaml)", {"lsh_threshold": 0.6, "verify": True}),
    )
    for label, raw in settings:
        params = M.METHOD.params(raw)
        t0 = time.perf_counter()
        features = [M.METHOD.shard_features(frame.iloc[s], params) for s in shards]
        t1 = time.perf_counter()
        state = M.METHOD.fit({"shard_features": features}, params)
        t2 = time.perf_counter()
        print(
            f"end-to-end {args.e2e} docs ({label}; b={state['bands']}, r={state['rows']}; 4 shards, 1 process): "
            f"signatures {t1 - t0:.2f}s + fit (LSH, {'verify, ' if params.verify else ''}union-find, "
            f"representatives) {t2 - t1:.2f}s = {t2 - t0:.2f}s; {int(state['n_pairs'])} candidate pairs, "
            f"{int(state['removed'].sum())} removed (planted {len(range(0, args.e2e - 1, 20))})"
        )
    t0 = time.perf_counter()
    truth, _ = M.jaccard_pairs(big, 0.8)
    print(
        f"exact Jaccard >= 0.8 pairs (ground truth) of {args.e2e} docs: {len(truth)} in {time.perf_counter() - t0:.2f}s"
    )
