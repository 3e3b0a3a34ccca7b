"""LaTeX (booktabs) renderings of the CSV tables, so the paper and the CSVs carry the same numbers.

Text cells, headers and captions go through :func:`dqreview.report.macros.escape`, the one LaTeX escaper.
"""

from __future__ import annotations

import pandas as pd

from dqreview.report.macros import escape


def _cell(value, digits: int) -> str:
    if isinstance(value, float):
        return "--" if pd.isna(value) else f"{value:.{digits}f}"
    return escape(str(value))


def to_latex(df: pd.DataFrame, caption: str = "", digits: int = 4) -> str:
    """A booktabs table (no pandas Styler / jinja2 needed)."""
    align = "".join("r" if pd.api.types.is_numeric_dtype(df[c]) else "l" for c in df.columns)
    lines = [
        r"\begin{tabular}{" + align + "}",
        r"\toprule",
        " & ".join(escape(str(c)) for c in df.columns) + r" \\",
        r"\midrule",
    ]
    for row in df.itertuples(index=False):
        lines.append(" & ".join(_cell(v, digits) for v in row) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    body = "\n".join(lines)
    if caption:
        body = (
            "\\begin{table}[t]\n\\centering\n\\small\n"
            + body
            + f"\n\\caption{{{escape(caption)}}}\n\\end{{table}}"
        )
    return body + "\n"
