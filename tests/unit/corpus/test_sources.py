"""dqreview.corpus.sources: glob matching of archive members and the pypi, local and hf sources."""

from __future__ import annotations

import hashlib
import io
import json
import socket
import subprocess
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from conftest import local_source
from dqreview.corpus import sources
from dqreview.corpus.sources import fetch_source, glob_to_regex, match_members
from dqreview.errors import DQError

# --- glob matching ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "path", "hit"),
    [
        ("flask-3.1.0/src/**/*.py", "flask-3.1.0/src/app.py", True),  # **/ matches zero dirs
        ("flask-3.1.0/src/**/*.py", "flask-3.1.0/src/flask/json/tag.py", True),
        ("flask-3.1.0/src/**/*.py", "flask-3.1.0/src/app.pyc", False),
        ("flask-3.1.0/src/**/*.py", "flask-3.1.0/srcx/app.py", False),
        ("flask-3.1.0/*.rst", "flask-3.1.0/README.rst", True),
        ("flask-3.1.0/*.rst", "flask-3.1.0/docs/api.rst", False),  # * stays in one directory
        ("spdx/data/*.txt", "spdx/data/MIT.txt", True),
        ("spdx/data/?IT.txt", "spdx/data/MIT.txt", True),
        ("spdx/data/[AB]*.txt", "spdx/data/MIT.txt", False),
        ("a+b/(x).txt", "a+b/(x).txt", True),  # regex metacharacters are literal
        ("**", "any/depth/file", True),
    ],
)
def test_glob_to_regex(pattern, path, hit):
    assert bool(glob_to_regex(pattern).match(path)) is hit


def test_match_members_keeps_order_and_dedupes():
    names = ["b/x.py", "a/y.py", "a/z.txt"]
    assert match_members(names, ["**/*.py", "a/*"]) == ["b/x.py", "a/y.py", "a/z.txt"]


# --- pypi (offline: pip replaced by a fake that writes a wheel) -----------------------------


def _wheel(path: Path, members: dict[str, bytes]) -> str:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def fake_pypi(tmp_path, monkeypatch):
    """A wheel 'demo-1.0' served by a fake pip; returns (spec, calls)."""
    build = tmp_path / "build"
    build.mkdir()
    wheel = build / "demo-1.0-py3-none-any.whl"
    sha = _wheel(
        wheel,
        {
            "demo/__init__.py": b"",
            "demo/data/a.txt": b"Licence A text.",
            "demo/data/sub/b.txt": b"Licence B \xff text.",  # invalid UTF-8: repaired and counted
            "demo/data/c.md": b"not matched",
        },
    )
    calls = []

    def fake_download(package, version, sdist, dest):
        calls.append((package, version, sdist))
        (Path(dest) / wheel.name).write_bytes(wheel.read_bytes())

    monkeypatch.setattr(sources, "_pip_download", fake_download)
    spec = {
        "name": "demo",
        "kind": "pypi",
        "package": "demo",
        "version": "1.0",
        "archive": "wheel",
        "sha256": sha,
        "members": ["demo/data/**/*.txt"],
        "format": "text",
    }
    return spec, calls


def test_pypi_reads_members_and_uses_cache(fake_pypi, tmp_path):
    spec, calls = fake_pypi
    df, stats = fetch_source(spec, tmp_path / "cache")
    assert list(df.columns) == ["source", "document", "text"]
    assert df["document"].tolist() == ["demo/data/a.txt", "demo/data/sub/b.txt"]
    assert df["text"].iloc[1] == "Licence B \ufffd text."
    assert stats["documents"] == 2 and stats["repaired_utf8"] == 1 and stats["members_matched"] == 2
    fetch_source(spec, tmp_path / "cache")
    assert len(calls) == 1  # second call found the pinned archive in the cache


def test_pypi_sha256_mismatch(fake_pypi, tmp_path):
    spec, _ = fake_pypi
    spec = {**spec, "sha256": "0" * 64}
    with pytest.raises(DQError) as err:
        fetch_source(spec, tmp_path / "cache")
    msg = str(err.value)
    assert "demo-1.0-py3-none-any.whl" in msg and "expected " + "0" * 64 in msg
    assert "update sha256 in the config if you changed the version on purpose" in msg
    assert not list((tmp_path / "cache" / "pypi").glob("*.whl"))  # the bad archive is not kept


def test_pypi_no_member_matches(fake_pypi, tmp_path):
    spec, _ = fake_pypi
    with pytest.raises(
        DQError, match=r"no member of demo-1.0-py3-none-any.whl matches \['nope/\*'\].*demo/data/a.txt"
    ):
        fetch_source({**spec, "members": ["nope/*"]}, tmp_path / "cache")


