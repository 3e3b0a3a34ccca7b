"""The profiles as Snakemake reads them: the workflow profile's scheduler, alone and under profiles/slurm."""

from __future__ import annotations

import pytest
from snakemake.cli import parse_args

from conftest import REPO


@pytest.fixture
def in_repo(monkeypatch):
    monkeypatch.chdir(REPO)  # Snakemake finds the workflow profile profiles/default from the Snakefile


def test_the_workflow_profile_selects_jobs_greedily(in_repo):
    _, args = parse_args(["-n", "all"])
    assert args.scheduler == "greedy"
    assert args.rerun_incomplete and args.cores is None  # and still sets no cores


def test_the_slurm_profile_keeps_its_executor_and_gets_the_greedy_scheduler(in_repo):
    _, args = parse_args(["--profile", "profiles/slurm", "-n", "all"])
    assert args.scheduler == "greedy"
    assert args.executor == "slurm" and args.jobs == 50


def test_the_command_line_still_chooses_the_ilp(in_repo):
    _, args = parse_args(["--scheduler", "ilp", "-n", "all"])
    assert args.scheduler == "ilp"
