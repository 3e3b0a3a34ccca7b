"""MinHash-LSH and exact dedup (dqreview.metrics.minhash): parity with datasketch, estimator, recall,
clustering, representative policy and shard invariance."""

from __future__ import annotations

import itertools
import random

import numpy as np
import pandas as pd
import pytest

from dqreview.errors import DQError
from dqreview.metrics import minhash as M

MH = M.METHOD


def _features(docs, raw):
    return MH.shard_features(docs, MH.params(raw))


def _fit(features, raw):
    return MH.fit({"shard_features": features}, MH.params(raw))


def _score(docs, state, raw=None):
    return MH.score(docs, None, state, MH.params(raw))


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


# texts the compiled scanner must split exactly like normalise(text).lower().split(): control and
# format characters (removed by normalise, joining words), non-NFC text, Unicode whitespace, lone
# surrogates, Greek final sigma, and shingles of 1, 2 and 3 SHA-1 blocks (≥ 56 and ≥ 120 bytes)
TRICKY = [
    "",
    "one",
    "a b c d",
    "x " * 7,
    "Ünïcödé STRASSE straße 日本語 naïve",
    "a\x00b c d e f g",
    "a\x0bb c d e f g",
    "x\r\ny z w v u",
    "\x85a b c d e f",
    "e\u0301 f g h i j",
    "A\u00a0B C D E F",
    "x\u200by z a b c d",
    "\u2028 p q r s t u \u3000 v",
    "\ud800 a b c d e",
    "ΟΔΟΣ ΟΔΟΣ. ΣΑΣ a b c",
    "tab\there  and\n\n\nnew  lines x y z",
    "w" * 70 + " b c d e f g",
    ("long" * 30 + " ") * 8,
    "x" * 55,  # SHA-1 padding boundaries: 55 bytes fit one block (the 16-lane path), 56 need two
    "x" * 56,
    "y" * 119,
    "y" * 120,
    "é" * 27 + "a",  # 55 bytes of UTF-8
]


def _datasketch_legacy(text, num_perm, seed):
    from datasketch import MinHash  # must FAIL, not skip, when the reference is missing

    ref = MinHash(num_perm=num_perm, seed=seed, scheme="legacy")
    for sh in M.shingles(text):
        ref.update(sh.encode("utf-8", "surrogatepass"))
    return ref.hashvalues


def test_legacy_signatures_equal_datasketch():
    from datasketch import MinHash

    rng = random.Random(1)
    texts = [_doc(rng, 0, 60) for _ in range(150)] + TRICKY
    texts += texts[:20]  # repeated shingles across documents: SHA-1 once per distinct shingle
    for num_perm, seed in ((128, 1), (64, 7)):
        sigs = M.signatures_legacy(texts, num_perm, seed)
        assert sigs.dtype == np.uint64 and sigs.shape == (len(texts), num_perm)
        for t, s in zip(texts, sigs, strict=True):
            np.testing.assert_array_equal(_datasketch_legacy(t, num_perm, seed), s, err_msg=repr(t))
    a, b = M.legacy_permutations(16, 3)
    ref = MinHash(num_perm=16, seed=3, scheme="legacy")
    np.testing.assert_array_equal(ref.permutations[0], a)
    np.testing.assert_array_equal(ref.permutations[1], b)


def test_compiled_shingles_equal_the_definition():
    rng = random.Random(6)
    texts = TRICKY + [_doc(rng, 0, 30) for _ in range(50)]
    ids, off = M.shingle_ids(texts)
    hashes, off64 = M.shingle_hashes(texts)
    np.testing.assert_array_equal(off, off64)
    ref = [M.shingles(t) for t in texts]
    assert list(np.diff(off)) == [len(r) for r in ref]  # one entry per shingle, repeats kept
    # equal shingle text ⇔ equal exact id (across documents) ⇔ equal 64-bit hash
    text_of = {}
    for sh, i, h in zip((s for r in ref for s in r), ids, hashes, strict=True):
        assert text_of.setdefault(("id", int(i)), sh) == sh and text_of.setdefault(("h", int(h)), sh) == sh
    assert len({k for k in text_of if k[0] == "id"}) == len({s for r in ref for s in r})


