"""Sources (pypi, hf, local), parsers and normalisation/chunking of dqreview.corpus."""

from __future__ import annotations

import hashlib
import io
import json
import random
import socket
import subprocess
import time
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from dqreview.corpus import sources
from dqreview.corpus.parsers import PARSERS, get_parser
from dqreview.corpus.sources import fetch_source, glob_to_regex, match_members
from dqreview.corpus.text import chunk, normalise
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


# --- parsers ------------------------------------------------------------------------------


def test_wiki_parser():
    data = json.dumps({"Title A": {"title": "Title A", "extract": "Text A."}, "B": {"extract": ""}}).encode()
    assert list(PARSERS["wiki_summaries_json"]("m.json", data)) == [("Title A", "Text A."), ("B", "")]
    with pytest.raises(DQError, match=r'm.json: entry "X" has no string field "extract"'):
        list(PARSERS["wiki_summaries_json"]("m.json", json.dumps({"X": {"text": "t"}}).encode()))


def test_chitchat_parser_letters_speakers_by_first_appearance():
    conv = {
        "messages": [
            [{"text": "Hello", "sender": "s2"}, {"text": "how are you?", "sender": "s2"}],
            [{"text": "fine", "sender": "s1"}],
            [{"text": "good", "sender": "s2"}],
        ]
    }
    out = list(PARSERS["chitchat_json"]("d.json", json.dumps({"c1": conv}).encode()))
    assert out == [("c1", "A: Hello how are you?\nB: fine\nA: good")]


def test_invalid_json_member_and_unknown_format():
    with pytest.raises(DQError, match="d.json: not valid UTF-8 JSON at line 1"):
        list(PARSERS["chitchat_json"]("d.json", b"{oops"))
    with pytest.raises(DQError, match=r"unknown format 'csv'; known formats: \['chitchat_json', 'text'"):
        get_parser("csv")


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


# --- normalise ----------------------------------------------------------------------------


def test_normalise():
    raw = "Cafe\u0301 x\u00b2\r\nline  \t\rnext\x00\u200b\n\n\n\n  end \ufffd  "
    out = normalise(raw)
    assert out == "Café x\u00b2\nline\nnext\n\n  end \ufffd"  # NFC, not NFKC: x² survives
    assert normalise(out) == out
    assert normalise("\ud800bad") == "\ufffdbad"  # lone surrogates cannot be written as UTF-8


# --- chunk --------------------------------------------------------------------------------


def _words_of(chunks):
    return [w for c in chunks for w in c.split()]


def _prose(rng, n_paragraphs):
    vocab = ["alpha", "beta", "gamma.", "delta", "eps!", "zeta", "eta?"]
    return "\n\n".join(
        " ".join(rng.choice(vocab) for _ in range(rng.randint(1, 500))) for _ in range(n_paragraphs)
    )


def test_chunk_limits_and_word_preservation():
    rng = random.Random(0)
    text = normalise(_prose(rng, 200))
    chunks = chunk(text, chunk_words=50, max_chunk_words=80)
    assert all(0 < len(c.split()) <= 80 for c in chunks)
    assert _words_of(chunks) == text.split()  # nothing lost, duplicated or reordered
    # most chunks are close to the target: greedy packing, not one unit per chunk
    assert sum(len(c.split()) >= 40 for c in chunks) / len(chunks) > 0.7


def test_chunk_code_keeps_lines_and_splits_long_lines():
    code = "\n".join(f"    x{i} = f(y)  # step {i}" for i in range(300))  # no sentence ends
    chunks = chunk(code, chunk_words=60, max_chunk_words=90)
    assert all(len(c.split()) <= 90 for c in chunks) and len(chunks) > 1
    assert all("\n" in c for c in chunks)  # line structure kept within chunks
    assert _words_of(chunks) == code.split()
    one_line = " ".join(f"w{i}" for i in range(1000))
    chunks = chunk(one_line, chunk_words=100, max_chunk_words=150)
    assert [len(c.split()) for c in chunks] == [100] * 10


def test_chunk_token_limit_with_fake_counter():
    def count(texts):  # a "tokenizer" where long words cost many tokens
        return [sum(1 + len(w) // 3 for w in t.split()) for t in texts]

    rng = random.Random(1)
    words = ["a", "bb", "supercalifragilistic", "x" * 40]
    text = "\n\n".join(" ".join(rng.choice(words) for _ in range(rng.randint(50, 300))) for _ in range(20))
    chunks = chunk(text, 128, 192, count_tokens=count, max_tokens=100)
    assert max(count(chunks)) <= 100
    assert _words_of(chunks) == text.split()
    # a single word over the limit is cut by characters
    assert max(count(chunk("y" * 1000, count_tokens=count, max_tokens=50))) <= 50


def test_chunk_is_linear_time_on_a_large_document():
    rng = random.Random(2)
    text = normalise(_prose(rng, 6000))  # about 7 MB
    assert len(text) > 5_000_000
    start = time.perf_counter()
    chunks = chunk(text)
    flat = " ".join(["word"] * 1_000_000)  # one 5 MB paragraph, no sentences, no lines
    chunks_flat = chunk(flat)
    elapsed = time.perf_counter() - start
    assert elapsed < 15, f"chunking took {elapsed:.1f}s"
    assert max(len(c.split()) for c in chunks + chunks_flat) <= 192


def test_chunk_rejects_bad_limits():
    with pytest.raises(DQError, match="chunk_words <= max_chunk_words"):
        chunk("a b c", chunk_words=200, max_chunk_words=100)
    assert chunk("") == []


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
