"""The workflow's own overhead: per-job start-up and the Snakemake process's CPU.

Two costs are not part of any method but are paid by every run:

* **job start-up** — the seconds from a job's interpreter start to the start of its script's ``main``
  (Python start, Snakemake's script preamble, which unpickles the job and imports Snakemake, and
  the script's imports). :func:`dqreview.runner.run` measures it (``process_startup_seconds``) and
  writes it to the job's log as ``job start-up: <seconds> s``, so every job of any run has it.
* **the Snakemake process** — the main process's own CPU (DAG updates, scheduling, job submission,
  benchmark polling, file checks), read with ``getrusage(RUSAGE_SELF)`` at the end of a run by the
  Snakefile's ``onsuccess``/``onerror`` handler (:func:`record_run`), against the CPU of its
  children (the jobs, ``RUSAGE_CHILDREN``).

:func:`overhead_table` sums both per rule into ``results/tables/overhead.csv``.
"""

from __future__ import annotations

import logging
import math
import os
import re
import resource
import threading
import time
from pathlib import Path
from typing import Any

import pandas as pd

from dqreview.errors import DQError
from dqreview.io import read_json, write_csv, write_json
from dqreview.runner import STARTUP_MESSAGE, process_startup_seconds  # noqa: F401 (re-exported)

log = logging.getLogger("dqreview.overhead")

_PATTERNS = {
    "startup_s": re.compile(r"job start-up: ([0-9.]+) s"),  # dqreview.runner.STARTUP_MESSAGE
    "setup_s": re.compile(r"job set-up: ([0-9.]+) s"),  # dqreview.cost.SETUP_MESSAGE
}

#: the overhead table's columns; one row per rule, then ``all jobs`` and ``snakemake``
COLUMNS = (
    "rule",
    "jobs",
    "job_s",
    "job_cpu_s",
    "startup_s",
    "startup_share",
    "setup_s",
    "setup_share",
    "cpu_s",
    "cpu_share",
)


def read_log_times(log_path: str | os.PathLike) -> dict[str, float]:
    """A job's ``startup_s`` and ``setup_s`` from its log (the last line of each); NaN when absent.

    ``startup_s``: process start to the script's ``main`` (Python, Snakemake's preamble). ``setup_s``:
    process start to the job's measured work (:class:`dqreview.cost.measure`; start-up plus the
    imports and input reading), only in jobs that write a cost record.
    """
    try:
        text = Path(log_path).read_text(errors="replace")
    except FileNotFoundError:
        text = ""
    times = {}
    for key, pattern in _PATTERNS.items():
        found = pattern.findall(text)
        times[key] = float(found[-1]) if found else math.nan
    return times


def read_jobs(benchmark_root: str | os.PathLike, log_root: str | os.PathLike) -> pd.DataFrame:
    """One row per job with a benchmark file: ``job``, ``rule``, ``job_s``, ``job_cpu_s``, ``startup_s``, ``setup_s``.

    A job's key is its benchmark path under ``benchmark_root`` without ``.tsv`` (``paths.Job``), its
    rule the key's first part (``select``, ``score``, ``report``, ...), its seconds the benchmark's
    ``s`` and ``cpu_time`` (Snakemake's psutil poll of the job's processes), and its start-up and set-up
    the log ``<log_root>/<job>.log`` (:func:`read_log_times`; NaN where the log has none).
    """
    rows = []
    root = Path(benchmark_root)
    for path in sorted(root.rglob("*.tsv")):
        job = path.relative_to(root).with_suffix("").as_posix()
        bench = pd.read_csv(path, sep="\t")
        if bench.empty or "s" not in bench.columns:
            raise DQError(
                f"{path}: not a Snakemake benchmark file (no `s` column); delete it and rerun the job"
            )
        cpu = pd.to_numeric(bench.get("cpu_time", pd.Series([math.nan])), errors="coerce")
        rows.append(
            {
                "job": job,
                "rule": job.split("/", 1)[0],
                "job_s": float(bench["s"].iloc[-1]),
                "job_cpu_s": float(cpu.iloc[-1]),
                **read_log_times(Path(log_root) / f"{job}.log"),
            }
        )
    return pd.DataFrame(rows, columns=["job", "rule", "job_s", "job_cpu_s", *_PATTERNS])


