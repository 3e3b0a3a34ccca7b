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


def test_greedy_by_hand():
    # step 0: J = 0.5 a + 0.5 mean(S): 0.70, 0.65, 0.30 -> doc 0; step 1 (cur = [1, 0]): doc 1 0.425 + 0.275
    # = 0.70, doc 2 0.25 + 0.5 = 0.75 -> doc 2; step 2: doc 1, 0.5 * 1.8 / 3 + 0.5 * 1 = 0.80
    a = np.array([0.9, 0.8, 0.1])
    S = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]])
    order, J = dq.greedy_order(a, S, 0.5)
    assert order.tolist() == [0, 2, 1]
    np.testing.assert_allclose(J, [0.70, 0.75, 0.80], atol=1e-12)
    order, J = dq.greedy_order(a, S, 1.0)  # alignment alone: the running mean of the best first
    assert order.tolist() == [0, 1, 2]
    np.testing.assert_allclose(J, [0.9, 0.85, 0.6], atol=1e-12)
    assert dq.saturation_index([0, 2, 1], a) == 2 and dq.saturation_index([0, 1, 2], a) == 0


def test_greedy_ties_go_to_the_smaller_key():
    a, S = np.full(4, 0.5), np.ones((4, 2))
    order, _ = dq.greedy_order(a, S, 0.5, tie_key=np.array(["d", "b", "c", "a"]))
    assert order.tolist() == [3, 1, 2, 0]
    assert dq.saturation_index(order, a, tie_key=np.array(["d", "b", "c", "a"])) == 0


def _plain_greedy(a, S, alpha):
    """The greedy of the definition: every candidate's exact J at every step, the first maximum."""
    cur, total, plain, left = np.zeros(S.shape[1], S.dtype), 0.0, [], np.ones(len(a), bool)
    for m in range(len(a)):
        g = (
            alpha * (total + a) / (m + 1)
            + (1 - alpha) * np.maximum(S - cur, 0).sum(1, dtype=np.float64) / S.shape[1]
        )
        g[~left] = -np.inf
        best = int(np.argmax(g))
        plain.append(best)
        left[best] = False
        total += a[best]
        cur = np.maximum(cur, S[best])
    return plain


@pytest.mark.parametrize("alpha", [0.0, 0.2, 0.5, 0.8])
def test_lazy_greedy_equals_the_plain_greedy_on_many_near_ties(alpha):
    # 300 documents, 40 coverage points, coarse values (many equal gains): the lazy bounds must never skip
    # the exact argmax, ties included
    rng = np.random.default_rng(7)
    a = rng.integers(0, 5, 300) / 4
    S = (rng.integers(0, 8, (300, 40)) / 8).astype(np.float32)
    order, _ = dq.greedy_order(a, S, alpha)
    assert order.tolist() == _plain_greedy(a, S, alpha)


@pytest.mark.parametrize("alpha", [0.0, 0.05, 0.5, 0.95, 1.0])
def test_threshold_scan_equals_the_plain_greedy_with_duplicates(alpha):
    # continuous values, every document twice (exact ties in both alignment and gain), few coverage points
    # (gains reach zero early): the scan over the alignment order and the gain heap must find the argmax
    rng = np.random.default_rng(11)
    a = np.tile(rng.random(150), 2)
    S = np.tile(rng.random((150, 12)) ** 3, (2, 1))
    order, _ = dq.greedy_order(a, S, alpha)
    assert order.tolist() == _plain_greedy(a, S, alpha)


def test_alpha_one_is_alignment_order_and_alpha_zero_spreads():
    X, group = t2v_blobs(n_per=8)
    ids = np.array([f"d{i:03d}" for i in range(len(X))])
    T = X[group == 0]  # the target looks like group 0
    align = dq_fit(X, ids, T, {"alpha": 1.0, "k": 3})
    assert (np.argsort(align["rank"]) == np.argsort(-align["alignment"], kind="stable")).all()
    assert set(group[np.argsort(align["rank"])[:8]]) == {0}
    spread = dq_fit(X, ids, T, {"alpha": 0.0, "k": 3, "seed": 1})
    assert set(group[np.argsort(spread["rank"])[:3]]) == {0, 1, 2}  # one document from every region


