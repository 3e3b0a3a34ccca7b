"""Policies of the code base: one home for paths, a rule layout that does not depend on include order,
and generic workflow code that names no method."""

from __future__ import annotations

import ast
import re
import subprocess

import pytest

from conftest import REPO
from dqreview.metrics import REGISTRY


def _tracked(*patterns: str) -> list[str]:
    out = subprocess.run(["git", "ls-files", *patterns], cwd=REPO, capture_output=True, text=True, check=True)
    return [p for p in out.stdout.splitlines() if (REPO / p).exists()]


def _string_literals(source: str) -> list[tuple[int, str]]:
    """Every string constant of a Python module except docstrings, with its line."""
    tree = ast.parse(source)
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                docstrings.add(id(first.value))
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
    ]


def _smk_code_lines(path: str) -> list[tuple[int, str]]:
    return [
        (i, line)
        for i, line in enumerate((REPO / path).read_text().splitlines(), 1)
        if not line.lstrip().startswith("#")
    ]


RESULTS_LITERAL = re.compile(r"""["'](?:\.\./)?results/""")


def test_results_paths_live_in_dqreview_paths():
    """Every path under results/ that the workflow reads or writes is built from dqreview.paths. Tests and
    documentation name outputs literally on purpose (they check the layout users see), so they are not scanned;
    docstrings and comments may mention paths."""
    offenders = []
    for path in _tracked("src/*.py", "workflow/scripts/*.py", "benchmarks/*.py"):
        if path == "src/dqreview/paths.py":
            continue
        for line, value in _string_literals((REPO / path).read_text()):
            if value.startswith(("results/", "../results/")):
                offenders.append(f"{path}:{line}: {value!r}")
    for path in ["Snakefile", *_tracked("rules/*.smk")]:
        offenders += [
            f"{path}:{i}: {line.strip()}" for i, line in _smk_code_lines(path) if RESULTS_LITERAL.search(line)
        ]
    assert not offenders, "results/ path literals outside dqreview.paths:\n" + "\n".join(offenders)


def test_the_policy_sees_a_results_literal():
    assert _string_literals('"""results/ in a docstring"""\nx = "results/tables/x.csv"\n') == [
        (2, "results/tables/x.csv")
    ]
    assert RESULTS_LITERAL.search('        table="results/tables/comparison.csv",')


def test_only_common_smk_defines_functions():
    """Rule files call functions defined in common.smk (included first), never each other's: no include order."""
    for path in _tracked("rules/*.smk"):
        if path.endswith("common.smk"):
            continue
        defs = [line for _, line in _smk_code_lines(path) if re.match(r"\s*def \w+", line)]
        assert not defs, f"{path} defines {defs}; move them to rules/common.smk"
    snakefile = (REPO / "Snakefile").read_text()
    includes = re.findall(r'include: "rules/(\w+)\.smk"', snakefile)
    assert includes[0] == "common"


GENERIC = [
    "rules/common.smk", "rules/score.smk", "rules/select.smk", "rules/mixture.smk", "rules/lm.smk",
    "src/dqreview/plan.py", "src/dqreview/config.py", "src/dqreview/report/compute.py",
    "src/dqreview/metrics/base.py", "src/dqreview/metrics/inputs.py",
    *(f"workflow/scripts/{s}.py" for s in ("fit_metric", "score_shard", "shard_features", "select", "select_control", "select_mixture",
                                           "learn_mixture", "mixture_figure", "mixture_table", "dedup_quality",
                                           "compute_table", "train")),
]  # fmt: skip


@pytest.mark.parametrize("path", GENERIC)
def test_generic_workflow_code_names_no_method(path):
    """The machinery dispatches on the method's class and declarations: no metric name (random, the baseline,
    excepted), no hasattr probing of a method, no module flags."""
    text = (REPO / path).read_text()
    names = sorted(set(REGISTRY) - {"random"})
    if path.endswith(".py"):
        literals = [v for _, v in _string_literals(text)]
        named = sorted({n for n in names if n in literals})
    else:
        code = "\n".join(line for _, line in _smk_code_lines(path))
        named = sorted({n for n in names if re.search(rf"""["']{n}["']""", code)})
    assert not named, f"{path} names methods {named}"
    assert "hasattr(" not in text and "getattr(get_metric" not in text
