"""dqreview.metrics.d4: SemDeDup's removal, then re-clustering of the survivors; removed documents rank last."""

import numpy as np
import pandas as pd
import pytest

from conftest import near_copy_pool, normalise_rows
from dqreview.errors import DQError
from dqreview.metrics import d4, semdedup
from dqreview.metrics.prototypes import distance_to_nearest

SD, D4 = semdedup.METHOD, d4.METHOD


def d4_fit(X, ids, raw):
    return D4.fit({"pool_embeddings": X, "pool_ids": ids}, D4.params(raw))


def d4_score(docs, state, raw):
    return D4.score(docs, None, state, D4.params(raw))


def test_d4_removed_rank_last_and_survivors_use_reclustered_distance():
    X, ids, _ = near_copy_pool(seed=8, noise=0.03)
    params = {"k": 6, "k2": 4, "dedup_fraction_kept": 0.8}
    state = d4_fit(X, ids, params)
    removed = state["removed"]
    assert abs(removed.sum() - 0.2 * len(X)) <= state["n_clusters"]
    # same removal as SemDeDup with the same parameters
    sd = SD.fit({"pool_embeddings": X, "pool_ids": ids}, SD.params({"k": 6, "remove_fraction": 0.2}))
    np.testing.assert_array_equal(sd["removed"], removed)
    docs = pd.DataFrame({"id": ids})
    out = d4_score(docs, state, params)
    assert out["score"][removed].max() < -1.0 < 0.0 <= out["score"][~removed].min()
    assert (out["cluster"][removed] == -1).all()
    # survivors: cosine distance to the nearest centroid of the re-clustered survivors
    C2 = state["survivor_centroids"]
    assert C2.shape == (4, X.shape[1])
    dist, nearest, _ = distance_to_nearest(normalise_rows(X[~removed]).astype(np.float32), C2)
    np.testing.assert_allclose(out["score"][~removed], dist, atol=1e-9)
    np.testing.assert_array_equal(out["cluster"][~removed], nearest)
    # re-clustering on survivors: the centroids are the survivors' cluster means (fixed point)
    for j in range(4):
        m = normalise_rows(X[~removed])[nearest == j].sum(axis=0)
        np.testing.assert_allclose(C2[j], m / np.linalg.norm(m), atol=1e-5)
    # removed ones ordered among themselves by uniqueness: −1 − max similarity
    np.testing.assert_allclose(out["score"][removed], -2.0 + sd["score"][removed], atol=1e-12)


def test_d4_params():
    X, ids, _ = near_copy_pool(seed=9)
    p = D4.params({"k": 6})
    assert (p.dedup_fraction_kept, p.k2, p.eps, p.remove_fraction, p.survivor_k) == (
        None,
        None,
        None,
        0.25,
        6,
    )
    state = d4_fit(X, ids, {"k": 6})  # default R_dedup = 0.75
    assert abs(state["removed"].sum() - 0.25 * len(X)) <= state["n_clusters"]
    p = D4.params({"k": 6, "k2": 3, "dedup_fraction_kept": 0.6})
    assert p.remove_fraction == pytest.approx(0.4) and p.survivor_k == 3
    p = D4.params({"k": 6, "eps": 0.1})  # ε given: no removal fraction
    assert (p.eps, p.remove_fraction) == (0.1, None)
    assert d4_fit(X, ids, {"k": 6, "eps": 0.1})["eps"] == 0.1
    with pytest.raises(DQError, match=r"^d4: k2=10000 exceeds the \d+ SemDeDup survivors"):
        d4_fit(X, ids, {"k": 6, "k2": 10000})
    with pytest.raises(DQError, match=rf"^d4: k=10000 exceeds the number of pool documents n={len(X)};"):
        d4_fit(X, ids, {"k": 10000})


@pytest.mark.parametrize(
    "raw, match",
    [
        (
            {"k": 6, "eps": 0.1, "dedup_fraction_kept": 0.7},
            r"params\.dedup_fraction_kept: give either eps or dedup_fraction_kept, not both; got 0\.7",
        ),
        (
            {"k": 6, "dedup_fraction_kept": 0},
            r"params\.dedup_fraction_kept: expected a number > 0 and <= 1 or null",
        ),
        (
            {"k": 6, "dedup_fraction_kept": 1.2},
            r"params\.dedup_fraction_kept: expected a number > 0 and <= 1",
        ),
        ({"k": 6, "k2": 0}, r"params\.k2: expected an integer >= 1 or null; got 0"),
        ({"k": 6, "remove_fraction": 0.25}, r"params: unknown key\(s\) \['remove_fraction'\]"),
        ({"k2": 3}, r"params: missing required key\(s\) \['k'\]"),
        ({"k": 6, "keep": "middle"}, r"params\.keep: 'middle' is not one of"),
        ({"k": 6, "max_cluster": 1}, r"params\.max_cluster: expected an integer >= 2; got 1"),
    ],
)
def test_d4_bad_params(raw, match):
    with pytest.raises(DQError, match=match):
        D4.params(raw)
