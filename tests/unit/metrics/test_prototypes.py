"""dqreview.metrics.prototypes: spherical k-means, the cosine/L1/L2 distance to the nearest prototype, and the
ssl_proto scores."""

import numpy as np
import pandas as pd
import pytest

from conftest import clustered_rows, nearest_brute_force, unit_rows
from dqreview.errors import DQError
from dqreview.metrics import load_method, prototypes
from dqreview.metrics.prototypes import distance_to_nearest, nearest_centroid, spherical_kmeans

SSL = prototypes.METHOD


def _fit(X, raw, ids=None):
    fit_inputs = {"pool_embeddings": X} if ids is None else {"pool_embeddings": X, "pool_ids": ids}
    return SSL.fit(fit_inputs, SSL.params(raw))


def _score(docs, X, state, raw):
    return SSL.score(docs, X, state, SSL.params(raw))


def _unit(rng, n, d):
    return unit_rows(rng, n, d)


def _clustered(seed=0, n_per=40, k=4, d=16):
    return clustered_rows(seed, n_per, k, d, noise=0.1)


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


def _plain_lloyd(X, C, n_iter):
    """Lloyd by full passes, as written before the bounds: assign every row, stop when no label changes."""
    X64, labels, reseeded = X.astype(np.float64), None, False
    for _ in range(n_iter):
        sims = X64 @ C.T
        new_labels = np.argmax(sims, axis=1)
        similarity = sims[np.arange(len(X)), new_labels]
        if labels is not None and not reseeded and np.array_equal(new_labels, labels):
            break
        labels = new_labels
        sums = np.zeros_like(C)
        np.add.at(sums, labels, X64)
        norms = np.linalg.norm(sums, axis=1)
        dead = np.flatnonzero(norms <= 1e-12)
        C = sums / np.where(norms > 1e-12, norms, 1.0)[:, None]
        C[dead] = X64[np.argsort(similarity, kind="stable")[: dead.size]]
        reseeded = bool(dead.size)
    return C


@pytest.mark.parametrize(
    "data, k",
    [
        ("clustered", 4),  # converges in a few iterations
        ("uniform", 12),  # many rows flip late: the bounds skip most rows, not all
        ("duplicates", 6),  # 3 distinct points for 6 centroids: empty clusters reseeded
    ],
)
@pytest.mark.parametrize("n_iter", [1, 3, 50])
def test_lloyd_with_bounds_equals_full_passes(data, k, n_iter):
    """Hamerly's bounds skip rows, never change an assignment: the same centroids as full passes."""
    rng = np.random.default_rng(5)
    X = {
        "clustered": _clustered(seed=2, n_per=60),
        "uniform": _unit(rng, 3000, 8).astype(np.float32),
        "duplicates": np.repeat(_clustered(n_per=1, k=3), 7, axis=0),
    }[data]
    C0 = prototypes._kmeans_pp(X, k, np.random.default_rng(1))
    bar = prototypes.Progress(n_iter, "test", "iteration", enabled=False)
    C, objective = prototypes._lloyd(X, C0, n_iter, 257, bar)
    expected = _plain_lloyd(X, C0.astype(np.float64), n_iter)
    np.testing.assert_allclose(C, expected, atol=1e-10)
    sims, labels = nearest_centroid(X, expected)
    assert objective == pytest.approx(sims.sum(), rel=1e-12)


def test_float32_assignment_is_the_float64_one_with_valid_bounds():
    """Rows at exact ties and at float32-invisible gaps (1e-9) go through float64: the same centroid as
    float64 arithmetic (first on ties), and bounds that hold for the float64 similarities."""
    rng = np.random.default_rng(3)
    d = 64
    C = _unit(rng, 6, d).astype(np.float64)
    mid = C[0] + C[1]
    tie = mid / np.linalg.norm(mid)  # equally similar to centroids 0 and 1
    near = [(tie + eps * (C[1] - C[0])) for eps in (1e-9, -1e-9, 3e-8, 1e-3)]
    X = np.vstack([_unit(rng, 500, d), tie, *(v / np.linalg.norm(v) for v in near)]).astype(np.float32)
    best, lower, upper = prototypes._top2(X, C, chunk_size=97)
    exact = X.astype(np.float64) @ C.T
    np.testing.assert_array_equal(best, np.argmax(exact, axis=1))
    s1 = exact[np.arange(len(X)), best]
    exact[np.arange(len(X)), best] = -np.inf
    # float64 products of the same rows may differ in the last bit between BLAS calls
    assert (lower <= s1 + 1e-12).all() and (upper >= exact.max(axis=1) - 1e-12).all()
    assert (s1 - lower < 1e-4).all()  # and tight: the float32 error bound, not more


