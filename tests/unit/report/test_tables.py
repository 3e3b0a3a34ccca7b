"""LaTeX tables: every special character escaped once, by the one escaper the paper's macros use too."""

from __future__ import annotations

import pandas as pd

from dqreview.report.macros import escape
from dqreview.report.tables import to_latex

SPECIALS = "\\ ~ ^ _ % & # $ { }"
ESCAPED = r"\textbackslash{} \textasciitilde{} \textasciicircum{} \_ \% \& \# \$ \{ \}"


def test_escape_every_special_character():
    assert escape(SPECIALS) == ESCAPED
    # the backslash's own braces are not escaped again (the old bug: \textbackslash\{\})
    assert escape("a\\b") == r"a\textbackslash{}b"
    assert escape("x^2~y") == r"x\textasciicircum{}2\textasciitilde{}y"


def test_to_latex_escapes_headers_cells_and_caption_and_formats_numbers():
    df = pd.DataFrame({"method_name": [SPECIALS, "random"], "bpb": [1.23456, float("nan")], "n": [3, 2]})
    assert to_latex(df, caption="50% of {pool} & more", digits=2) == "\n".join(
        [
            r"\begin{table}[t]",
            r"\centering",
            r"\small",
            r"\begin{tabular}{lrr}",
            r"\toprule",
            r"method\_name & bpb & n \\",
            r"\midrule",
            ESCAPED + r" & 1.23 & 3 \\",
            r"random & -- & 2 \\",
            r"\bottomrule",
            r"\end{tabular}",
            r"\caption{50\% of \{pool\} \& more}",
            r"\end{table}",
            "",
        ]
    )
