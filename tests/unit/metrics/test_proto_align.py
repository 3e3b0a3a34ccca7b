"""dqreview.metrics.proto_align: prototypes of the target (k-means, hard examples, mean) and the alignment scores."""

import io

import numpy as np
import pandas as pd
import pytest

from conftest import clustered_rows, nearest_brute_force, unit_rows
from dqreview.errors import DQError
from dqreview.metrics import proto_align, prototypes
from dqreview.metrics.prototypes import nearest_centroid, spherical_kmeans

PA = proto_align.METHOD


def _fit(T, raw):
    return PA.fit({"target_embeddings": T}, PA.params(raw))


def _score(docs, X, state, raw):
    return PA.score(docs, X, state, PA.params(raw))


def _unit(rng, n, d):
    return unit_rows(rng, n, d)


def _clustered(seed=0, n_per=30, k=4, d=12):
    return clustered_rows(seed, n_per, k, d, noise=0.15)


def _expected_prototypes(T, source, distance, k=3, seed=0, hard_fraction=0.3):
    if source == "mean":
        m = T.astype(np.float64).sum(axis=0)
        return (m / np.linalg.norm(m))[None, :]
    C = spherical_kmeans(T, k, seed, n_init=3)
    if source == "kmeans":
        return C
    d, _ = nearest_brute_force(T, C, distance)
    n_hard = int(np.ceil(hard_fraction * len(T)))
    hard = np.sort(np.argsort(-d, kind="stable")[:n_hard])
    return spherical_kmeans(T[hard], k, seed, n_init=3)


@pytest.mark.parametrize("source", ["kmeans", "hard", "mean"])
@pytest.mark.parametrize("distance", ["cosine", "l1", "l2"])
def test_proto_align_against_brute_force(source, distance):
    T = _clustered(seed=5)
    params = {"source": source, "distance": distance, "k": 3, "seed": 0}
    state = _fit(T, params)
    P = state["prototypes"]
    np.testing.assert_allclose(P, _expected_prototypes(T, source, distance), atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(P, axis=1), 1.0, atol=1e-6)
    X = _unit(np.random.default_rng(9), 41, T.shape[1])
    docs = pd.DataFrame({"id": [f"p{i}" for i in range(len(X))]})
    out = _score(docs, X, state, params)
    d_ref, i_ref = nearest_brute_force(X, P, distance)
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
    P = _fit(scaled, {"source": "mean"})["prototypes"]
    m = T.astype(np.float64).mean(axis=0)
    np.testing.assert_allclose(P[0], m / np.linalg.norm(m), atol=1e-6)
    # the prototype direction scores 1 (aligned), its opposite −1
    X = np.vstack([P, -P])
    out = _score(pd.DataFrame({"id": ["a", "b"]}), X, {"prototypes": P}, {"source": "mean"})
    np.testing.assert_allclose(out["score"], [1.0, -1.0], atol=1e-6)


def test_hard_source_uses_the_farthest_rows():
    T = _clustered(seed=4)
    C = spherical_kmeans(T, 3, 0, n_init=3)
    idx = proto_align.hard_subset(T, C, 0.25)
    sim, _ = nearest_centroid(T, C)
    assert len(idx) == int(np.ceil(0.25 * len(T)))
    assert sim[idx].max() <= np.delete(sim, idx).min() + 1e-12


