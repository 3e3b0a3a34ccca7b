"""Atomic file output and checked input.

Every output is written to a temporary file in the target directory and renamed into place,
so a killed job never leaves a half-written file that looks complete.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dqreview.errors import DQError


def os_error(path: str | os.PathLike, exc: OSError, doing: str) -> DQError:
    """A :class:`DQError` for an operating-system error on ``path``: the file, the cause and the fix."""
    reason = exc.strerror or str(exc)
    code = errno.errorcode.get(exc.errno, "") if exc.errno else ""
    cause = f"{reason} [{code}]" if code else reason
    if exc.errno in (errno.ENOSPC, errno.EDQUOT) or "No space left" in str(exc):
        fix = (
            "the disk (or your quota) is full: free space on the file system that holds it, "
            "or run the workflow in a directory with more room, then rerun snakemake"
        )
    elif exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        fix = "check the permissions of the file and its directory (or that the file system is writable)"
    elif exc.errno == errno.EISDIR:
        fix = "a directory stands where a file is expected: remove or rename it, then rerun snakemake"
    else:
        fix = "check the file and the disk, then rerun snakemake"
    return DQError(f"{path}: cannot {doing} it ({cause}); {fix}")


def _damaged(path: str | os.PathLike, what: str, exc: Exception) -> DQError:
    return DQError(
        f"{path}: not {what} ({exc.__class__.__name__}: {exc}); delete it and rerun snakemake to rebuild it"
    )


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` if the block succeeds.

    An operating-system error while writing (disk full, no permission) becomes a :class:`DQError` that
    names ``path`` (not the temporary file) and what to do; the temporary file is removed.
    """
    path = Path(path)
    tmp_path: Path | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
        tmp_path = Path(tmp)
        yield tmp_path
        # mkstemp makes the file private (0600); give the output the permissions of any new file
        os.chmod(tmp_path, 0o666 & ~_umask())
        os.replace(tmp_path, path)
    except OSError as exc:  # disk full, no permission, read-only file system (pyarrow's errors too)
        if exc.filename is not None and Path(exc.filename) not in (path, tmp_path, path.parent):
            raise  # about another file (e.g. a missing source the block copies): not this write's fault
        raise os_error(path, exc, "write") from exc
    finally:
        if tmp_path is not None and tmp_path.exists():
            tmp_path.unlink()


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary directory beside ``path``; it replaces ``path`` (and whatever was there) if the
    block succeeds, so a killed writer never leaves a half-written directory under the final name."""
    path = Path(path)
    tmp_path: Path | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp_path = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
        yield tmp_path
        os.chmod(tmp_path, 0o777 & ~_umask())
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)  # a rename onto a non-empty directory fails; the old copy is stale
        elif path.exists():
            path.unlink()
        os.replace(tmp_path, path)
    except OSError as exc:
        raise os_error(path, exc, "write") from exc
    finally:
        if tmp_path is not None and tmp_path.exists():
            shutil.rmtree(tmp_path, ignore_errors=True)


def write_parquet(df: pd.DataFrame, path: str | os.PathLike) -> None:
    with atomic_path(path) as tmp:
        df.to_parquet(tmp, index=False)


def write_csv(df: pd.DataFrame, path: str | os.PathLike) -> None:
    """A table as CSV (no index), written atomically."""
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False)


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
    if isinstance(path, str | os.PathLike) and Path(path).is_dir():  # pyarrow: a directory = a dataset
        raise os_error(path, IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR)), "read")
    try:
        df = pd.read_parquet(path)
    except FileNotFoundError:
        raise DQError(f"{path}: file not found; rebuild it with snakemake") from None
    except OSError as exc:
        if exc.errno is None:  # pyarrow's own errors on damaged files are OSErrors without errno
            raise _damaged(path, "a readable Parquet file", exc) from None
        raise os_error(path, exc, "read") from None
    except Exception as exc:  # pyarrow raises several types for damaged files
        raise _damaged(path, "a readable Parquet file", exc) from None
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
    except OSError as exc:
        raise os_error(path, exc, "read") from None
    except (ValueError, EOFError) as exc:
        raise DQError(
            f"{path}: not a plain numeric .npy array ({exc}); delete it and rerun snakemake to rebuild it"
        ) from None


def read_npz(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Load every array of a ``.npz`` file (a metric's fitted state, shard features) without pickle."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {k: npz[k] for k in npz.files}
    except FileNotFoundError:
        raise DQError(f"{path}: file not found; rebuild it with snakemake") from None
    except OSError as exc:
        raise os_error(path, exc, "read") from None
    except Exception as exc:  # zipfile.BadZipFile, ValueError (object arrays), EOFError
        raise _damaged(path, "a readable .npz of plain arrays", exc) from None


def read_json(path: str | os.PathLike) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DQError(f"{path}: file not found; rebuild it with snakemake") from None
    except OSError as exc:
        raise os_error(path, exc, "read") from None
    except UnicodeDecodeError as exc:
        raise DQError(f"{path}: not UTF-8 JSON (invalid byte at offset {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise DQError(f"{path}: invalid JSON at line {exc.lineno}: {exc.msg}") from None
