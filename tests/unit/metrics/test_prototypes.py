"""Metric registry and protocol; random baseline; spherical k-means and ssl_proto scores."""

import numpy as np
import pandas as pd
import pytest

from conftest import clustered_rows, unit_rows
from dqreview.errors import DQError
from dqreview.metrics import (
    KNOWN_FIT_NEEDS,
    REGISTRY,
    get_metric,
    known_metrics,
    prototypes,
    validate_metric_entry,
)
from dqreview.metrics.prototypes import nearest_centroid, spherical_kmeans


def _unit(rng, n, d):
    return unit_rows(rng, n, d)


def _clustered(seed=0, n_per=40, k=4, d=16):
    return clustered_rows(seed, n_per, k, d, noise=0.1)


# --- registry -----------------------------------------------------------------------------------


def test_registry_modules_follow_protocol():
    for name in known_metrics():
        module = get_metric(name)
        assert isinstance(module.PER_DOCUMENT, bool)
        assert set(module.KEEP) <= {"high", "low"} and module.KEEP
        assert set(module.NEEDS) <= {"embeddings", "t2v"}
        if getattr(module, "MIXTURE", False):  # a learned mixture: selection instead of scores
            assert callable(module.select_budget) and not module.PER_DOCUMENT
        else:
            assert callable(module.score)
        if hasattr(module, "fit"):
            assert set(module.FIT_NEEDS) <= set(KNOWN_FIT_NEEDS)
    assert set(REGISTRY) == {
        "random", "ssl_proto", "proto_align", "semdedup", "d4", "minhash", "dsir", "doremi", "skillit", "t2v_align", "dq",
    }  # fmt: skip


def test_unknown_metric_lists_known_ones():
    with pytest.raises(
        DQError,
        match=r"unknown metric 'nope'; known metrics: d4, doremi, dq, dsir, minhash, proto_align, random, semdedup, "
        r"skillit, ssl_proto, t2v_align",
    ):
        get_metric("nope")


def test_validate_metric_entry():
    ok = {
        "name": "ssl_proto",
        "keep": ["high", "low"],
        "variants": [{"slug": "pool-k20", "params": {"k": 20}}],
    }
    assert validate_metric_entry(ok, 1) is prototypes
    with pytest.raises(DQError, match=r"metrics\[2\].keep: \['low'\] not allowed for metric 'random'"):
        validate_metric_entry({"name": "random", "keep": ["high", "low"], "variants": [{"slug": "u"}]}, 2)
    with pytest.raises(DQError, match=r"metrics\[0\].variants\[1\].slug: 'a' repeats"):
        validate_metric_entry(
            {"name": "random", "keep": ["high"], "variants": [{"slug": "a"}, {"slug": "a"}]}
        )
    with pytest.raises(DQError, match=r"metrics\[0\].variants\[0\].slug: 'bad/slug'"):
        validate_metric_entry({"name": "random", "keep": ["high"], "variants": [{"slug": "bad/slug"}]})
    with pytest.raises(DQError, match=r"metrics\[3\].name: unknown metric 'x'"):
        validate_metric_entry({"name": "x", "variants": [{"slug": "a"}]}, 3)


# --- random -------------------------------------------------------------------------------------


def test_random_scores_zero():
    docs = pd.DataFrame({"id": ["a", "b", "c"]})
    out = get_metric("random").score(docs, None, None, {})
    assert list(out["id"]) == ["a", "b", "c"] and (out["score"] == 0.0).all()


# --- spherical k-means --------------------------------------------------------------------------


def test_spherical_kmeans_deterministic_and_unit():
    X = _clustered()
    C1 = spherical_kmeans(X, 4, seed=7)
    C2 = spherical_kmeans(X, 4, seed=7)
    assert C1.dtype == np.float32 and C1.shape == (4, X.shape[1])
    np.testing.assert_array_equal(C1, C2)
    np.testing.assert_allclose(np.linalg.norm(C1, axis=1), 1.0, atol=1e-6)
    # the four planted groups are found: each gets its own centroid
    _, labels = nearest_centroid(X, C1)
    assert sorted(len(set(labels[i * 40 : (i + 1) * 40])) for i in range(4)) == [1, 1, 1, 1]
    assert len(set(labels)) == 4


