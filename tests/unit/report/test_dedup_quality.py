"""dqreview.report.dedup_quality: recall/precision of a dedup method against planted duplicates ∪ pairs with
exact Jaccard ≥ T."""

from __future__ import annotations

import random

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import REPO
from dqreview.report.dedup_quality import dedup_quality, similar_pairs


def _index():
    return pd.DataFrame(
        {
            "id": ["a", "b", "c", "d", "e", "f", "g"],
            "domain": ["x", "x", "x", "y", "y", "y", "y"],
            "planted": ["", "", "exact:a", "near:b:m=2", "", "", ""],
        }
    )


# f and g: a natural near-duplicate (J = 4/6 ≥ 0.6); a and c: the planted exact copy (J = 1)
TEXTS = {
    "a": "one two three four five six",
    "b": "alpha beta gamma delta epsilon zeta eta",
    "c": "one two three four five six",
    "d": "alpha beta gamma delta epsilon zeta theta",
    "e": "completely unrelated words in this text",
    "f": "p q r s t u v w x",
    "g": "p q r s t u v w y",
}


def test_similar_pairs_at_threshold():
    ids = list(TEXTS)
    sim = similar_pairs(ids, list(TEXTS.values()), 0.6, ngram=5)
    got = {
        frozenset(p): j
        for p, j in zip(zip(sim["id"], sim["original"], strict=True), sim["jaccard"], strict=True)
    }
    # b/d: 3 shingles each, 2 shared → J = 2/4 < 0.6: planted, not similar
    assert got == {frozenset("ac"): 1.0, frozenset("fg"): pytest.approx(4 / 6)}
    assert similar_pairs(ids, list(TEXTS.values()), 0.9).shape[0] == 1


def test_recall_precision_and_rates():
    sim = similar_pairs(list(TEXTS), list(TEXTS.values()), 0.6)
    summary, by_domain = dedup_quality(_index(), ["c", "e", "g"], sim)
    assert summary["recall_exact"] == 1.0  # (c, a) found through c
    assert summary["recall_near"] == 0.0  # (d, b) missed
    assert summary["recall_similar"] == 1.0  # (f, g) found; (a, c) counts once, as planted
    assert summary["recall"] == pytest.approx(2 / 3)
    assert summary["truth_pairs"] == 3 and summary["similar_pairs"] == 2 and summary["planted_pairs"] == 2
    assert summary["precision"] == pytest.approx(2 / 3)  # c and g are duplicates, e is not
    assert summary["removal_rate"] == pytest.approx(3 / 7)
    rates = by_domain.set_index("domain")["removal_rate"]
    assert rates["x"] == pytest.approx(1 / 3) and rates["y"] == pytest.approx(2 / 4)
    # without the Jaccard pairs, g is no known duplicate
    planted_only, _ = dedup_quality(_index(), ["c", "e", "g"])
    assert planted_only["recall"] == 0.5 and planted_only["precision"] == pytest.approx(1 / 3)
    assert np.isnan(planted_only["recall_similar"])


def test_nothing_removed():
    summary, _ = dedup_quality(_index(), [], similar_pairs(list(TEXTS), list(TEXTS.values()), 0.6))
    assert summary["recall"] == 0.0 and summary["removed"] == 0 and np.isnan(summary["precision"])


def test_no_planted_duplicates():
    index = _index().assign(planted="")
    summary, _ = dedup_quality(index, ["c", "g"], similar_pairs(list(TEXTS), list(TEXTS.values()), 0.6))
    assert summary["planted_pairs"] == 0 and summary["truth_pairs"] == 2
    assert summary["recall"] == 1.0 and summary["recall_similar"] == 1.0 and summary["precision"] == 1.0
    assert np.isnan(summary["recall_near"])


def test_minhash_recall_on_planted_near_duplicates_at_the_config_edit_rate():
    """The config's MinHash variant finds ≥ 95% of near-duplicates planted the way prepare plants
    them, at the config's edit rate (at most that many word edits per 100 words)."""
    from dqreview.corpus.prepare import near_duplicate
    from dqreview.metrics import minhash as M

    cfg = yaml.safe_load((REPO / "config.yaml").read_text())
    edits_per_100 = cfg["prepare"]["plant"]["near_edits"]
    entry = next(m for m in cfg["metrics"] if m["name"] == "minhash")
    params = M.METHOD.params(
        next(v["params"] for v in entry["variants"] if v["params"].get("mode") != "exact")
    )
    # judged as the workflow judges it: at the variant's own threshold and shingle length
    threshold, ngram = M.METHOD.judged_at(params)
    assert edits_per_100 <= 2 and (threshold, ngram) == (params.threshold, params.ngram) == (0.8, 5)
    rng = random.Random(11)
    nrng = np.random.default_rng(11)
    vocab = [f"w{i}" for i in range(5000)]
    originals = [" ".join(rng.choices(vocab, k=rng.randint(100, 200))) for _ in range(300)]
    near = [near_duplicate(t, max(1, int(edits_per_100 * len(t.split()) / 100)), nrng) for t in originals]
    n = len(originals)
    ids = [f"o{i:03d}" for i in range(n)] + [f"n{i:03d}" for i in range(n)]
    index = pd.DataFrame(
        {"id": ids, "domain": "wiki", "planted": [""] * n + [f"near:o{i:03d}:m=2" for i in range(n)]}
    )
    texts = originals + near
    state = M.fit_texts(texts, ids, params, n_shards=4)
    removed = np.asarray(state["ids"])[state["removed"]]
    summary, _ = dedup_quality(index, removed, similar_pairs(ids, texts, threshold, ngram))
    assert summary["recall_near"] >= 0.95, summary
    assert summary["precision"] == 1.0 and summary["removed"] <= n
