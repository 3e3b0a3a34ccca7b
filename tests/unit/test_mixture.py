"""dqreview.mixture: budgeted sampling from a domain mixture (exact bytes, caps, redistribution, determinism)
and from a schedule of rounds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dqreview.errors import DQError
from dqreview.hashing import unit_uniform
from dqreview.mixture import (
    allocate_bytes,
    check_mixture,
    sample_mixture,
    sample_schedule,
    token_to_byte_mixture,
)


def make_pool(sizes: dict[str, int], seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for d, n in sizes.items():
        for j in range(n):
            rows.append({"id": f"{d}-{j:04d}", "n_bytes": int(rng.integers(50, 500)), "domain": d})
    return pd.DataFrame(rows)


def test_allocate_caps_and_redistributes_in_proportion():
    # target 100 over weights .5/.3/.2; domain 0 holds only 20 → its 30 extra go 3:2 to the others
    shares, capped = allocate_bytes(100.0, np.array([0.5, 0.3, 0.2]), np.array([20.0, 1000.0, 1000.0]))
    np.testing.assert_allclose(shares, [20.0, 48.0, 32.0])
    assert capped.tolist() == [True, False, False]
    # a cascade: after capping 0, domain 1's new share exceeds its 45 as well
    shares, capped = allocate_bytes(100.0, np.array([0.5, 0.3, 0.2]), np.array([20.0, 45.0, 1000.0]))
    np.testing.assert_allclose(shares, [20.0, 45.0, 35.0])
    assert capped.tolist() == [True, True, False]
    # zero weight gets nothing, even when everything else is capped
    shares, capped = allocate_bytes(100.0, np.array([0.5, 0.5, 0.0]), np.array([10.0, 10.0, 1000.0]))
    np.testing.assert_allclose(shares, [10.0, 10.0, 0.0])


@pytest.mark.parametrize("budget", [0.05, 0.2, 0.5, 0.93])
def test_budget_is_exact_with_at_most_one_document_over(budget):
    pool = make_pool({"a": 80, "b": 60, "c": 40})
    weights = {"a": 0.2, "b": 0.5, "c": 0.3}
    sel, info = sample_mixture(pool, weights, budget, seed=3)
    total = int(pool["n_bytes"].sum())
    target = budget * total
    got = int(sel["n_bytes"].sum())
    assert got == info["n_bytes"] and info["total_bytes"] == total
    assert got >= target or info["capped"]
    # rows in the order taken: without the last one the total is below the target (at most one over)
    assert got - int(sel["n_bytes"].iloc[-1]) < target
    assert sel["id"].is_unique and set(sel["id"]) <= set(pool["id"])
    assert sel["order"].tolist() == list(range(len(sel)))
    # within a domain, a prefix of the hash order: sampling without replacement keyed by hash(id, seed)
    for d, group in sel.groupby("domain"):
        dom_ids = pool.loc[pool["domain"] == d, "id"].to_numpy()
        by_hash = dom_ids[np.argsort(unit_uniform(dom_ids, 3), kind="stable")]
        assert sorted(group["id"]) == sorted(by_hash[: len(group)])


def test_mixture_achieved_close_to_requested_and_reported():
    pool = make_pool({"a": 400, "b": 400, "c": 400})
    weights = {"a": 0.6, "b": 0.3, "c": 0.1}
    sel, info = sample_mixture(pool, weights, 0.3, seed=0)
    assert info["mixture_requested"] == weights
    for d, w in weights.items():
        share = sel.loc[sel["domain"] == d, "n_bytes"].sum() / sel["n_bytes"].sum()
        assert info["mixture_achieved"][d] == pytest.approx(share)
        assert abs(share - w) < 0.01  # off by at most about one document per domain
    assert info["domains_capped"] == [] and not info["capped"]


def test_cap_and_redistribution_in_the_selection():
    pool = make_pool({"a": 10, "b": 200, "c": 200})
    sel, info = sample_mixture(pool, {"a": 0.8, "b": 0.1, "c": 0.1}, 0.3, seed=0)
    assert info["domains_capped"] == ["a"]
    assert (sel["domain"] == "a").sum() == 10  # all that a holds
    a_bytes = pool.loc[pool["domain"] == "a", "n_bytes"].sum()
    rest = 0.3 * pool["n_bytes"].sum() - a_bytes
    assert info["mixture_effective"]["b"] == pytest.approx(rest / 2 / (0.3 * pool["n_bytes"].sum()))
    assert sel["n_bytes"].sum() >= 0.3 * pool["n_bytes"].sum() and not info["capped"]


def test_budget_one_takes_everything_and_unreachable_budget_is_capped():
    pool = make_pool({"a": 30, "b": 30})
    sel, info = sample_mixture(pool, {"a": 0.5, "b": 0.5}, 1.0, seed=0)
    assert len(sel) == 60 and info["achieved"] == 1.0
    sel, info = sample_mixture(pool, {"a": 1.0}, 0.9, seed=0)
    assert info["capped"] and set(sel["domain"]) == {"a"} and len(sel) == 30


def test_deterministic_and_independent_of_row_order():
    pool = make_pool({"a": 50, "b": 50, "c": 50})
    w = {"a": 0.3, "b": 0.3, "c": 0.4}
    sel, _ = sample_mixture(pool, w, 0.25, seed=7)
    again, _ = sample_mixture(pool, w, 0.25, seed=7)
    shuffled, _ = sample_mixture(pool.sample(frac=1.0, random_state=1), w, 0.25, seed=7)
    # two "shards" concatenated in the other order
    halves = pd.concat([pool.iloc[75:], pool.iloc[:75]], ignore_index=True)
    sharded, _ = sample_mixture(halves, w, 0.25, seed=7)
    pd.testing.assert_frame_equal(sel, again)
    pd.testing.assert_frame_equal(sel, shuffled)
    pd.testing.assert_frame_equal(sel, sharded)
    other, _ = sample_mixture(pool, w, 0.25, seed=8)
    assert set(other["id"]) != set(sel["id"])


def test_bad_input_is_a_clear_error():
    pool = make_pool({"a": 10, "b": 10})
    with pytest.raises(DQError, match="sum to"):
        sample_mixture(pool, {"a": 0.5, "b": 0.4}, 0.3, seed=0)
    with pytest.raises(DQError, match="unknown domain"):
        sample_mixture(pool, {"a": 0.5, "zzz": 0.5}, 0.3, seed=0)
    for bad in (0.0, 1.5, -0.1, float("nan"), "0.3"):
        with pytest.raises(DQError, match="budget"):
            sample_mixture(pool, {"a": 0.5, "b": 0.5}, bad, seed=0)
    with pytest.raises(DQError, match=">= 0"):
        check_mixture({"a": 1.5, "b": -0.5}, ["a", "b"])
    with pytest.raises(DQError, match="missing column"):
        sample_mixture(pool.drop(columns=["domain"]), {"a": 1.0}, 0.3, seed=0)


def test_token_to_byte_mixture():
    assert token_to_byte_mixture({"a": 0.5, "b": 0.5}, {"a": 3.0, "b": 1.0}) == {"a": 0.75, "b": 0.25}
    with pytest.raises(DQError, match="bytes_per_token"):
        token_to_byte_mixture({"a": 1.0}, {"b": 1.0})


def test_schedule_rounds_split_each_domain_in_round_order():
    pool = make_pool({"a": 300, "b": 300})
    mixtures = [{"a": 1.0, "b": 0.0}, {"a": 0.5, "b": 0.5}, {"a": 0.0, "b": 1.0}]
    sel, info = sample_schedule(pool, mixtures, [100, 100, 200], 0.3, seed=0)
    assert sel["order"].tolist() == list(range(len(sel)))
    assert sel["n_bytes"].sum() - sel["n_bytes"].iloc[-1] < 0.3 * pool["n_bytes"].sum()
    total_sel = sel["n_bytes"].sum()
    assert total_sel >= 0.3 * pool["n_bytes"].sum()
    # round shares of the budget: 1/4, 1/4, 1/2 (to within a document or two)
    shares = sel.groupby("round")["n_bytes"].sum() / total_sel
    np.testing.assert_allclose(shares.to_numpy(), [0.25, 0.25, 0.5], atol=0.02)
    assert set(sel.loc[sel["round"] == 0, "domain"]) == {"a"}
    assert set(sel.loc[sel["round"] == 2, "domain"]) == {"b"}
    assert info["rounds"][1]["mixture_achieved"]["a"] == pytest.approx(0.5, abs=0.05)
    # the earliest documents of a domain's sampling order go to the earliest rounds
    a = sel[sel["domain"] == "a"]
    assert a.groupby("round")["rank_in_domain"].max()[0] < a.groupby("round")["rank_in_domain"].min()[1]
    with pytest.raises(DQError, match="one mixture per round"):
        sample_schedule(pool, mixtures, [1, 1], 0.3, seed=0)
