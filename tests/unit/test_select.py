"""Budgeted selection: byte accounting, ordering, tie-breaking, validation, capping."""

import numpy as np
import pandas as pd
import pytest

from dqreview.errors import DQError
from dqreview.hashing import unit_uniform
from dqreview.metrics import load_method
from dqreview.select import domain_matched_control, select_budget, selection_order, target_domain_selection


def _pool(n=200, seed=0):
    rng = np.random.default_rng(seed)
    ids = [f"doc{i:04d}" for i in range(n)]
    return pd.DataFrame({"id": ids, "n_bytes": rng.integers(1, 1000, size=n)})


def _scores(pool, seed=1, levels=None):
    rng = np.random.default_rng(seed)
    values = rng.integers(0, levels, len(pool)).astype(float) if levels else rng.normal(size=len(pool))
    return pd.DataFrame({"id": pool["id"], "score": values})


@pytest.mark.parametrize("budget", [0.01, 0.1, 0.3, 0.77])
def test_budget_accounting_at_most_one_doc_over(budget):
    pool = _pool()
    sel, info = select_budget(pool, _scores(pool), budget, "high", 0)
    total = pool["n_bytes"].sum()
    target = budget * total
    assert sel["n_bytes"].sum() >= target
    assert sel["n_bytes"].sum() - sel["n_bytes"].iloc[-1] < target
    assert list(sel["order"]) == list(range(len(sel)))
    assert info["n_docs"] == len(sel) and info["total_bytes"] == total
    assert info["achieved"] == pytest.approx(sel["n_bytes"].sum() / total)
    assert info["requested"] == budget and info["capped"] is False


def test_keep_high_takes_highest_scores_and_low_reverses():
    pool = _pool()
    scores = _scores(pool)
    high, _ = select_budget(pool, scores, 0.2, "high", 0)
    low, _ = select_budget(pool, scores, 0.2, "low", 0)
    s = scores.set_index("id")["score"]
    assert s[high["id"]].is_monotonic_decreasing and s[low["id"]].is_monotonic_increasing
    ranked = scores.sort_values("score")["id"]
    assert list(low["id"]) == list(ranked[: len(low)])
    assert list(high["id"]) == list(ranked[::-1][: len(high)])


def test_full_budget_selects_everything():
    pool = _pool()
    sel, info = select_budget(pool, _scores(pool), 1.0, "high", 3)
    assert set(sel["id"]) == set(pool["id"]) and info["achieved"] == 1.0


@pytest.mark.parametrize("budget", [0, 1.5, "0.1", -0.1, float("nan"), None, True])
def test_bad_budget(budget):
    pool = _pool(10)
    with pytest.raises(DQError, match="budget must be"):
        select_budget(pool, _scores(pool), budget, "high", 0)


def test_ties_broken_by_hash_and_independent_of_row_order():
    pool = _pool()
    scores = _scores(pool, levels=3)  # many ties
    sel, _ = select_budget(pool, scores, 0.5, "high", 5)
    shuffled_pool = pool.sample(frac=1, random_state=1)
    shuffled_scores = scores.sample(frac=1, random_state=2)
    sel2, _ = select_budget(shuffled_pool, shuffled_scores, 0.5, "high", 5)
    assert list(sel["id"]) == list(sel2["id"])
    merged = sel.merge(scores, on="id")
    merged["u"] = unit_uniform(merged["id"], 5)
    for _, group in merged.groupby("score"):
        assert group["u"].is_monotonic_increasing
    other_seed, _ = select_budget(pool, scores, 0.5, "high", 6)
    assert list(other_seed["id"]) != list(sel["id"])


@pytest.mark.parametrize("scores", ["ties", "unique", "signed-zero"])
@pytest.mark.parametrize("keep", ["high", "low"])
def test_selection_order_hashes_only_ties_and_equals_hashing_everything(scores, keep):
    """The order is (removed, score, hash(id, seed), id) lexicographic, whether or not every id is hashed."""
    rng = np.random.default_rng(2)
    n = 500
    ids = np.array([f"{i:016x}" for i in rng.permutation(10**6)[:n]])
    values = {
        "ties": rng.integers(0, 7, size=n).astype(float),
        "unique": rng.random(n),
        "signed-zero": np.where(rng.random(n) < 0.5, 0.0, -0.0),
    }[scores]
    last = rng.random(n) < 0.2
    primary = -values if keep == "high" else values
    id_rank = np.argsort(np.argsort(ids, kind="stable"), kind="stable")
    expected = np.lexsort((id_rank, unit_uniform(ids, 3), primary, last))
    np.testing.assert_array_equal(selection_order(ids, values, keep, 3, last), expected)