@pytest.mark.parametrize("cover", ["pool", "documents"])
def test_alpha_one_is_the_alignment_order_whatever_the_cover(cover):
    X, _ = t2v_blobs(n_per=10)
    ids = np.array([f"d{i:03d}" for i in range(len(X))])[::-1].copy()  # ties go by id, not by row
    state = dq_fit(X, ids, X[:5], {"alpha": 1.0, "k": 3, "cover": cover})
    by_alignment = np.lexsort((ids, -state["alignment"]))
    assert (np.argsort(state["rank"]) == by_alignment).all()
    assert dq.saturation_index(np.argsort(state["rank"]), state["alignment"], tie_key=ids) == 0


def test_document_cover_does_not_saturate_where_prototypes_do():
    # 3 regions of 30 documents, the target like region 0. Coverage of 3 prototypes is complete once each
    # prototype's nearest document is picked (a handful of picks); from there on alpha = 0.5 orders by
    # alignment alone. Coverage of every pool document still changes the picks near the end of the order.
    X, group = t2v_blobs(n_per=30)
    ids = np.array([f"d{i:03d}" for i in range(len(X))])
    T = X[group == 0][:10]
    saturation = {}
    for cover in ("pool", "documents"):
        state = dq_fit(X, ids, T, {"alpha": 0.5, "k": 3, "cover": cover, "kmeans_sample": 90})
        saturation[cover] = dq.saturation_index(np.argsort(state["rank"]), state["alignment"], tie_key=ids)
    assert saturation["pool"] <= 10
    assert saturation["documents"] >= 80, saturation


def test_document_cover_set():
    X, _ = t2v_blobs(n_per=4)
    ids = np.array([f"d{i:03d}" for i in range(len(X))])
    full = dq.document_similarity(X, ids, 100, seed=0)
    assert full.shape == (12, 12) and full.dtype == np.float32
    np.testing.assert_allclose(np.diag(full), 1.0, rtol=1e-6)  # every document covers its own point
    U = X / np.linalg.norm(X, axis=1, keepdims=True)
    np.testing.assert_allclose(full, U @ U.T, rtol=1e-5)
    some = dq.document_similarity(X, ids, 5, seed=3)
    perm = np.random.default_rng(1).permutation(12)
    np.testing.assert_array_equal(dq.document_similarity(X[perm], ids[perm], 5, seed=3), some[perm])
    X[4] = 0
    with pytest.raises(DQError, match=r"dq: pool document 'd004' has a zero Task2Vec vector"):
        dq.document_similarity(X, ids, 5, seed=3)


@pytest.mark.parametrize("cover", ["pool", "documents", "sample"])
def test_dq_scores_do_not_depend_on_sharding_or_row_order(cover):
    X, _ = t2v_blobs(n_per=6)
    ids = np.array([f"d{i:03d}" for i in range(len(X))])
    T = X[:4]
    p = {"alpha": 0.5, "k": 3 if cover == "pool" else 7, "cover": cover, "kmeans_sample": 10}  # samples by id
    state = dq_fit(X, ids, T, p)
    perm = np.random.default_rng(0).permutation(len(X))
    state2 = dq_fit(X[perm], ids[perm], T, p)
    a = dq_score(pd.DataFrame({"id": ids}), state, p).set_index("id")["score"]
    b = dq_score(pd.DataFrame({"id": ids[perm]}), state2, p).set_index("id")["score"]
    pd.testing.assert_series_equal(a.sort_index(), b.sort_index())
    assert sorted(a.to_numpy()) == [-float(r) for r in range(len(X) - 1, -1, -1)]


def test_only_drawn_coverage_sets_have_a_scoring_seed():
    assert DQ.params({"alpha": 0.5, "cover": "documents", "seed": "run"}).run_seed_fields() == []
    for cover in ("sample", "pool", "target"):
        assert DQ.params({"alpha": 0.5, "cover": cover, "seed": "run"}).follows_run_seed
    X, _ = t2v_blobs(n_per=5)
    ids = np.array([f"d{i:03d}" for i in range(len(X))])
    every = dq_fit(X, ids, X[:3], {"alpha": 0.5, "cover": "documents"})
    whole = dq_fit(X, ids, X[:3], {"alpha": 0.5, "cover": "sample", "k": 99, "seed": 4})  # k >= the pool
    np.testing.assert_array_equal(every["rank"], whole["rank"])


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
        (
            {"alpha": 0.5, "cover": "x"},
            r"params\.cover: 'x' is not one of \['pool', 'target', 'documents', 'sample'\]",
        ),
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
