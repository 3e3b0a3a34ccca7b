"""The Vendi table streams shards and gives the same numbers as the direct dual form."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dqreview.measures.vendi import vendi_dual
from dqreview.report.vendi_table import vendi_table


def _unit(rng, n, d):
    X = rng.normal(size=(n, d))
    return X / np.linalg.norm(X, axis=1, keepdims=True)


def test_table_matches_direct_computation():
    rng = np.random.default_rng(0)
    shards = [_unit(rng, 50, 8), _unit(rng, 70, 8), _unit(rng, 30, 8)]
    index = pd.DataFrame(
        {
            "id": [f"d{i}" for i in range(150)],
            "domain": rng.choice(["a", "b"], size=150),
            "shard": np.repeat([0, 1, 2], [50, 70, 30]),
        }
    )
    X = np.concatenate(shards)
    chosen = rng.choice(150, size=40, replace=False)
    table = vendi_table(shards, index, {"sel": index["id"].iloc[chosen]}, {"t": X[:10]}).set_index("set")
    for q in (0.5, 1.0, 2.0, float("inf")):
        col = f"vendi_q{q:g}"
        assert table.loc["pool", col] == pytest.approx(vendi_dual(X, q), rel=1e-9)
        assert table.loc["sel", col] == pytest.approx(vendi_dual(X[np.sort(chosen)], q), rel=1e-9)
        assert table.loc["a", col] == pytest.approx(vendi_dual(X[index["domain"] == "a"], q), rel=1e-9)
        assert table.loc["t", col] == pytest.approx(vendi_dual(X[:10], q), rel=1e-9)
    assert table.loc["sel", "n"] == 40