def test_random_metric_order_is_unit_uniform_order():
    pool = _pool()
    method = load_method("random")
    scores = method.score(pool[["id"]], None, None, method.params({}))
    sel, _ = select_budget(pool, scores, 1.0, "high", 2)
    expected = pool["id"].to_numpy()[np.argsort(unit_uniform(pool["id"], 2))]
    assert list(sel["id"]) == list(expected)


def test_id_mismatch_and_duplicates_and_nan():
    pool = _pool(20)
    scores = _scores(pool)
    with pytest.raises(DQError, match=r"2 pool id\(s\) without a score.*0 scored id"):
        select_budget(pool, scores.iloc[2:], 0.5, "high", 0)
    extra = pd.concat([scores, pd.DataFrame({"id": ["zzz"], "score": [1.0]})])
    with pytest.raises(DQError, match=r"1 scored id\(s\) not in the pool \(e.g. 'zzz'\)"):
        select_budget(pool, extra, 0.5, "high", 0)
    with pytest.raises(DQError, match=r"scores: 1 duplicate id"):
        select_budget(pool, pd.concat([scores, scores.iloc[:1]]), 0.5, "high", 0)
    nan = scores.copy()
    nan.loc[3, "score"] = np.nan
    with pytest.raises(DQError, match=r"1 NaN score\(s\), e.g. id 'doc0003'"):
        select_budget(pool, nan, 0.5, "high", 0)
    with pytest.raises(DQError, match="keep must be one of"):
        select_budget(pool, scores, 0.5, "middle", 0)


def test_max_fraction_caps_and_reports():
    pool = _pool()
    sel, info = select_budget(pool, _scores(pool), 0.8, "high", 0, max_fraction=0.3)
    assert info["capped"] is True and info["requested"] == 0.8 and info["target"] == 0.3
    assert sel["n_bytes"].sum() - sel["n_bytes"].iloc[-1] < 0.3 * pool["n_bytes"].sum()
    _, info = select_budget(pool, _scores(pool), 0.2, "high", 0, max_fraction=0.3)
    assert info["capped"] is False


def test_removed_documents_rank_last_in_both_directions():
    ids = [f"d{i}" for i in range(6)]
    pool = pd.DataFrame({"id": ids, "n_bytes": [10] * 6})
    scores = pd.DataFrame(
        {
            "id": ids,
            "score": [0.9, 0.8, -1.5, 0.1, 0.2, -1.2],
            "removed": [False, False, True, False, False, True],
        }
    )
    high, _ = select_budget(pool, scores, 1.0, "high", 0)
    low, _ = select_budget(pool, scores, 1.0, "low", 0)
    assert list(high["id"]) == ["d0", "d1", "d4", "d3", "d5", "d2"]
    assert list(low["id"][:4]) == ["d3", "d4", "d1", "d0"]
    assert set(low["id"][4:]) == {"d2", "d5"}


def test_supply_fraction_caps_at_what_a_method_did_not_remove():
    from dqreview.select import supply_fraction

    pool = pd.DataFrame({"id": ["a", "b", "c", "d"], "n_bytes": [10, 20, 30, 40]})
    scores = pd.DataFrame({"id": ["d", "c", "b", "a"], "score": 0.0, "removed": [True, False, True, False]})
    assert supply_fraction(pool, scores) == pytest.approx(0.4)
    assert supply_fraction(pool, scores.drop(columns="removed")) is None
    sel, info = select_budget(pool, scores, 0.9, "high", 0, max_fraction=supply_fraction(pool, scores))
    assert info["capped"] is True and set(sel["id"]) == {"a", "c"}  # removed documents never fill the gap


@pytest.mark.parametrize("budget", [0.0, -0.1, 1.5])
def test_select_budget_out_of_range(budget):
    pool = pd.DataFrame({"id": ["a", "b"], "n_bytes": [10, 20]})
    with pytest.raises(DQError, match=rf"budget must be in \(0, 1\]; got {budget}"):
        select_budget(pool, pool.assign(score=[1.0, 2.0])[["id", "score"]], budget, "high", 0)


def test_duplicate_ids_across_shards_are_refused():
    pool = pd.DataFrame({"id": ["a", "b", "a"], "n_bytes": [1, 2, 3]})
    with pytest.raises(DQError, match=r"1 duplicate id\(s\), e.g. 'a'"):
        select_budget(pool, pool.assign(score=[1.0, 2.0, 3.0])[["id", "score"]], 0.5, "high", 0)


# --- controls -------------------------------------------------------------------------------------

DOMAINS = ("wiki", "code", "legal", "dialogue")


def _domain_pool(n=400, seed=0):
    pool = _pool(n, seed)
    rng = np.random.default_rng(seed + 7)
    return pool.assign(domain=rng.choice(DOMAINS, size=n, p=[0.25, 0.35, 0.3, 0.1]))