def overhead_table(jobs: pd.DataFrame, run: dict[str, Any] | None) -> pd.DataFrame:
    """Start-up share per rule and over all jobs, and the Snakemake process's share of the run's CPU.

    Parameters
    ----------
    jobs : DataFrame
        :func:`read_jobs` rows.
    run : dict or None
        The last run's :func:`usage` record (``snakemake_cpu_s``, ``children_cpu_s``); None leaves the
        ``snakemake`` row's numbers NaN.

    Returns
    -------
    DataFrame
        :data:`COLUMNS`. Per rule and ``all jobs``: ``jobs``, summed ``job_s`` (wall) and ``job_cpu_s``,
        ``startup_s`` (over the jobs that logged it) and ``startup_share`` = start-up / job seconds of
        those jobs; ``setup_s`` and ``setup_share`` likewise (jobs with a cost record). Row ``snakemake``: ``cpu_s`` (main process) and ``cpu_share`` = that / (that +
        children's CPU), the CPU of the run the record describes.
    """
    rows = []
    groups = [(rule, part) for rule, part in jobs.groupby("rule", sort=True)] + [("all jobs", jobs)]
    for rule, part in groups:
        row = {
            "rule": rule,
            "jobs": len(part),
            "job_s": float(part["job_s"].sum()),
            "job_cpu_s": float(part["job_cpu_s"].sum()),
            "cpu_s": math.nan,
            "cpu_share": math.nan,
        }
        for key in _PATTERNS:
            timed = part[part[key].notna()]
            job_s = float(timed["job_s"].sum())
            row[key] = float(timed[key].sum()) if len(timed) else math.nan
            row[key.replace("_s", "_share")] = row[key] / job_s if job_s > 0 else math.nan
        rows.append(row)
    main_cpu = children = math.nan
    if run is not None:
        main_cpu, children = float(run["snakemake_cpu_s"]), float(run["children_cpu_s"])
    total = main_cpu + children
    rows.append(
        {
            "rule": "snakemake",
            "jobs": math.nan,
            "job_s": math.nan,
            "job_cpu_s": math.nan,
            "startup_s": math.nan,
            "startup_share": math.nan,
            "setup_s": math.nan,
            "setup_share": math.nan,
            "cpu_s": main_cpu,
            "cpu_share": main_cpu / total if total > 0 else math.nan,
        }
    )
    return pd.DataFrame(rows, columns=list(COLUMNS))


