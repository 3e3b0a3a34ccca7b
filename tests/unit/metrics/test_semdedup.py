"""SemDeDup and D4: transcription of the reference per-cluster rule, ε by fraction, shards, giant clusters."""

import io

import numpy as np
import pandas as pd
import pytest

from dqreview.errors import DQError
from dqreview.hashing import unit_uniform
from dqreview.metrics import d4, semdedup
from dqreview.metrics.prototypes import distance_to_nearest


def _unit(X):
    X = np.asarray(X, dtype=np.float64)
    return X / np.linalg.norm(X, axis=1, keepdims=True)


def _pool(seed=0, n_blobs=6, per_blob=40, d=16, n_copies=60, noise=0.004):
    """Blobs on the sphere + planted near-copies of the first ``n_copies`` rows (appended at the end)."""
    rng = np.random.default_rng(seed)
    centres = _unit(rng.normal(size=(n_blobs, d)))
    base = _unit(np.repeat(centres, per_blob, axis=0) + 0.35 * rng.normal(size=(n_blobs * per_blob, d)))
    perm = rng.permutation(len(base))
    base = base[perm]
    copies = _unit(base[:n_copies] + noise * rng.normal(size=(n_copies, d)))
    X = np.vstack([base, copies]).astype(np.float32)
    ids = np.array([f"doc{i:05d}" for i in range(len(X))])
    return X, ids, len(base)


def _naive_removed(X, ids, labels, eps, keep):
    """Reference per-cluster rule, written from METHODS_DETAIL §4(a): O(|C|²) matrix, strict triangle."""
    X = _unit(X)
    removed = np.zeros(len(X), dtype=bool)
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        centroid = X[members].sum(axis=0)
        centroid /= np.linalg.norm(centroid)
        sim_c = X[members] @ centroid
        key = sim_c if keep == "hard" else -sim_c  # hard: farthest (lowest similarity) first
        order = members[np.lexsort((ids[members], key))]
        S = X[order] @ X[order].T
        S = np.triu(S, k=1)  # i < j only, diagonal zeroed (as in semdedup.py)
        M = S.max(axis=0) if len(order) > 1 else np.zeros(1)
        removed[order] = M > 1 - eps
    return removed


@pytest.mark.parametrize("keep", ["hard", "easy"])
def test_transcription_of_reference_rule(keep):
    X, ids, _ = _pool(seed=1, noise=0.01)
    core = semdedup.semdedup_core(X, ids, k=5, seed=0, keep=keep, n_init=3)
    for eps in (1e-3, 1e-2, 5e-2):
        ours = semdedup.removal_mask(core["max_sim"], eps)
        ref = _naive_removed(X, ids, core["cluster"], eps, keep)
        np.testing.assert_array_equal(ours, ref)
        assert ours.sum() > 0
    # the fitted state applies the same rule
    state = semdedup.fit(
        {"pool_embeddings": X, "pool_ids": ids}, {"k": 5, "keep": keep, "eps": 1e-2, "n_init": 3}
    )
    np.testing.assert_array_equal(state["removed"], _naive_removed(X, ids, state["cluster"], 1e-2, keep))


def test_max_sim_chunking_and_duplicate_of():
    rng = np.random.default_rng(3)
    E = _unit(rng.normal(size=(37, 6)))
    ms, am = semdedup.max_sim_to_earlier(E)
    ms2, am2 = semdedup.max_sim_to_earlier(E, block_elems=40)  # one row per block
    np.testing.assert_array_equal(am, am2)
    np.testing.assert_allclose(ms, ms2, rtol=1e-12)
    assert ms[0] == -np.inf and am[0] == -1
    for j in range(1, 37):
        sims = E[:j] @ E[j]
        assert am[j] == np.argmax(sims) and np.isclose(ms[j], sims.max())


