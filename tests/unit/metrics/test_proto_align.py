"""proto_align (target prototypes) and the L1/L2 distances of prototypes.distance_to_nearest / ssl_proto."""

import io

import numpy as np
import pandas as pd
import pytest

from conftest import clustered_rows, unit_rows
from dqreview.errors import DQError
from dqreview.metrics import proto_align, prototypes
from dqreview.metrics.prototypes import distance_to_nearest, nearest_centroid, spherical_kmeans


def _unit(rng, n, d):
    return unit_rows(rng, n, d)


def _clustered(seed=0, n_per=30, k=4, d=12):
    return clustered_rows(seed, n_per, k, d, noise=0.15)


def _brute(X, P, distance):
    X64, P64 = X.astype(np.float64), P.astype(np.float64)
    diff = X64[:, None, :] - P64[None, :, :]
    if distance == "cosine":
        D = 1.0 - X64 @ P64.T
    elif distance == "l1":
        D = np.abs(diff).sum(axis=2)
    else:
        D = np.sqrt((diff**2).sum(axis=2))
    return D.min(axis=1), D.argmin(axis=1)


@pytest.mark.parametrize("distance", ["cosine", "l1", "l2"])
def test_distance_to_nearest_brute_force_and_chunking(distance):
    rng = np.random.default_rng(0)
    X, P = _unit(rng, 53, 8), _unit(rng, 5, 8)
    d_ref, i_ref = _brute(X, P, distance)
    for chunk in (7, 8192):
        d, i, sim = distance_to_nearest(X, P, distance, chunk_size=chunk)
        np.testing.assert_allclose(d, d_ref, atol=1e-10)
        np.testing.assert_array_equal(i, i_ref)
        np.testing.assert_allclose(sim, np.einsum("ij,ij->i", X.astype(np.float64), P[i].astype(np.float64)))


@pytest.mark.parametrize("distance", ["cosine", "l1", "l2"])
def test_ssl_proto_distance_param(distance):
    pool = _clustered(seed=2)
    state = prototypes.fit({"pool_embeddings": pool}, {"k": 4, "seed": 0})
    X = _unit(np.random.default_rng(3), 31, pool.shape[1])
    out = prototypes.score(
        pd.DataFrame({"id": [str(i) for i in range(31)]}), X, state, {"distance": distance}
    )
    d_ref, i_ref = _brute(X, state["centroids"], distance)
    np.testing.assert_allclose(out["score"], d_ref, atol=1e-6)  # HIGH = far
    np.testing.assert_array_equal(out["cluster"], i_ref)


def test_ssl_proto_unknown_distance():
    X = _clustered()
    state = prototypes.fit({"pool_embeddings": X}, {"k": 3})
    docs = pd.DataFrame({"id": [str(i) for i in range(len(X))]})
    with pytest.raises(
        DQError, match=r"params.distance: unknown distance 'l3'; known distances: cosine, l1, l2"
    ):
        prototypes.score(docs, X, state, {"distance": "l3"})


def _expected_prototypes(T, source, distance, k=3, seed=0, hard_fraction=0.3):
    if source == "mean":
        m = T.astype(np.float64).sum(axis=0)
        return (m / np.linalg.norm(m))[None, :]
    C = spherical_kmeans(T, k, seed, n_init=3)
    if source == "kmeans":
        return C
    d, _ = _brute(T, C, distance)
    n_hard = int(np.ceil(hard_fraction * len(T)))
    hard = np.sort(np.argsort(-d, kind="stable")[:n_hard])
    return spherical_kmeans(T[hard], k, seed, n_init=3)


@pytest.mark.parametrize("source", ["kmeans", "hard", "mean"])
@pytest.mark.parametrize("distance", ["cosine", "l1", "l2"])
def test_proto_align_against_brute_force(source, distance):
    T = _clustered(seed=5)
    params = {"source": source, "distance": distance, "k": 3, "seed": 0}
    state = proto_align.fit({"target_embeddings": T}, params)
    P = state["prototypes"]
    np.testing.assert_allclose(P, _expected_prototypes(T, source, distance), atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(P, axis=1), 1.0, atol=1e-6)
    X = _unit(np.random.default_rng(9), 41, T.shape[1])
    docs = pd.DataFrame({"id": [f"p{i}" for i in range(len(X))]})
    out = proto_align.score(docs, X, state, params)
    d_ref, i_ref = _brute(X, P, distance)
    expected = 1.0 - d_ref if distance == "cosine" else -d_ref  # HIGH = aligned
    np.testing.assert_allclose(out["score"], expected, atol=1e-6)
    np.testing.assert_array_equal(out["prototype"], i_ref)
    assert list(out["id"]) == list(docs["id"])
    # the state survives .npz without pickle
    buf = io.BytesIO()
    np.savez(buf, **state)
    buf.seek(0)
    loaded = dict(np.load(buf, allow_pickle=False))
    np.testing.assert_array_equal(loaded["prototypes"], P)


def test_mean_prototype_is_normalised_mean_and_scales_do_not_matter():
    rng = np.random.default_rng(1)
    T = _clustered(seed=1)
    scaled = T * rng.uniform(0.5, 3.0, size=(len(T), 1)).astype(np.float32)  # normalised first
    P = proto_align.fit({"target_embeddings": scaled}, {"source": "mean"})["prototypes"]
    m = T.astype(np.float64).mean(axis=0)
    np.testing.assert_allclose(P[0], m / np.linalg.norm(m), atol=1e-6)
    # the prototype direction scores 1 (aligned), its opposite −1
    X = np.vstack([P, -P])
    out = proto_align.score(pd.DataFrame({"id": ["a", "b"]}), X, {"prototypes": P}, {"source": "mean"})
    np.testing.assert_allclose(out["score"], [1.0, -1.0], atol=1e-6)


def test_hard_source_uses_the_farthest_rows():
    T = _clustered(seed=4)
    C = spherical_kmeans(T, 3, 0, n_init=3)
    idx = proto_align.hard_subset(T, C, 0.25)
    sim, _ = nearest_centroid(T, C)
    assert len(idx) == int(np.ceil(0.25 * len(T)))
    assert sim[idx].max() <= np.delete(sim, idx).min() + 1e-12


def test_proto_align_errors():
    T = _clustered()
    with pytest.raises(
        DQError, match=r"metrics\[proto_align\].variants\[\].params.source: unknown source 'x'"
    ):
        proto_align.fit({"target_embeddings": T}, {"source": "x", "k": 2})
    with pytest.raises(DQError, match=r"params.k: required for source='kmeans'"):
        proto_align.fit({"target_embeddings": T}, {})
    with pytest.raises(DQError, match=r"params.distance: unknown distance 'dot'"):
        proto_align.fit({"target_embeddings": T}, {"k": 2, "distance": "dot"})
    with pytest.raises(DQError, match=r"params.hard_fraction"):
        proto_align.fit({"target_embeddings": T}, {"k": 2, "source": "hard", "hard_fraction": 0})
    with pytest.raises(DQError, match=r"params.k=500 exceeds"):
        proto_align.fit({"target_embeddings": T}, {"k": 500})
    state = proto_align.fit({"target_embeddings": T}, {"k": 2})
    with pytest.raises(DQError, match="another space"):
        proto_align.score(pd.DataFrame({"id": ["a"]}), np.ones((1, 5), np.float32), state, {"k": 2})
