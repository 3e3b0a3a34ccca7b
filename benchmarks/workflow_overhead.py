"""Where the Snakemake process's own time goes: a workflow run under cProfile, with its CPU and its jobs'.

Runs ``snakemake`` in this process (so cProfile sees the scheduler's main thread: DAG updates, job
selection, submission, file checks), then prints the process's CPU (user + sys, all its threads, from
``getrusage(RUSAGE_SELF)``), its children's (the jobs, and the ILP scheduler's CBC solver when it is on),
the share, and the functions with the most cumulative and own time. The arguments after ``--`` are
snakemake's::

    PYTHONPATH=$PWD/src python benchmarks/workflow_overhead.py --out /tmp/run -- all --cores 2 \\
        --configfile configs/tiny.yaml --config paper=off
    PYTHONPATH=$PWD/src python benchmarks/workflow_overhead.py --out /tmp/run-ilp -- all --cores 2 \\
        --configfile configs/tiny.yaml --config paper=off --scheduler ilp

Writes ``<out>.prof`` (pstats) and ``<out>.json`` (the CPU numbers). The job threads and benchmark
pollers are not profiled (cProfile follows one thread), but their CPU is in ``snakemake_cpu_s``.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import resource
import sys
import time


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", required=True, help="path prefix of the .prof and .json written")
    parser.add_argument("--top", type=int, default=25, help="functions to print per ordering")
    parser.add_argument("snakemake_args", nargs=argparse.REMAINDER, help="after --: snakemake's arguments")
    args = parser.parse_args()
    smk_args = args.snakemake_args[1:] if args.snakemake_args[:1] == ["--"] else args.snakemake_args

    from snakemake.cli import main as snakemake_main

    sys.argv = ["snakemake", *smk_args]
    profile = cProfile.Profile()
    started = time.time()
    status = 0
    profile.enable()
    try:
        snakemake_main()
    except SystemExit as exc:  # snakemake always exits
        status = exc.code if isinstance(exc.code, int) else 1
    finally:
        profile.disable()
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    numbers = {
        "wall_s": time.time() - started,
        "snakemake_cpu_s": own.ru_utime + own.ru_stime,
        "snakemake_user_s": own.ru_utime,
        "snakemake_sys_s": own.ru_stime,
        "children_cpu_s": kids.ru_utime + kids.ru_stime,
        "exit_status": status,
    }
    numbers["snakemake_cpu_share"] = numbers["snakemake_cpu_s"] / (
        numbers["snakemake_cpu_s"] + numbers["children_cpu_s"]
    )
    profile.dump_stats(f"{args.out}.prof")
    with open(f"{args.out}.json", "w") as fh:
        json.dump(numbers, fh, indent=1)
    stats = pstats.Stats(f"{args.out}.prof", stream=sys.stdout)
    stats.sort_stats("cumulative").print_stats(args.top)
    stats.sort_stats("tottime").print_stats(args.top)
    print(json.dumps(numbers, indent=1))
    sys.exit(status)


if __name__ == "__main__":
    main()
