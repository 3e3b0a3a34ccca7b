"""The documentation against the repository: local rules, pointers outside the repository, README size, links,
and the snakemake commands of README.md, docs/*.md and the Makefile (parsed as Snakemake parses them)."""

from __future__ import annotations

import re
import shlex
import subprocess

import pytest

from conftest import REPO, marked_local_rules, rule_blocks

#: Pointers to files that exist only outside this repository (the pre-docs/ design notes).
# the founding notes users do not have, spelled in pieces so that this file does not name them itself
NOTES = ["METHODS" + "_DETAIL", "WORKFLOW" + "_DETAIL", "METHODS" + r"(\.md| §)", "ARCHITECTURE" + r"\.md",
         "RESOURCES" + r"\.md"]  # fmt: skip
OUTSIDE = re.compile("|".join([r"\.\./" + "shared", *NOTES]))
README_MAX_LINES = 160


def documented_local_rules() -> list[str]:
    """The bullet list under ``### Local rules`` in docs/slurm.md (each item a rule name in backticks)."""
    text = (REPO / "docs/slurm.md").read_text()
    section = re.search(r"^### Local rules\s*\n(.*?)(?=^#|\Z)", text, flags=re.M | re.S)
    assert section, "docs/slurm.md has no '### Local rules' section"
    return re.findall(r"^[-*]\s+`(\w+)`", section.group(1), flags=re.M)


def test_rule_blocks_parser_sees_every_rule():
    """The parser finds every rule of every .smk file, and `localrule: True` inside a rule only."""
    text = (
        "rule a:\n    input: 'x'\n    localrule: True\n\n\ndef f():\n    pass\n\n\nrule b:\n    output: 'y'\n"
    )
    blocks = rule_blocks(text)
    assert set(blocks) == {"a", "b"} and "localrule" in blocks["a"] and "localrule" not in blocks["b"]
    for path in sorted((REPO / "rules").glob("*.smk")):
        text = path.read_text()
        assert set(rule_blocks(text)) == set(re.findall(r"^rule\s+(\w+)\s*:", text, flags=re.M)), path


def test_documented_local_rules_are_the_rules_marked_local():
    """docs/slurm.md, "Local rules" lists exactly the rules that run in the Snakemake process under Slurm."""
    documented = documented_local_rules()
    assert len(documented) == len(set(documented)), f"docs/slurm.md lists a rule twice: {documented}"
    marked = marked_local_rules()
    assert marked, "no rule in rules/*.smk is marked `localrule: True`"
    assert set(documented) == marked, (
        f"docs/slurm.md, 'Local rules' is out of date: listed but not local {sorted(set(documented) - marked)}, "
        f"local but not listed {sorted(marked - set(documented))}"
    )


def _repository_files() -> list[str]:
    """Tracked files plus new files git does not ignore (so new docs are checked before they are committed)."""
    out = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return sorted({f for f in out.split("\0") if f})


def test_no_file_points_outside_the_repository():
    """Documentation and code refer to docs/ (or state the fact), never to files users do not have."""
    this = "tests/policy/test_docs.py"
    offenders = []
    for name in _repository_files():
        path = REPO / name
        if name == this or not path.is_file():
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # binary
        for lineno, line in enumerate(text.splitlines(), 1):
            if OUTSIDE.search(line):
                offenders.append(f"{name}:{lineno}: {line.strip()[:120]}")
    assert not offenders, "pointers outside the repository:\n" + "\n".join(offenders)


def test_readme_is_short_and_names_existing_docs():
    readme = (REPO / "README.md").read_text()
    n_lines = len(readme.splitlines())
    assert n_lines <= README_MAX_LINES, (
        f"README.md has {n_lines} lines (at most {README_MAX_LINES}); move detail to docs/"
    )
    pages = set(re.findall(r"docs/[\w.-]+\.md", readme))
    assert pages, "README.md names no docs/ page"
    missing = sorted(p for p in pages if not (REPO / p).is_file())
    assert not missing, f"README.md names docs pages that do not exist: {missing}"
    listed = {f"docs/{p.name}" for p in (REPO / "docs").glob("*.md")}
    assert listed <= pages, f"docs pages README.md does not name: {sorted(listed - pages)}"


def test_docs_links_resolve():
    """Every relative Markdown link in README.md and docs/*.md points to an existing file."""
    broken = []
    for page in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text()):
            if re.match(r"[a-z]+://", target):
                continue
            if not (page.parent / target).exists():
                broken.append(f"{page.relative_to(REPO)} → {target}")
    assert not broken, "broken links:\n" + "\n".join(broken)


def _documented_snakemake_commands() -> list[tuple[str, list[str]]]:
    """Every snakemake command line in the code blocks and inline code of README.md and docs/*.md, and in
    the Makefile's recipes."""
    found = []
    pages = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
    for page in pages:
        where, text = str(page.relative_to(REPO)), page.read_text()
        for block in re.findall(r"^```[\w-]*\n(.*?)^```", text, flags=re.S | re.M):
            found += [(where, ln) for ln in block.splitlines()]
        prose = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
        found += [(where, span) for span in re.findall(r"`((?:\.venv/bin/)?snakemake\s[^`]*)`", prose)]
    found += [("Makefile", ln) for ln in (REPO / "Makefile").read_text().splitlines() if ln.startswith("\t")]
    commands = []
    for where, line in found:
        if not re.match(r"(\.venv/bin/|\$\(BIN\)/)?snakemake\s", line.strip()):
            continue
        words = shlex.split(line.split("#")[0].replace("$(BIN)/", "").replace("$(CORES)", "2"))
        words = [w for w in words if not w.startswith("$(")]
        commands.append((f"{where}: {line.strip()}", words[1:]))
    return commands


def test_documented_commands_parse_as_meant():
    """`--configfile`, `--config` and `--resources` take every following word: a target written after one of
    them would be read as a config file or a resource (Snakemake then stops with a bare ValueError)."""
    from snakemake.cli import get_argument_parser

    commands = _documented_snakemake_commands()
    assert any("tiny.yaml" in c for c, _ in commands) and any("profiles/slurm" in c for c, _ in commands)
    parser = get_argument_parser()
    for command, args in commands:
        try:
            parsed = parser.parse_args(args)
        except (ValueError, SystemExit) as exc:
            pytest.fail(f"{command}: does not parse ({exc!r})")
        for path in parsed.configfile or []:
            assert str(path).endswith((".yaml", ".yml")), f"{command}: {path} is read as a config file"
