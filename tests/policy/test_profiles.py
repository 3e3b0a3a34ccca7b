"""The profiles as Snakemake reads them: the workflow profile's scheduler settings, alone and under profiles/slurm."""

from __future__ import annotations

import pytest
from snakemake.cli import parse_args

from conftest import REPO


@pytest.fixture
def in_repo(monkeypatch):
    monkeypatch.chdir(REPO)  # Snakemake finds the workflow profile profiles/default from the Snakefile


def test_the_workflow_profile_selects_jobs_greedily_and_wakes_the_scheduler_once_a_minute(in_repo):
    _, args = parse_args(["-n", "all"])
    assert args.scheduler == "greedy"
    limit = args.max_jobs_per_timespan  # the rate limiter's re-evaluation period, and the same 100 jobs/s
    assert (limit.timespan, limit.max_jobs / limit.timespan) == (60, 100)
    assert args.rerun_incomplete and args.cores is None  # and still sets no cores


def test_the_slurm_profile_keeps_its_executor_and_gets_the_greedy_scheduler(in_repo):
    _, args = parse_args(["--profile", "profiles/slurm", "-n", "all"])
    assert args.scheduler == "greedy" and args.max_jobs_per_timespan.timespan == 60
    assert args.executor == "slurm" and args.jobs == 50


def test_the_command_line_still_chooses_the_ilp(in_repo):
    _, args = parse_args(["--scheduler", "ilp", "-n", "all"])
    assert args.scheduler == "ilp"
