"""The ``lm.eval.harness`` tasks: checked when the config loads, without importing lm-eval.

A task is an lm-eval task name (``arc_easy``; its dataset comes from the Hugging Face hub) or the path of a
local task YAML (e.g. ``configs/tasks/tiny_cloze.yaml``), whose relative ``dataset_kwargs.data_files`` are
resolved against the YAML's directory, so it runs offline from any working directory.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any

from dqreview.errors import DQError

INSTALL_HINT = "pip install -e '.[harness]'"


def harness_installed() -> bool:
    return importlib.util.find_spec("lm_eval") is not None


def check_harness(config: dict) -> None:
    """Fail early when ``lm.eval.harness`` lists tasks but lm-eval is not installed."""
    tasks = config["lm"]["eval"].get("harness") or []
    if tasks and not harness_installed():
        raise DQError(
            f"config key 'lm.eval.harness' lists {tasks}, but lm-eval (lm-eval-harness) is not installed; "
            f"run {INSTALL_HINT} or set lm.eval.harness: []"
        )


def is_task_file(task: str) -> bool:
    return task.endswith((".yaml", ".yml"))


def task_label(task: str) -> str:
    """The name a task's scores carry in the tables: its name, or a task file's ``task:`` key."""
    if not is_task_file(task):
        return task
    return str(load_task_file(task)["task"])


def load_task_file(path: str | os.PathLike) -> dict[str, Any]:
    """A local task YAML as an lm-eval task config, its relative data files made absolute."""
    import yaml

    path = Path(path)
    try:
        cfg = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DQError(f"{path}: harness task file not found (config key lm.eval.harness)") from None
    if not isinstance(cfg, dict) or not isinstance(cfg.get("task"), str):
        raise DQError(f"{path}: not an lm-eval task YAML (needs a 'task:' name); config key lm.eval.harness")
    files = (cfg.get("dataset_kwargs") or {}).get("data_files")
    if isinstance(files, dict):
        cfg["dataset_kwargs"]["data_files"] = {
            split: _resolve(path.parent, f) if isinstance(f, str) else [_resolve(path.parent, x) for x in f]
            for split, f in files.items()
        }
    elif isinstance(files, str | list):
        cfg["dataset_kwargs"]["data_files"] = (
            _resolve(path.parent, files)
            if isinstance(files, str)
            else [_resolve(path.parent, x) for x in files]
        )
    return cfg


def _resolve(base: Path, file: str) -> str:
    return file if "://" in file or Path(file).is_absolute() else str((base / file).resolve())
