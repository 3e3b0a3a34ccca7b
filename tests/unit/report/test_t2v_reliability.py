"""Task2Vec reliability: the hash sample, Spearman and top-fraction Jaccard, the table's rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from dqreview.errors import DQError
from dqreview.metrics.t2v_align import T2VAlign, T2VAlignParams
from dqreview.report import t2v_reliability as rel


def test_sample_is_a_hash_of_the_id_not_of_the_order():
    ids = [f"doc{i}" for i in range(50)]
    rows = rel.reliability_sample(ids, 10, seed=0)
    assert len(rows) == 10 and list(rows) == sorted(rows)
    shuffled = ids[::-1]
    assert {shuffled[i] for i in rel.reliability_sample(shuffled, 10)} == {ids[i] for i in rows}
    assert set(rel.reliability_sample(ids, 10, seed=1)) != set(rows)
    assert list(rel.reliability_sample(ids, 80)) == list(range(50))  # the whole pool when it is smaller
    with pytest.raises(DQError, match="reliability.sample=0"):
        rel.reliability_sample(ids, 0)


def test_rank_agreement_against_scipy_and_by_hand():
    rng = np.random.default_rng(0)
    ids = [f"d{i:02d}" for i in range(40)]
    a = pd.Series(rng.normal(size=40), index=ids)
    b = pd.Series(a.to_numpy() + rng.normal(scale=0.5, size=40), index=ids)[
        ::-1
    ]  # other order: aligned by id
    out = rel.rank_agreement(a, b, top=0.1)
    assert out["n"] == 40
    assert out["spearman"] == pytest.approx(stats.spearmanr(a, b.loc[ids]).statistic)
    ta, tb = set(a.nlargest(4).index), set(b.nlargest(4).index)
    assert out["jaccard_top"] == pytest.approx(len(ta & tb) / len(ta | tb))
    same = rel.rank_agreement(a, a * 3 + 1)
    assert same["spearman"] == pytest.approx(1.0) and same["jaccard_top"] == 1.0
    flipped = rel.rank_agreement(a, -a)
    assert flipped["spearman"] == pytest.approx(-1.0) and flipped["jaccard_top"] == 0.0


def test_top_ids_break_ties_by_id_and_refuse_a_bad_fraction():
    s = pd.Series([1.0, 1.0, 1.0, 0.0], index=["c", "a", "b", "d"])
    assert rel.top_ids(s, 0.5) == {"a", "b"}
    with pytest.raises(DQError, match="reliability.top=0"):
        rel.top_ids(s, 0)


def test_rank_agreement_uses_common_finite_ids_only():
    a = pd.Series([1.0, 2.0, 3.0, np.nan, 5.0], index=list("abcde"))
    b = pd.Series([1.0, 2.0, 3.0, 4.0], index=list("abcd"))
    assert rel.rank_agreement(a, b)["n"] == 3
    assert np.isnan(rel.rank_agreement(a.iloc[:2], b.iloc[:2])["spearman"])


def test_table_rows_and_verdict():
    ids = [f"d{i}" for i in range(20)]
    x = pd.Series(np.arange(20.0), index=ids)
    table = rel.reliability_table(
        (x, x), (0, 1), {"t2v_align": x, "dsir": -x, "proto_align": x}, "t2v_align", top=0.1
    )
    assert list(table.columns) == rel.COLUMNS
    assert list(table["b"]) == ["t2v_align, label seed 1", "dsir", "proto_align"]
    assert list(table["comparison"]) == ["label seeds", "methods", "methods"]
    assert table["spearman"].tolist() == pytest.approx([1.0, -1.0, 1.0])
    with_fixed = rel.reliability_table((x, x), (0, 1), {"t2v_align": x}, "t2v_align", fixed_prototypes=-x)
    assert list(with_fixed["comparison"]) == ["label seeds", "label seeds, documents only"]
    assert with_fixed["b"].iloc[1] == "t2v_align, label seed 1 documents, seed 0 prototypes"
    assert with_fixed["spearman"].iloc[1] == pytest.approx(-1.0)
    with pytest.raises(DQError, match="no scores of 't2v_align'"):
        rel.reliability_table((x, x), (0, 1), {"dsir": x}, "t2v_align")
    assert rel.reliability_verdict(0.85) == "reliable" and rel.reliability_verdict(0.5) == "unreliable"
    assert rel.reliability_verdict(float("nan")) == "not measured"


def test_alignment_with_label_seed_is_the_methods_fit_and_score():
    rng = np.random.default_rng(3)
    ref, pool = rng.random((30, 6)) + 0.1, rng.random((12, 6)) + 0.1
    frame = pd.DataFrame({"id": [f"p{i}" for i in range(12)]})
    params = T2VAlignParams(prototype="kmeans", k=3, seed=0)
    method = T2VAlign()
    got = rel.alignment_with_label_seed(method, params, frame, pool, ref, None)
    state = method.fit({"target_t2v": ref, "target_losses": None}, params)
    want = method.score(frame, pool, state, params)
    assert list(got.index) == list(want["id"])
    np.testing.assert_array_equal(got.to_numpy(), want["score"].to_numpy())
