"""Shared fixtures and helpers: the repository root, the snakemake command, one tiny end-to-end run, the rules'
declarations (local rules, GPU rules), and the small data builders more than one test module uses.

Test modules import the helpers with ``from conftest import ...`` (the tests are not a package)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))
#: The Slurm commands the Slurm profile's executor calls (the Slurm tests need them on PATH).
SLURM_BINARIES = ("sbatch", "sinfo", "squeue", "scancel")

# --- the rules' declarations --------------------------------------------------------------------------


def rule_blocks(text: str) -> dict[str, str]:
    """``rule name:`` (or ``checkpoint name:``) → the rule's body, up to the next top-level line."""
    return {
        m.group(1): m.group(2)
        for m in re.finditer(
            r"^(?:rule|checkpoint)\s+(\w+)\s*:[ \t]*\n(.*?)(?=^\S|\Z)", text, flags=re.M | re.S
        )
    }


def _workflow_files() -> list[Path]:
    return [REPO / "Snakefile", *sorted((REPO / "rules").glob("*.smk"))]


def marked_local_rules() -> set[str]:
    """Rules with ``localrule: True`` in rules/*.smk and the Snakefile, plus any ``localrules:`` directive."""
    local = set()
    for path in _workflow_files():
        text = path.read_text()
        for name, body in rule_blocks(text).items():
            if re.search(r"^\s+localrule:\s*True\s*(#.*)?$", body, flags=re.M):
                local.add(name)
        for names in re.findall(r"^localrules:\s*(.+)$", text, flags=re.M):
            local.update(n.strip() for n in names.split(",") if n.strip())
    return local


def gpu_rules() -> set[str]:
    """Rules that declare ``gpu=1`` among their resources in rules/*.smk and the Snakefile."""
    return {
        name
        for path in _workflow_files()
        for name, body in rule_blocks(path.read_text()).items()
        if re.search(r"^\s+gpu\s*=\s*1\s*,?\s*(#.*)?$", body, flags=re.M)
    }


# --- data builders ------------------------------------------------------------------------------------


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


def normalise_rows(X) -> np.ndarray:
    """The rows of X scaled to unit length, in float64."""
    X = np.asarray(X, dtype=np.float64)
    return X / np.linalg.norm(X, axis=1, keepdims=True)


def near_copy_pool(seed=0, n_blobs=6, per_blob=40, d=16, n_copies=60, noise=0.004):
    """Blobs on the sphere + planted near-copies of the first ``n_copies`` rows (appended at the end).

    Returns (float32 unit rows, ids, number of rows before the copies)."""
    rng = np.random.default_rng(seed)
    centres = normalise_rows(rng.normal(size=(n_blobs, d)))
    base = normalise_rows(
        np.repeat(centres, per_blob, axis=0) + 0.35 * rng.normal(size=(n_blobs * per_blob, d))
    )
    perm = rng.permutation(len(base))
    base = base[perm]
    copies = normalise_rows(base[:n_copies] + noise * rng.normal(size=(n_copies, d)))
    X = np.vstack([base, copies]).astype(np.float32)
    ids = np.array([f"doc{i:05d}" for i in range(len(X))])
    return X, ids, len(base)


def nearest_brute_force(X, P, distance):
    """(distance to the nearest row of P, its index) for every row of X, computed densely in float64."""
    X64, P64 = X.astype(np.float64), P.astype(np.float64)
    diff = X64[:, None, :] - P64[None, :, :]
    if distance == "cosine":
        D = 1.0 - X64 @ P64.T
    elif distance == "l1":
        D = np.abs(diff).sum(axis=2)
    else:
        D = np.sqrt((diff**2).sum(axis=2))
    return D.min(axis=1), D.argmin(axis=1)


