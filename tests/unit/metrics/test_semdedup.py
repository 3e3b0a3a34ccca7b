"""dqreview.metrics.semdedup: transcription of the reference per-cluster rule, ε by fraction, shards, giant
clusters."""

import io

import numpy as np
import pandas as pd
import pytest

from conftest import near_copy_pool, normalise_rows
from dqreview.errors import DQError
from dqreview.hashing import unit_uniform
from dqreview.metrics import d4, semdedup

SD, D4 = semdedup.METHOD, d4.METHOD


def sd_fit(X, ids, raw):
    return SD.fit({"pool_embeddings": X, "pool_ids": ids}, SD.params(raw))


def sd_score(docs, state, raw):
    return SD.score(docs, None, state, SD.params(raw))


def _naive_removed(X, ids, labels, eps, keep):
    """The reference code's per-cluster rule (docs/methods.md, "SemDeDup"): O(|C|²), strict triangle."""
    X = normalise_rows(X)
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
    X, ids, _ = near_copy_pool(seed=1, noise=0.01)
    core = semdedup.semdedup_core(X, ids, k=5, seed=0, keep=keep, n_init=3)
    for eps in (1e-3, 1e-2, 5e-2):
        ours = semdedup.removal_mask(core["max_sim"], eps)
        ref = _naive_removed(X, ids, core["cluster"], eps, keep)
        np.testing.assert_array_equal(ours, ref)
        assert ours.sum() > 0
    # the fitted state applies the same rule
    state = sd_fit(X, ids, {"k": 5, "keep": keep, "eps": 1e-2, "n_init": 3})
    np.testing.assert_array_equal(state["removed"], _naive_removed(X, ids, state["cluster"], 1e-2, keep))


@pytest.mark.parametrize("block_elems", [40, 1 << 22])
def test_float32_rows_give_float64_s_answer(block_elems):
    """float32 clusters are compared in float32 with a float64 recheck: exact duplicates (ties: the first
    earlier row), gaps float32 cannot see (1e-9) and ordinary rows all get float64's argmax and value."""
    rng = np.random.default_rng(4)
    base = normalise_rows(rng.normal(size=(60, 32)))
    tilt = normalise_rows(rng.normal(size=(1, 32)))[0]
    rows = [base, base[:5], *(normalise_rows(base[5:10] + eps * tilt) for eps in (1e-9, -1e-9, 1e-4))]
    E = np.vstack(rows)[rng.permutation(80)].astype(np.float32)
    ms, am = semdedup.max_sim_to_earlier(E, block_elems=block_elems)
    E64 = E.astype(np.float64)
    assert ms[0] == -np.inf and am[0] == -1
    for j in range(1, len(E)):
        sims = E64[:j] @ E64[j]
        assert am[j] == np.argmax(sims), j
        assert ms[j] == pytest.approx(sims.max(), abs=1e-12)
    assert (ms > 1 - 1e-6).sum() >= 15  # the duplicates and near-duplicates are there


def _float32_blind_pair(rng, d=32):
    """Rows ``c1, c2, j`` (float32) where float64 sees ``c2·j > c1·j`` (by ~1e-8) and float32 sees a tie."""
    for _ in range(1000):
        j = normalise_rows(rng.normal(size=(1, d))).astype(np.float32)[0]
        c1 = normalise_rows(j[None] + 0.3 * rng.normal(size=(1, d))).astype(np.float32)[0]
        c2 = c1.copy()
        k = int(np.argmax(j))
        c2[k] = np.nextafter(c2[k], np.float32(2))  # one ulp up where j is largest: c2·j grows by ~1e-8
        E = np.vstack([c1, c2, j])
        f32 = (E[1:3] @ E.T)[1]  # the very product max_sim_to_earlier takes (rows 1..2 in one block)
        if f32[0] == f32[1] and E.astype(np.float64)[1] @ j > E.astype(np.float64)[0] @ j:
            return E
    raise AssertionError("no float32-blind pair found")


def test_a_gap_float32_cannot_see_is_decided_in_float64():
    E = _float32_blind_pair(np.random.default_rng(0))
    ms, am = semdedup.max_sim_to_earlier(E)
    assert am[2] == 1  # float32 alone would answer 0, the first of its tie
    assert ms[2] == E[1].astype(np.float64) @ E[2].astype(np.float64)


