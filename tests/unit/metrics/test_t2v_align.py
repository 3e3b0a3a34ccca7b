"""The selection metrics built on per-document Task2Vec vectors: t2v_align and dq."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dqreview.errors import DQError
from dqreview.metrics import dq, get_metric, t2v_align
from dqreview.metrics.task2vec import distance_matrix


def blobs(seed=0, n_per=10, k=3, d=12):
    """k groups of positive 'Fisher' vectors, each group active on its own coordinates."""
    rng = np.random.default_rng(seed)
    X = rng.random((n_per * k, d)) * 0.05
    for j in range(k):
        X[j * n_per : (j + 1) * n_per, j * (d // k) : (j + 1) * (d // k)] += 1 + rng.random((n_per, d // k))
    return X, np.repeat(np.arange(k), n_per)


def shard(n, prefix="d"):
    return pd.DataFrame({"id": [f"{prefix}{i:03d}" for i in range(n)]})


# --- t2v_align ----------------------------------------------------------------------------------


def test_mean_prototype_and_cosine_score():
    T, _ = blobs()
    state = t2v_align.fit({"target_t2v": T, "target_losses": np.zeros(len(T))}, {})
    np.testing.assert_allclose(state["prototypes"], T.mean(0, keepdims=True))
    X = np.vstack([T.mean(0), T[:3]])
    out = t2v_align.score(shard(4), X, state, {})
    assert out["score"].iloc[0] == 1.0 and (out["score"].iloc[1:] < 1).all()
    np.testing.assert_allclose(out["score"], 1 - distance_matrix(X, T.mean(0))[:, 0])
    assert list(out.columns) == ["id", "score", "prototype", "distance"]


@pytest.mark.parametrize("distance", ["l1", "l2"])
def test_l1_l2_scores_are_negated_distances(distance):
    T, _ = blobs()
    p = {"distance": distance}
    state = t2v_align.fit({"target_t2v": T, "target_losses": np.zeros(len(T))}, p)
    out = t2v_align.score(shard(5), T[:5], state, p)
    np.testing.assert_allclose(out["score"], -distance_matrix(T[:5], T.mean(0), distance)[:, 0])


def test_hard_source_uses_highest_probe_loss():
    T, group = blobs()
    losses = np.where(group == 2, 5.0, 1.0)  # group 2 is the hardest
    p = {"source": "hard", "hard_fraction": 1 / 3}
    state = t2v_align.fit({"target_t2v": T, "target_losses": losses}, p)
    np.testing.assert_allclose(state["prototypes"], T[group == 2].mean(0, keepdims=True))
    assert t2v_align.hardest(np.array([1.0, 3.0, 3.0, 2.0]), 0.5).tolist() == [1, 2]


def test_kmeans_prototypes_find_the_groups():
    T, group = blobs(n_per=12)
    p = {"prototype": "kmeans", "k": 3, "seed": 1}
    state = t2v_align.fit({"target_t2v": T, "target_losses": np.zeros(len(T))}, p)
    out = t2v_align.score(shard(len(T)), T, state, p)
    assignment = out["prototype"].to_numpy()
    assert all(len(set(assignment[group == g])) == 1 for g in range(3))
    assert len(set(assignment)) == 3
    again = t2v_align.fit({"target_t2v": T, "target_losses": np.zeros(len(T))}, p)
    np.testing.assert_array_equal(again["prototypes"], state["prototypes"])  # deterministic


@pytest.mark.parametrize(
    "params, match",
    [
        ({"prototype": "kmeans", "k": 50}, "more prototypes"),
        ({"prototype": "median"}, "prototype"),
        ({"distance": "kl"}, "distance"),
        ({"hard_fraction": 0}, "hard_fraction"),
        ({"k": 3}, "prototype=mean"),
        ({"kk": 3}, "unknown"),
    ],
)
def test_t2v_align_bad_params(params, match):
    T, _ = blobs()
    with pytest.raises(DQError, match=match):
        t2v_align.fit({"target_t2v": T, "target_losses": np.zeros(len(T))}, params)


def test_t2v_align_bad_inputs():
    T, _ = blobs()
    state = t2v_align.fit({"target_t2v": T, "target_losses": np.zeros(len(T))}, {})
    with pytest.raises(DQError, match="do not match"):
        t2v_align.score(shard(3), np.ones((3, 5)), state, {})  # wrong dimension
    with pytest.raises(DQError, match="documents"):
        t2v_align.score(shard(4), T[:3], state, {})  # wrong row count
    with pytest.raises(DQError, match="needs the shard"):
        t2v_align.score(shard(3), None, state, {})
    with pytest.raises(DQError, match="hard"):
        t2v_align.fit({"target_t2v": T, "target_losses": np.zeros(2)}, {"source": "hard"})


# --- dq -----------------------------------------------------------------------------------------


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
    X, group = blobs(n_per=8)
    ids = np.array([f"d{i:03d}" for i in range(len(X))])
    T = X[group == 0]  # the target looks like group 0
    align = dq.fit({"pool_t2v": X, "pool_ids": ids, "target_t2v": T}, {"alpha": 1.0, "k": 3})
    assert (np.argsort(align["rank"]) == np.argsort(-align["alignment"], kind="stable")).all()
    assert set(group[np.argsort(align["rank"])[:8]]) == {0}
    spread = dq.fit({"pool_t2v": X, "pool_ids": ids, "target_t2v": T}, {"alpha": 0.0, "k": 3, "seed": 1})
    assert set(group[np.argsort(spread["rank"])[:3]]) == {0, 1, 2}  # one document from every region


def test_dq_scores_do_not_depend_on_sharding_or_row_order():
    X, _ = blobs(n_per=6)
    ids = np.array([f"d{i:03d}" for i in range(len(X))])
    T = X[:4]
    p = {"alpha": 0.5, "k": 3, "kmeans_sample": 10}  # a subsample keyed by id, not by row
    state = dq.fit({"pool_t2v": X, "pool_ids": ids, "target_t2v": T}, p)
    perm = np.random.default_rng(0).permutation(len(X))
    state2 = dq.fit({"pool_t2v": X[perm], "pool_ids": ids[perm], "target_t2v": T}, p)
    a = dq.score(pd.DataFrame({"id": ids}), None, state, p).set_index("id")["score"]
    b = dq.score(pd.DataFrame({"id": ids[perm]}), None, state2, p).set_index("id")["score"]
    pd.testing.assert_series_equal(a.sort_index(), b.sort_index())
    assert sorted(a.to_numpy()) == [-float(r) for r in range(len(X) - 1, -1, -1)]


@pytest.mark.parametrize(
    "params, match",
    [
        ({}, "alpha"),
        ({"alpha": 1.5}, "alpha"),
        ({"alpha": 0.5, "k": 99}, "more prototypes"),
        ({"alpha": 0.5, "cover": "x"}, "cover"),
    ],
)
def test_dq_bad_params(params, match):
    X, _ = blobs()
    ids = np.array([str(i) for i in range(len(X))])
    with pytest.raises(DQError, match=match):
        dq.fit({"pool_t2v": X, "pool_ids": ids, "target_t2v": X[:3]}, params)


def test_dq_stale_state():
    X, _ = blobs()
    ids = np.array([str(i) for i in range(len(X))])
    state = dq.fit({"pool_t2v": X, "pool_ids": ids, "target_t2v": X[:3]}, {"alpha": 0.5, "k": 2})
    with pytest.raises(DQError, match="stale"):
        dq.score(pd.DataFrame({"id": ["zzz"]}), None, state, {"alpha": 0.5})


def test_registered():
    assert get_metric("t2v_align") is t2v_align and get_metric("dq") is dq
