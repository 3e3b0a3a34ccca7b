"""dq's greedy step at scale: time of the coverage similarities and of the greedy order against the pool size.

    PYTHONPATH=src .venv/bin/python benchmarks/dq_scaling.py --sizes 5000 10000 20000 --k 1000 --dim 1536

Random non-negative Task2Vec-sized vectors (``--dim`` 1536 = the default ``final-no-head`` layout), alignment
of each to their mean, ``cover: sample`` with ``--k`` coverage documents (``cover: documents`` needs n² floats),
α = 0.5. Prints, per size, the similarity time (one BLAS product, O(n·k·D)) and the greedy time (the whole
pool's order, as dq's fit computes it), then the log–log slope of each against n and their extrapolation to
1M documents. Measured figures and the machine's load: docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from dqreview.metrics import dq
from dqreview.scaling import loglog_slope
from dqreview.task2vec import distance_matrix


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[5000, 10000, 20000])
    ap.add_argument("--k", type=int, default=1000, help="coverage documents (cover: sample)")
    ap.add_argument("--dim", type=int, default=1536)
    ap.add_argument("--alpha", type=float, default=0.5)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    rows = []
    for n in args.sizes:
        X = rng.gamma(0.5, size=(n, args.dim)).astype(np.float32)
        ids = np.array([f"d{i:08d}" for i in range(n)])
        alignment = 1.0 - distance_matrix(X, X.mean(axis=0), "cosine")[:, 0]
        t0 = time.perf_counter()
        S = dq.document_similarity(X, ids, min(args.k, n), 0)
        t_sim = time.perf_counter() - t0
        t0 = time.perf_counter()
        dq.greedy_order(alignment, S, args.alpha, tie_key=ids)
        t_greedy = time.perf_counter() - t0
        rows.append((n, t_sim, t_greedy))
        print(f"n={n}: similarity {t_sim:.2f} s, greedy order {t_greedy:.2f} s", flush=True)
    if len(rows) > 1:
        n, ts, tg = (np.array(c, dtype=float) for c in zip(*rows, strict=True))
        for name, t in (("similarity", ts), ("greedy", tg)):
            slope = loglog_slope(n, t)
            at_1m = t[-1] * (1e6 / n[-1]) ** slope
            print(f"{name}: log-log slope {slope:.2f}; extrapolated to 1M documents {at_1m / 60:.0f} min")


if __name__ == "__main__":
    main()