def test_spherical_kmeans_k_too_large():
    X = _clustered(n_per=2, k=2)
    with pytest.raises(DQError, match=r"spherical k-means: k=5 exceeds the number of documents n=4"):
        spherical_kmeans(X, 5, seed=0)
    assert spherical_kmeans(X, 4, seed=0).shape == (4, X.shape[1])  # k = n works


def test_spherical_kmeans_duplicates_do_not_break_it():
    X = np.repeat(_clustered(n_per=1, k=3), 5, axis=0)  # 3 distinct points, k larger than that
    C = spherical_kmeans(X, 4, seed=1)
    assert np.isfinite(C).all()
    np.testing.assert_allclose(np.linalg.norm(C, axis=1), 1.0, atol=1e-6)


# --- distance to the nearest prototype ----------------------------------------------------------


@pytest.mark.parametrize("distance", ["cosine", "l1", "l2"])
def test_distance_to_nearest_brute_force_and_chunking(distance):
    rng = np.random.default_rng(0)
    X, P = _unit(rng, 53, 8), _unit(rng, 5, 8)
    d_ref, i_ref = nearest_brute_force(X, P, distance)
    for chunk in (7, 8192):
        d, i, sim = distance_to_nearest(X, P, distance, chunk_size=chunk)
        np.testing.assert_allclose(d, d_ref, atol=1e-10)
        np.testing.assert_array_equal(i, i_ref)
        np.testing.assert_allclose(sim, np.einsum("ij,ij->i", X.astype(np.float64), P[i].astype(np.float64)))


# --- ssl_proto scores ---------------------------------------------------------------------------


def test_ssl_proto_scores_equal_brute_force_and_chunking():
    rng = np.random.default_rng(1)
    pool = _clustered(seed=1)
    state = _fit(pool, {"k": 6, "seed": 0})
    X = _unit(rng, 97, pool.shape[1])
    docs = pd.DataFrame({"id": [f"d{i}" for i in range(len(X))]})
    out = _score(docs, X, state, {"k": 6})
    sims = X.astype(np.float64) @ state["centroids"].astype(np.float64).T
    np.testing.assert_allclose(out["score"], (1 - sims).min(axis=1), atol=1e-6)
    np.testing.assert_array_equal(out["cluster"], sims.argmax(axis=1))
    np.testing.assert_allclose(out["similarity"], sims.max(axis=1), atol=1e-6)
    assert list(out["id"]) == list(docs["id"])
    for chunk in (1, 7, 50, 1000):
        other = _score(docs, X, state, {"k": 6, "chunk_size": chunk})
        np.testing.assert_array_equal(other["cluster"], out["cluster"])
        np.testing.assert_allclose(other["score"], out["score"], rtol=1e-12, atol=1e-15)


def test_ssl_proto_params():
    p = SSL.params({"k": 20})
    assert (p.k, p.seed, p.n_iter, p.n_init, p.distance, p.chunk_size, p.pool_fraction, p.pool_seed) == (
        20, 0, 50, 3, "cosine", prototypes.CHUNK_ROWS, 1.0, 0,
    )  # fmt: skip
    assert SSL.params({"k": 4, "pool_fraction": 1}).pool_fraction == 1.0  # an int is a number


@pytest.mark.parametrize(
    "raw, match",
    [
        ({}, r"params: missing required key\(s\) \['k'\]"),
        ({"k": 0}, r"params\.k: expected an integer >= 1; got 0"),
        ({"k": 2.5}, r"params\.k: expected an integer >= 1; got 2\.5"),
        ({"k": True}, r"params\.k: expected an integer >= 1; got True"),
        ({"k": 3, "seed": -1}, r"params\.seed: expected an integer >= 0 or one of \['run'\]; got -1"),
        ({"k": 3, "n_iter": 0}, r"params\.n_iter: expected an integer >= 1; got 0"),
        ({"k": 3, "n_init": 0}, r"params\.n_init: expected an integer >= 1; got 0"),
        ({"k": 3, "chunk_size": 0}, r"params\.chunk_size: expected an integer >= 1; got 0"),
        ({"k": 3, "distance": "l3"}, r"params\.distance: 'l3' is not one of \['cosine', 'l1', 'l2'\]"),
        ({"k": 3, "pool_fraction": 0}, r"params\.pool_fraction: expected a number > 0 and <= 1; got 0"),
        ({"k": 3, "pool_fraction": 1.5}, r"params\.pool_fraction: expected a number > 0 and <= 1; got 1\.5"),
        ({"k": 3, "pool_seed": "a"}, r"params\.pool_seed: expected an integer; got 'a'"),
        ({"k": 3, "kk": 1}, r"params: unknown key\(s\) \['kk'\]"),
    ],
)
def test_ssl_proto_bad_params(raw, match):
    with pytest.raises(DQError, match=match):
        SSL.params(raw)