def usage(started: float | None = None) -> dict[str, Any]:
    """This process's CPU and its finished children's, as the overhead record stores them.

    ``children_cpu_s`` counts every waited-for child: the jobs' scripts and anything Snakemake
    itself starts (e.g. the ILP scheduler's CBC solver, conda) — on a local run, the jobs.
    """
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    record = {
        "snakemake_cpu_s": own.ru_utime + own.ru_stime,
        "snakemake_user_s": own.ru_utime,
        "snakemake_sys_s": own.ru_stime,
        "children_cpu_s": kids.ru_utime + kids.ru_stime,
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    if started is not None:
        record["wall_s"] = time.time() - started
    total = record["snakemake_cpu_s"] + record["children_cpu_s"]
    record["snakemake_cpu_share"] = record["snakemake_cpu_s"] / total if total > 0 else math.nan
    return record


def jobs_since(benchmark_root: str | os.PathLike, started: float) -> int:
    """Number of benchmark files written at or after ``started`` (epoch seconds): the jobs this run ran."""
    root = Path(benchmark_root)
    return sum(1 for path in root.rglob("*.tsv") if path.stat().st_mtime >= started) if root.exists() else 0


def record_run(
    record: dict[str, Any],
    started: float,
    record_path: str | os.PathLike,
    table_path: str | os.PathLike,
    benchmark_root: str | os.PathLike,
    log_root: str | os.PathLike,
) -> pd.DataFrame:
    """Write the run's overhead record and the overhead table; called at the end of every run.

    A run that ran no job (everything up to date, or a failure before the first job) keeps the
    previous record: its CPU is Snakemake's start-up alone and would replace a real run's
    measurement with a meaningless 100 %. The table is rebuilt either way, from the jobs' current
    benchmarks and logs and the record on disk.

    Parameters
    ----------
    record : dict
        :func:`usage` of the Snakemake process.
    started : float
        When the Snakemake process started (epoch seconds); jobs whose benchmark is newer ran in it.
    """
    jobs_run = jobs_since(benchmark_root, started)
    if jobs_run > 0:
        write_json({**record, "jobs_run": int(jobs_run)}, record_path)
        log.info(
            "workflow overhead: Snakemake process %.1f CPU s of %.1f (%.1f%%) over %d jobs -> %s",
            record["snakemake_cpu_s"],
            record["snakemake_cpu_s"] + record["children_cpu_s"],
            100 * record["snakemake_cpu_share"],
            jobs_run,
            record_path,
        )
    kept = read_json(record_path) if Path(record_path).exists() else None
    table = overhead_table(read_jobs(benchmark_root, log_root), kept)
    write_csv(table, table_path)
    return table


def summary(table: pd.DataFrame) -> str:
    """One line for the run's log: start-up share of job seconds and Snakemake's CPU share."""
    rows = table.set_index("rule")
    every, main = rows.loc["all jobs"], rows.loc["snakemake"]
    return (
        f"{int(every['jobs'])} jobs, {every['job_s']:.1f} job-seconds; start-up "
        f"{100 * every['startup_share']:.1f}% of their job-seconds; Snakemake process {main['cpu_s']:.1f} CPU s "
        f"({100 * main['cpu_share']:.1f}% of the run's CPU)"
    )


#: The Snakemake scheduler method whose timers :func:`cancel_rate_limit_timers` cancels (``JobScheduler.
#: _schedule_reevalutation``, Snakemake's spelling; tests/unit/test_overhead.py checks it still starts them).
RATE_LIMIT_TIMER_OWNER = "_schedule_reevalutation"


def cancel_rate_limit_timers() -> int:
    """Cancel the scheduler's pending re-evaluation timers once the run is over; returns how many.

    With a job rate limit (the profiles' ``max-jobs-per-timespan: 6000/1m``), every scheduling round starts
    a ``threading.Timer`` that releases the scheduler one timespan later. The timers are not daemon
    threads, so the interpreter waits for the last one before it exits: a minute of idle after every run
    (measured: 60 s between "Elapsed time" and the exit of a 3-second run). At ``onsuccess``/``onerror``
    the scheduler has stopped and nothing waits on them; other timers are left alone.
    """
    timers = [
        t
        for t in threading.enumerate()
        if isinstance(t, threading.Timer)
        and RATE_LIMIT_TIMER_OWNER in getattr(getattr(t, "function", None), "__qualname__", "")
    ]
    for timer in timers:
        timer.cancel()
    return len(timers)


def at_end() -> str:
    """The Snakefile's ``onsuccess``/``onerror``: record this run's overhead and say it in one line.

    Never fails the run: an unreadable benchmark or log is reported in the line instead.
    """
    from dqreview import paths

    cancel_rate_limit_timers()
    startup = process_startup_seconds()
    started = time.time() - startup if startup is not None else time.time()
    try:
        table = record_run(
            usage(started),
            started,
            paths.WORKFLOW_OVERHEAD,
            paths.OVERHEAD_TABLE,
            paths.BENCHMARK_ROOT,
            paths.LOG_ROOT,
        )
    except (DQError, OSError, ValueError) as exc:
        return f"workflow overhead: not recorded ({exc})"
    return f"workflow overhead ({paths.OVERHEAD_TABLE}): {summary(table)}"
