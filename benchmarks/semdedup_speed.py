"""SemDeDup speed and peak memory on synthetic clustered embeddings (no reference to compare against).

Blobs on the unit sphere plus planted near-duplicates; times the whole ``semdedup.METHOD.fit`` (spherical
k-means included) and, separately, the two stages; prints peak resident memory (ru_maxrss, which
includes the embedding matrix itself). Target on 2 cores: ≤ 15 s for 100k × 384.

.venv/bin/python benchmarks/semdedup_speed.py --n 100000 --d 384 --blobs 500 --k 500 --threads 2
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100_000, help="pool rows (near-duplicates included)")
    ap.add_argument("--d", type=int, default=384)
    ap.add_argument("--blobs", type=int, default=500)
    ap.add_argument("--k", type=int, default=500)
    ap.add_argument(
        "--dup-fraction", type=float, default=0.1, help="fraction of rows that are planted copies"
    )
    ap.add_argument("--n-iter", type=int, default=50, help="k-means Lloyd iterations (max)")
    ap.add_argument("--n-init", type=int, default=1)
    ap.add_argument("--max-cluster", type=int, default=20000)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    if "numpy" in sys.modules:
        print("warning: numpy imported before the thread limit was set", file=sys.stderr)

    import numpy as np

    from dqreview.metrics import semdedup

    rng = np.random.default_rng(0)
    n_dup = int(args.dup_fraction * args.n)
    n_base = args.n - n_dup
    centres = rng.normal(size=(args.blobs, args.d)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    blob = rng.integers(args.blobs, size=n_base)
    X = centres[blob] + (0.6 / np.sqrt(args.d)) * rng.normal(size=(n_base, args.d)).astype(np.float32)
    src = rng.integers(n_base, size=n_dup)
    copies = X[src] + (0.01 / np.sqrt(args.d)) * rng.normal(size=(n_dup, args.d)).astype(np.float32)
    X = np.vstack([X, copies]).astype(np.float32)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    ids = np.array([f"{i:016x}" for i in range(args.n)])
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    params = {
        "k": args.k,
        "remove_fraction": args.dup_fraction,
        "n_iter": args.n_iter,
        "n_init": args.n_init,
        "max_cluster": args.max_cluster,
    }
    stage: dict[str, float] = {}
    inner = semdedup.cluster_with_split

    def timed_clustering(*a, **kw):  # k-means (+ giant-cluster splits) as run inside fit
        t = time.perf_counter()
        out = inner(*a, **kw)
        stage["kmeans"] = time.perf_counter() - t
        return out

    semdedup.cluster_with_split = timed_clustering
    t0 = time.perf_counter()
    state = semdedup.METHOD.fit({"pool_embeddings": X, "pool_ids": ids}, semdedup.METHOD.params(params))
    t_total = time.perf_counter() - t0
    semdedup.cluster_with_split = inner
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t_kmeans = stage["kmeans"]
    sizes = np.bincount(state["cluster"])

    removed = state["removed"]
    copy_removed_or_source = removed[n_base:] | removed[src]
    print(
        f"pool {args.n} x {args.d} float32 ({X.nbytes / 2**20:.0f} MiB), {args.blobs} blobs, "
        f"{n_dup} planted near-copies; k={args.k}, n_iter≤{args.n_iter}, n_init={args.n_init}, "
        f"threads={args.threads}"
    )
    print(
        f"semdedup.fit total: {t_total:.2f} s  (spherical k-means + splits: {t_kmeans:.2f} s; "
        f"duplicate search ≈ {t_total - t_kmeans:.2f} s)"
    )
    print(
        f"clusters: {int(state['n_clusters'])}, largest {sizes.max()}, Σ|C|² = {float((sizes.astype(float) ** 2).sum()):.3g}"
    )
    print(
        f"eps for remove_fraction={args.dup_fraction}: {float(state['eps']):.3g}; removed {removed.mean():.4f}; "
        f"planted pairs with a member removed: {copy_removed_or_source.mean():.4f}"
    )
    print(f"peak RSS: {rss1:.0f} MiB (after data generation {rss0:.0f} MiB)")


if __name__ == "__main__":
    main()
