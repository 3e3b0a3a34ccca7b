"""Write requirements.lock from pyproject.toml, and pin envs/*.yaml to it (``make lock``).

    python envs/lock.py --uv PATH [--torch VERSION] [-- extra uv arguments, e.g. --upgrade]

The lock is ``uv pip compile pyproject.toml --extra test`` for CPython 3.11 on this platform, resolved
with the package indexes, find-links and constraints of this machine's pip configuration (uv does not
read pip's), so the lock installs wherever ``pip install`` works. torch is held at ``--torch`` (the CPU
wheel on this project's machines) and written without its local label (``torch==2.13.0``, not
``+cpu``): ``==2.13.0`` accepts both the CPU and the CUDA builds of that release, so one lock serves a
laptop and a cluster (docs/development.md, "Dependencies").

Each conda environment in envs/ lists, above the line ``# locked by make lock``, the packages its rules
import (tests/policy/test_envs.py checks that list); this script pins them to the lock's versions and
writes below that line everything they need, from the lock's ``# via`` annotations, so an environment
installs exactly the lock's versions too. Snakemake copies an environment file before conda reads it,
so a ``-r requirements.lock`` in its pip section would not resolve; the pins are written out instead.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LOCK = REPO / "requirements.lock"
ENVS = REPO / "envs"
MARKER = "# locked by make lock"
PIN_RE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==([^\s;]+)")
ENTRY_RE = re.compile(r"^(\s*)- ([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?\s*([=<>!~].*?)?\s*(#.*)?$")


def canonical(name: str) -> str:
    """A distribution name as pip compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def pip_config() -> dict[str, list[str]]:
    """This machine's pip settings that change what resolves: indexes, find-links, constraints."""
    out = subprocess.run(
        [sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True, check=True
    ).stdout
    settings: dict[str, list[str]] = {}
    for line in out.splitlines():
        key, _, value = line.partition("=")
        key = key.split(".", 1)[-1]
        settings.setdefault(key, []).extend(value.strip().strip("'\"").split())
    return settings


def uv_arguments(settings: dict[str, list[str]]) -> list[str]:
    args = []
    for url in settings.get("index-url", [])[:1]:
        args += ["--index-url", url]
    for url in settings.get("extra-index-url", []):
        args += ["--extra-index-url", url]
    for where in settings.get("find-links", []):
        args += ["--find-links", where]
    for path in settings.get("constraint", []):
        args += ["--constraint", path]
    return args


def compile_lock(uv: str, torch: str, extra: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        pin, out = Path(tmp) / "torch.txt", Path(tmp) / LOCK.name
        pin.write_text(f"torch=={torch}\n")
        # uv keeps the versions of an existing output file; all but torch's, whose label the lock dropped
        # (a preference for a plain 2.13.0 would pick the CUDA build over the machine's 2.13.0+cpu)
        if LOCK.exists():
            out.write_text(re.sub(r"^torch==.*\n", "", LOCK.read_text(), flags=re.M))
        cmd = [uv, "pip", "compile", "pyproject.toml", "--extra", "test", "--python-version", "3.11"]
        cmd += ["--index-strategy", "unsafe-best-match", "--custom-compile-command", "make lock"]
        cmd += ["--constraint", str(pin), "--output-file", str(out), "--quiet"]
        subprocess.run(cmd + uv_arguments(pip_config()) + extra, cwd=REPO, check=True)
        text = out.read_text()
    # the constraint files are this machine's (and a temporary file): not part of the lock
    text = re.sub(r"^ +#( +via)? +-c .*\n", "", text, flags=re.M)
    # 2.13.0+cpu -> 2.13.0: the same release from any build (PEP 440: == ignores the local label)
    text = re.sub(r"^(\S+==[^\s+]+)\+\S+", r"\1", text, flags=re.M)
    LOCK.write_text(text)


def read_lock(path: Path = LOCK) -> tuple[dict[str, str], dict[str, set[str]]]:
    """The lock's pins (canonical name -> version) and what each package needs (from ``# via``)."""
    pins: dict[str, str] = {}
    needs: dict[str, set[str]] = {}
    current = None
    for line in path.read_text().splitlines():
        if m := PIN_RE.match(line):
            current = canonical(m.group(1))
            pins[current] = m.group(3)
            continue
        via = line.strip().removeprefix("#").strip().removeprefix("via").strip()
        if current and line.startswith("    #") and via and not via.startswith("-r"):
            needs.setdefault(canonical(via.split()[0]), set()).add(current)
    return pins, needs


def closure(names: set[str], needs: dict[str, set[str]]) -> set[str]:
    todo, seen = list(names), set(names)
    while todo:
        for dep in needs.get(todo.pop(), ()):
            if dep not in seen:
                seen.add(dep)
                todo.append(dep)
    return seen


def pin_env(path: Path, pins: dict[str, str], needs: dict[str, set[str]]) -> None:
    """Pin the packages above the marker to the lock and write their locked dependencies below it."""
    lines = path.read_text().splitlines()
    if MARKER not in [line.strip() for line in lines]:
        raise SystemExit(f"{path}: no line {MARKER!r} in its pip section")
    cut = [line.strip() for line in lines].index(MARKER)
    head, direct = [], set()
    for line in lines[:cut]:
        m = ENTRY_RE.match(line)
        if m and m.group(2) not in ("python", "pip"):
            name = canonical(m.group(2))
            if name not in pins:
                raise SystemExit(f"{path}: {m.group(2)} is not in {LOCK.name}; add it to pyproject.toml")
            direct.add(name)
            comment = f"  {m.group(5)}" if m.group(5) else ""
            line = f"{m.group(1)}- {m.group(2)}{m.group(3) or ''}=={pins[name]}{comment}"
        head.append(line)
    indent = lines[cut][: len(lines[cut]) - len(lines[cut].lstrip())]
    rest = sorted(closure(direct, needs) - direct)
    path.write_text("\n".join([*head, lines[cut], *(f"{indent}- {n}=={pins[n]}" for n in rest)]) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--uv", required=True, help="the uv executable")
    ap.add_argument("--torch", default="2.13.0", help="the torch release the lock holds")
    ap.add_argument("extra", nargs="*", help="more uv pip compile arguments (after --)")
    args = ap.parse_args()
    compile_lock(args.uv, args.torch, args.extra)
    pins, needs = read_lock()
    for path in sorted(ENVS.glob("*.yaml")):
        pin_env(path, pins, needs)
    print(
        f"wrote {LOCK.name} ({len(pins)} packages) and pinned {', '.join(p.name for p in ENVS.glob('*.yaml'))}"
    )


if __name__ == "__main__":
    main()
