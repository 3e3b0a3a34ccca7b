"""dqreview.metrics.dq: the greedy order trading alignment with the target against coverage of the pool."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conftest import t2v_blobs
from dqreview.errors import DQError
from dqreview.metrics import dq

DQ = dq.METHOD


def dq_fit(X, ids, target, raw):
    return DQ.fit({"pool_t2v": X, "pool_ids": ids, "target_t2v": target}, DQ.params(raw))


def dq_score(docs, state, raw):
    return DQ.score(docs, None, state, DQ.params(raw))


def objective(a, S, chosen, alpha):
    return alpha * a[chosen].mean() + (1 - alpha) * S[chosen].max(axis=0).mean()


@pytest.mark.parametrize("alpha", [0.0, 0.3, 0.7, 1.0])
def test_greedy_picks_the_best_next_document(alpha):
    rng = np.random.default_rng(3)
    a, S = rng.random(25), rng.random((25, 4))
    order, J = dq.greedy_order(a, S, alpha)
    assert sorted(order.tolist()) == list(range(25))
    for m in range(25):
        prefix = list(order[:m])
        gains = [objective(a, S, prefix + [c], alpha) if c not in prefix else -np.inf for c in range(25)]
        assert objective(a, S, prefix + [order[m]], alpha) == pytest.approx(max(gains), abs=1e-12)
        assert J[m] == pytest.approx(objective(a, S, list(order[: m + 1]), alpha), abs=1e-12)


def test_alpha_one_is_alignment_order_and_alpha_zero_spreads():
    X, group = t2v_blobs(n_per=8)
    ids = np.array([f"d{i:03d}" for i in range(len(X))])
    T = X[group == 0]  # the target looks like group 0
    align = dq_fit(X, ids, T, {"alpha": 1.0, "k": 3})
    assert (np.argsort(align["rank"]) == np.argsort(-align["alignment"], kind="stable")).all()
    assert set(group[np.argsort(align["rank"])[:8]]) == {0}
    spread = dq_fit(X, ids, T, {"alpha": 0.0, "k": 3, "seed": 1})
    assert set(group[np.argsort(spread["rank"])[:3]]) == {0, 1, 2}  # one document from every region


def test_dq_scores_do_not_depend_on_sharding_or_row_order():
    X, _ = t2v_blobs(n_per=6)
    ids = np.array([f"d{i:03d}" for i in range(len(X))])
    T = X[:4]
    p = {"alpha": 0.5, "k": 3, "kmeans_sample": 10}  # a subsample keyed by id, not by row
    state = dq_fit(X, ids, T, p)
    perm = np.random.default_rng(0).permutation(len(X))
    state2 = dq_fit(X[perm], ids[perm], T, p)
    a = dq_score(pd.DataFrame({"id": ids}), state, p).set_index("id")["score"]
    b = dq_score(pd.DataFrame({"id": ids[perm]}), state2, p).set_index("id")["score"]
    pd.testing.assert_series_equal(a.sort_index(), b.sort_index())
    assert sorted(a.to_numpy()) == [-float(r) for r in range(len(X) - 1, -1, -1)]


def test_dq_params():
    p = DQ.params({"alpha": 1})
    assert (p.alpha, p.k, p.cover, p.seed, p.n_iter, p.n_init, p.kmeans_sample) == (
        1.0,
        20,
        "pool",
        0,
        30,
        2,
        2000,
    )
    assert isinstance(p.alpha, float)


@pytest.mark.parametrize(
    "params, match",
    [
        ({}, r"params: missing required key\(s\) \['alpha'\]"),
        ({"alpha": 1.5}, r"params\.alpha: expected a number >= 0 and <= 1; got 1\.5"),
        ({"alpha": True}, r"params\.alpha: expected a number >= 0 and <= 1; got True"),
        ({"alpha": 0.5, "cover": "x"}, r"params\.cover: 'x' is not one of \['pool', 'target'\]"),
        ({"alpha": 0.5, "k": 0}, r"params\.k: expected an integer >= 1; got 0"),
        ({"alpha": 0.5, "kmeans_sample": 0}, r"params\.kmeans_sample: expected an integer >= 1; got 0"),
        ({"alpha": 0.5, "seed": -2}, r"params\.seed: expected an integer >= 0 or one of \['run'\]; got -2"),
        ({"alpha": 0.5, "beta": 1}, r"params: unknown key\(s\) \['beta'\]"),
    ],
)
def test_dq_bad_params(params, match):
    with pytest.raises(DQError, match=match):
        DQ.params(params)


def test_dq_more_prototypes_than_documents():
    X, _ = t2v_blobs()
    ids = np.array([str(i) for i in range(len(X))])
    with pytest.raises(DQError, match=r"dq: k=99 is more prototypes than the 30 pool documents"):
        dq_fit(X, ids, X[:3], {"alpha": 0.5, "k": 99})
    with pytest.raises(DQError, match=r"dq: k=4 is more prototypes than the 3 target documents"):
        dq_fit(X, ids, X[:3], {"alpha": 0.5, "k": 4, "cover": "target"})


def test_dq_stale_state():
    X, _ = t2v_blobs()
    ids = np.array([str(i) for i in range(len(X))])
    state = dq_fit(X, ids, X[:3], {"alpha": 0.5, "k": 2})
    with pytest.raises(DQError, match="stale"):
        dq_score(pd.DataFrame({"id": ["zzz"]}), state, {"alpha": 0.5})
