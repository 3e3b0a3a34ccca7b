"""Shared fixtures: the repository root, the snakemake command, and one tiny end-to-end run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))


def unit_rows(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    """n random unit rows of dimension d (float32), like the workflow's embeddings."""
    X = rng.normal(size=(n, d))
    return (X / np.linalg.norm(X, axis=1, keepdims=True)).astype(np.float32)


def clustered_rows(seed: int = 0, n_per: int = 40, k: int = 4, d: int = 16, noise: float = 0.1) -> np.ndarray:
    """k well-separated blobs of n_per unit rows each, in blob order."""
    rng = np.random.default_rng(seed)
    centres = unit_rows(rng, k, d)
    X = np.repeat(centres, n_per, axis=0) + noise * rng.normal(size=(n_per * k, d))
    return (X / np.linalg.norm(X, axis=1, keepdims=True)).astype(np.float32)


def snakemake_cmd(workdir: Path, *args: str, configfiles=()) -> list[str]:
    """The workflow's command line with ``workdir`` as the working directory (config.yaml, then ``configfiles``)."""
    cmd = [SNAKEMAKE, "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir)]
    cmd += ["--configfile", str(REPO / "config.yaml"), *[str(c) for c in configfiles]]
    return cmd + list(args)


def offline_env() -> dict[str, str]:
    """The environment for workflow runs in tests: Hugging Face never goes to the network."""
    return {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


def snakemake(workdir: Path, *args: str, configfiles=(), timeout: int = 900) -> subprocess.CompletedProcess:
    """Run the workflow with ``workdir`` as the working directory (outputs land under workdir/results)."""
    cmd = snakemake_cmd(workdir, *args, configfiles=configfiles)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=offline_env())


@pytest.fixture(scope="session")
def archive_cache(pytestconfig) -> Path:
    """Downloaded package archives, kept between test sessions (pytest's cache directory)."""
    return Path(pytestconfig.cache.mkdir("dqreview-archives"))


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, archive_cache) -> Path:
    """configs/tiny.yaml built end to end once per session; returns the working directory."""
    workdir = tmp_path_factory.mktemp("tiny")
    # CI builds the paper for sure (paper: on fails the run without latexmk); elsewhere paper: auto
    paper = ["paper=on"] if os.environ.get("CI") == "true" else []
    proc = snakemake(
        workdir,
        "--config",
        f"cache={archive_cache}",  # --config takes every following word: keep a one-value option after it
        *paper,
        "--cores",
        "2",
        "all",
        configfiles=[REPO / "configs/tiny.yaml"],
    )
    if proc.returncode != 0:
        pytest.fail(f"tiny end-to-end run failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-8000:]}")
    return workdir
