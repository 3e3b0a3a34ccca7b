"""Recall/precision of a dedup method against planted and natural duplicates."""

from __future__ import annotations

import pandas as pd
import pytest

from dqreview.report.dedup_quality import dedup_quality


def _index():
    return pd.DataFrame(
        {
            "id": ["a", "b", "c", "d", "e", "f", "g"],
            "domain": ["x", "x", "x", "y", "y", "y", "y"],
            "planted": ["", "", "exact:a", "near:b:m=2", "", "", ""],
            "text_hash": ["h1", "h2", "h1", "h3", "h4", "h5", "h5"],  # f, g: a natural exact duplicate
        }
    )


def test_recall_precision_and_rates():
    summary, by_domain = dedup_quality(_index(), ["c", "e", "g"])
    assert summary["recall_exact"] == 1.0  # (c, a) found through c
    assert summary["recall_near"] == 0.0  # (d, b) missed
    assert summary["recall"] == 0.5
    assert summary["precision"] == pytest.approx(2 / 3)  # c and g are duplicates, e is not
    assert summary["removal_rate"] == pytest.approx(3 / 7)
    rates = by_domain.set_index("domain")["removal_rate"]
    assert rates["x"] == pytest.approx(1 / 3) and rates["y"] == pytest.approx(2 / 4)


def test_nothing_removed():
    summary, _ = dedup_quality(_index(), [])
    assert summary["recall"] == 0.0 and summary["removed"] == 0
