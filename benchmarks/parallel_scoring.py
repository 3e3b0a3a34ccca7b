"""Parallel speed-up of a per-shard method's scoring on 1 and 2 Snakemake cores.

A per-shard method (``selection_parallelism`` = ``per-shard`` in results/tables/compute.csv) scores each
pool shard in its own job, so its scoring should run about twice as fast on 2 workers. This runs the
scoring jobs of one method variant (every shard's, forced) with ``--cores 1`` and ``--cores 2``,
alternating, and prints the wall-clock ratio. Each run's Snakemake start-up (the DAG, measured by a dry
run of the same targets) is subtracted, so the ratio is that of the jobs themselves, their Python start-up
included. It needs a finished run's results/ (the default's or the tiny config's) in the repository root;
the rewritten score files are identical (scoring is deterministic) and get their old modification times
back, and the jobs' cost records, benchmark files and logs are restored (the compute accounting keeps the
run's own timings), so nothing downstream reruns.

PYTHONPATH=$PWD/src .venv/bin/python benchmarks/parallel_scoring.py --metric proto_align --variant tgt-kmeans --seed 0
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path


def snakemake(targets: list[str], cores: int, args: argparse.Namespace, dry: bool = False) -> float:
    """Wall seconds of one Snakemake run that forces ``targets``."""
    cmd = [sys.executable, "-m", "snakemake", *targets, "--cores", str(cores), "--force", "--quiet", "all",
           "--rerun-triggers", "mtime", "--config", "paper=off", *(["--configfile", args.configfile] if args.configfile else []),
           *(["-n"] if dry else [])]  # fmt: skip
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--metric", default="proto_align")
    ap.add_argument("--variant", default="tgt-kmeans")
    ap.add_argument("--seed", type=int, default=0, help="for a variant scored per seed; -1: scored once")
    ap.add_argument("--shards", type=int, default=4, help="prepare.shards of the run")
    ap.add_argument("--repeats", type=int, default=2, help="runs per core count (the fastest is kept)")
    ap.add_argument("--configfile", default=None, help="the run's config, if not config.yaml")
    args = ap.parse_args()

    from dqreview import paths

    template = paths.SCORES_SEEDED if args.seed >= 0 else paths.SCORES
    merged = paths.fill(template, metric=args.metric, variant=args.variant, seed=args.seed)
    targets = [merged.removesuffix(".parquet") + f"/shard-{s}.parquet" for s in range(args.shards)]
    missing = [t for t in targets if not Path(t).exists()]
    if missing:
        sys.exit(f"{missing[0]} is missing: run the workflow first (these are the shard files of {merged})")
    job = paths.Job.SCORE_SEEDED if args.seed >= 0 else paths.Job.SCORE
    jobs = [
        paths.fill(job, metric=args.metric, variant=args.variant, seed=args.seed, shard=s)
        for s in range(args.shards)
    ]
    records = [f for j in jobs for f in (paths.cost(j), paths.benchmark(j), paths.log(j)) if Path(f).exists()]
    mtimes = {t: os.stat(t).st_mtime_ns for t in targets}
    saved = {f: (Path(f).read_bytes(), os.stat(f).st_mtime_ns) for f in records}  # the run's own timings
    try:
        dag = min(snakemake(targets, 1, args, dry=True) for _ in range(args.repeats))
        wall: dict[int, list[float]] = {1: [], 2: []}
        for _ in range(args.repeats):
            for cores in (1, 2):
                wall[cores].append(snakemake(targets, cores, args))
    finally:
        for t, ns in mtimes.items():
            os.utime(t, ns=(ns, ns))
        for f, (data, ns) in saved.items():
            Path(f).write_bytes(data)
            os.utime(f, ns=(ns, ns))
    one, two = min(wall[1]) - dag, min(wall[2]) - dag
    print(f"{args.metric}/{args.variant}: {len(targets)} scoring jobs, Snakemake start-up {dag:.1f} s")
    print(f"jobs on 1 core: {one:.1f} s (runs {', '.join(f'{w:.1f}' for w in wall[1])} s with start-up)")
    print(f"jobs on 2 cores: {two:.1f} s (runs {', '.join(f'{w:.1f}' for w in wall[2])} s with start-up)")
    print(f"speed-up on 2 workers: {one / two:.2f}x (load average now {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
