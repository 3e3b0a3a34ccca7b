"""Atomic file output and checked input.

Every output is written to a temporary file in the target directory and renamed into place,
so a killed job never leaves a half-written file that looks complete.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dqreview.errors import DQError


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_parquet(df: pd.DataFrame, path: str | os.PathLike) -> None:
    with atomic_path(path) as tmp:
        df.to_parquet(tmp, index=False)


def write_npy(array: np.ndarray, path: str | os.PathLike) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.save(fh, array, allow_pickle=False)


def write_json(obj: Any, path: str | os.PathLike) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")


def write_text(text: str, path: str | os.PathLike) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"cannot write {type(obj).__name__} to JSON")


def read_parquet(path: str | os.PathLike, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Read a Parquet file, naming the file and the missing columns on failure."""
    try:
        df = pd.read_parquet(path)
    except FileNotFoundError:
        raise DQError(f"{path}: file not found; rebuild it with snakemake") from None
    except Exception as exc:  # pyarrow raises several types for damaged files
        raise DQError(
            f"{path}: not a readable Parquet file ({exc.__class__.__name__}: {exc}); "
            "delete it and rerun snakemake to rebuild it"
        ) from None
    if columns is not None:
        missing = [c for c in columns if c not in df.columns]
        if missing:
            raise DQError(
                f"{path}: missing column(s) {missing}; found {list(df.columns)}. "
                "The file does not follow the dq-review data contract."
            )
    return df


def read_npy(path: str | os.PathLike) -> np.ndarray:
    """Load a .npy array without pickle."""
    try:
        return np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise DQError(f"{path}: file not found; rebuild it with snakemake") from None
    except ValueError as exc:
        raise DQError(f"{path}: not a plain numeric .npy array ({exc})") from None


def read_json(path: str | os.PathLike) -> Any:
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise DQError(f"{path}: file not found; rebuild it with snakemake") from None
    except json.JSONDecodeError as exc:
        raise DQError(f"{path}: invalid JSON at line {exc.lineno}: {exc.msg}") from None