def test_pip_failure_names_package(monkeypatch, tmp_path):
    def failing_run(cmd, **kw):
        return subprocess.CompletedProcess(cmd, 1, "", "ERROR: No matching distribution found for nopkg==9")

    monkeypatch.setattr(sources.subprocess, "run", failing_run)
    spec = {"name": "x", "kind": "pypi", "package": "nopkg", "version": "9", "sha256": "0" * 64}
    with pytest.raises(DQError, match=r"(?s)pip could not download nopkg==9.*No matching distribution"):
        fetch_source(spec, tmp_path)


def test_pypi_tar_members_read_in_memory(tmp_path):
    import tarfile

    path = tmp_path / "pkg-1.0.tar.gz"
    with tarfile.open(path, "w:gz") as tf:
        for name, data in {"pkg-1.0/src/a.py": b"x = 1\n", "pkg-1.0/README.rst": b"Read me"}.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    members = {name: read() for name, read in sources.read_archive_members(path)}
    assert members == {"pkg-1.0/src/a.py": b"x = 1\n", "pkg-1.0/README.rst": b"Read me"}


def test_unfetchable_pypi_source_names_the_source(tmp_path, monkeypatch):
    """Real pip, no index (as offline): the error names the source, the package and the version."""
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.delenv("PIP_FIND_LINKS", raising=False)
    spec = {"name": "ghost", "kind": "pypi", "package": "dq-review-no-such-package", "version": "0.0.1",
            "sha256": "0" * 64, "members": ["*.txt"], "format": "text"}  # fmt: skip
    with pytest.raises(DQError) as info:
        fetch_source(spec, tmp_path / "cache")
    msg = str(info.value)
    assert "source 'ghost' (kind pypi) cannot be fetched" in msg and "dq-review-no-such-package==0.0.1" in msg
    assert "put the pinned archive" in msg and str(tmp_path / "cache" / "pypi") in msg
    assert not list((tmp_path / "cache").rglob("*.whl"))


def _pypi_reachable() -> bool:
    try:
        socket.create_connection(("pypi.org", 443), timeout=3).close()
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _pypi_reachable(), reason="needs pypi.org (downloads the 1 MB spdx wheel)")
def test_pypi_real_download_spdx(tmp_path):
    spec = {
        "name": "spdx",
        "kind": "pypi",
        "package": "spdx",
        "version": "2.5.1",
        "archive": "wheel",
        "sha256": "24b45bf1c17a341ec4cd685a3c7eebfcc582c9ce6c1b078eb8c149c47634e782",
        "members": ["spdx/data/*.txt"],
        "format": "text",
    }
    df, stats = fetch_source(spec, tmp_path)
    assert stats["documents"] > 300 and df["document"].is_unique
    assert "spdx/data/MIT.txt" in set(df["document"])
    assert (tmp_path / "pypi" / "spdx-2.5.1-py2.py3-none-any.whl").exists()


# --- local --------------------------------------------------------------------------------