def test_fast_signatures_are_the_multiply_shift_minimum():
    texts = ["a b c d e f g", "x y", ""]
    a, b = M.fast_permutations(8, 3)
    h, off = M.shingle_hashes(texts, 5)
    sigs = M.signatures_fast(texts, 8, 3)
    for d in range(3):
        x = h[off[d] : off[d + 1], None]
        with np.errstate(over="ignore"):
            expected = ((a[None, :] * x + b[None, :]) >> np.uint64(32)).min(axis=0)
        np.testing.assert_array_equal(sigs[d], expected.astype(np.uint32))
    assert sigs.dtype == np.uint32 and list(np.diff(off)) == [3, 1, 1]


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
    state = M.fit_texts(texts, ids, {"mode": mode, "threshold": 0.8})
    lab = state["cluster"]
    recall = float(np.mean(lab[:n] == lab[n:]))
    b, r = M.optimal_bands(0.8, 128)
    pred = float(np.mean(1 - (1 - J**r) ** b))
    assert abs(recall - pred) <= 3 * np.sqrt(pred * (1 - pred) / n) + 0.01, (recall, pred)
    assert state["removed"].sum() == 2 * n - len(np.unique(lab))
    st2 = M.fit_texts(texts, ids, {"mode": mode, "threshold": 0.8, "lsh_threshold": 0.6, "verify": True})
    lab2 = st2["cluster"]
    assert np.mean(lab2[:n] == lab2[n:]) >= 0.95
    # unrelated random documents are never merged: exactly the n planted pairs remain
    assert len(np.unique(lab2)) >= n and st2["removed"].sum() <= n


def test_exact_dedup_groups_equal_text():
    texts = ["Hello  world", "hello world", "Hello world", "other", "other ", "third"]
    ids = np.array([f"x{i}" for i in range(len(texts))])
    st = M.fit_texts(texts, ids, {"mode": "exact"})
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
    st = M.fit_texts(texts, ids, {"mode": "exact", "seed": 5})
    perm = np.random.default_rng(0).permutation(len(texts))
    st2 = M.fit_texts(np.array(texts)[perm], ids[perm], {"mode": "exact", "seed": 5})
    docs = pd.DataFrame({"id": ids})
    a, b = _score(docs, st), _score(docs, st2)
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


@pytest.mark.parametrize("mode", ["fast", "legacy", "exact"])
@pytest.mark.parametrize("verify", [False, True])
def test_shard_invariance(mode, verify):
    rng = random.Random(5)
    base = [_doc(rng, 20, 80) for _ in range(60)]
    texts = base + [_edit(rng, d, 2) for d in base[:30]] + base[:5]
    ids = np.array([f"s{i:03d}" for i in range(len(texts))])
    params = {"mode": mode, "verify": verify, "lsh_threshold": 0.6}
    docs = pd.DataFrame({"id": ids, "text": texts})
    one = _features(docs, params)
    four = [_features(docs.iloc[c], params) for c in np.array_split(np.arange(len(docs)), 4)]
    # per-shard features are per-document: the four shards concatenate to the single one
    expected = {"ids", "text_hash"} if mode == "exact" else {"ids", "signatures"}
    if verify and mode != "exact":
        expected |= {"shingle_sets", "shingle_offsets"}
    assert set(one) == set(four[0]) == expected
    for key in ("ids", "signatures", "text_hash"):
        if key in one:
            np.testing.assert_array_equal(one[key], np.concatenate([f[key] for f in four]))
    st1 = _fit([one], params)
    st4 = _fit(four, params)
    assert st1.keys() == st4.keys()
    for key in st1:
        np.testing.assert_array_equal(st1[key], st4[key], err_msg=key)
    assert st1["removed"].sum() >= 5  # at least the exact copies
    score1 = _score(docs, st1)
    chunks = [docs.iloc[c] for c in np.array_split(np.arange(len(docs)), 4)]
    score4 = pd.concat([_score(d, st4) for d in chunks], ignore_index=True)
    pd.testing.assert_frame_equal(score1, score4)
    assert set(score1.columns) >= {"id", "score", "removed", "duplicate_of", "cluster"}
    assert score1.removed.dtype == bool and MH.deduplicates


def test_verification_uses_shingle_sets():
    texts = ["a b c d e f g h", "a b c d e f g x", "q r s t u v w"]  # J = 3/5 for the first pair
    docs = pd.DataFrame({"id": ["1", "2", "3"], "text": texts})
    f = _features(docs, {"verify": True})
    assert list(np.diff(f["shingle_offsets"])) == [4, 4, 3]
    assert M.pair_jaccard(f["shingle_sets"], f["shingle_offsets"], np.array([[0, 1]]))[0] == pytest.approx(
        3 / 5
    )
    kept = M.verify_pairs(f["shingle_sets"], f["shingle_offsets"], np.array([[0, 1], [0, 2]]), 0.6)
    assert kept.tolist() == [[0, 1]]
    assert M.verify_pairs(f["shingle_sets"], f["shingle_offsets"], np.array([[0, 1]]), 0.61).tolist() == []