def test_planted_near_copies_removed():
    X, ids, n_base = _pool(seed=2)
    n_copies = len(X) - n_base
    state = semdedup.fit({"pool_embeddings": X, "pool_ids": ids}, {"k": 6, "eps": 1e-3})
    removed = state["removed"]
    pair_hit = removed[:n_copies] | removed[n_base:]
    assert pair_hit.mean() >= 0.9  # recall over planted pairs
    assert not (removed[:n_copies] & removed[n_base:]).any()  # one member of each pair survives
    assert not removed[n_copies:n_base].any()  # unplanted rows all kept
    # duplicate_of points at the partner; the survivor is the one farther from the centroid (keep=hard)
    for j in np.flatnonzero(pair_hit):
        a, b = j, n_base + j
        loser, winner = (a, b) if removed[a] else (b, a)
        assert state["duplicate_of"][loser] == ids[winner]
        assert state["rank"][winner] < state["rank"][loser]
    assert (state["score"][removed] < 1e-3).all() and (state["score"][~removed] >= 1e-3).all()
    # with keep=easy the originals and copies swap roles somewhere, but every pair still loses one
    easy = semdedup.fit({"pool_embeddings": X, "pool_ids": ids}, {"k": 6, "eps": 1e-3, "keep": "easy"})
    assert ((easy["removed"][:n_copies] | easy["removed"][n_base:]) == pair_hit).all()


@pytest.mark.parametrize("fraction", [0.0, 0.05, 0.2, 0.5])
def test_remove_fraction_hits_target(fraction):
    X, ids, _ = _pool(seed=4, noise=0.05)
    params = {"k": 6, "remove_fraction": fraction}
    state = semdedup.fit({"pool_embeddings": X, "pool_ids": ids}, params)
    n_removed = int(state["removed"].sum())
    assert abs(n_removed - fraction * len(X)) <= int(state["n_clusters"])
    assert state["removed_fraction"] == pytest.approx(n_removed / len(X))
    # the ε it chose reproduces the mask when given directly
    again = semdedup.fit({"pool_embeddings": X, "pool_ids": ids}, {"k": 6, "eps": float(state["eps"])})
    np.testing.assert_array_equal(again["removed"], state["removed"])


def test_random_policy_ranks_by_id_hash():
    X, ids, _ = _pool(seed=5)
    params = {"k": 6, "eps": 1e-3, "keep": "random", "seed": 3}
    state = semdedup.fit({"pool_embeddings": X, "pool_ids": ids}, params)
    u = unit_uniform(ids, 3)
    for c in np.unique(state["cluster"]):
        members = np.flatnonzero(state["cluster"] == c)
        np.testing.assert_array_equal(state["rank"][members], np.argsort(np.argsort(u[members])))
    hard = semdedup.fit({"pool_embeddings": X, "pool_ids": ids}, {**params, "keep": "hard"})
    np.testing.assert_array_equal(hard["cluster"], state["cluster"])  # same clusters, other ranking
    assert (hard["rank"] != state["rank"]).any()


def test_one_vs_four_shards_identical_and_npz_roundtrip():
    X, ids, _ = _pool(seed=6)
    params = {"k": 6, "remove_fraction": 0.1}
    state = semdedup.fit({"pool_embeddings": X, "pool_ids": ids}, params)
    buf = io.BytesIO()
    np.savez(buf, **state)
    buf.seek(0)
    state = dict(np.load(buf, allow_pickle=False))
    docs = pd.DataFrame({"id": ids, "text": ["x"] * len(ids)})
    whole = semdedup.score(docs, None, state, params)
    split = np.array_split(np.random.default_rng(1).permutation(len(docs)), 4)
    parts = pd.concat([semdedup.score(docs.iloc[np.sort(s)], None, state, params) for s in split])
    parts = parts.set_index("id").loc[whole["id"]].reset_index()
    assert list(parts["id"]) == list(whole["id"])
    np.testing.assert_allclose(parts["score"], whole["score"], rtol=1e-9)
    for col in ("duplicate_of", "removed", "cluster"):
        np.testing.assert_array_equal(parts[col], whole[col])
    # first-ranked members score 1.0 and have no duplicate_of
    first = state["rank"] == 0
    assert (state["score"][first] == 1.0).all() and (state["duplicate_of"][first] == "").all()
    with pytest.raises(DQError, match=r"document id 'nope' .* not in the fitted pool"):
        semdedup.score(pd.DataFrame({"id": ["nope"]}), None, state, params)


