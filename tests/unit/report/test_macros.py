"""Paper macros: formatting, escaping, and the file the paper reads."""

import pytest

from dqreview.errors import DQError
from dqreview.report.macros import escape, fmt, macro_file


def test_fmt():
    assert fmt(0.12345) == "0.123"
    assert fmt(0.12345, 1, percent=True) == r"12.3\%"
    assert fmt(-0.05, 2, signed=True) == r"\ensuremath{-}0.05"
    assert fmt(0.05, 2, signed=True) == "+0.05"
    assert fmt(float("nan")) == "---"
    assert fmt("pays off") == "pays off"


def test_escape_and_file():
    assert escape("a_b & 5%") == r"a\_b \& 5\%"
    text = macro_file({"b/x": "2", "a/y": "1"})
    assert text.splitlines()[1:] == [r"\dqset{a/y}{1}", r"\dqset{b/x}{2}"]
    with pytest.raises(DQError, match="macro key"):
        macro_file({"bad key": "1"})