def test_fit_rejects_stale_or_missing_features():
    docs = pd.DataFrame({"id": ["1", "2"], "text": ["a b", "c d"]})
    f = _features(docs, {"num_perm": 64})
    with pytest.raises(DQError, match="num_perm 128; rebuild"):
        _fit([f], {})
    with pytest.raises(DQError, match=r"lack \['shingle_sets', 'shingle_offsets'\]"):
        _fit([f], {"num_perm": 64, "verify": True})
    with pytest.raises(DQError, match="got none"):
        _fit([], {})
    with pytest.raises(DQError, match="not unique"):
        _fit([f, f], {"num_perm": 64})
    with pytest.raises(DQError, match="no 'text' column"):
        _features(docs[["id"]], {})


def test_jaccard_pairs_equal_brute_force():
    rng = random.Random(8)
    vocab = [f"v{i}" for i in range(200)]
    docs = [" ".join(rng.choices(vocab, k=rng.randint(1, 40))) for _ in range(150)]
    docs += docs[:10] + docs[:3]  # identical sets (groups of 2 and 3)
    docs += [" ".join(d.split()[:-1] + ["zz"]) for d in docs[20:60]]  # one word changed: J from 0 to ~0.9
    docs += ["", ""]  # the empty text is one shingle ""
    shingle_sets = [set(M.shingles(d)) for d in docs]
    for threshold in (0.5, 0.8):
        brute = [
            (i, j, M.jaccard(shingle_sets[i], shingle_sets[j]))
            for i, j in itertools.combinations(range(len(docs)), 2)
            if M.jaccard(shingle_sets[i], shingle_sets[j]) >= threshold
        ]
        pairs, J = M.jaccard_pairs(docs, threshold)
        assert [tuple(p) for p in pairs.tolist()] == [(i, j) for i, j, _ in brute]
        np.testing.assert_allclose(J, [x for *_, x in brute], rtol=1e-12)
        assert len(brute) > 20 and any(x < 1 for *_, x in brute)


def test_state_saves_without_pickle(tmp_path):
    st = M.fit_texts(["a b", "a b", "c"], ["1", "2", "3"], {})
    np.savez(tmp_path / "s.npz", **st)
    back = dict(np.load(tmp_path / "s.npz", allow_pickle=False))
    pd.testing.assert_frame_equal(
        _score(pd.DataFrame({"id": ["3", "2", "1"]}), back),
        _score(pd.DataFrame({"id": ["3", "2", "1"]}), st),
    )


def test_params_and_judged_at():
    p = MH.params({})
    assert (p.num_perm, p.threshold, p.lsh_threshold, p.ngram, p.mode, p.verify, p.seed, p.bands, p.rows) == (
        128, 0.8, None, 5, "fast", False, 1, None, None,
    )  # fmt: skip
    assert p.lsh_at == 0.8 and MH.params({"threshold": 0.7, "lsh_threshold": 0.5}).lsh_at == 0.5
    assert MH.params({"threshold": 1}).threshold == 1.0
    assert MH.params({"bands": 8, "rows": 16}).bands == 8  # b·r = num_perm is allowed
    # the dedup report judges each variant at its own threshold and shingle length, exact mode included
    assert MH.judged_at(MH.params({"threshold": 0.7, "ngram": 3})) == (0.7, 3)
    assert MH.judged_at(MH.params({"mode": "exact"})) == (0.8, 5)


@pytest.mark.parametrize(
    "raw, match",
    [
        ({"mode": "x"}, r"params\.mode: 'x' is not one of \['fast', 'legacy', 'exact'\]"),
        ({"threshold": 0}, r"params\.threshold: expected a number > 0 and <= 1; got 0"),
        ({"threshold": 1.1}, r"params\.threshold: expected a number > 0 and <= 1; got 1\.1"),
        ({"lsh_threshold": 0}, r"params\.lsh_threshold: expected a number > 0 and <= 1 or null; got 0"),
        ({"num_perm": 0}, r"params\.num_perm: expected an integer >= 1; got 0"),
        ({"ngram": 0}, r"params\.ngram: expected an integer >= 1; got 0"),
        ({"seed": -1}, r"params\.seed: expected an integer >= 0; got -1"),
        ({"bands": 2}, r"params\.bands: give both bands and rows, or neither; got 2"),
        ({"rows": 2}, r"params\.rows: give both bands and rows, or neither; got 2"),
        ({"bands": 0, "rows": 2}, r"params\.bands: expected an integer >= 1 or null; got 0"),
        ({"bands": 20, "rows": 7}, r"params\.bands: bands·rows = 140 exceeds num_perm = 128; got 20"),
        ({"verify": "yes"}, r"params\.verify: expected true or false; got 'yes'"),
        ({"zz": 1}, r"params: unknown key\(s\) \['zz'\]"),
    ],
)
def test_bad_params(raw, match):
    with pytest.raises(DQError, match=match):
        MH.params(raw)
