"""dqreview.io: atomic writes and checked reads; OS faults and damaged files get an error that names the file."""

from __future__ import annotations

import errno
import os
import shutil

import numpy as np
import pandas as pd
import pytest

from dqreview.errors import DQError
from dqreview.io import (
    atomic_path,
    read_json,
    read_npy,
    read_npz,
    read_parquet,
    write_json,
    write_npy,
    write_parquet,
    write_text,
)

# --- OS faults: disk full (the disk_full fixture of conftest), unreadable input ----------------------------


@pytest.mark.parametrize(
    ("writer", "obj", "name"),
    [
        (write_parquet, pd.DataFrame({"id": [f"d{i}" for i in range(1000)]}), "shard-0.parquet"),
        (write_npy, np.ones((100, 8), dtype=np.float32), "shard-0.npy"),
        (write_json, {"a": list(range(1000))}, "s0.json"),
        (write_text, "x" * 100_000, "table.tex"),
    ],
)
def test_disk_full_names_the_file_and_the_fix(tmp_path, disk_full, writer, obj, name):
    path = tmp_path / "results" / name
    with pytest.raises(DQError) as info:
        writer(obj, path)
    msg = str(info.value)
    assert msg.startswith(f"{path}: cannot write it (") and "ENOSPC" in msg and "free space" in msg
    assert not path.exists() and not list(path.parent.iterdir())  # no partial file, no temporary left


@pytest.mark.parametrize(
    ("reader", "name"),
    [
        (read_parquet, "shard-0.parquet"),
        (read_npy, "shard-0.npy"),
        (read_npz, "ssl.npz"),
        (read_json, "s0.json"),
    ],
)
def test_unreadable_input_names_the_file(tmp_path, reader, name):
    """A directory where a file should be (chmod 000 does not stop root, so not that)."""
    path = tmp_path / name
    (path / "inner").mkdir(parents=True)
    with pytest.raises(DQError) as info:
        reader(path)
    assert str(info.value).startswith(f"{path}: cannot read it (") and "EISDIR" in str(info.value)


@pytest.mark.parametrize("reader", [read_parquet, read_npy, read_json])
def test_permission_denied_names_the_file(tmp_path, monkeypatch, reader):
    path = tmp_path / "x.bin"
    path.write_bytes(b"{}")

    def denied(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", str(path))

    monkeypatch.setattr(pd, "read_parquet", denied)
    monkeypatch.setattr(np, "load", denied)
    monkeypatch.setattr(type(path), "read_text", denied)
    with pytest.raises(
        DQError, match=rf"{path}: cannot read it \(Permission denied \[EACCES\]\); check the permissions"
    ):
        reader(path)


def test_truncated_npy_and_npz_name_the_file(tmp_path):
    npy, npz = tmp_path / "shard-0.npy", tmp_path / "state.npz"
    write_npy(np.ones((50, 8), dtype=np.float32), npy)
    npy.write_bytes(npy.read_bytes()[:-100])
    with pytest.raises(DQError, match=rf"{npy}: not a plain numeric .npy array.*delete it and rerun"):
        read_npy(npy)
    np.savez(npz, centroids=np.ones((4, 8)))
    npz.write_bytes(npz.read_bytes()[:-30])
    with pytest.raises(DQError, match=rf"{npz}: not a readable .npz.*delete it and rerun"):
        read_npz(npz)


# --- damaged or unexpected files --------------------------------------------------------------------


def test_missing_text_column_in_a_pool_shard(tmp_path):
    path = tmp_path / "shard-0.parquet"
    write_parquet(pd.DataFrame({"id": ["a"], "body": ["x"], "n_bytes": [1]}), path)
    with pytest.raises(DQError, match=rf"{path}: missing column\(s\) \['text', 'domain'\]"):
        read_parquet(path, columns=["id", "text", "domain", "n_bytes"])


def test_truncated_parquet_names_the_file(tmp_path):
    path = tmp_path / "shard-0.parquet"
    pd.DataFrame({"id": ["a"] * 100, "text": ["hello"] * 100}).to_parquet(path)
    path.write_bytes(path.read_bytes()[:-40])
    with pytest.raises(DQError, match="shard-0.parquet.*delete it and rerun"):
        read_parquet(path)


def test_npy_with_pickle_is_refused(tmp_path):
    path = tmp_path / "x.npy"
    np.save(path, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(DQError, match="x.npy"):
        read_npy(path)


# --- atomic writes -----------------------------------------------------------------------------------


def test_an_error_about_another_file_is_not_blamed_on_the_output(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.pdf"):
        with atomic_path(tmp_path / "out.pdf") as tmp:
            shutil.copyfile(tmp_path / "missing.pdf", tmp)
    assert not list(tmp_path.iterdir())


def test_outputs_get_the_permissions_of_any_new_file(tmp_path):
    """Atomic writes go through mkstemp (0600); the final output must be readable like any new file."""
    old = os.umask(0o022)
    try:
        write_text("x", tmp_path / "out.txt")
    finally:
        os.umask(old)
    assert (tmp_path / "out.txt").stat().st_mode & 0o777 == 0o644
