"""dqreview.report.t2v_tables: the Task2Vec diversity/alignment table of selections, from cached vectors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dqreview.measures import diversity as dv
from dqreview.report.t2v_tables import selection_table


def test_selection_table_from_cached_vectors():
    rng = np.random.default_rng(0)
    X = rng.random((30, 6))
    index = pd.DataFrame(
        {
            "id": [f"d{i}" for i in range(30)],
            "domain": ["a"] * 20 + ["b"] * 7 + ["noise"] * 3,
            "shard": [0, 1] * 15,
        }
    )
    shards = [X[index["shard"].to_numpy() == s] for s in (0, 1)]
    T = rng.random((12, 6))
    table = selection_table(shards, index, {"sel": [f"d{i}" for i in range(10)]}, T, 4, 5, seed=0).set_index(
        "set"
    )
    assert table.loc["target/ref", "align_full"] == 1.0
    assert np.isnan(table.loc["noise", "div"]) and table.loc["noise", "n"] == 3
    sel = X[:10]
    E = dv.batch_vectors_from_documents(sel, 4, 5, 0, "sel")
    ET = dv.batch_vectors_from_documents(T, 4, 5, 0, "target/ref")
    assert table.loc["sel", "div"] == pytest.approx(dv.diversity(E).value, abs=1e-15)
    assert table.loc["sel", "align_batch"] == pytest.approx(dv.alignment(E, ET).value, abs=1e-15)
    assert table.loc["sel", "align_full"] == pytest.approx(
        dv.full_alignment(E.mean(0), ET.mean(0)), abs=1e-15
    )
    pool = dv.batch_vectors_from_documents(X, 4, 5, 0, "pool")
    assert table.loc["pool", "div"] == pytest.approx(dv.diversity(pool).value, abs=1e-15)