def _skewed_selection(pool, budget=0.2):
    """A selection that prefers wiki: every wiki document scores 1, others by their id's hash."""
    scores = pd.DataFrame({"id": pool["id"], "score": (pool["domain"] == "wiki").astype(float)})
    return select_budget(pool, scores, budget, "high", 0)[0]


def _domain_bytes(pool, ids):
    return pool.set_index("id").loc[list(ids)].groupby("domain")["n_bytes"].sum()


@pytest.mark.parametrize("seed", [0, 3])
def test_domain_matched_control_matches_each_domain_within_one_document(seed):
    pool = _domain_pool()
    selection = _skewed_selection(pool, budget=0.4)
    control, info = domain_matched_control(pool, selection, seed)
    want, got = _domain_bytes(pool, selection["id"]), _domain_bytes(pool, control["id"])
    assert set(got.index) == set(want.index)
    biggest = pool.groupby("domain")["n_bytes"].max()
    for domain, quota in want.items():
        assert quota <= got[domain] < quota + biggest[domain]  # reaches the quota, at most one document over
        assert info["domains"][domain] == {
            "target_bytes": int(quota),
            "bytes": int(got[domain]),
            "n_docs": int(control["domain"].eq(domain).sum()),
        }
    # the same total (within one document per domain) and an honest info record
    total = int(pool["n_bytes"].sum())
    assert info["requested"] == pytest.approx(selection["n_bytes"].sum() / total)
    assert info["achieved"] == pytest.approx(control["n_bytes"].sum() / total)
    assert info["n_docs"] == len(control) and info["seed"] == seed and info["capped"] is False
    assert list(control["order"]) == list(range(len(control)))
    assert not control["id"].duplicated().any()


def test_domain_matched_control_is_random_order_within_each_domain():
    """Per domain it takes the prefix of random's own order (unit_uniform(id, seed)), in that order."""
    pool, seed = _domain_pool(), 5
    control, _ = domain_matched_control(pool, _skewed_selection(pool), seed)
    key = unit_uniform(control["id"].to_numpy().astype(str), seed)
    assert np.all(np.diff(key) >= 0)  # training order: random's order over all domains
    for domain in control["domain"].unique():
        members = pool[pool["domain"] == domain]
        ranked = members["id"].to_numpy()[
            np.argsort(unit_uniform(members["id"].to_numpy().astype(str), seed))
        ]
        taken = control.loc[control["domain"] == domain, "id"].to_numpy()
        assert list(taken) == list(ranked[: len(taken)])


def test_domain_matched_control_is_deterministic_and_row_order_invariant():
    pool = _domain_pool()
    selection = _skewed_selection(pool)
    a, info_a = domain_matched_control(pool, selection, 1)
    shuffled = pool.sample(frac=1.0, random_state=3).reset_index(drop=True)
    b, info_b = domain_matched_control(shuffled, selection.sample(frac=1.0, random_state=4), 1)
    pd.testing.assert_frame_equal(a, b)
    assert info_a == info_b
    c, _ = domain_matched_control(pool, selection, 2)  # another seed draws other documents
    assert set(c["id"]) != set(a["id"])


def test_domain_matched_control_refuses_ids_outside_the_pool():
    pool = _domain_pool()
    selection = pd.concat([_skewed_selection(pool), pd.DataFrame({"id": ["stranger"]})], ignore_index=True)
    with pytest.raises(DQError, match=r"selection: 1 id\(s\) not in the pool \(e.g. 'stranger'\).*rerun"):
        domain_matched_control(pool, selection, 0)
    with pytest.raises(DQError, match=r"pool: missing column\(s\) \['domain'\]"):
        domain_matched_control(pool.drop(columns="domain"), _skewed_selection(pool), 0)


def test_target_domain_selection_draws_one_domain_and_caps_at_its_supply():
    pool = _domain_pool()
    total = pool["n_bytes"].sum()
    wiki = pool.loc[pool["domain"] == "wiki", "n_bytes"].sum()
    sel, info = target_domain_selection(pool, "wiki", 0.1, 2)
    assert (pool.set_index("id").loc[sel["id"], "domain"] == "wiki").all()
    assert info["capped"] is False and info["domain"] == "wiki"
    assert 0.1 * total <= sel["n_bytes"].sum() < 0.1 * total + pool["n_bytes"].max()
    # random's order restricted to the domain
    key = unit_uniform(sel["id"].to_numpy().astype(str), 2)
    assert np.all(np.diff(key) >= 0)
    sel, info = target_domain_selection(pool, "wiki", 0.9, 2)  # more than the domain holds
    assert info["capped"] is True and info["target"] == pytest.approx(wiki / total)
    assert sel["n_bytes"].sum() == wiki
    with pytest.raises(DQError, match=r"no document of domain 'web'.*'target.source'"):
        target_domain_selection(pool, "web", 0.1, 0)
