"""Faults on a small sub-DAG of configs/tiny.yaml: kill -9 mid-scoring and mid-training, then resume.

One clean run (:func:`clean_run`, session scope) builds one selection end to end (download → prepare →
embed → fit → score → select → train → evaluate, both seeds). The other tests copy it or start afresh,
kill the whole snakemake process group with SIGKILL at a chosen moment, rerun with
``--rerun-incomplete`` and compare the selections (ids, in order) and the evaluation JSON (every number)
with the clean run's.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import REPO, SNAKEMAKE

pytestmark = pytest.mark.workflow

SELECTION = "ssl_proto/pool/high/b0.30"
TARGET = f"results/eval/{SELECTION}/s0.json"
SEEDS = (0, 1)
SCORE_LOG = "results/logs/score/ssl_proto/pool/shard-0.log"
TRAIN_LOG = f"results/logs/train/{SELECTION}.log"
STATE = f"results/.ckpt/train/{SELECTION}/s0/state.pt"


def _cmd(workdir: Path, archive_cache: Path, *args: str) -> list[str]:
    return [SNAKEMAKE, "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir),
            "--cores", "2", *args, TARGET, "--configfile", str(REPO / "config.yaml"),
            str(REPO / "configs/tiny.yaml"), "--config", f"cache={archive_cache}"]  # fmt: skip


def _env() -> dict[str, str]:
    return {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


def _run(workdir: Path, archive_cache: Path, *args: str) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        _cmd(workdir, archive_cache, *args), capture_output=True, text=True, timeout=900, env=_env()
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return proc


def _kill_when(workdir: Path, archive_cache: Path, path: str, *args: str, timeout: float = 600) -> None:
    """Start snakemake in its own session; SIGKILL its whole process group as soon as ``path`` exists."""
    log = (workdir / "killed-run.log").open("w")
    proc = subprocess.Popen(
        _cmd(workdir, archive_cache, *args), stdout=log, stderr=subprocess.STDOUT, env=_env(),
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
        _cmd(workdir, archive_cache, "--unlock"), capture_output=True, timeout=300, env=_env(), check=True
    )


def _outputs(workdir: Path) -> dict:
    """The selections (ids in selection order) and the evaluation JSON of every seed."""
    out = {}
    for seed in SEEDS:
        sel = pd.read_parquet(workdir / f"results/select/{SELECTION}/s{seed}.parquet")
        out[f"select/s{seed}"] = sel["id"].tolist()
        out[f"eval/s{seed}"] = json.loads((workdir / f"results/eval/{SELECTION}/s{seed}.json").read_text())
    return out


def _copy(src: Path, dst: Path) -> Path:
    # copy2 keeps modification times, so snakemake sees the copy as up to date
    shutil.copytree(src / "results", dst / "results", symlinks=True)
    shutil.copytree(
        src / ".snakemake", dst / ".snakemake", symlinks=True, ignore=shutil.ignore_patterns("locks")
    )
    return dst


@pytest.fixture(scope="session")
def clean_run(tmp_path_factory, archive_cache) -> Path:
    """One selection built end to end from scratch; returns the working directory."""
    workdir = tmp_path_factory.mktemp("faults-clean")
    _run(workdir, archive_cache)
    return workdir


@pytest.fixture(scope="session")
def killed_in_scoring(tmp_path_factory, archive_cache) -> Path:
    """A second run from scratch, killed with SIGKILL while a shard is being scored, then resumed."""
    workdir = tmp_path_factory.mktemp("faults-score")
    _kill_when(workdir, archive_cache, SCORE_LOG)
    assert not (workdir / TARGET).exists()
    incomplete = list((workdir / ".snakemake/incomplete").iterdir())
    assert incomplete, "the kill landed outside a job: nothing is marked incomplete"
    _run(workdir, archive_cache, "--rerun-incomplete")
    return workdir


def test_kill_during_scoring_then_rerun_incomplete_equals_clean_run(clean_run, killed_in_scoring):
    assert _outputs(killed_in_scoring) == _outputs(clean_run)
    # nothing half-written is left behind by the killed jobs
    assert not list((killed_in_scoring / "results").rglob("*.tmp"))


def test_two_runs_from_scratch_are_identical(clean_run, killed_in_scoring):
    """Everything both runs built upstream of the selection is equal, file by file."""
    compared = 0
    for path in sorted((clean_run / "results").rglob("*")):
        rel = path.relative_to(clean_run)
        other = killed_in_scoring / rel
        if path.suffix == ".parquet" and "results/cost" not in str(rel):
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
    # download, pool shards, index, splits, embeddings, prototypes, scores, selections
    assert compared >= 20


def test_kill_during_training_resumes_from_the_checkpoint(clean_run, tmp_path, archive_cache):
    workdir = _copy(clean_run, tmp_path)
    (workdir / TRAIN_LOG).unlink()
    _kill_when(workdir, archive_cache, STATE, "--forcerun", "train")
    for seed in SEEDS:
        assert not (workdir / f"results/eval/{SELECTION}/s{seed}.json").exists()
    _run(workdir, archive_cache, "--rerun-incomplete")
    log = (workdir / TRAIN_LOG).read_text()
    assert f"resuming from {STATE}" in log
    assert _outputs(workdir) == _outputs(clean_run)
    assert not (workdir / STATE).exists()  # a finished run clears its state