def test_giant_clusters_are_split():
    X, ids, _ = _pool(seed=7, n_blobs=2, per_blob=100)
    labels, centroids = semdedup.cluster_with_split(X, 2, 0, max_cluster=30)
    sizes = np.bincount(labels)
    assert sizes.max() <= 30 and sizes.min() > 0 and len(sizes) == len(centroids) >= len(X) // 30
    # identical rows cannot be split by k-means: cut into pieces instead
    same = np.repeat(X[:1], 25, axis=0)
    labels, _ = semdedup.cluster_with_split(same, 1, 0, max_cluster=10)
    assert sorted(np.bincount(labels)) == [5, 10, 10]
    state = semdedup.fit({"pool_embeddings": X, "pool_ids": ids}, {"k": 2, "eps": 1e-3, "max_cluster": 30})
    assert np.bincount(state["cluster"]).max() <= 30


def test_semdedup_param_errors():
    X, ids, _ = _pool(seed=0, n_blobs=2, per_blob=5, n_copies=2)
    with pytest.raises(DQError, match=r"give eps .* or remove_fraction"):
        semdedup.fit({"pool_embeddings": X, "pool_ids": ids}, {"k": 2})
    with pytest.raises(DQError, match=r"either eps or remove_fraction"):
        semdedup.fit({"pool_embeddings": X, "pool_ids": ids}, {"k": 2, "eps": 0.1, "remove_fraction": 0.1})
    with pytest.raises(DQError, match=r"params.keep: unknown policy 'middle'"):
        semdedup.fit({"pool_embeddings": X, "pool_ids": ids}, {"k": 2, "eps": 0.1, "keep": "middle"})
    with pytest.raises(DQError, match=r"not unique"):
        semdedup.fit({"pool_embeddings": X, "pool_ids": np.array(["a"] * len(X))}, {"k": 2, "eps": 0.1})


# --- d4 -----------------------------------------------------------------------------------------


def test_d4_removed_rank_last_and_survivors_use_reclustered_distance():
    X, ids, _ = _pool(seed=8, noise=0.03)
    params = {"k": 6, "k2": 4, "dedup_fraction_kept": 0.8}
    state = d4.fit({"pool_embeddings": X, "pool_ids": ids}, params)
    removed = state["removed"]
    assert abs(removed.sum() - 0.2 * len(X)) <= state["n_clusters"]
    # same removal as SemDeDup with the same parameters
    sd = semdedup.fit({"pool_embeddings": X, "pool_ids": ids}, {"k": 6, "remove_fraction": 0.2})
    np.testing.assert_array_equal(sd["removed"], removed)
    docs = pd.DataFrame({"id": ids})
    out = d4.score(docs, None, state, params)
    assert out["score"][removed].max() < -1.0 < 0.0 <= out["score"][~removed].min()
    assert (out["cluster"][removed] == -1).all()
    # survivors: cosine distance to the nearest centroid of the re-clustered survivors
    C2 = state["survivor_centroids"]
    assert C2.shape == (4, X.shape[1])
    dist, nearest, _ = distance_to_nearest(_unit(X[~removed]).astype(np.float32), C2)
    np.testing.assert_allclose(out["score"][~removed], dist, atol=1e-9)
    np.testing.assert_array_equal(out["cluster"][~removed], nearest)
    # re-clustering on survivors: the centroids are the survivors' cluster means (fixed point)
    for j in range(4):
        m = _unit(X[~removed])[nearest == j].sum(axis=0)
        np.testing.assert_allclose(C2[j], m / np.linalg.norm(m), atol=1e-5)
    # removed ones ordered among themselves by uniqueness: −1 − max similarity
    np.testing.assert_allclose(out["score"][removed], -2.0 + sd["score"][removed], atol=1e-12)


def test_d4_params():
    X, ids, _ = _pool(seed=9)
    state = d4.fit({"pool_embeddings": X, "pool_ids": ids}, {"k": 6})  # default R_dedup = 0.75
    assert abs(state["removed"].sum() - 0.25 * len(X)) <= state["n_clusters"]
    with pytest.raises(
        DQError, match=r"metrics\[d4\].variants\[\].params: give either eps or dedup_fraction_kept"
    ):
        d4.fit({"pool_embeddings": X, "pool_ids": ids}, {"k": 6, "eps": 0.1, "dedup_fraction_kept": 0.7})
    with pytest.raises(DQError, match=r"params.k2=10000 exceeds"):
        d4.fit({"pool_embeddings": X, "pool_ids": ids}, {"k": 6, "k2": 10000})
