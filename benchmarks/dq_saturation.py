"""Where does dq's diversity term stop changing the greedy order? Before (coverage of 20 k-means prototypes of
the pool, the earlier configs/review.yaml) and after (coverage of every pool document, ``cover: documents``),
on a finished run's per-document Task2Vec vectors, for α = 1, 0.8, 0.5, 0.2 (seed 0).

    PYTHONPATH=src .venv/bin/python benchmarks/dq_saturation.py RUN_DIR     # RUN_DIR holds results/

Prints, per coverage set and α, the pick index from which on the order is the alignment order
(:func:`dqreview.metrics.dq.saturation_index`) and the documents of the 10% and 60% selections; then the
Jaccard overlap of the selections of two α at each budget. The prototypes take minutes on one core
(Task2Vec k-means on 2000 × 5632), the whole-pool similarity about 40 s.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from dqreview import paths
from dqreview.hashing import unit_uniform
from dqreview.metrics import dq
from dqreview.metrics.t2v_align import task2vec_kmeans
from dqreview.select import select_budget
from dqreview.task2vec import distance_matrix

ALPHAS = (1.0, 0.8, 0.5, 0.2)
BUDGETS = (0.1, 0.6)
PAIRS = ((0.5, 0.8), (0.2, 0.5), (0.8, 1.0), (0.5, 1.0), (0.2, 1.0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path, help="the directory that holds results/")
    args = parser.parse_args()
    root = args.run_dir
    index = pd.read_parquet(root / paths.POOL_INDEX)
    shards = sorted(index["shard"].unique())
    X = np.concatenate([np.load(root / paths.fill(paths.T2V, part=f"pool/shard-{s}")) for s in shards])
    X = X.astype(np.float64)
    T = np.load(root / paths.fill(paths.T2V, part="target/ref")).astype(np.float64)
    ids = index["id"].astype(str).to_numpy()
    print(f"pool {X.shape}, target ref {T.shape}", flush=True)
    alignment = 1.0 - distance_matrix(X, T.mean(axis=0), "cosine")[:, 0]
    t = time.perf_counter()
    sample = X[np.sort(np.argsort(unit_uniform(ids, 0), kind="stable")[:2000])]
    centres = task2vec_kmeans(sample, 20, 0, "cosine", 30, 2)  # what greedy_state does for cover: pool, k: 20
    coverage = {"before: 20 pool prototypes": 1.0 - distance_matrix(X, centres, "cosine")}
    print(f"prototypes: {time.perf_counter() - t:.0f} s", flush=True)
    t = time.perf_counter()
    coverage["after: every pool document"] = dq.document_similarity(X, ids, len(ids), 0)
    print(f"whole-pool similarity: {time.perf_counter() - t:.0f} s", flush=True)
    pool = index[["id", "n_bytes"]]
    for name, similarity in coverage.items():
        chosen = {}
        for alpha in ALPHAS:
            t = time.perf_counter()
            order, _ = dq.greedy_order(alignment, similarity, alpha, tie_key=ids)
            rank = np.empty(len(ids), dtype=np.int64)
            rank[order] = np.arange(len(ids))
            scores = pd.DataFrame({"id": index["id"], "score": -rank.astype(np.float64)})
            sizes = []
            for budget in BUDGETS:
                selection, _ = select_budget(pool, scores, budget, keep="high", seed=0)
                chosen[alpha, budget] = set(selection["id"])
                sizes.append(f"{budget:.0%}: {len(selection)} documents")
            print(f"{name}, alpha {alpha}: the order is by alignment alone from pick "
                  f"{dq.saturation_index(order, alignment, tie_key=ids)} of {len(ids)} on ({', '.join(sizes)}); "
                  f"greedy {time.perf_counter() - t:.1f} s", flush=True)  # fmt: skip
        for budget in BUDGETS:
            overlaps = [
                f"J(a{x:g}, a{y:g}) = {len(chosen[x, budget] & chosen[y, budget]) / len(chosen[x, budget] | chosen[y, budget]):.3f}"
                for x, y in PAIRS
            ]
            print(f"  {name}, budget {budget:.0%}: {', '.join(overlaps)}")


if __name__ == "__main__":
    main()