def test_ssl_proto_errors():
    X = _clustered()
    state = _fit(X, {"k": 3})
    docs = pd.DataFrame({"id": [str(i) for i in range(len(X))]})
    with pytest.raises(DQError, match="embeddings for 5 documents"):
        _score(docs.head(5), X, state, {"k": 3})
    with pytest.raises(DQError, match="needs the shard's per-document features"):
        _score(docs, None, state, {"k": 3})
    with pytest.raises(DQError, match="needs the fitted centroids"):
        _score(docs, X, {}, {"k": 3})
    with pytest.raises(DQError, match=r"^ssl_proto: k=500 exceeds the number of documents n=160;"):
        _fit(X, {"k": 500})
    ids = np.array([f"d{i}" for i in range(len(X))])
    n_half = int(prototypes.in_sub_pool(ids, 0.5).sum())
    with pytest.raises(
        DQError, match=rf"^ssl_proto: k=150 exceeds .* pool_fraction=0.5 sub-pool n={n_half};"
    ):
        _fit(X, {"k": 150, "pool_fraction": 0.5}, ids)  # k fits the pool but not its half
    # the library function checks its distance too
    with pytest.raises(DQError, match="unknown distance 'l3'; known distances: cosine, l1, l2"):
        prototypes.distance_to_nearest(X, state["centroids"], "l3")


def test_ssl_proto_pool_fraction_nested_sub_pools():
    X = clustered_rows(seed=3, n_per=50)
    ids = np.array([f"d{i}" for i in range(len(X))])
    docs = pd.DataFrame({"id": ids})
    half = prototypes.in_sub_pool(ids, 0.5)
    quarter = prototypes.in_sub_pool(ids, 0.25)
    assert (quarter <= half).all() and 0.15 < quarter.mean() < 0.35 and 0.4 < half.mean() < 0.6  # nested
    assert (prototypes.in_sub_pool(ids, 0.5, pool_seed=1) != half).any()  # another seed, another sub-pool
    assert prototypes.in_sub_pool(ids, 1.0).all()
    params = {"k": 4, "seed": 0, "pool_fraction": 0.5}
    state = _fit(X, params, ids)
    # the prototypes are those of the sub-pool alone
    expected = spherical_kmeans(X[half], k=4, seed=0, n_iter=50, n_init=3)
    np.testing.assert_array_equal(state["centroids"], expected)
    out = _score(docs, X, state, params)
    np.testing.assert_array_equal(out["removed"].to_numpy(), ~half)
    assert "removed" not in _score(docs, X, state, {"k": 4}).columns  # the whole pool: none
    with pytest.raises(DQError, match=r"sub-pool fraction must be in \(0, 1\]; got 0"):
        prototypes.in_sub_pool(ids, 0)
    with pytest.raises(DQError, match=r"pool_fraction=0.5 needs the pool ids"):
        _fit(X, params)  # no pool ids: the sub-pool cannot be drawn
    with pytest.raises(DQError, match=r"pool ids \(3\) and pool embeddings \(200\) differ in length"):
        _fit(X, params, ids[:3])


def test_wrong_dimension_embeddings_are_refused():
    method = load_method("ssl_proto")
    rng = np.random.default_rng(0)
    params = method.params({"k": 2})
    state = method.fit(
        {"pool_embeddings": unit_rows(rng, 20, 16), "pool_ids": np.arange(20).astype(str)}, params
    )
    docs = pd.DataFrame({"id": [f"d{i}" for i in range(5)]})
    with pytest.raises(DQError, match=r"centroids of shape \(2, 16\) do not match embeddings of dimension 8"):
        method.score(docs, unit_rows(rng, 5, 8), state, params)


