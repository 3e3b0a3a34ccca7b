"""Vendi score speed and peak memory: our streamed dual (GramAccumulator) vs the `vendi-score` package.

Each measurement runs in its own subprocess, so peak memory (ru_maxrss of that child, which includes the
Python/numpy baseline reported as "base") never mixes between runs. Data: n random unit rows (normalised Gaussians, like embeddings),
d = 384, generated shard by shard inside the child (seeded; float32 for the package, like embeddings
on disk). Ours streams shards of --shard rows through GramAccumulator(dtype=float32 | float64); the
package's `score_dual` needs the whole float32 matrix (and its normalised copy) in memory; its
full-kernel `score_K` is run at n <= --max-k only (n×n float64).

    .venv/bin/python benchmarks/vendi_vs_package.py --sizes 10000 100000 1000000
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

CHILD = r"""
import json, resource, sys, time, warnings
import numpy as np
warnings.simplefilter("ignore")
kind, n, d, shard, threads, repeat = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], int(sys.argv[6])
def rss():  # MiB, peak of this process so far
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
def chunk(i, m):  # unit rows, like the embeddings the workflow writes
    X = np.random.default_rng(i).standard_normal((m, d), dtype=np.float32)
    return X / np.linalg.norm(X, axis=1, keepdims=True)
from dqreview.measures.vendi import GramAccumulator
from vendi_score import vendi
base = rss()
times = []
for rep in range(repeat if kind != "pkg_K" else 1):
    t = time.perf_counter()
    if kind.startswith("ours"):
        acc = GramAccumulator(d, dtype=np.float32 if kind == "ours_f32" else np.float64)
        gen = 0.0
        for i, s in enumerate(range(0, n, shard)):
            g = time.perf_counter(); X = chunk(i, min(shard, n - s)); gen += time.perf_counter() - g
            acc.add(X)
            del X
        val = acc.vendi(1)
    else:
        X = np.concatenate([chunk(i, min(shard, n - s)) for i, s in enumerate(range(0, n, shard))])
        gen = time.perf_counter() - t
        if kind == "pkg_dual":
            val = vendi.score_dual(X, q=1)
        else:
            Xn = X / np.linalg.norm(X, axis=1, keepdims=True)
            g = time.perf_counter(); K = (Xn.astype(np.float64) @ Xn.T.astype(np.float64)); gen += time.perf_counter() - g
            val = vendi.score_K(K, q=1)
            del Xn, K
        del X
    times.append(time.perf_counter() - t - gen)
el = min(times)
print(json.dumps({"kind": kind, "n": n, "seconds": el, "peak_mib": rss(), "base_mib": base, "vendi": float(val)}))
"""


def run(kind: str, n: int, d: int, shard: int, threads: str, repeat: int = 3) -> dict:
    env = None
    if threads:
        import os

        env = {
            **os.environ,
            "OMP_NUM_THREADS": threads,
            "OPENBLAS_NUM_THREADS": threads,
            "MKL_NUM_THREADS": threads,
        }
    out = subprocess.run(
        [sys.executable, "-c", CHILD, kind, str(n), str(d), str(shard), threads, str(repeat)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--d", type=int, default=384)
    ap.add_argument("--shard", type=int, default=100_000, help="rows per streamed shard (ours)")
    ap.add_argument(
        "--max-k", type=int, default=10_000, help="largest n for the package's full-kernel score_K"
    )
    ap.add_argument(
        "--repeat", type=int, default=3, help="timed repeats per run (best reported; score_K once)"
    )
    ap.add_argument("--threads", default="", help="BLAS threads in each child (default: library default)")
    args = ap.parse_args()
    print(
        f"d={args.d}, shard={args.shard} rows; time = best of --repeat, excluding data generation (and, for score_K, forming K)"
    )
    print(f"{'n':>9} {'method':<28} {'time_s':>8} {'peak_MiB':>9} {'base_MiB':>9} {'VS_1':>14}")
    for n in args.sizes:
        kinds = ["ours_f32", "ours_f64", "pkg_dual"] + (["pkg_K"] if n <= args.max_k else [])
        res = {k: run(k, n, args.d, args.shard, args.threads, args.repeat) for k in kinds}
        names = {
            "ours_f32": "ours GramAccumulator f32",
            "ours_f64": "ours GramAccumulator f64",
            "pkg_dual": "vendi_score.score_dual f32",
            "pkg_K": "vendi_score.score_K (n×n)",
        }
        for k in kinds:
            r = res[k]
            print(
                f"{n:>9} {names[k]:<28} {r['seconds']:>8.3f} {r['peak_mib']:>9.0f} {r['base_mib']:>9.0f} {r['vendi']:>14.8f}"
            )
        p = res["pkg_dual"]
        for k in ("ours_f32", "ours_f64"):
            r = res[k]
            print(
                f"{n:>9}   ratio {k}/pkg_dual: time {r['seconds'] / p['seconds']:.2f}x, "
                f"peak above base {(r['peak_mib'] - r['base_mib']) / max(1e-9, p['peak_mib'] - p['base_mib']):.2f}x, "
                f"rel. diff VS {abs(r['vendi'] - p['vendi']) / p['vendi']:.1e}"
            )


if __name__ == "__main__":
    main()
