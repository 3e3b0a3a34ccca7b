"""Software environments: every conda environment of envs/ holds what its rules import, the environments and
the venv install the versions of the one lock file (requirements.lock), and every package the code imports is
declared in pyproject.toml (runtime, an optional extra, or the test extra)."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from functools import cache
from importlib.metadata import distribution, packages_distributions
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement

from conftest import REPO, rule_blocks
from dqreview.metrics import REGISTRY

SRC = REPO / "src"
LOCK = REPO / "requirements.lock"
#: Import names that are not distributions: the project itself, and the test helpers and plugins of tests/.
LOCAL = {"dqreview", "conftest", "dq_plugins"}


def canonical(name: str) -> str:
    """A distribution name as pip compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


# --- imports ----------------------------------------------------------------------------------------------


def imported_modules(path: Path, module: str | None = None) -> set[str]:
    """Every module a Python file imports, anywhere in it (also inside functions), as absolute names.
    ``from a import b`` gives ``a`` and ``a.b`` (b may be a submodule); ``module`` resolves relative imports."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = (module or "").split(".")
                package = package if path.name == "__init__.py" else package[:-1]
                package = package[: len(package) - node.level + 1]
                base = ".".join(filter(None, [*package, base]))
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names if alias.name != "*")
    return names


def module_file(module: str) -> Path | None:
    """The file of a dqreview module (None for names that are not modules, e.g. ``from m import function``)."""
    base = SRC.joinpath(*module.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def configured_method_modules() -> set[str]:
    """The modules ``dqreview.metrics.load_method`` imports for the methods of config.yaml and configs/*.yaml."""
    modules = set()
    for path in [REPO / "config.yaml", *sorted((REPO / "configs").glob("*.yaml"))]:
        for entry in (yaml.safe_load(path.read_text()) or {}).get("metrics", []) or []:
            module = entry.get("module") or REGISTRY.get(entry["name"])
            assert module, f"{path.name}: metric {entry['name']!r} is neither registered nor names a module"
            modules.add(module)
    return modules


@cache
def third_party_imports(path: Path) -> dict[str, str]:
    """Top-level import name -> the module that imports it, for a script and every dqreview module it reaches:
    imports inside functions, parent packages, and the configured methods' modules once dqreview.metrics (which
    loads them by name) is reached."""
    found: dict[str, str] = {}
    todo: list[tuple[Path, str | None]] = [(path, None)]
    seen: set[str] = set()
    while todo:
        file, module = todo.pop()
        where = module or str(file.relative_to(REPO))
        names = imported_modules(file, module)
        if module == "dqreview.metrics":
            names |= configured_method_modules()
        for name in sorted(names):
            top = name.split(".")[0]
            if top == "dqreview":
                parts = name.split(".")
                for i in range(1, len(parts) + 1):  # importing a.b.c runs a and a.b first
                    sub = ".".join(parts[:i])
                    if sub not in seen and (sub_file := module_file(sub)):
                        seen.add(sub)
                        todo.append((sub_file, sub))
            elif top and top not in sys.stdlib_module_names and top not in LOCAL:
                found.setdefault(top, where)
    return found


@cache
def distributions_of(import_name: str) -> set[str]:
    """The distributions (canonical names) that provide an import name, in this environment."""
    dists = packages_distributions().get(import_name)
    assert dists, (
        f"no installed distribution provides the import {import_name!r}: declare the package that does in "
        "pyproject.toml and regenerate the lock (make lock)"
    )
    return {canonical(d) for d in dists}


# --- the rules, the environments and the lock -------------------------------------------------------------


def rule_envs_and_scripts() -> list[tuple[str, str, str, str]]:
    """(rules file, rule, env file, script) of every rule with a ``script:``; both paths relative to the repo."""
    found = []
    for smk in sorted((REPO / "rules").glob("*.smk")):
        for rule, body in rule_blocks(smk.read_text()).items():
            script = re.search(
                r"^\s+script:\s*\n\s+f?\"\.\./(?:\{SCRIPTS\}|workflow/scripts)/(\w+\.py)\"", body, re.M
            )
            conda = re.search(r"^\s+conda:\s*\n\s+\"\.\./(envs/[\w.-]+\.yaml)\"", body, re.M)
            if script or conda:
                assert script and conda, f"{smk.name}: rule {rule} needs both conda: and script: (or neither)"
                found.append((smk.name, rule, conda.group(1), f"workflow/scripts/{script.group(1)}"))
    return found


def env_pip_entries(env: str) -> dict[str, str]:
    """Canonical name -> requirement line of an environment file (its pip section and conda packages)."""
    entries = {}
    for dep in yaml.safe_load((REPO / env).read_text())["dependencies"]:
        for line in dep["pip"] if isinstance(dep, dict) else [dep]:
            if name := re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", line):  # not an option (--extra-index-url ...)
                entries[canonical(name.group(0))] = line
    return entries


def lock_pins() -> dict[str, str]:
    pins = {}
    for line in LOCK.read_text().splitlines():
        if m := re.match(r"([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;]+)", line):
            pins[canonical(m.group(1))] = m.group(2)
    return pins


RULES = rule_envs_and_scripts()


def test_rules_are_found():
    """The parser sees the workflow's rules (a format change would otherwise make the next test vacuous)."""
    rules = {rule: env for _, rule, env, _ in RULES}
    assert len(rules) >= 30
    assert rules["compute_table"] == "envs/report.yaml" and rules["train"] == "envs/torch.yaml"


def test_the_import_walk_follows_functions_and_configured_methods():
    found = third_party_imports(REPO / "workflow/scripts/theory.py")
    assert found["sklearn"] == "dqreview.theory"  # imported inside a function (solver: linearsvc)
    found = third_party_imports(REPO / "workflow/scripts/select.py")
    assert "numba" in found  # MinHash and DSIR, loaded by name through dqreview.metrics.load_method


@pytest.mark.parametrize(("smk", "rule", "env", "script"), RULES, ids=[r[1] for r in RULES])
def test_environment_holds_what_the_rule_imports(smk, rule, env, script):
    """``--sdm conda`` runs each rule's script in its environment: every package the script imports, directly or
    through dqreview (also inside functions, also the configured methods' modules), must be in that env file."""
    listed = set(env_pip_entries(env))
    missing = [
        f"{'/'.join(sorted(distributions_of(name)))} (import {name} in {where})"
        for name, where in sorted(third_party_imports(REPO / script).items())
        if not distributions_of(name) & listed
    ]
    assert not missing, f"rules/{smk}: rule {rule} runs {script} in {env}, which lacks: " + "; ".join(missing)


ENV_FILES = sorted(p.relative_to(REPO).as_posix() for p in (REPO / "envs").glob("*.yaml"))


@pytest.mark.parametrize("env", ENV_FILES)
def test_environment_pins_the_lock(env):
    """Environments install exactly the lock's versions (``make lock`` writes both)."""
    pins = lock_pins()
    wrong = []
    for name, line in env_pip_entries(env).items():
        if name in ("python", "pip"):
            continue
        version = re.search(r"==\s*([^\s;#]+)", line)
        if name not in pins:
            wrong.append(f"{line} (not in requirements.lock)")
        elif not version or version.group(1) != pins[name]:
            wrong.append(f"{line} (the lock has {name}=={pins[name]})")
    assert not wrong, f"{env} disagrees with requirements.lock; run `make lock`: " + "; ".join(wrong)


def test_environments_are_all_used():
    assert {env for _, _, env, _ in RULES} == set(ENV_FILES)


# --- declared dependencies --------------------------------------------------------------------------------

PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]


def declared(*groups: str) -> set[str]:
    reqs = list(PYPROJECT["dependencies"]) if "runtime" in groups else []
    for group in groups:
        reqs += PYPROJECT["optional-dependencies"].get(group, [])
    return {canonical(re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", r).group(0)) for r in reqs}


def file_imports(*folders: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for folder in folders:
        for path in sorted((REPO / folder).rglob("*.py")):
            for name in sorted(imported_modules(path)):
                top = name.split(".")[0]
                if top and top not in sys.stdlib_module_names and top not in LOCAL:
                    found.setdefault(top, str(path.relative_to(REPO)))
    return found


def undeclared(found: dict[str, str], allowed: set[str]) -> list[str]:
    return [
        f"{'/'.join(sorted(distributions_of(name)))} (import {name} in {where})"
        for name, where in sorted(found.items())
        if not distributions_of(name) & allowed
    ]


def test_library_and_scripts_import_only_runtime_dependencies():
    """src/ and workflow/scripts import runtime dependencies, or an optional extra's (never the test extra's)."""
    extras = [g for g in PYPROJECT["optional-dependencies"] if g != "test"]
    missing = undeclared(file_imports("src", "workflow/scripts"), declared("runtime", *extras))
    assert not missing, "imported but not declared in pyproject.toml [project] dependencies: " + "; ".join(
        missing
    )


def test_tests_and_benchmarks_import_declared_packages():
    missing = undeclared(
        file_imports("tests", "benchmarks"), declared("runtime", *PYPROJECT["optional-dependencies"])
    )
    assert not missing, "imported but not declared in pyproject.toml (the test extra): " + "; ".join(missing)


def test_each_dependency_is_declared_once():
    """One entry per package in each group (two ranges of one package would fight)."""
    for group, reqs in [
        ("dependencies", PYPROJECT["dependencies"]),
        *PYPROJECT["optional-dependencies"].items(),
    ]:
        names = [canonical(re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", r).group(0)) for r in reqs]
        assert len(names) == len(set(names)), f"pyproject.toml {group} lists a package twice: {sorted(names)}"


def test_the_lock_holds_every_declared_dependency():
    """requirements.lock is compiled from pyproject.toml with the test extra: each declared package is in it."""
    missing = declared("runtime", "test") - set(lock_pins())
    assert not missing, f"requirements.lock lacks {sorted(missing)}; run `make lock`"


def test_the_lock_satisfies_the_declared_ranges():
    pins = lock_pins()
    wrong = []
    for req in map(Requirement, [*PYPROJECT["dependencies"], *PYPROJECT["optional-dependencies"]["test"]]):
        version = pins.get(canonical(req.name))
        if version and not req.specifier.contains(version, prereleases=True):
            wrong.append(f"{req} (locked {version})")
    assert not wrong, "requirements.lock is older than pyproject.toml; run `make lock`: " + "; ".join(wrong)


@pytest.mark.parametrize("env", ENV_FILES)
def test_environment_lists_everything_its_packages_need(env):
    """An environment is closed under its packages' requirements (as installed from the lock here), so pip
    installs nothing in it that the lock did not choose."""
    listed = set(env_pip_entries(env))
    missing = []
    for name in sorted(listed - {"python", "pip"}):
        for line in distribution(name).requires or []:
            req = Requirement(line)
            if (req.marker is None or req.marker.evaluate({"extra": ""})) and canonical(
                req.name
            ) not in listed:
                missing.append(f"{canonical(req.name)} (needed by {name})")
    assert not missing, f"{env} lacks: " + "; ".join(missing) + "; run `make lock`"
