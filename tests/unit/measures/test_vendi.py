"""Vendi score: golden values, dual == primal, streaming, weights, and the reference package."""

from __future__ import annotations

import numpy as np
import pytest

from dqreview.errors import DQError
from dqreview.measures.vendi import (
    GramAccumulator,
    vendi_dual,
    vendi_from_eigenvalues,
    vendi_of_sets,
    vendi_primal,
)

QS = [0.5, 1, 2, np.inf]


def _data(n=300, d=16, seed=0):
    X = np.random.default_rng(seed).normal(size=(n, d))
    return X / np.linalg.norm(X, axis=1, keepdims=True)


def test_golden_points_laplace_kernel():
    x = np.array([0, 0, 10, 10, 20, 20], dtype=float)
    K = np.exp(-np.abs(x[:, None] - x[None, :]))
    assert vendi_primal(K, q=1) == pytest.approx(2.99999999588, rel=1e-9)


def test_golden_three_by_three():
    K = np.array([[1, 0.9, 0], [0.9, 1, 0], [0, 0, 1]], dtype=float)
    assert vendi_primal(K, q=1) == pytest.approx(2.15730048337, rel=1e-9)


@pytest.mark.parametrize("q", QS)
def test_dual_equals_primal(q):
    X = _data()
    assert vendi_dual(X, q=q) == pytest.approx(vendi_primal(X @ X.T, q=q), rel=1e-9)


@pytest.mark.parametrize("q", QS)
def test_dual_normalises_rows_inside(q):
    X = _data(n=50, d=8)
    scale = np.random.default_rng(1).uniform(0.1, 10, size=(50, 1))
    assert vendi_dual(X * scale, q=q) == pytest.approx(vendi_dual(X, q=q), rel=1e-12)


@pytest.mark.parametrize("q", [0, *QS])
def test_identical_items_give_one(q):
    X = np.tile(np.array([[1.0, 2.0, 3.0]]), (40, 1))
    assert vendi_dual(X, q=q) == pytest.approx(1.0, rel=1e-12)
    assert vendi_primal(np.ones((40, 40)), q=q) == pytest.approx(1.0, rel=1e-12)


@pytest.mark.parametrize("q", [0, *QS])
def test_orthogonal_items_give_n(q):
    n = 12
    assert vendi_primal(np.eye(n), q=q) == pytest.approx(n, rel=1e-12)
    assert vendi_dual(np.eye(n) * 3.0, q=q) == pytest.approx(n, rel=1e-12)


def test_roundoff_clipping_counts_distinct_items_at_q0():
    # 5 distinct vectors x 60 copies: the rank is 5; unclipped round-off would inflate VS_0.
    X = np.repeat(_data(n=5, d=16, seed=3), 60, axis=0)
    assert vendi_primal(X @ X.T, q=0) == pytest.approx(5.0)
    assert vendi_dual(X, q=0) == pytest.approx(5.0)


def test_monotone_non_increasing_in_q():
    X = _data(n=200, d=12, seed=2)
    qs = [0, 0.1, 0.5, 0.9, 1, 1.1, 2, 5, 20, np.inf]
    vals = [vendi_dual(X, q=q) for q in qs]
    assert all(a >= b * (1 - 1e-12) for a, b in zip(vals, vals[1:], strict=False)), vals
    assert 1.0 <= vals[-1] and vals[0] <= 12 + 1e-9


@pytest.mark.parametrize("q", QS)
def test_streaming_one_vs_four_shards(q):
    X = _data(n=300, d=16, seed=4) * 2.5
    one = GramAccumulator(16).add(X).vendi(q)
    acc = GramAccumulator(16)
    for part in np.array_split(X, 4):
        acc.add(part)
    assert acc.n == 300
    assert acc.vendi(q) == pytest.approx(one, rel=1e-12)
    assert vendi_of_sets({"a": X}, q=q, shard_rows=77)["a"] == pytest.approx(one, rel=1e-12)


def test_streaming_float32_close_to_float64():
    X = _data(n=1000, d=32, seed=5).astype(np.float32)
    a = GramAccumulator(32, dtype=np.float32).add(X).vendi(1)
    b = GramAccumulator(32, dtype=np.float64).add(X).vendi(1)
    assert a == pytest.approx(b, rel=1e-5)


@pytest.mark.parametrize("q", QS)
def test_equal_weights_equal_unweighted(q):
    X = _data(n=120, d=10, seed=6)
    w = np.full(120, 3.7)
    assert vendi_dual(X, q=q, weights=w) == pytest.approx(vendi_dual(X, q=q), rel=1e-12)
    assert vendi_primal(X @ X.T, q=q, weights=w) == pytest.approx(vendi_primal(X @ X.T, q=q), rel=1e-12)


@pytest.mark.parametrize("q", QS)
def test_weighted_dual_equals_weighted_primal_and_duplicates(q):
    rng = np.random.default_rng(7)
    X = _data(n=60, d=10, seed=7)
    w = rng.integers(1, 4, size=60).astype(float)
    expected = vendi_primal(X @ X.T, q=q, weights=w)
    assert vendi_dual(X, q=q, weights=w) == pytest.approx(expected, rel=1e-9)
    # integer weights == duplicating rows
    Xdup = np.repeat(X, w.astype(int), axis=0)
    assert vendi_dual(Xdup, q=q) == pytest.approx(expected, rel=1e-9)
    # streamed weighted shards
    acc = GramAccumulator(10)
    for part, wp in zip(np.array_split(X, 3), np.array_split(w, 3), strict=True):
        acc.add(part, weights=wp)
    assert acc.vendi(q) == pytest.approx(expected, rel=1e-9)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_against_vendi_score_package():
    # The reference package is a test-extra dependency: a failed import must FAIL this test.
    from vendi_score import vendi

    X = _data(n=300, d=16, seed=8) * 1.7
    Xn = X / np.linalg.norm(X, axis=1, keepdims=True)
    assert vendi_dual(X, q=1) == pytest.approx(vendi.score_dual(X, q=1), rel=1e-9)
    assert vendi_primal(Xn @ Xn.T, q=1) == pytest.approx(vendi.score_K(Xn @ Xn.T, q=1), rel=1e-9)
    x = np.array([0, 0, 10, 10, 20, 20], dtype=float)
    K = np.exp(-np.abs(x[:, None] - x[None, :]))
    assert vendi_primal(K, q=1) == pytest.approx(vendi.score_K(K, q=1), rel=1e-9)
    p = np.random.default_rng(9).uniform(0.5, 2, size=300)
    p = p / p.sum()
    assert vendi_primal(Xn @ Xn.T, q=1, weights=p) == pytest.approx(
        vendi.score_K(Xn @ Xn.T, q=1, p=p), rel=1e-9
    )


def test_bad_inputs_raise_dqerror():
    with pytest.raises(DQError):
        vendi_from_eigenvalues([0.5, 0.5], q=-1)
    with pytest.raises(DQError):
        vendi_from_eigenvalues([], q=1)
    with pytest.raises(DQError):
        vendi_dual(np.zeros((3, 4)))
    with pytest.raises(DQError):
        vendi_dual(np.ones(4))
    with pytest.raises(DQError):
        GramAccumulator(4).add(np.ones((2, 5)))
    with pytest.raises(DQError):
        GramAccumulator(4).vendi()
    with pytest.raises(DQError):
        vendi_primal(np.ones((2, 3)))