@pytest.mark.parametrize("distance", ["cosine", "l1", "l2"])
def test_ssl_proto_distance_param(distance):
    pool = clustered_rows(2, 30, 4, 12, noise=0.15)  # 4 blobs of 30 rows in 12 dimensions
    state = SSL.fit({"pool_embeddings": pool}, SSL.params({"k": 4, "seed": 0}))
    X = _unit(np.random.default_rng(3), 31, pool.shape[1])
    out = SSL.score(
        pd.DataFrame({"id": [str(i) for i in range(31)]}),
        X,
        state,
        SSL.params({"k": 4, "distance": distance}),
    )
    d_ref, i_ref = nearest_brute_force(X, state["centroids"], distance)
    np.testing.assert_allclose(out["score"], d_ref, atol=1e-6)  # HIGH = far
    np.testing.assert_array_equal(out["cluster"], i_ref)


def test_ssl_proto_unknown_distance():
    with pytest.raises(DQError, match=r"params\.distance: 'l3' is not one of \['cosine', 'l1', 'l2'\]"):
        SSL.params({"k": 3, "distance": "l3"})


def test_ssl_proto_seed_follows_the_run_seed():
    # `seed: run`: the job's run seed becomes the k-means seed (dqreview.metrics.variant_of)
    X = _unit(np.random.default_rng(3), 120, 8)  # no cluster structure: the initialisation matters
    run = SSL.params({"k": 6, "seed": "run", "n_init": 1})
    assert SSL.scored_per_seed(run) and not SSL.scored_per_seed(SSL.params({"k": 6, "seed": 0}))
    states = {s: SSL.fit({"pool_embeddings": X}, run.with_run_seed(s)) for s in (0, 1)}
    again = SSL.fit({"pool_embeddings": X}, run.with_run_seed(0))
    assert not np.allclose(states[0]["centroids"], states[1]["centroids"])
    np.testing.assert_array_equal(states[0]["centroids"], again["centroids"])
    fixed = SSL.fit({"pool_embeddings": X}, SSL.params({"k": 6, "seed": 0, "n_init": 1}))
    np.testing.assert_array_equal(fixed["centroids"], states[0]["centroids"])


# --- ssl_proto in Task2Vec space ----------------------------------------------------------------


def test_ssl_proto_space_chooses_its_inputs():
    from dqreview.metrics import inputs

    encoder, t2v = SSL.params({"k": 2}), SSL.params({"k": 2, "space": "task2vec"})
    assert encoder.space == "encoder"
    assert SSL.features_for(encoder) is inputs.EMBEDDINGS
    assert SSL.fit_inputs_for(encoder) == (inputs.POOL_EMBEDDINGS, inputs.POOL_IDS)
    assert SSL.features_for(t2v) is inputs.T2V
    assert SSL.fit_inputs_for(t2v) == (inputs.POOL_T2V, inputs.POOL_IDS)
    assert {i.stage for i in SSL.inputs(t2v)} == {"task2vec", None}
    assert {i.stage for i in SSL.inputs(encoder)} == {"embed", None}
    # the encoder space's state is what it always was: the centroids alone
    assert set(_fit(_clustered(), {"k": 4, "seed": 0})) == {"centroids"}


def test_ssl_proto_task2vec_space_scales_entries_by_the_pool_mean_then_normalises():
    rng = np.random.default_rng(5)
    # Fisher-like: non-negative, one entry a thousand times larger than the rest, one entry zero everywhere
    pool = np.abs(rng.normal(size=(60, 6))) * np.array([1000.0, 1, 1, 1, 1, 0])
    raw = {"k": 3, "seed": 0, "space": "task2vec"}
    state = SSL.fit(
        {"pool_t2v": pool, "pool_ids": np.array([f"d{i:02d}" for i in range(60)])}, SSL.params(raw)
    )
    scale = pool.mean(axis=0)
    scale[5] = 1.0
    np.testing.assert_allclose(state["scale"], scale)
    unit = pool / scale
    unit /= np.linalg.norm(unit, axis=1, keepdims=True)
    np.testing.assert_allclose(state["centroids"], spherical_kmeans(unit.astype(np.float32), 3, 0), atol=1e-6)
    docs = pd.DataFrame({"id": [f"d{i:02d}" for i in range(60)]})
    out = _score(docs, pool, state, raw)
    sims = unit @ state["centroids"].astype(np.float64).T
    np.testing.assert_allclose(out["score"], 1 - sims.max(axis=1), atol=1e-6)
    # a document's overall scale (its Task2Vec complexity) does not move its SSL margin
    np.testing.assert_allclose(_score(docs, 7.0 * pool, state, raw)["score"], out["score"], atol=1e-6)
    with pytest.raises(DQError, match="space=task2vec: the fitted state has no scale"):
        _score(docs, pool, {"centroids": state["centroids"]}, raw)