def t2v_blobs(seed=0, n_per=10, k=3, d=12):
    """k groups of positive 'Fisher' vectors, each group active on its own coordinates; (vectors, group)."""
    rng = np.random.default_rng(seed)
    X = rng.random((n_per * k, d)) * 0.05
    for j in range(k):
        X[j * n_per : (j + 1) * n_per, j * (d // k) : (j + 1) * (d // k)] += 1 + rng.random((n_per, d // k))
    return X, np.repeat(np.arange(k), n_per)


def random_unicode(rng: np.random.Generator, n_chars: int) -> str:
    """Text mixing ASCII, Latin/Greek/Cyrillic/CJK, combining marks, Unicode spaces and any code point."""
    pools = [
        np.arange(32, 127),
        np.arange(0xC0, 0x250),
        np.arange(0x370, 0x530),
        np.arange(0x4E00, 0x4E80),
        np.array([0x300, 0x301, 0x308, 0x660, 0x663, 0x2160, 0xB2, 0xBD, 0x5F, 0x130, 0x3A3, 0x1E9E]),
        np.array(
            [0x9, 0xA, 0xB, 0xC, 0xD, 0x1C, 0x1D, 0x1E, 0x1F, 0x85, 0xA0, 0x1680, 0x2000, 0x2028, 0x3000]
        ),
    ]
    out = []
    for _ in range(n_chars):
        k = rng.integers(len(pools) + 1)
        if k == len(pools):
            cp = int(rng.integers(0x110000))
            if 0xD800 <= cp <= 0xDFFF:
                continue
        else:
            cp = int(rng.choice(pools[k]))
        out.append(chr(cp))
        if rng.random() < 0.15:
            out.append(" ")
    return "".join(out)


def distinct_words(n, start=0):
    """n distinct words; ranges that do not overlap share no n-gram."""
    return " ".join(f"word{i}" for i in range(start, start + n))


def local_source(tmp_path, name, files: dict[str, bytes], **extra):
    """A ``kind: local`` text source of ``files`` (name → bytes) written to tmp_path/name."""
    folder = tmp_path / name
    folder.mkdir()
    for fname, data in files.items():
        (folder / fname).write_bytes(data)
    return {"name": name, "kind": "local", "paths": [str(folder / "*")], "format": "text", **extra}


# --- the proxy LM -------------------------------------------------------------------------------------

#: A one-layer GPT small enough to train in a test.
TINY_GPT = {"n_layer": 1, "n_head": 2, "n_embd": 16, "block_size": 8, "vocab_size": 64}


def random_docs(n, seed=0, vocab=64):
    """n token documents of 1..29 random non-EOT tokens, and a domain (0..2) for each."""
    rng = np.random.default_rng(seed)
    docs = [rng.integers(1, vocab, size=rng.integers(1, 30)).astype(np.int32) for _ in range(n)]
    return docs, rng.integers(0, 3, size=n)


def domain_docs(n_per=12, k=3, seed=0):
    """n_per token documents for each of k domains; domain i uses its own band of the vocabulary."""
    rng = np.random.default_rng(seed)
    docs, dom = [], []
    for i in range(k):
        for _ in range(n_per):
            # domain i uses its own band of the vocabulary, so the domains differ in difficulty
            docs.append(rng.integers(1 + 10 * i, 11 + 10 * i + 10 * i, size=int(rng.integers(10, 30))))
            dom.append(i)
    return docs, np.array(dom)


def round_docs():
    """Documents of three training rounds, interleaved; round r's documents use tokens 10r+1..10r+9."""
    rng = np.random.default_rng(5)
    docs, rounds = [], []
    for r, n in ((0, 6), (1, 3), (2, 9)):
        for _ in range(n):
            docs.append(rng.integers(10 * r + 1, 10 * r + 10, size=int(rng.integers(3, 9))))
            rounds.append(r)
    perm = rng.permutation(len(docs))  # rounds interleaved in the input
    return [docs[i] for i in perm], np.array(rounds)[perm]


@pytest.fixture(scope="module")
def one_thread():
    """Tiny models run fastest on one thread; restore the setting for other test modules."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# --- OS faults ----------------------------------------------------------------------------------------


@pytest.fixture
def disk_full(monkeypatch):
    """Every atomic write's temporary file is a link to /dev/full: writes fail with ENOSPC, as on a full disk."""
    import dqreview.io

    def mkstemp(prefix="", suffix="", dir=None):
        path = os.path.join(dir, f"{prefix}full{suffix}")
        os.symlink("/dev/full", path)
        return os.open(path, os.O_WRONLY), path

    monkeypatch.setattr(dqreview.io.tempfile, "mkstemp", mkstemp)


# --- the workflow -------------------------------------------------------------------------------------


def merged_config(*configfiles: str) -> dict:
    """config.yaml with ``configfiles`` (repository paths) merged on top as Snakemake merges them (dicts key by
    key, lists replaced), validated."""
    import yaml
    from snakemake.utils import update_config

    from dqreview.config import validate_config

    config = yaml.safe_load((REPO / "config.yaml").read_text())
    for path in configfiles:
        update_config(config, yaml.safe_load((REPO / path).read_text()))
    return validate_config(config)


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


# every kind of text the cache could get wrong: empty, runs of spaces, other whitespace (tab, newline,
# no-break space, ideographic space), accents and combining marks after a space, case with context
# (final sigma), CJK (spaces added by the normalizer), punctuation runs, long words (WordPiece's
# 100-character limit), control and zero-width characters, special-token strings, repeated words
ADVERSARIAL_TEXTS = [
    "",
    " ",
    "  double  space  ",
    "tab\there and\nnewline",
    "no\u00a0break and\u3000ideographic",
    "ÉCOLE Straße naïve café",
    "a \u0301b combining after a space",
    "ΟΔΟΣ Σ σ ς",
    "中文字符 mixed中文 日本語テキスト",
    "e-mail: a@b.c, (1.5)!! --- ...",
    "x" * 150 + " " + "y" * 99,
    "zero\u200bwidth and \x00 control \x07 chars",
    "[SEP] [CLS]x [MASK] [UNK]",
    "the the the the cat the",
    "https://example.com/a?b=c&d=e #hash @user",
]