def test_max_sim_chunking_and_duplicate_of():
    rng = np.random.default_rng(3)
    E = normalise_rows(rng.normal(size=(37, 6)))
    ms, am = semdedup.max_sim_to_earlier(E)
    ms2, am2 = semdedup.max_sim_to_earlier(E, block_elems=40)  # one row per block
    np.testing.assert_array_equal(am, am2)
    np.testing.assert_allclose(ms, ms2, rtol=1e-12)
    assert ms[0] == -np.inf and am[0] == -1
    for j in range(1, 37):
        sims = E[:j] @ E[j]
        assert am[j] == np.argmax(sims) and np.isclose(ms[j], sims.max())


def test_planted_near_copies_removed():
    X, ids, n_base = near_copy_pool(seed=2)
    n_copies = len(X) - n_base
    state = sd_fit(X, ids, {"k": 6, "eps": 1e-3})
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
    easy = sd_fit(X, ids, {"k": 6, "eps": 1e-3, "keep": "easy"})
    assert ((easy["removed"][:n_copies] | easy["removed"][n_base:]) == pair_hit).all()


@pytest.mark.parametrize("fraction", [0.0, 0.05, 0.2, 0.5])
def test_remove_fraction_hits_target(fraction):
    X, ids, _ = near_copy_pool(seed=4, noise=0.05)
    params = {"k": 6, "remove_fraction": fraction}
    state = sd_fit(X, ids, params)
    n_removed = int(state["removed"].sum())
    assert abs(n_removed - fraction * len(X)) <= int(state["n_clusters"])
    assert state["removed_fraction"] == pytest.approx(n_removed / len(X))
    # the ε it chose reproduces the mask when given directly
    again = sd_fit(X, ids, {"k": 6, "eps": float(state["eps"])})
    np.testing.assert_array_equal(again["removed"], state["removed"])


def test_random_policy_ranks_by_id_hash():
    X, ids, _ = near_copy_pool(seed=5)
    params = {"k": 6, "eps": 1e-3, "keep": "random", "seed": 3}
    state = sd_fit(X, ids, params)
    u = unit_uniform(ids, 3)
    for c in np.unique(state["cluster"]):
        members = np.flatnonzero(state["cluster"] == c)
        np.testing.assert_array_equal(state["rank"][members], np.argsort(np.argsort(u[members])))
    hard = sd_fit(X, ids, {**params, "keep": "hard"})
    np.testing.assert_array_equal(hard["cluster"], state["cluster"])  # same clusters, other ranking
    assert (hard["rank"] != state["rank"]).any()


def test_one_vs_four_shards_identical_and_npz_roundtrip():
    X, ids, _ = near_copy_pool(seed=6)
    params = {"k": 6, "remove_fraction": 0.1}
    state = sd_fit(X, ids, params)
    buf = io.BytesIO()
    np.savez(buf, **state)
    buf.seek(0)
    state = dict(np.load(buf, allow_pickle=False))
    docs = pd.DataFrame({"id": ids, "text": ["x"] * len(ids)})
    whole = sd_score(docs, state, params)
    split = np.array_split(np.random.default_rng(1).permutation(len(docs)), 4)
    parts = pd.concat([sd_score(docs.iloc[np.sort(s)], state, params) for s in split])
    parts = parts.set_index("id").loc[whole["id"]].reset_index()
    assert list(parts["id"]) == list(whole["id"])
    np.testing.assert_allclose(parts["score"], whole["score"], rtol=1e-9)
    for col in ("duplicate_of", "removed", "cluster"):
        np.testing.assert_array_equal(parts[col], whole[col])
    # first-ranked members score 1.0 and have no duplicate_of
    first = state["rank"] == 0
    assert (state["score"][first] == 1.0).all() and (state["duplicate_of"][first] == "").all()
    with pytest.raises(DQError, match=r"document id 'nope' .* not in the fitted pool"):
        sd_score(pd.DataFrame({"id": ["nope"]}), state, params)


