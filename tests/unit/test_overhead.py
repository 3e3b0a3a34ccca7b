"""dqreview.overhead: job start-up from the logs, the per-rule table, and the run record."""

from __future__ import annotations

import json
import math
import os
import time

import pandas as pd
import pytest

from dqreview.cost import SETUP_MESSAGE
from dqreview.overhead import (
    COLUMNS,
    overhead_table,
    read_jobs,
    read_log_times,
    record_run,
    summary,
    usage,
)
from dqreview.runner import STARTUP_MESSAGE

BENCH_HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"


def _job(root, job, seconds, cpu, startup=None, setup=None, mtime=None):
    """A job's benchmark file and log, as Snakemake and dqreview.runner.run write them."""
    bench = root / "benchmarks" / f"{job}.tsv"
    bench.parent.mkdir(parents=True, exist_ok=True)
    bench.write_text(BENCH_HEADER + f"{seconds}\t0:00:01\t1\t1\t1\t1\t0\t0\t0\t{cpu}\n")
    if mtime is not None:
        os.utime(bench, (mtime, mtime))
    log = root / "logs" / f"{job}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    lines = ["2026-01-01 00:00:00,000 dqreview INFO job environment: CUDA_VISIBLE_DEVICES=unset"]
    if startup is not None:
        lines.append("2026-01-01 00:00:00,000 dqreview INFO " + STARTUP_MESSAGE % startup)
    if setup is not None:
        lines.append("2026-01-01 00:00:01,000 dqreview.cost INFO " + SETUP_MESSAGE % setup)
    log.write_text("\n".join(lines) + "\n")


@pytest.fixture
def run_dir(tmp_path):
    _job(tmp_path, "select/dsir/b10k/high/b0.10/s0", 1.5, 0.9, startup=0.5, setup=1.0)
    _job(tmp_path, "select/dsir/b10k/high/b0.60/s0", 2.5, 1.1, startup=0.7, setup=2.0)
    _job(tmp_path, "train/dsir/b10k/high/b0.10", 100.0, 98.0, startup=2.0)
    _job(tmp_path, "report/costs", 4.0, 3.0)  # a log from before start-up was logged
    return tmp_path


def test_startup_is_read_from_the_last_line_the_runner_wrote(tmp_path):
    log = tmp_path / "a.log"
    log.write_text(f"x {STARTUP_MESSAGE % 0.25}\ny {STARTUP_MESSAGE % 0.5}\n")
    assert read_log_times(log)["startup_s"] == 0.5
    log.write_text(f"no start-up here\n{SETUP_MESSAGE % 1.25}\n")
    assert math.isnan(read_log_times(log)["startup_s"]) and read_log_times(log)["setup_s"] == 1.25
    assert all(math.isnan(v) for v in read_log_times(tmp_path / "missing.log").values())


def test_jobs_are_read_with_rule_seconds_and_startup(run_dir):
    jobs = read_jobs(run_dir / "benchmarks", run_dir / "logs").set_index("job")
    assert list(jobs["rule"]) == ["report", "select", "select", "train"]
    assert jobs.loc["select/dsir/b10k/high/b0.60/s0", ["job_s", "job_cpu_s", "startup_s"]].tolist() == [
        2.5,
        1.1,
        0.7,
    ]
    assert math.isnan(jobs.loc["report/costs", "startup_s"])


def test_table_sums_per_rule_and_over_all_jobs(run_dir):
    jobs = read_jobs(run_dir / "benchmarks", run_dir / "logs")
    table = overhead_table(jobs, {"snakemake_cpu_s": 5.0, "children_cpu_s": 95.0}).set_index("rule")
    assert list(table.reset_index().columns) == list(COLUMNS)
    assert list(table.index) == ["report", "select", "train", "all jobs", "snakemake"]
    select = table.loc["select"]
    assert (select["jobs"], select["job_s"], select["job_cpu_s"]) == (2, 4.0, 2.0)
    assert select["startup_s"] == pytest.approx(1.2)
    assert select["startup_share"] == pytest.approx(1.2 / 4.0)
    assert (select["setup_s"], select["setup_share"]) == (3.0, 0.75)
    assert math.isnan(table.loc["train", "setup_s"])
    # the share is over the jobs that logged their start-up: report/costs' 4 s are not in the denominator
    every = table.loc["all jobs"]
    assert (every["jobs"], every["job_s"]) == (4, 108.0)
    assert every["startup_s"] == pytest.approx(3.2)
    assert every["startup_share"] == pytest.approx(3.2 / 104.0)
    assert math.isnan(table.loc["report", "startup_s"]) and math.isnan(table.loc["report", "startup_share"])
    assert table.loc["snakemake", "cpu_s"] == 5.0
    assert table.loc["snakemake", "cpu_share"] == pytest.approx(0.05)
    assert summary(table.reset_index()) == (
        "4 jobs, 108.0 job-seconds; start-up 3.1% of their job-seconds; "
        "Snakemake process 5.0 CPU s (5.0% of the run's CPU)"
    )


