"""Faults on a small sub-DAG of configs/tiny.yaml: kill -9 mid-scoring and mid-training, then resume.

One clean run (:func:`clean_run`, session scope) builds one selection end to end (download → prepare →
embed → fit → score → select → train → evaluate, both seeds). A second run from scratch
(:func:`killed_run`) has its whole snakemake process group killed with SIGKILL twice, mid-scoring and,
once resumed, mid-training (after training saved a state in results/.ckpt); each time ``snakemake
--unlock`` (kill -9 leaves the lock) and a rerun with ``--rerun-incomplete`` follow. Its selections (ids,
in order), evaluation JSON (every number) and every intermediate file must equal the clean run's. (Two
kills in one run keep the suite to two runs from scratch; embedding dominates their cost.)
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import REPO, offline_env, snakemake_cmd

pytestmark = pytest.mark.workflow

SELECTION = "ssl_proto/pool/high/b0.30"
TARGET = f"results/eval/{SELECTION}/s0.json"
SEEDS = (0, 1)
SCORE_LOG = "results/logs/score/ssl_proto/pool/s0/shard-0.log"  # its k-means seed follows the run seed
TRAIN_LOG = f"results/logs/train/{SELECTION}.log"
STATE = f"results/.ckpt/train/{SELECTION}/s0/state.pt"


def _cmd(workdir: Path, archive_cache: Path, *args: str) -> list[str]:
    # --config takes every following word: it comes last
    return snakemake_cmd(workdir, "--cores", "2", *args, TARGET, "--config", f"cache={archive_cache}",
                         configfiles=[REPO / "configs/tiny.yaml"])  # fmt: skip


def _run(workdir: Path, archive_cache: Path, *args: str) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        _cmd(workdir, archive_cache, *args), capture_output=True, text=True, timeout=900, env=offline_env()
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return proc


def _kill_when(workdir: Path, archive_cache: Path, path: str, *args: str, timeout: float = 600) -> None:
    """Start snakemake in its own session; SIGKILL its whole process group as soon as ``path`` exists."""
    log = (workdir / "killed-run.log").open("w")
    proc = subprocess.Popen(
        _cmd(workdir, archive_cache, *args), stdout=log, stderr=subprocess.STDOUT, env=offline_env(),
        start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + timeout
    try:
        while not (workdir / path).exists():
            if proc.poll() is not None:
                pytest.fail(f"the run ended (rc {proc.returncode}) before {path} appeared; see {log.name}")
            if time.monotonic() > deadline:
                pytest.fail(f"{path} did not appear within {timeout} s")
            time.sleep(0.02)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:  # a failed wait above: never leave the group running
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()
    assert proc.returncode == -signal.SIGKILL
    # kill -9 leaves snakemake's directory lock behind: the documented recovery is --unlock, then rerun
    subprocess.run(
        _cmd(workdir, archive_cache, "--unlock"),
        capture_output=True,
        timeout=300,
        env=offline_env(),
        check=True,
    )


def _outputs(workdir: Path) -> dict:
    """The selections (ids in selection order) and the evaluation JSON of every seed."""
    out = {}
    for seed in SEEDS:
        sel = pd.read_parquet(workdir / f"results/select/{SELECTION}/s{seed}.parquet")
        out[f"select/s{seed}"] = sel["id"].tolist()
        out[f"eval/s{seed}"] = json.loads((workdir / f"results/eval/{SELECTION}/s{seed}.json").read_text())
    return out


@pytest.fixture(scope="session")
def clean_run(tmp_path_factory, archive_cache) -> Path:
    """One selection built end to end from scratch; returns the working directory."""
    workdir = tmp_path_factory.mktemp("faults-clean")
    _run(workdir, archive_cache)
    return workdir


@pytest.fixture(scope="session")
def killed_run(tmp_path_factory, archive_cache) -> tuple[Path, dict]:
    """A second run from scratch, killed twice with SIGKILL and resumed each time with --rerun-incomplete.

    First kill: while shard 0 is being scored. Second kill (in the resumed run): once training has saved
    its first state for seed 0. Returns the working directory and what was seen after each kill.
    """
    workdir = tmp_path_factory.mktemp("faults-killed")
    seen = {}
    _kill_when(workdir, archive_cache, SCORE_LOG)
    seen["score"] = {
        "evals": [(workdir / f"results/eval/{SELECTION}/s{s}.json").exists() for s in SEEDS],
        "incomplete": [p.name for p in (workdir / ".snakemake/incomplete").iterdir()],
        "scores": (workdir / "results/scores/ssl_proto/pool/s0/shard-0.parquet").exists(),
    }
    _kill_when(workdir, archive_cache, STATE, "--rerun-incomplete")
    seen["train"] = {
        "evals": [(workdir / f"results/eval/{SELECTION}/s{s}.json").exists() for s in SEEDS],
        "state": (workdir / STATE).exists(),
    }
    _run(workdir, archive_cache, "--rerun-incomplete")
    seen["train_log"] = (workdir / TRAIN_LOG).read_text()
    return workdir, seen


def test_kill_during_scoring_then_rerun_incomplete_equals_clean_run(clean_run, killed_run):
    workdir, seen = killed_run
    # the kill landed inside the scoring job: nothing downstream existed, the job was marked incomplete
    assert seen["score"]["evals"] == [False, False] and not seen["score"]["scores"]
    assert seen["score"]["incomplete"], "the kill landed outside a job: nothing is marked incomplete"
    assert _outputs(workdir) == _outputs(clean_run)
    assert not list((workdir / "results").rglob("*.tmp"))  # killed jobs leave no half-written file


def test_kill_during_training_resumes_from_the_checkpoint(clean_run, killed_run):
    workdir, seen = killed_run
    assert seen["train"] == {"evals": [False, False], "state": True}
    assert f"resuming from {STATE}" in seen["train_log"]
    assert _outputs(workdir) == _outputs(clean_run)
    assert not (workdir / STATE).exists()  # a finished run clears its state


def test_two_runs_from_scratch_are_identical(clean_run, killed_run):
    """Everything both runs built is equal, file by file (download, pool, splits, embeddings, fit, scores)."""
    workdir, _ = killed_run
    compared = 0
    for path in sorted((clean_run / "results").rglob("*")):
        rel = path.relative_to(clean_run)
        other = workdir / rel
        if path.suffix == ".parquet":
            pd.testing.assert_frame_equal(pd.read_parquet(path), pd.read_parquet(other), check_exact=True)
            compared += 1
        elif path.suffix == ".npy":
            np.testing.assert_array_equal(
                np.load(path, allow_pickle=False), np.load(other, allow_pickle=False)
            )
            compared += 1
        elif path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as a, np.load(other, allow_pickle=False) as b:
                assert a.files == b.files
                for k in a.files:
                    np.testing.assert_array_equal(a[k], b[k])
            compared += 1
        elif path.suffix == ".json" and "results/eval/" in str(rel):
            assert json.loads(path.read_text()) == json.loads(other.read_text())
            compared += 1
    assert compared >= 20