def test_giant_clusters_are_split():
    X, ids, _ = near_copy_pool(seed=7, n_blobs=2, per_blob=100)
    labels, centroids = semdedup.cluster_with_split(X, 2, 0, max_cluster=30)
    sizes = np.bincount(labels)
    assert sizes.max() <= 30 and sizes.min() > 0 and len(sizes) == len(centroids) >= len(X) // 30
    # identical rows cannot be split by k-means: cut into pieces instead
    same = np.repeat(X[:1], 25, axis=0)
    labels, _ = semdedup.cluster_with_split(same, 1, 0, max_cluster=10)
    assert sorted(np.bincount(labels)) == [5, 10, 10]
    state = sd_fit(X, ids, {"k": 2, "eps": 1e-3, "max_cluster": 30})
    assert np.bincount(state["cluster"]).max() <= 30


def test_semdedup_params():
    p = SD.params({"k": 20, "eps": 0.05})
    assert (p.k, p.seed, p.keep, p.max_cluster, p.n_iter, p.n_init, p.eps, p.remove_fraction) == (
        20, 0, "hard", 20000, 50, 1, 0.05, None,
    )  # fmt: skip
    assert SD.params({"k": 2, "remove_fraction": 0}).remove_fraction == 0.0
    assert SD.params({"k": 2, "eps": 2}).eps == 2.0


@pytest.mark.parametrize(
    "raw, match",
    [
        ({"k": 2}, r"params\.eps: give eps \(e\.g\. eps: 0\.01\) or remove_fraction .*; got None"),
        (
            {"k": 2, "eps": 0.1, "remove_fraction": 0.1},
            r"params\.remove_fraction: give either eps or remove_fraction",
        ),
        ({"eps": 0.1}, r"params: missing required key\(s\) \['k'\]"),
        ({"k": 0, "eps": 0.1}, r"params\.k: expected an integer >= 1; got 0"),
        (
            {"k": 2, "eps": 0.1, "keep": "middle"},
            r"params\.keep: 'middle' is not one of \['hard', 'easy', 'random'\]",
        ),
        ({"k": 2, "eps": 2.5}, r"params\.eps: expected a number >= 0 and <= 2 or null; got 2\.5"),
        ({"k": 2, "eps": -0.1}, r"params\.eps: expected a number >= 0 and <= 2 or null; got -0\.1"),
        (
            {"k": 2, "remove_fraction": 1},
            r"params\.remove_fraction: expected a number >= 0 and < 1 or null; got 1",
        ),
        ({"k": 2, "eps": 0.1, "max_cluster": 1}, r"params\.max_cluster: expected an integer >= 2; got 1"),
        (
            {"k": 2, "eps": 0.1, "seed": -1},
            r"params\.seed: expected an integer >= 0 or one of \['run'\]; got -1",
        ),
        ({"k": 2, "eps": 0.1, "n_iter": 0}, r"params\.n_iter: expected an integer >= 1; got 0"),
        ({"k": 2, "eps": 0.1, "n_init": 0}, r"params\.n_init: expected an integer >= 1; got 0"),
        (
            {"k": 2, "eps": 0.1, "dedup_fraction_kept": 0.5},
            r"params: unknown key\(s\) \['dedup_fraction_kept'\]",
        ),
    ],
)
def test_semdedup_bad_params(raw, match):
    with pytest.raises(DQError, match=match):
        SD.params(raw)


def test_semdedup_data_errors():
    X, ids, _ = near_copy_pool(seed=0, n_blobs=2, per_blob=5, n_copies=2)
    with pytest.raises(DQError, match=r"not unique"):
        sd_fit(X, np.array(["a"] * len(X)), {"k": 2, "eps": 0.1})
    with pytest.raises(DQError, match=rf"^semdedup: k=100 exceeds the number of pool documents n={len(X)};"):
        sd_fit(X, ids, {"k": 100, "eps": 0.1})
    with pytest.raises(DQError, match=r"\(12, 16\) pool embeddings for 3 pool ids"):
        sd_fit(X, ids[:3], {"k": 2, "eps": 0.1})
    with pytest.raises(DQError, match=r"unknown ranking policy 'middle'"):
        semdedup.rank_members(np.zeros(2), np.arange(2), "middle")


def test_dedup_methods_are_judged_at_the_report_defaults():
    assert SD.deduplicates and D4.deduplicates
    assert SD.judged_at(SD.params({"k": 2, "eps": 0.1})) is None
    assert D4.judged_at(D4.params({"k": 2})) is None
