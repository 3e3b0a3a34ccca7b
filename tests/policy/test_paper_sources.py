"""The paper's hand-written sources hang together without a LaTeX run: every citation key is in
paper/refs.bib and every entry there is cited, every ``\\input{sections/...}`` names a file and every section
file is input, no stub value (``\\dqset``) is committed, and no package CI lacks is loaded."""

from __future__ import annotations

import re

from conftest import REPO

PAPER = REPO / "paper"
CITE = re.compile(r"\\cite[tp]?\*?(?:\[[^\]]*\])*\{([^}]*)\}")
BIB_ENTRY = re.compile(r"^@(\w+)\{([^,\s]+),", re.MULTILINE)
INPUT = re.compile(r"\\input\{(sections/[^}]+)\}")


def _sources() -> dict[str, str]:
    """main.tex and every section file, comments stripped (a commented-out \\cite is not a citation)."""
    files = [PAPER / "main.tex", *sorted((PAPER / "sections").glob("*.tex"))]
    return {str(f.relative_to(PAPER)): re.sub(r"(?<!\\)%.*", "", f.read_text()) for f in files if f.exists()}


def _cited() -> set[str]:
    return {
        key.strip() for text in _sources().values() for keys in CITE.findall(text) for key in keys.split(",")
    }


def _bib_keys() -> list[str]:
    return [key for kind, key in BIB_ENTRY.findall((PAPER / "refs.bib").read_text()) if kind != "comment"]


def test_the_citation_parser_reads_every_form():
    text = r"see \citep{a,b} and \citet{c}, \cite[p.~3]{d} and \citep*{e}"
    assert {k.strip() for ks in CITE.findall(text) for k in ks.split(",")} == {"a", "b", "c", "d", "e"}


def test_every_citation_is_in_the_bibliography_and_every_entry_is_cited():
    keys = _bib_keys()
    assert len(keys) == len(set(keys)), (
        f"refs.bib defines a key twice: {sorted(k for k in keys if keys.count(k) > 1)}"
    )
    cited = _cited()
    assert cited, "the paper cites nothing"
    assert not cited - set(keys), f"cited but not in paper/refs.bib: {sorted(cited - set(keys))}"
    assert not set(keys) - cited, f"in paper/refs.bib but never cited: {sorted(set(keys) - cited)}"


def test_the_paper_uses_natbib_and_the_bibliography():
    main = _sources()["main.tex"]
    assert r"\usepackage[numbers]{natbib}" in main
    assert r"\bibliographystyle{plainnat}" in main and r"\bibliography{refs}" in main


def test_every_section_file_is_input_and_every_input_exists():
    inputs = {name.removesuffix(".tex") for text in _sources().values() for name in INPUT.findall(text)}
    files = {f"sections/{f.stem}" for f in (PAPER / "sections").glob("*.tex")}
    assert not inputs - files, f"\\input of a missing section file: {sorted(inputs - files)}"
    assert not files - inputs, f"section files nothing inputs: {sorted(files - inputs)}"


def test_no_generated_value_is_typed_into_the_paper():
    """Values come only from results/paper/macros.tex; a \\dqset in paper/ would be a committed stub."""
    for name, text in _sources().items():
        body = text.replace(r"\newcommand{\dqset}", "") if name == "main.tex" else text
        assert r"\dqset{" not in body, f"paper/{name} sets a generated value (\\dqset); use the macros file"


def test_no_package_outside_texlive_latex_base_and_recommended():
    for name, text in _sources().items():
        for pkgs in re.findall(r"\\usepackage(?:\[[^\]]*\])?\{([^}]*)\}", text):
            for pkg in pkgs.split(","):
                assert not pkg.strip().startswith("algorithm"), f"paper/{name} loads {pkg} (not in CI's TeX)"
