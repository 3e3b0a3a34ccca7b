"""dqreview.metrics.t2v_align: alignment of per-document Task2Vec vectors with the target's prototypes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conftest import t2v_blobs
from dqreview.errors import DQError
from dqreview.metrics import t2v_align
from dqreview.task2vec import distance_matrix

T2V = t2v_align.METHOD


def t2v_fit(target, losses, raw):
    return T2V.fit({"target_t2v": target, "target_losses": losses}, T2V.params(raw))


def t2v_score(docs, X, state, raw):
    return T2V.score(docs, X, state, T2V.params(raw))


def shard(n, prefix="d"):
    return pd.DataFrame({"id": [f"{prefix}{i:03d}" for i in range(n)]})


def test_mean_prototype_and_cosine_score():
    T, _ = t2v_blobs()
    state = t2v_fit(T, np.zeros(len(T)), {})
    np.testing.assert_allclose(state["prototypes"], T.mean(0, keepdims=True))
    X = np.vstack([T.mean(0), T[:3]])
    out = t2v_score(shard(4), X, state, {})
    assert out["score"].iloc[0] == 1.0 and (out["score"].iloc[1:] < 1).all()
    np.testing.assert_allclose(out["score"], 1 - distance_matrix(X, T.mean(0))[:, 0])
    assert list(out.columns) == ["id", "score", "prototype", "distance"]


@pytest.mark.parametrize("distance", ["l1", "l2"])
def test_l1_l2_scores_are_negated_distances(distance):
    T, _ = t2v_blobs()
    p = {"distance": distance}
    state = t2v_fit(T, np.zeros(len(T)), p)
    out = t2v_score(shard(5), T[:5], state, p)
    np.testing.assert_allclose(out["score"], -distance_matrix(T[:5], T.mean(0), distance)[:, 0])


def test_hard_source_uses_highest_probe_loss():
    T, group = t2v_blobs()
    losses = np.where(group == 2, 5.0, 1.0)  # group 2 is the hardest
    p = {"source": "hard", "hard_fraction": 1 / 3}
    state = t2v_fit(T, losses, p)
    np.testing.assert_allclose(state["prototypes"], T[group == 2].mean(0, keepdims=True))
    assert t2v_align.hardest(np.array([1.0, 3.0, 3.0, 2.0]), 0.5).tolist() == [1, 2]


def test_kmeans_prototypes_find_the_groups():
    T, group = t2v_blobs(n_per=12)
    p = {"prototype": "kmeans", "k": 3, "seed": 1}
    state = t2v_fit(T, np.zeros(len(T)), p)
    out = t2v_score(shard(len(T)), T, state, p)
    assignment = out["prototype"].to_numpy()
    assert all(len(set(assignment[group == g])) == 1 for g in range(3))
    assert len(set(assignment)) == 3
    again = t2v_fit(T, np.zeros(len(T)), p)
    np.testing.assert_array_equal(again["prototypes"], state["prototypes"])  # deterministic


def test_t2v_align_params():
    p = T2V.params({})
    assert (p.prototype, p.source, p.distance, p.k, p.seed, p.hard_fraction, p.n_iter, p.n_init) == (
        "mean", "all", "cosine", 1, 0, 0.3, 30, 2,
    )  # fmt: skip
    assert T2V.params({"k": 1}).k == 1  # k=1 is the mean prototype's own k


@pytest.mark.parametrize(
    "params, match",
    [
        ({"prototype": "median"}, r"params\.prototype: 'median' is not one of \['mean', 'kmeans'\]"),
        ({"source": "easy"}, r"params\.source: 'easy' is not one of \['all', 'hard'\]"),
        ({"distance": "kl"}, r"params\.distance: 'kl' is not one of \['cosine', 'l1', 'l2'\]"),
        ({"hard_fraction": 0}, r"params\.hard_fraction: expected a number > 0 and <= 1; got 0"),
        ({"hard_fraction": 1.5}, r"params\.hard_fraction: expected a number > 0 and <= 1; got 1\.5"),
        (
            {"k": 3},
            r"params\.k: prototype=mean is one whole-set embedding; drop k or use prototype=kmeans; got 3",
        ),
        ({"prototype": "kmeans", "k": 0}, r"params\.k: expected an integer >= 1; got 0"),
        ({"seed": -1}, r"params\.seed: expected an integer >= 0 or one of \['run'\]; got -1"),
        ({"n_iter": 0}, r"params\.n_iter: expected an integer >= 1; got 0"),
        ({"n_init": True}, r"params\.n_init: expected an integer >= 1; got True"),
        ({"kk": 3}, r"params: unknown key\(s\) \['kk'\]"),
    ],
)
def test_t2v_align_bad_params(params, match):
    with pytest.raises(DQError, match=match):
        T2V.params(params)


def test_t2v_align_more_prototypes_than_target_documents():
    T, _ = t2v_blobs()
    for source in ("all", "hard"):
        with pytest.raises(
            DQError, match=r"t2v_align: k=50 is more prototypes than the 30 target ref documents"
        ):
            t2v_fit(T, np.zeros(len(T)), {"prototype": "kmeans", "k": 50, "source": source})


def test_t2v_align_bad_inputs():
    T, _ = t2v_blobs()
    state = t2v_fit(T, np.zeros(len(T)), {})
    with pytest.raises(DQError, match="do not match"):
        t2v_score(shard(3), np.ones((3, 5)), state, {})  # wrong dimension
    with pytest.raises(DQError, match="documents"):
        t2v_score(shard(4), T[:3], state, {})  # wrong row count
    with pytest.raises(DQError, match="needs the shard"):
        t2v_score(shard(3), None, state, {})
    with pytest.raises(DQError, match="hard"):
        t2v_fit(T, np.zeros(2), {"source": "hard"})


# --- hard by distance (ablation 5: the same definition of hard in both spaces) --------------------


@pytest.mark.parametrize("prototype", ["mean", "kmeans"])
def test_hard_by_distance_takes_the_rows_farthest_from_the_target_prototypes(prototype):
    T, _ = t2v_blobs()
    k = 1 if prototype == "mean" else 2
    raw = {
        "prototype": prototype,
        "k": k,
        "source": "hard",
        "hard_by": "distance",
        "hard_fraction": 0.3,
        "seed": 3,
    }
    got = T2V.fit({"target_t2v": T}, T2V.params(raw))["prototypes"]
    first = T.mean(axis=0, keepdims=True) if prototype == "mean" else t2v_align.task2vec_kmeans(T, 2, 3)
    far = distance_matrix(T, first).min(axis=1)
    top = np.sort(np.argsort(-far, kind="stable")[: max(k, int(np.ceil(0.3 * len(T))))])
    want = (
        T[top].mean(axis=0, keepdims=True) if prototype == "mean" else t2v_align.task2vec_kmeans(T[top], 2, 3)
    )
    np.testing.assert_allclose(got, want, rtol=1e-12)
    # no probe losses needed (nor read) for this definition
    assert [i.name for i in T2V.fit_inputs_for(T2V.params(raw))] == ["target_t2v"]


def test_hard_by_probe_loss_is_the_default_and_unchanged():
    T, _ = t2v_blobs()
    losses = np.random.default_rng(2).normal(size=len(T))
    raw = {"prototype": "kmeans", "k": 2, "source": "hard", "hard_fraction": 0.3, "seed": 0}
    assert T2V.params(raw).hard_by == "probe_loss"
    assert [i.name for i in T2V.fit_inputs_for(T2V.params(raw))] == ["target_t2v", "target_losses"]
    top = t2v_align.hardest(losses, 0.3, min_rows=2)
    np.testing.assert_array_equal(
        t2v_fit(T, losses, raw)["prototypes"], t2v_align.task2vec_kmeans(T[top], 2, 0)
    )
    with pytest.raises(DQError, match=r"^p\.hard_by: .*only means something with source=hard"):
        T2V.params({"source": "all", "hard_by": "distance"}, "p")
