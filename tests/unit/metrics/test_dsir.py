"""DSIR metric: parity with data-selection 1.0.3, KL, Gumbel top-k, fast vs compat, shard invariance."""

from __future__ import annotations

import ast
import glob
import json
import sysconfig

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from conftest import random_unicode
from dqreview.errors import DQError
from dqreview.metrics import dsir
from dqreview.metrics.dsir import features as dsir_features

DSIR = dsir.METHOD


def _fit(target, pool, raw=None):
    return DSIR.fit({"target_texts": target, "pool_texts": pool}, DSIR.params(raw))


def _score(docs, state, raw=None):
    return DSIR.score(docs, None, state, DSIR.params(raw))


def _stdlib_docstrings(limit: int = 400) -> tuple[list[str], list[str]]:
    """(docstrings longer than 200 characters from Lib/*.py, their file names), sorted, deterministic."""
    texts, files = [], []
    for f in sorted(glob.glob(sysconfig.get_paths()["stdlib"] + "/*.py")):
        try:
            tree = ast.parse(open(f, encoding="utf-8").read())
        except (SyntaxError, UnicodeDecodeError, OSError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                d = ast.get_docstring(node)
                if d and len(d) > 200:
                    texts.append(d)
                    files.append(f)
    if len(texts) < limit:
        pytest.skip("too few stdlib docstrings available")
    step = max(1, len(texts) // limit)
    return texts[::step][:limit], files[::step][:limit]


@pytest.fixture(scope="module")
def corpus():
    texts, files = _stdlib_docstrings()
    target = [
        t for t, f in zip(texts, files, strict=True) if any(k in f for k in ("mail", "http", "url", "smtp"))
    ]
    if len(target) < 5:
        target = texts[::10]
    return texts, target


def _df(texts):
    return pd.DataFrame({"id": [f"d{i}" for i in range(len(texts))], "text": texts})


def test_hash_values_match_reference():
    assert dsir.hash_bucket("alice") == 6720
    assert dsir.hash_bucket("alice went") == 114


@pytest.fixture(scope="module")
def unicode_texts():
    rng = np.random.default_rng(5)
    texts = [random_unicode(rng, int(rng.integers(0, 400))) for _ in range(300)]
    texts += [
        "İstanbul ΣΑΣ ΟΔΟΣ",
        "a\u0301b ٣٤ x²½ ⅱ_y",
        "x" * 700 + " " + "é" * 300 + "!" * 90,
        "",
        "  \t ",
        ".",
    ]
    return texts


def test_compiled_tokenizer_equals_re(unicode_texts):
    """fast (numba scanner) and compat (stdlib re) give the same tokens, counted in 2**31 − 1 buckets."""
    for ngrams in (1, 2):
        Xf, nf = dsir.featurize(unicode_texts, 2**31 - 1, ngrams, "fast", return_n_tokens=True)
        Xc, nc = dsir.featurize(unicode_texts, 2**31 - 1, ngrams, "compat", return_n_tokens=True)
        np.testing.assert_array_equal(nf, [len(dsir.tokenize(t)) for t in unicode_texts])
        np.testing.assert_array_equal(nf, nc)
        assert (Xf != Xc).nnz == 0
    Xp, npy = dsir_features._featurize_python(unicode_texts, 10000, 2)
    assert (dsir.featurize(unicode_texts) != Xp).nnz == 0


def test_compat_counts_equal_package():
    from data_selection.hashed_ngram_dsir import get_ngram_counts

    lines = [
        "Alice went to the market.",
        "",
        "x",
        "Hello, world!! It's 3:45 -- ok?",
        "Ünïcode wörds ça-va  naïve",
    ]
    for feat in ("compat", "fast"):
        X = dsir.featurize(lines, featurizer=feat)
        for i, line in enumerate(lines):
            np.testing.assert_array_equal(X[i].toarray().ravel(), get_ngram_counts(line))
    X1 = dsir.featurize(lines, ngrams=1, num_buckets=97, featurizer="fast")
    for i, line in enumerate(lines):
        np.testing.assert_array_equal(X1[i].toarray().ravel(), get_ngram_counts(line, n=1, num_buckets=97))
    X3 = dsir.featurize(lines, ngrams=3, num_buckets=97, featurizer="fast")  # pure-Python path
    for i, line in enumerate(lines):
        np.testing.assert_array_equal(X3[i].toarray().ravel(), get_ngram_counts(line, n=3, num_buckets=97))


def test_cache_growth_and_eviction_keep_buckets(monkeypatch, unicode_texts, corpus):
    """Tiny initial tables (every array grows many times) and tiny limits (the caches are emptied
    mid-run) give the same counts as the uncached pure-Python featuriser."""
    texts = unicode_texts + corpus[0][:100]
    want, _ = dsir_features._featurize_python(texts, 10000, 2)
    for attr, value in (
        ("INIT_WORDS", 2),
        ("INIT_ARENA", 4),
        ("INIT_BIGRAM_SLOTS", 2),
        ("MAX_BIGRAM_SLOTS", 256),
        ("MAX_WORDS", 300),
    ):
        monkeypatch.setattr(dsir_features._NgramCache, attr, value)
    monkeypatch.setattr(dsir_features, "_CACHES", {})
    for feat in ("fast", "compat"):
        got = sum(dsir.bucket_counts(texts[i::7], featurizer=feat, chunk_docs=16) for i in range(7))
        np.testing.assert_array_equal(got, np.asarray(want.sum(axis=0)).ravel())
        assert (dsir.featurize(texts, featurizer=feat) != want).nnz == 0


def test_compat_weights_equal_package(corpus, tmp_path):
    from data_selection import HashedNgramDSIR

    texts, target = corpus
    for name, tt in (("raw", texts), ("tgt", target)):
        with open(tmp_path / f"{name}.jsonl", "w") as fh:
            for t in tt:
                fh.write(json.dumps({"text": t}) + "\n")
    ref = HashedNgramDSIR(
        [str(tmp_path / "raw.jsonl")],
        [str(tmp_path / "tgt.jsonl")],
        cache_dir=str(tmp_path / "cache"),
        num_proc=1,
    )
    ref.fit_importance_estimator(num_tokens_to_fit="all")
    ref.compute_importance_weights()
    want = np.load(tmp_path / "cache" / "log_importance_weights" / "0.npy")
    for feat in ("compat", "fast"):
        state = _fit(target, np.asarray(texts), {"featurizer": feat})
        np.testing.assert_allclose(state["target_dist"], ref.target_probs, rtol=0, atol=1e-15)
        np.testing.assert_allclose(state["pool_dist"], ref.raw_probs, rtol=0, atol=1e-15)
        got = _score(_df(texts), state, {"featurizer": feat})
        assert list(got.columns) == ["id", "score", "n_tokens"]
        if feat == "compat":  # the package's own dot product on the same counts: bit for bit
            np.testing.assert_array_equal(got["score"].to_numpy(), want)
        else:  # summed in token order instead
            np.testing.assert_allclose(got["score"].to_numpy(), want, rtol=1e-12, atol=1e-9)
        meta = np.load(tmp_path / "cache" / "perexample_metadata" / "0.npy")
        np.testing.assert_array_equal(got["n_tokens"].to_numpy(), meta)


def test_fast_agrees_with_compat(corpus):
    texts, target = corpus
    out = {}
    for feat in ("compat", "fast"):
        state = _fit(target, texts, {"featurizer": feat, "laplace": 1.0})
        out[feat] = _score(_df(texts), state, {"featurizer": feat})["score"].to_numpy()
    assert spearmanr(out["compat"], out["fast"]).statistic >= 0.99
    k = 50
    a, b = set(np.argsort(-out["compat"])[:k]), set(np.argsort(-out["fast"])[:k])
    assert len(a & b) / len(a | b) >= 0.95


def test_fit_shard_invariance(corpus):
    texts, _ = corpus
    for feat in ("compat", "fast"):
        whole = dsir.bucket_counts(texts, featurizer=feat)
        parts = sum(dsir.bucket_counts(s, featurizer=feat) for s in np.array_split(np.asarray(texts), 4))
        np.testing.assert_allclose(
            dsir.fit_distribution(parts), dsir.fit_distribution(whole), rtol=0, atol=1e-12
        )
        np.testing.assert_allclose(
            dsir.fit_distribution(dsir.featurize(texts, featurizer=feat)),
            dsir.fit_distribution(whole),
            atol=1e-12,
        )


def test_scores_shard_invariant_and_deterministic(corpus, unicode_texts):
    """Same ids and values for 1 and 4 shards; the same bits with cold and warm n-gram caches."""
    texts, target = corpus
    texts = texts + unicode_texts
    docs = _df(texts)
    for feat in ("fast", "compat"):
        params = {"featurizer": feat, "laplace": 0.5}
        dsir_features._CACHES.clear()
        state = _fit(target, texts, params)
        warm = _fit(target, texts, params)
        for k in state:
            np.testing.assert_array_equal(state[k], warm[k])
        whole = _score(docs, state, params)
        bounds = np.linspace(0, len(docs), 5).astype(int)
        shards = pd.concat(
            [_score(docs.iloc[a:b], state, params) for a, b in zip(bounds[:-1], bounds[1:], strict=True)],
            ignore_index=True,
        )
        assert shards["id"].tolist() == whole["id"].tolist()
        np.testing.assert_allclose(shards["score"], whole["score"], rtol=1e-9, atol=0)
        np.testing.assert_array_equal(shards["n_tokens"], whole["n_tokens"])
        dsir_features._CACHES.clear()
        again = _score(docs, state, params)  # cold caches
        np.testing.assert_array_equal(again["score"].to_numpy(), whole["score"].to_numpy())


def test_laplace_and_fit_distribution():
    p = dsir.fit_distribution(np.array([3.0, 0.0, 1.0]), smoothing=1.0)
    np.testing.assert_allclose(p, [4 / 7, 1 / 7, 2 / 7])
    lr = dsir.log_ratio(np.array([0.5, 0.5, 0.0]), np.array([0.25, 0.25, 0.5]))
    np.testing.assert_allclose(lr[:2], np.log(0.5 + 1e-8) - np.log(0.25 + 1e-8))
    assert lr[2] == pytest.approx(np.log(1e-8) - np.log(0.5 + 1e-8))


def test_kl_formula_and_reduction_sign():
    p = np.array([0.5, 0.5, 0.0])
    q = np.array([0.25, 0.25, 0.5])
    want = 2 * 0.5 * (np.log(0.5 + 1e-10) - np.log(0.25 + 1e-10))
    assert dsir.kl_divergence(p, q) == pytest.approx(want, rel=1e-12)
    assert dsir.kl_divergence(p, p) == pytest.approx(0.0, abs=1e-12)
    assert dsir.kl_divergence([2, 2, 0], [1, 1, 2]) == pytest.approx(want, rel=1e-12)  # counts accepted
    # selecting the target-like half reduces the KL; the other half increases it
    pool = np.array([1.0, 1.0, 1.0, 1.0])
    target = np.array([0.45, 0.45, 0.05, 0.05])
    assert dsir.kl_reduction(target, pool, np.array([0.4, 0.4, 0.1, 0.1])) > 0
    assert dsir.kl_reduction(target, pool, np.array([0.1, 0.1, 0.4, 0.4])) < 0


def test_gumbel_topk_inclusion_rises_with_weight():
    n, k, seeds = 20, 5, 1000
    logw = np.log(np.arange(1, n + 1, dtype=np.float64))
    ids = [f"doc{i}" for i in range(n)]
    g0 = dsir.gumbel_keys(ids, 0)
    np.testing.assert_array_equal(g0, dsir.gumbel_keys(ids, 0))  # keyed, not a global RNG
    assert np.all(np.isfinite(g0))
    hits = np.zeros(n)
    for s in range(seeds):
        hits[np.argsort(-(logw + dsir.gumbel_keys(ids, s)))[:k]] += 1
    freq = hits / seeds
    assert freq.sum() == pytest.approx(k)
    assert spearmanr(np.arange(n), freq).statistic > 0.95
    assert np.all(np.diff(freq) > -0.06)  # monotone within sampling tolerance
    assert freq[-1] > 2 * freq[0]


def test_score_rows_and_params():
    state = _fit(["cats purr softly"], ["cats purr", "stock prices fell"])
    assert set(state) == {"log_ratio", "target_dist", "pool_dist"}
    assert all(isinstance(v, np.ndarray) and v.dtype == np.float64 for v in state.values())
    out = _score(_df(["cats purr softly", "stock prices fell today", ""]), state)
    assert out["score"].iloc[0] > out["score"].iloc[1]
    assert out["score"].iloc[2] == 0.0 and out["n_tokens"].tolist() == [3, 4, 0]
    with pytest.raises(DQError, match=r"num_buckets=5 does not match the fitted state \(10000 buckets\)"):
        _score(_df(["a"]), state, {"num_buckets": 5})
    with pytest.raises(DQError, match=r"no 'text' column"):
        _score(pd.DataFrame({"id": ["a"]}), state)
    with pytest.raises(DQError, match=r"fit input 'pool_texts' has no documents"):
        _fit(["cats"], [])
    with pytest.raises(DQError, match=r"the target texts contain no tokens"):
        _fit(["  "], ["cats"])


def test_params():
    p = DSIR.params({})
    assert (p.num_buckets, p.ngrams, p.featurizer, p.laplace, p.sampling) == (10000, 2, "fast", 0.0, "gumbel")
    assert DSIR.params({"laplace": 1}).laplace == 1.0


@pytest.mark.parametrize(
    "raw, match",
    [
        ({"num_buckets": 0}, r"params\.num_buckets: expected an integer >= 1; got 0"),
        ({"ngrams": "2"}, r"params\.ngrams: expected an integer >= 1; got '2'"),
        ({"featurizer": "murmur"}, r"params\.featurizer: 'murmur' is not one of \['fast', 'compat'\]"),
        ({"laplace": -1}, r"params\.laplace: expected a number >= 0; got -1"),
        (
            {"laplace": float("inf")},
            r"params\.laplace: expected a finite pseudo-count >= 0 \(0 = none\); got inf",
        ),
        ({"sampling": "weighted"}, r"params\.sampling: 'weighted' is not one of \['gumbel', 'top_k'\]"),
        ({"buckets": 10}, r"params: unknown key\(s\) \['buckets'\]"),
    ],
)
def test_bad_params(raw, match):
    with pytest.raises(DQError, match=match):
        DSIR.params(raw)


def test_selection_score_gumbel_keyed_by_id_and_seed():
    scores = pd.DataFrame({"id": [f"d{i}" for i in range(50)], "score": np.linspace(-5, 5, 50)})

    def key(frame, seed, raw, keep):
        return DSIR.selection_score(frame, seed, DSIR.params(raw), keep)

    top_k = key(scores, 0, {"sampling": "top_k"}, "high")
    assert np.array_equal(top_k, scores["score"].to_numpy())
    high = key(scores, 3, {}, "high")
    low = key(scores, 3, {}, "low")
    noise = dsir.gumbel_keys(scores["id"].to_numpy(), 3)
    assert np.allclose(high - scores["score"], noise) and np.allclose(scores["score"] - low, noise)
    shuffled = scores.sample(frac=1.0, random_state=1)
    again = key(shuffled, 3, {}, "high")
    assert np.allclose(pd.Series(again, index=shuffled["id"]).loc[scores["id"]].to_numpy(), high)
    assert not np.allclose(key(scores, 4, {}, "high"), high)
    np.testing.assert_array_equal(
        dsir.sampling_keys(scores["score"], scores["id"], 3, "gumbel", "high"), high
    )  # the library function the method calls