def test_table_without_a_run_record_or_jobs(tmp_path):
    table = overhead_table(read_jobs(tmp_path / "none", tmp_path / "none"), None).set_index("rule")
    assert list(table.index) == ["all jobs", "snakemake"]
    assert table.loc["all jobs", "jobs"] == 0
    assert math.isnan(table.loc["snakemake", "cpu_share"])


def test_a_damaged_benchmark_names_the_file(tmp_path):
    bad = tmp_path / "benchmarks" / "select" / "x.tsv"
    bad.parent.mkdir(parents=True)
    bad.write_text("not\ta benchmark\n")
    with pytest.raises(Exception, match=r"x\.tsv: not a Snakemake benchmark file"):
        read_jobs(tmp_path / "benchmarks", tmp_path / "logs")


def test_a_run_that_ran_jobs_records_them_and_one_that_did_nothing_keeps_the_record(run_dir):
    record_path, table_path = run_dir / "logs" / "workflow_overhead.json", run_dir / "tables" / "overhead.csv"
    args = (record_path, table_path, run_dir / "benchmarks", run_dir / "logs")
    started = time.time() - 1  # the fixture's four benchmarks were written by "this run"
    real = {"snakemake_cpu_s": 6.0, "children_cpu_s": 114.0, "snakemake_cpu_share": 0.05}
    record_run(real, started, *args)
    assert json.loads(record_path.read_text()) == {**real, "jobs_run": 4}
    assert pd.read_csv(table_path).set_index("rule").loc["snakemake", "cpu_share"] == pytest.approx(0.05)
    # nothing to do: no benchmark is newer than the process; Snakemake's start-up alone is not a measurement
    idle = {"snakemake_cpu_s": 2.0, "children_cpu_s": 0.0, "snakemake_cpu_share": 1.0}
    table = record_run(idle, time.time() + 10, *args).set_index("rule")
    assert json.loads(record_path.read_text()) == {**real, "jobs_run": 4}
    assert table.loc["snakemake", "cpu_s"] == 6.0


def test_usage_is_this_process_and_its_children():
    record = usage(time.time() - 2)
    assert record["snakemake_cpu_s"] == pytest.approx(record["snakemake_user_s"] + record["snakemake_sys_s"])
    assert record["snakemake_cpu_s"] > 0 and record["children_cpu_s"] >= 0
    assert 0 < record["snakemake_cpu_share"] <= 1
    assert record["wall_s"] >= 2


def test_the_schedulers_rate_limit_timers_are_cancelled_and_no_other():
    """The scheduler's re-evaluation timers end at once (so the process exits without their minute); a timer
    of anyone else keeps running."""
    import threading

    from dqreview.overhead import cancel_rate_limit_timers

    fired = []

    def _schedule_reevalutation(delay):  # the scheduler's method's name: its timer's lambda is defined here
        timer = threading.Timer(delay, lambda: fired.append("scheduler"))
        timer.start()
        return timer

    scheduler_timer = _schedule_reevalutation(60)
    other = threading.Timer(0.3, lambda: fired.append("other"))
    other.start()
    t0 = time.monotonic()
    assert cancel_rate_limit_timers() == 1
    scheduler_timer.join(timeout=5)
    assert not scheduler_timer.is_alive() and time.monotonic() - t0 < 5
    other.join(timeout=5)
    assert fired == ["other"]


def test_snakemakes_scheduler_still_starts_its_timers_where_we_cancel_them():
    """Guards the name the cancellation looks for: Snakemake's scheduler starts a threading.Timer whose
    function is defined in JobScheduler._schedule_reevalutation (if Snakemake renames it, runs would wait a
    minute at exit again and this fails first)."""
    import inspect

    from snakemake.scheduling.job_scheduler import JobScheduler

    from dqreview.overhead import RATE_LIMIT_TIMER_OWNER

    source = inspect.getsource(getattr(JobScheduler, RATE_LIMIT_TIMER_OWNER))
    assert "threading.Timer(" in source and "lambda" in source
