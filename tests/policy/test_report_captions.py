"""Every output in ``snakemake --report`` has a caption: each ``report(...)`` in the rules names an
existing .rst file, and every caption file is used."""

from __future__ import annotations

import re

from conftest import REPO

REPORT_CALL = re.compile(r"(?<![\w.])report\(")
CAPTION = re.compile(r"""caption\s*=\s*["']([^"']+)["']""")


def _report_calls(text: str) -> list[str]:
    """The argument text of every ``report(...)`` call (balanced parentheses)."""
    calls = []
    for match in REPORT_CALL.finditer(text):
        depth, i = 1, match.end()
        while depth:
            depth += {"(": 1, ")": -1}.get(text[i], 0)
            i += 1
        calls.append(text[match.end() : i - 1])
    return calls


def _captions() -> list[tuple[str, str, str]]:
    """(rule file, report() arguments, caption path or '') for every report() item of the workflow."""
    found = []
    for smk in sorted((REPO / "rules").glob("*.smk")):
        for args in _report_calls(smk.read_text()):
            caption = CAPTION.search(args)
            found.append((smk.name, " ".join(args.split()), caption.group(1) if caption else ""))
    return found


def test_the_parser_sees_report_items_but_not_job_names():
    assert _report_calls(
        'x=report(paths.figure("a"), caption="c.rst"),\nlog: paths.log(Job.report("a"))'
    ) == ['paths.figure("a"), caption="c.rst"']
    assert len(_captions()) >= 19  # the report's figures, tables and paper


def test_every_report_item_has_an_existing_caption():
    missing = [f"{smk}: report({args})" for smk, args, caption in _captions() if not caption]
    assert not missing, "report() items without caption=: " + "; ".join(missing)
    absent = [
        f"{smk}: {caption}"
        for smk, _, caption in _captions()
        if not (REPO / "rules" / caption).resolve().is_file()  # Snakemake reads it relative to the .smk
    ]
    assert not absent, f"caption files that do not exist: {absent}"


def test_every_caption_file_is_used():
    used = {(REPO / "rules" / caption).resolve() for _, _, caption in _captions() if caption}
    files = set((REPO / "report" / "captions").glob("*.rst"))
    assert {f.resolve() for f in files} - used == set()