def test_local_text_invalid_utf8_replace_and_strict(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.txt").write_bytes(b"good text")
    (tmp_path / "docs" / "b.txt").write_bytes(b"bad \xc3\x28 byte")
    (tmp_path / "docs" / "c.txt").write_bytes(b"")  # empty: kept here, dropped by prepare
    spec = {"name": "loc", "kind": "local", "paths": ["docs/*.txt"], "format": "text"}
    df, stats = fetch_source(spec, tmp_path)
    assert df["text"].tolist() == ["good text", "bad \ufffd( byte", ""]
    assert stats["repaired_utf8"] == 1 and stats["first_repaired"] == "docs/b.txt"
    with pytest.raises(DQError, match=r"docs/b.txt: invalid UTF-8 at byte offset 4"):
        fetch_source({**spec, "decode_errors": "strict"}, tmp_path)


def test_local_jsonl_errors(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    f = tmp_path / "d.jsonl"
    spec = {"name": "j", "kind": "local", "paths": ["*.jsonl"], "format": "jsonl", "id_field": "id"}

    f.write_text('{"id": 1, "text": "a"}\n{"id": 2, "body": "b"}\n')
    with pytest.raises(DQError, match=r"d.jsonl:2: no field 'text'; found \['body', 'id'\]"):
        fetch_source(spec, tmp_path)

    f.write_text('{"id": 1, "text": "a"}\n\n{"id": 2, "text": "b"\n')
    with pytest.raises(DQError, match=r"d.jsonl:3: invalid JSON"):
        fetch_source(spec, tmp_path)

    f.write_text('{"id": 7, "text": "a"}\n{"id": 7, "text": "b"}\n')
    with pytest.raises(DQError, match=r"duplicate document key '7' in d.jsonl:2 .*must be unique"):
        fetch_source(spec, tmp_path)

    f.write_bytes(b'{"id": 1, "text": "a"}\n{"id": 2, "text": "\xff"}\n')
    with pytest.raises(DQError, match=r"d.jsonl:2: invalid UTF-8 at byte offset 42"):
        fetch_source({**spec, "decode_errors": "strict"}, tmp_path)
    df, stats = fetch_source({**spec, "max_docs": 5}, tmp_path)
    assert df["document"].tolist() == ["1", "2"] and stats["repaired_utf8"] == 1


def test_local_parquet_and_max_docs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    pd.DataFrame({"key": ["x", "y", "z"], "content": ["one", None, "three"]}).to_parquet("p.parquet")
    spec = {"name": "p", "kind": "local", "paths": ["p.parquet"], "format": "parquet", "id_field": "key"}
    with pytest.raises(DQError, match=r"p.parquet: no column 'text'; found \['key', 'content'\]"):
        fetch_source(spec, tmp_path)
    df, stats = fetch_source({**spec, "text_field": "content", "max_docs": 2}, tmp_path)
    assert df["document"].tolist() == ["x", "y"] and df["text"].tolist() == ["one", ""]
    assert stats["documents"] == 2


def test_local_missing_files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DQError, match=r"no file matches 'nothing/\*.txt'"):
        fetch_source({"name": "n", "kind": "local", "paths": ["nothing/*.txt"]}, tmp_path)
    with pytest.raises(DQError, match=r"unknown kind 'ftp'; known kinds"):
        fetch_source({"name": "n", "kind": "ftp"}, tmp_path)


def test_invalid_utf8_strict_names_file_and_offset(tmp_path):
    spec = local_source(tmp_path, "misc", {"bad.txt": b"abc\xff"}, decode_errors="strict")
    with pytest.raises(DQError, match=r"bad\.txt.*(byte|offset) 3"):
        fetch_source(spec, tmp_path / "cache")


def test_duplicate_ids_in_jsonl_name_the_key(tmp_path):
    path = tmp_path / "docs.jsonl"
    path.write_text('{"id": "a", "text": "x"}\n{"id": "a", "text": "y"}\n')
    spec = {"name": "j", "kind": "local", "paths": [str(path)], "format": "jsonl", "id_field": "id"}
    with pytest.raises(DQError, match="'a'.*unique|unique.*'a'"):
        fetch_source(spec, tmp_path / "cache")


def test_missing_text_column_in_parquet(tmp_path):
    path = tmp_path / "docs.parquet"
    pd.DataFrame({"body": ["x"]}).to_parquet(path)
    spec = {"name": "p", "kind": "local", "paths": [str(path)], "format": "parquet"}
    with pytest.raises(DQError, match="docs.parquet.*text|text.*docs.parquet"):
        fetch_source(spec, tmp_path / "cache")


# --- hf (a local dataset directory; no hub) -------------------------------------------------


def test_hf_local_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    data = tmp_path / "ds"
    data.mkdir()
    rows = [{"uid": f"u{i}", "content": f"document number {i}"} for i in range(10)]
    (data / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    spec = {
        "name": "h",
        "kind": "hf",
        "path": str(data),
        "split": "train",
        "text_field": "content",
        "id_field": "uid",
        "max_docs": 4,
    }
    df, stats = fetch_source(spec, tmp_path / "cache")
    assert df["document"].tolist() == ["u0", "u1", "u2", "u3"]
    assert df["text"].iloc[3] == "document number 3" and stats["documents"] == 4
    with pytest.raises(DQError, match=r"row 0: no field 'text'; found \['uid', 'content'\]"):
        fetch_source({**spec, "text_field": "text"}, tmp_path / "cache")


def test_hf_revision_reaches_load_dataset(tmp_path, monkeypatch):
    """A source's revision is passed as revision= to datasets.load_dataset (recorded here, the hub being
    unreachable) and returned in the stats; a local directory with a revision is refused."""
    import datasets

    calls = []

    def load_dataset(path, name=None, **kwargs):
        calls.append((path, name, kwargs))
        return [{"text": "one"}, {"text": "two"}]

    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    spec = {
        "name": "w",
        "kind": "hf",
        "path": "org/wiki",
        "config": "en",
        "split": "train",
        "revision": "v1.2",
    }
    df, stats = fetch_source(spec, tmp_path / "cache")
    assert calls[0][:2] == ("org/wiki", "en") and calls[0][2]["revision"] == "v1.2"
    assert df["text"].tolist() == ["one", "two"] and stats["revision"] == "v1.2"
    _, stats = fetch_source({k: v for k, v in spec.items() if k != "revision"}, tmp_path / "cache")
    assert calls[1][2]["revision"] is None and stats["revision"] is None
    with pytest.raises(
        DQError, match=r"source 'w' \(hf dataset '.*'\): revision 'v1.2' is set but path is a local"
    ):
        fetch_source({**spec, "path": str(tmp_path)}, tmp_path / "cache")