def test_spherical_kmeans_is_a_fixed_point():
    X = _clustered(seed=3)
    C = spherical_kmeans(X, 5, seed=0)
    _, labels = nearest_centroid(X, C)
    for j in range(5):
        mean = X[labels == j].astype(np.float64).sum(axis=0)
        np.testing.assert_allclose(C[j], mean / np.linalg.norm(mean), atol=1e-6)


def test_spherical_kmeans_k_too_large():
    X = _clustered(n_per=2, k=2)
    with pytest.raises(DQError, match=r"params.k=5 exceeds the number of documents n=4"):
        spherical_kmeans(X, 5, seed=0)
    assert spherical_kmeans(X, 4, seed=0).shape == (4, X.shape[1])  # k = n works


def test_spherical_kmeans_duplicates_do_not_break_it():
    X = np.repeat(_clustered(n_per=1, k=3), 5, axis=0)  # 3 distinct points, k larger than that
    C = spherical_kmeans(X, 4, seed=1)
    assert np.isfinite(C).all()
    np.testing.assert_allclose(np.linalg.norm(C, axis=1), 1.0, atol=1e-6)


# --- ssl_proto scores ---------------------------------------------------------------------------


def test_ssl_proto_scores_equal_brute_force_and_chunking():
    rng = np.random.default_rng(1)
    pool = _clustered(seed=1)
    state = prototypes.fit({"pool_embeddings": pool}, {"k": 6, "seed": 0})
    X = _unit(rng, 97, pool.shape[1])
    docs = pd.DataFrame({"id": [f"d{i}" for i in range(len(X))]})
    out = prototypes.score(docs, X, state, {})
    sims = X.astype(np.float64) @ state["centroids"].astype(np.float64).T
    np.testing.assert_allclose(out["score"], (1 - sims).min(axis=1), atol=1e-6)
    np.testing.assert_array_equal(out["cluster"], sims.argmax(axis=1))
    np.testing.assert_allclose(out["similarity"], sims.max(axis=1), atol=1e-6)
    assert list(out["id"]) == list(docs["id"])
    for chunk in (1, 7, 50, 1000):
        other = prototypes.score(docs, X, state, {"chunk_size": chunk})
        np.testing.assert_array_equal(other["cluster"], out["cluster"])
        np.testing.assert_allclose(other["score"], out["score"], rtol=1e-12, atol=1e-15)


def test_ssl_proto_errors():
    X = _clustered()
    state = prototypes.fit({"pool_embeddings": X}, {"k": 3})
    docs = pd.DataFrame({"id": [str(i) for i in range(len(X))]})
    with pytest.raises(DQError, match="unknown distance 'l3'; known distances: cosine, l1, l2"):
        prototypes.score(docs, X, state, {"distance": "l3"})
    with pytest.raises(DQError, match="embeddings for 5 documents"):
        prototypes.score(docs.head(5), X, state, {})
    with pytest.raises(DQError, match="params.k is required"):
        prototypes.fit({"pool_embeddings": X}, {})


def test_ssl_proto_pool_fraction_nested_sub_pools():
    from dqreview.metrics import prototypes

    X = clustered_rows(seed=3, n_per=50)
    ids = np.array([f"d{i}" for i in range(len(X))])
    docs = pd.DataFrame({"id": ids})
    half = prototypes.in_sub_pool(ids, {"pool_fraction": 0.5})
    quarter = prototypes.in_sub_pool(ids, {"pool_fraction": 0.25})
    assert (quarter <= half).all() and 0.15 < quarter.mean() < 0.35 and 0.4 < half.mean() < 0.6  # nested
    params = {"k": 4, "seed": 0, "pool_fraction": 0.5}
    state = prototypes.fit({"pool_embeddings": X, "pool_ids": ids}, params)
    # the prototypes are those of the sub-pool alone
    expected = spherical_kmeans(X[half], k=4, seed=0, n_iter=50, n_init=3)
    np.testing.assert_array_equal(state["centroids"], expected)
    out = prototypes.score(docs, X, state, params)
    np.testing.assert_array_equal(out["removed"].to_numpy(), ~half)
    assert "removed" not in prototypes.score(docs, X, state, {"k": 4}).columns  # the whole pool: none
    with pytest.raises(DQError, match="pool_fraction"):
        prototypes.in_sub_pool(ids, {"pool_fraction": 0})
