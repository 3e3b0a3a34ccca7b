"""MinHash-LSH and exact dedup (dqreview.metrics.minhash): parity with datasketch, estimator, recall,
clustering, representative policy and shard invariance."""

from __future__ import annotations

import random

import numpy as np
import pandas as pd
import pytest

from dqreview.metrics import minhash as M

VOCAB = [f"w{i}" for i in range(3000)] + ["Ünïcödé", "straße", "日本語", "naïve"]


def _doc(rng: random.Random, lo=100, hi=200) -> str:
    return " ".join(rng.choices(VOCAB, k=rng.randint(lo, hi)))


def _edit(rng: random.Random, text: str, per_100: int = 2) -> str:
    w = text.split()
    for _ in range(max(1, per_100 * len(w) // 100)):
        w[rng.randrange(len(w))] = rng.choice(VOCAB)
    return " ".join(w)


def test_shingles():
    assert M.shingles("A b c") == ["a b c"]
    assert M.shingles("") == [""]
    assert M.shingles("a b c d e f") == ["a b c d e", "b c d e f"]
    assert M.shingles("a  b\n\nc d E", 5) == ["a b c d e"]


def test_legacy_signatures_equal_datasketch():
    from datasketch import MinHash  # must FAIL, not skip, when the reference is missing

    rng = random.Random(1)
    texts = [_doc(rng, 0, 60) for _ in range(150)] + ["", "one", "a b c d", "x " * 7]
    for num_perm, seed in ((128, 1), (64, 7)):
        sigs = M.signatures_legacy(texts, num_perm, seed)
        for t, s in zip(texts, sigs, strict=True):
            ref = MinHash(num_perm=num_perm, seed=seed, scheme="legacy")
            for sh in M.shingles(t):
                ref.update(sh.encode("utf-8"))
            np.testing.assert_array_equal(ref.hashvalues, s)
    a, b = M.legacy_permutations(16, 3)
    ref = MinHash(num_perm=16, seed=3, scheme="legacy")
    np.testing.assert_array_equal(ref.permutations[0], a)
    np.testing.assert_array_equal(ref.permutations[1], b)


@pytest.mark.parametrize("t,p,expected", [(0.8, 128, (9, 13)), (0.8, 256, (17, 15)), (0.7, 240, (24, 10))])
def test_optimal_bands_equal_datasketch(t, p, expected):
    from datasketch.lsh import _optimal_param

    assert M.optimal_bands(t, p) == expected == _optimal_param(t, p, 0.5, 0.5)


@pytest.mark.parametrize("mode", ["fast", "legacy"])
def test_jaccard_estimate_within_3_se(mode):
    rng = random.Random(2)
    P = 256
    bad = 0
    trials = 0
    for keep in (10, 30, 60, 90):  # shared shingles out of 100 distinct per doc → known J
        for _ in range(5):
            base = [f"s{rng.random()}" for _ in range(100 + (100 - keep))]
            A, B = base[:100], base[:keep] + base[100:]
            J = keep / (200 - keep)
            # texts of < ngram words are one shingle each: hash sets of single tokens via ngram=1
            s = M.signatures([" ".join(A), " ".join(B)], P, rng.randrange(1000), 1, mode)
            est = float((s[0] == s[1]).mean())
            se = np.sqrt(J * (1 - J) / P)
            bad += abs(est - J) > 3 * se
            trials += 1
    assert bad <= 1, f"{bad}/{trials} estimates outside 3 standard errors"


def test_union_find():
    labels = M.union_find_clusters(7, np.array([[0, 3], [3, 5], [1, 2]]))
    groups = {frozenset(np.flatnonzero(labels == v)) for v in np.unique(labels)}
    assert groups == {frozenset({0, 3, 5}), frozenset({1, 2}), frozenset({4}), frozenset({6})}
    assert len(np.unique(M.union_find_clusters(3, np.zeros((0, 2), int)))) == 3


def test_lsh_candidates_identical_band():
    sigs = np.array([[1, 2, 3, 4], [1, 2, 9, 9], [7, 7, 3, 4], [5, 6, 7, 8]], dtype=np.uint32)
    pairs = M.lsh_candidates(sigs, 2, 2)
    assert sorted(map(tuple, pairs.tolist())) == [(0, 1), (0, 2)]


@pytest.mark.parametrize("mode", ["fast", "legacy"])
def test_recall_near_duplicates(mode):
    rng = random.Random(3)
    n = 300
    originals = [_doc(rng) for _ in range(n)]
    copies = [_edit(rng, d, 2) for d in originals]
    texts = originals + copies
    ids = np.array([f"d{i:04d}" for i in range(2 * n)])
    # 2 substitutions per 100 words give true 5-gram Jaccard J ≈ 0.81-0.92, i.e. AT the threshold 0.8,
    # where LSH with datasketch's (9, 13) finds only 1 − (1 − J^13)^9 ≈ 2/3 of the pairs. So (a) plain
    # T = 0.8 recall must match that S-curve prediction; (b) the ≥ 0.95 recall comes from designing the
    # bands for a lower lsh_threshold (0.6) and verifying candidates by true Jaccard ≥ 0.8.
    J = np.array(
        [M.jaccard(set(M.shingles(a)), set(M.shingles(b))) for a, b in zip(originals, copies, strict=True)]
    )
    assert J.min() >= 0.8
    pool = {"pool_texts": np.array(texts), "pool_ids": ids}
    state = M.fit(pool, {"mode": mode, "threshold": 0.8})
    lab = state["cluster"]
    recall = float(np.mean(lab[:n] == lab[n:]))
    b, r = M.optimal_bands(0.8, 128)
    pred = float(np.mean(1 - (1 - J**r) ** b))
    assert abs(recall - pred) <= 3 * np.sqrt(pred * (1 - pred) / n) + 0.01, (recall, pred)
    assert state["removed"].sum() == 2 * n - len(np.unique(lab))
    st2 = M.fit(pool, {"mode": mode, "threshold": 0.8, "lsh_threshold": 0.6, "verify": True})
    lab2 = st2["cluster"]
    assert np.mean(lab2[:n] == lab2[n:]) >= 0.95
    # unrelated random documents are never merged: exactly the n planted pairs remain
    assert len(np.unique(lab2)) >= n and st2["removed"].sum() <= n


def test_exact_dedup_groups_equal_text():
    texts = ["Hello  world", "hello world", "Hello world", "other", "other ", "third"]
    ids = np.array([f"x{i}" for i in range(len(texts))])
    st = M.fit({"pool_texts": np.array(texts), "pool_ids": ids}, {"mode": "exact"})
    c = st["cluster"]
    # normalisation strips trailing spaces but keeps case and inner spaces
    assert c[2] != c[1] and c[4] == c[3] and len(np.unique(c)) == 5
    assert st["removed"].sum() == 1
    assert list(M.exact_clusters(["a", "b", "a"])) == [0, 1, 0]


def test_representative_policy_deterministic_and_order_free():
    rng = random.Random(4)
    base = [_doc(rng) for _ in range(40)]
    texts = base + base[:20] + base[:10]
    ids = np.array([f"id{i:03d}" for i in range(len(texts))])
    st = M.fit({"pool_texts": np.array(texts), "pool_ids": ids}, {"mode": "exact", "seed": 5})
    perm = np.random.default_rng(0).permutation(len(texts))
    st2 = M.fit({"pool_texts": np.array(texts)[perm], "pool_ids": ids[perm]}, {"mode": "exact", "seed": 5})
    docs = pd.DataFrame({"id": ids})
    a, b = M.score(docs, None, st), M.score(docs, None, st2)
    pd.testing.assert_frame_equal(a, b)
    # representative = smallest stable_hash64(id, seed) in its cluster
    from dqreview.hashing import stable_hash64

    for i in range(10):
        members = [i, 40 + i, 60 + i]
        rep = min(members, key=lambda j: stable_hash64(ids[j], 5))
        assert a.score[rep] == 1.0 and not a.removed[rep]
        for j in members:
            if j != rep:
                assert a.removed[j] and a.duplicate_of[j] == ids[rep] and a.score[j] == 0.0
    assert a.removed.sum() == 30


@pytest.mark.parametrize("mode", ["fast", "legacy"])
def test_shard_invariance(mode):
    rng = random.Random(5)
    base = [_doc(rng, 20, 80) for _ in range(60)]
    texts = base + [_edit(rng, d, 2) for d in base[:30]]
    ids = np.array([f"s{i:03d}" for i in range(len(texts))])
    whole = M.signatures(texts, 128, 1, 5, mode)
    parts = np.concatenate([M.signatures(c, 128, 1, 5, mode) for c in np.array_split(np.array(texts), 4)])
    np.testing.assert_array_equal(whole, parts)
    st = M.fit({"pool_texts": np.array(texts), "pool_ids": ids}, {"mode": mode})
    docs = pd.DataFrame({"id": ids})
    one = M.score(docs, None, st)
    chunks = [docs.iloc[c] for c in np.array_split(np.arange(len(docs)), 4)]
    four = pd.concat([M.score(d, None, st) for d in chunks], ignore_index=True)
    pd.testing.assert_frame_equal(one, four)
    assert set(one.columns) >= {"id", "score", "removed", "duplicate_of", "cluster"}
    assert one.removed.dtype == bool and M.REMOVES


def test_state_saves_without_pickle(tmp_path):
    st = M.fit({"pool_texts": np.array(["a b", "a b", "c"]), "pool_ids": np.array(["1", "2", "3"])}, {})
    np.savez(tmp_path / "s.npz", **st)
    back = dict(np.load(tmp_path / "s.npz", allow_pickle=False))
    pd.testing.assert_frame_equal(
        M.score(pd.DataFrame({"id": ["3", "2", "1"]}), None, back),
        M.score(pd.DataFrame({"id": ["3", "2", "1"]}), None, st),
    )


def test_bad_params():
    from dqreview.errors import DQError

    for bad in ({"mode": "x"}, {"threshold": 0}, {"num_perm": 0}, {"bands": 2}, {"verify": "yes"}, {"zz": 1}):
        with pytest.raises(DQError):
            M.check_params(bad)