def test_proto_align_params():
    p = PA.params({"k": 4})
    assert (p.source, p.distance, p.k, p.seed, p.hard_fraction, p.n_iter, p.n_init, p.chunk_size) == (
        "kmeans", "cosine", 4, 0, 0.3, 50, 3, prototypes.CHUNK_ROWS,
    )  # fmt: skip
    assert PA.params({"source": "mean"}).k is None  # one whole-set prototype: k is not needed
    with pytest.raises(DQError, match=r"params.source: 'x' is not one of \['kmeans', 'hard', 'mean'\]"):
        PA.params({"source": "x", "k": 2})
    with pytest.raises(DQError, match=r"params.k: required for source='kmeans' \(e.g. k: 20\); got None"):
        PA.params({})
    with pytest.raises(DQError, match=r"params.k: required for source='hard'"):
        PA.params({"source": "hard"})
    with pytest.raises(DQError, match=r"params.k: expected an integer >= 1 or null; got 0"):
        PA.params({"k": 0})
    with pytest.raises(DQError, match=r"params.distance: 'dot' is not one of \['cosine', 'l1', 'l2'\]"):
        PA.params({"k": 2, "distance": "dot"})
    with pytest.raises(DQError, match=r"params.hard_fraction: expected a number > 0 and <= 1; got 0"):
        PA.params({"k": 2, "source": "hard", "hard_fraction": 0})
    with pytest.raises(DQError, match=r"params.seed: expected an integer >= 0 or one of \['run'\]; got 1.5"):
        PA.params({"k": 2, "seed": 1.5})
    with pytest.raises(DQError, match=r"params: unknown key\(s\) \['kk'\]"):
        PA.params({"k": 2, "kk": 1})


def test_proto_align_errors():
    T = _clustered()
    with pytest.raises(DQError, match=r"proto_align: k=500 exceeds the number of target ref documents n=120"):
        _fit(T, {"k": 500})
    with pytest.raises(DQError, match=r"proto_align: k=500 exceeds"):
        _fit(T, {"k": 500, "source": "hard"})
    with pytest.raises(DQError, match="average to the zero vector"):
        _fit(np.vstack([T[:1], -T[:1]]), {"source": "mean"})
    state = _fit(T, {"k": 2})
    with pytest.raises(DQError, match="another space"):
        _score(pd.DataFrame({"id": ["a"]}), np.ones((1, 5), np.float32), state, {"k": 2})


# --- hard by probe loss (ablation 5: the same definition of hard in both spaces) ------------------


def test_hard_by_probe_loss_clusters_the_highest_loss_rows():
    from dqreview.metrics import inputs

    T = _clustered(seed=4)
    losses = np.random.default_rng(4).normal(size=len(T))
    raw = {"source": "hard", "k": 3, "hard_fraction": 0.3, "seed": 1, "hard_by": "probe_loss"}
    state = PA.fit({"target_embeddings": T, "target_losses": losses}, PA.params(raw))
    top = np.sort(np.argsort(-losses, kind="stable")[: int(np.ceil(0.3 * len(T)))])
    np.testing.assert_array_equal(state["prototypes"], spherical_kmeans(T[top], 3, 1))
    # the losses are read only for this definition of hard: every other variant's inputs are unchanged
    assert PA.fit_inputs_for(PA.params(raw)) == (inputs.TARGET_EMBEDDINGS, inputs.TARGET_LOSSES)
    default_hard = PA.params({"source": "hard", "k": 3})
    assert default_hard.hard_by == "distance"
    assert PA.fit_inputs_for(default_hard) == (inputs.TARGET_EMBEDDINGS,)
    assert PA.fit_inputs_for(PA.params({"source": "kmeans", "k": 3})) == (inputs.TARGET_EMBEDDINGS,)


def test_hard_by_distance_is_the_default_and_unchanged():
    T = _clustered(seed=5)
    raw = {"source": "hard", "k": 3, "hard_fraction": 0.3, "seed": 2}
    got = _fit(T, raw)["prototypes"]
    unit = prototypes.l2_normalise(T)
    first = spherical_kmeans(unit, 3, 2)
    hard = proto_align.hard_subset(unit, first, 0.3, "cosine", min_rows=3)
    np.testing.assert_array_equal(got, spherical_kmeans(unit[hard], 3, 2))
    np.testing.assert_array_equal(got, _fit(T, {**raw, "hard_by": "distance"})["prototypes"])


def test_hard_by_errors_name_the_key():
    with pytest.raises(DQError, match=r"^p\.hard_by: .*only means something with source=hard"):
        PA.params({"source": "kmeans", "k": 3, "hard_by": "probe_loss"}, "p")
    raw = {"source": "hard", "k": 2, "hard_by": "probe_loss"}
    with pytest.raises(DQError, match=r"one probe loss per target ref document; got 3 for 40"):
        PA.fit({"target_embeddings": _clustered(n_per=10), "target_losses": np.ones(3)}, PA.params(raw))
