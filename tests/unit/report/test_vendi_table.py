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


def test_equal_size_vendi_subsamples_each_selection_to_its_groups_smallest():
    rng = np.random.default_rng(1)
    shards = [_unit(rng, 40, 6), _unit(rng, 40, 6)]
    index = pd.DataFrame({"id": [f"d{i}" for i in range(80)], "domain": "a", "shard": np.repeat([0, 1], 40)})
    X = np.concatenate(shards)
    small, large, other = index["id"].iloc[:10], index["id"].iloc[5:45], index["id"].iloc[:60]
    sels = {"small": small, "large": large, "other": other}
    groups = {"small": "0.10", "large": "0.10", "other": "0.60"}
    table = vendi_table(shards, index, sels, {}, orders=(1.0,), groups=groups, draws=3).set_index("set")
    assert table.loc["small", "n_eq"] == 10 and table.loc["large", "n_eq"] == 10
    assert table.loc["other", "n_eq"] == 60
    # a selection of exactly the group's size is its own subset every draw; the pool row has no n_eq
    assert table.loc["small", "vendi_q1_eq"] == pytest.approx(vendi_dual(X[:10], 1.0), rel=1e-9)
    assert table.loc["other", "vendi_q1_eq"] == pytest.approx(table.loc["other", "vendi_q1"], rel=1e-9)
    assert np.isnan(table.loc["pool", "n_eq"])
    assert table.loc["large", "vendi_q1_eq"] < table.loc["large", "vendi_q1"]  # 10 of 40 rows: fewer items
