"""DoReMi: the domain-weight update against hand-computed values, and the proxy training loop."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conftest import TINY_GPT, domain_docs
from dqreview.errors import DQError
from dqreview.lm.model import GPTConfig
from dqreview.metrics import doremi
from dqreview.metrics.base import ProxyLM
from dqreview.metrics.doremi import domain_excess_means, doremi_update, run_updates

METHOD = doremi.METHOD

# Two steps, three domains, η = 1, c = 1e-3, α_0 uniform.
# Step 1: excess per token max(proxy − ref, 0) = [1, 0 | 1, 0 | 2, 0] → λ = [0.5, 0.5, 1.0]
#   α'  = e^λ / Σ e^λ = [e^.5, e^.5, e] / (2 e^.5 + e) = [0.2740682, 0.2740682, 0.4518636]
#   α_1 = 0.999 α' + 0.001/3
# Step 2: domain 2 absent; excess [1, 0 | 1] → λ = [0.5, 1.0, 1.0 (kept)]
#   α_2 = 0.999 · normalise(α_1 · e^λ) + 0.001/3
STEP1 = (
    np.array([3.0, 2.0, 4.0, 1.0, 5.0, 2.5]),
    np.array([2.0, 2.5, 3.0, 2.0, 3.0, 2.5]),
    np.array([0, 0, 1, 1, 2, 2]),
)
STEP2 = (np.array([2.0, 3.0, 1.0]), np.array([1.0, 3.5, 0.0]), np.array([0, 0, 1]))
ALPHA1 = [0.27412788377546915, 0.27412788377546915, 0.45174423244906176]
ALPHA2 = [0.18651584960183093, 0.30729640813767795, 0.5061877422604911]
AVERAGE = [0.23032186668865004, 0.2907121459565736, 0.47896598735477647]


def test_excess_is_clipped_per_token_before_the_domain_mean():
    excess, present = domain_excess_means(*STEP1, k=3)
    np.testing.assert_array_equal(excess, [0.5, 0.5, 1.0])
    assert present.tolist() == [True, True, True]
    # without the per-token clip the means would be [0.25, 0.0, 1.0]: the clip matters here
    unclipped = [np.mean((STEP1[0] - STEP1[1])[STEP1[2] == i]) for i in range(3)]
    assert unclipped == [0.25, 0.0, 1.0]
    a_clipped, _ = doremi_update(np.full(3, 1 / 3), np.zeros(3), excess, present, 1.0, 1e-3)
    a_unclipped, _ = doremi_update(np.full(3, 1 / 3), np.zeros(3), np.array(unclipped), present, 1.0, 1e-3)
    assert abs(a_clipped[1] - a_unclipped[1]) > 0.07


def test_update_sequence_and_average_match_hand_computation():
    steps = [domain_excess_means(*s, k=3) for s in (STEP1, STEP2)]
    assert steps[1][1].tolist() == [True, True, False]
    out = run_updates([e for e, _ in steps], [p for _, p in steps], eta=1.0, c=1e-3)
    assert out["alpha"].dtype == np.float64
    np.testing.assert_allclose(out["alpha"][0], ALPHA1, rtol=1e-12)
    np.testing.assert_allclose(out["alpha"][1], ALPHA2, rtol=1e-12)
    np.testing.assert_allclose(out["average"], AVERAGE, rtol=1e-12)
    # the absent domain kept its λ from step 1
    np.testing.assert_array_equal(out["lam"][1], [0.5, 1.0, 1.0])


def test_burn_in_leaves_the_first_steps_out_of_the_average():
    steps = [domain_excess_means(*s, k=3) for s in (STEP1, STEP2)]
    late = run_updates([e for e, _ in steps], [p for _, p in steps], eta=1.0, c=1e-3, average_from=0.5)
    np.testing.assert_allclose(late["average"], ALPHA2, rtol=1e-12)  # t₀ = ⌊0.5 · 2⌋ = 1: α_2 alone
    assert [doremi.burn_in_steps(10, f) for f in (0.0, 0.25, 0.3, 0.99)] == [0, 2, 3, 9]
    assert doremi.burn_in_steps(1, 0.9) == 0  # one step: it is averaged, whatever the fraction
    alpha = np.random.default_rng(0).dirichlet(np.ones(4), size=12)
    np.testing.assert_array_equal(doremi.average_after_burn_in(alpha, 0.25), alpha[3:].mean(axis=0))
    with pytest.raises(DQError, match=r"average_from must be in \[0, 1\); got 1.0"):
        doremi.burn_in_steps(10, 1.0)
    for bad in (-0.1, 1.0, 2):
        with pytest.raises(DQError, match=r"params\.average_from: expected a number >= 0 and < 1"):
            METHOD.params({"average_from": bad})
    assert METHOD.params({}).average_from == 0.25


def test_train_doremi_averages_after_the_burn_in():
    docs, dom = domain_docs()
    names = ["a", "b", "c"]
    cfg = GPTConfig(**TINY_GPT)
    late = doremi.train_doremi(docs, dom, names, cfg, TRAIN, seed=0, steps=8, average_from=0.5)
    every = doremi.train_doremi(docs, dom, names, cfg, TRAIN, seed=0, steps=8, average_from=0.0)
    alpha = np.array(late["rounds"][0]["alpha"])
    assert late["rounds"][0]["alpha"] == every["rounds"][0]["alpha"]  # the burn-in changes the average only
    assert late["rounds"][0]["average_from_step"] == 4 and every["rounds"][0]["average_from_step"] == 0
    # exactly the mean over α_5..α_8 (same float operations), and over every step without a burn-in
    assert list(late["weights"].values()) == alpha[4:].mean(axis=0).tolist()
    assert list(every["weights"].values()) == alpha.mean(axis=0).tolist()
    assert late["weights"] != every["weights"]


def test_absent_domain_keeps_lambda():
    alpha = np.array([0.2, 0.3, 0.5])
    lam = np.array([0.7, 0.1, 2.5])
    _, lam_t = doremi_update(alpha, lam, np.array([1.0, 0.0, 0.0]), np.array([True, True, False]), 1.0, 1e-3)
    assert lam_t.tolist() == [1.0, 0.0, 2.5]


def test_weights_sum_to_one_and_stay_positive_under_extreme_losses():
    rng = np.random.default_rng(0)
    k = 5
    excess = [rng.exponential(50.0, size=k) for _ in range(200)]  # exp(η λ) would overflow without logsumexp
    excess[0][0] = 800.0
    out = run_updates(excess, [np.ones(k, bool)] * 200, eta=1.0, c=1e-3)
    np.testing.assert_allclose(out["alpha"].sum(axis=1), 1.0, rtol=0, atol=1e-12)
    assert (out["alpha"] >= 1e-3 / k * (1 - 1e-12)).all()  # smoothing keeps every weight >= c/k
    assert np.isfinite(out["alpha"]).all()


def test_update_rejects_bad_weights():
    with pytest.raises(DQError, match="summing to 1"):
        doremi_update(np.array([0.5, 0.6]), np.zeros(2), np.zeros(2), np.ones(2, bool), 1.0, 1e-3)
    with pytest.raises(DQError, match="domain ids"):
        domain_excess_means(np.ones(2), np.ones(2), np.array([0, 3]), k=2)


def test_params_are_checked():
    p = METHOD.params({})
    assert (p.steps, p.batch_size, p.eta, p.c, p.rounds, p.min_per_domain) == (200, None, 1.0, 1e-3, 1, 1)
    assert METHOD.params({"eta": 2, "batch_size": 16}).eta == 2.0
    with pytest.raises(DQError, match=r"params: unknown key\(s\) \['etaa'\]"):
        METHOD.params({"etaa": 1})
    with pytest.raises(DQError, match=r"params\.c: expected a number >= 0 and <= 1; got 2"):
        METHOD.params({"c": 2})
    with pytest.raises(DQError, match=r"params\.steps: expected an integer >= 1; got 0"):
        METHOD.params({"steps": 0})
    with pytest.raises(DQError, match=r"params\.rounds: expected an integer >= 1; got 1\.5"):
        METHOD.params({"rounds": 1.5})
    with pytest.raises(DQError, match=r"params\.min_per_domain: expected an integer >= 0; got -1"):
        METHOD.params({"min_per_domain": -1})
    with pytest.raises(DQError, match=r"params\.batch_size: expected an integer >= 1 or null; got 0"):
        METHOD.params({"batch_size": 0})
    for eta in (0, -1.0, float("inf"), True):
        with pytest.raises(DQError, match=r"params\.eta: expected a number > 0 and < inf"):
            METHOD.params({"eta": eta})


TRAIN = {
    "batch_size": 6,
    "lr": 3e-3,
    "min_lr": 3e-4,
    "warmup_steps": 2,
    "weight_decay": 0.1,
    "grad_clip": 1.0,
}


def test_train_doremi_small_run():
    docs, dom = domain_docs()
    names = ["a", "b", "c"]
    out = doremi.train_doremi(docs, dom, names, GPTConfig(**TINY_GPT), TRAIN, seed=0, steps=6, rounds=2)
    again = doremi.train_doremi(docs, dom, names, GPTConfig(**TINY_GPT), TRAIN, seed=0, steps=6, rounds=2)
    assert out["weights"] == again["weights"]  # deterministic on the CPU
    w = np.array([out["weights"][n] for n in names])
    assert w.min() > 0 and abs(w.sum() - 1) < 1e-12
    assert len(out["rounds"]) == 2 and len(out["rounds"][0]["alpha"]) == 6
    # ᾱ is the mean of the per-step α after the burn-in (default 0.25 of 6 steps: t₀ = 1), and round 2's
    # reference trained on round 1's ᾱ
    assert [r["average_from_step"] for r in out["rounds"]] == [1, 1]
    np.testing.assert_allclose(np.mean(out["rounds"][1]["alpha"][1:], axis=0), w, rtol=1e-12)
    assert out["rounds"][1]["reference_mixture"] == out["rounds"][0]["average"]
    assert out["tokens"] == {"reference": 2 * 6 * 6 * 8, "proxy": 2 * 6 * 6 * 8}
    assert out["params"] == {
        "steps": 6,
        "batch_size": 6,
        "eta": 1.0,
        "c": 1e-3,
        "rounds": 2,
        "min_per_domain": 1,
        "average_from": 0.25,
    }
    with pytest.raises(DQError, match="raise the variant's batch_size to at least 6"):
        doremi.train_doremi(
            docs, dom, names, GPTConfig(**TINY_GPT), TRAIN, seed=0, steps=1, batch_size=4, min_per_domain=2
        )


class _Pool:
    """The parts of dqreview.mixture.PoolTokens that learn reads."""

    def __init__(self, docs, domains):
        self.frame = pd.DataFrame({"id": [f"d{i:03d}" for i in range(len(docs))], "domain": domains})
        self.tokens = docs
        self.bytes_per_token = {d: 2.0 for d in sorted(set(domains))}


def test_learn_is_train_doremi_on_the_pool_by_sorted_domain():
    docs, dom = domain_docs()
    names = np.array(["web", "code", "wiki"])  # sorted: code, web, wiki
    pool = _Pool(docs, names[dom])
    proxy = ProxyLM(GPTConfig(**TINY_GPT), TRAIN, eval_batch_size=4)
    learned = METHOD.learn(pool, {}, METHOD.params({"steps": 4, "eta": 0.5}), 3, proxy)
    codes = np.array([1, 0, 2])[dom]  # web → 1, code → 0, wiki → 2
    direct = doremi.train_doremi(
        docs, codes, ["code", "web", "wiki"], GPTConfig(**TINY_GPT), TRAIN, 3, steps=4, eta=0.5
    )
    state = learned.state
    assert state["domains"] == ["code", "web", "wiki"] and state["bytes_per_token"] == pool.bytes_per_token
    assert state["weights"] == direct["weights"] and state["rounds"] == direct["rounds"]
    assert learned.tokens == 2 * 4 * 6 * 8 == sum(direct["tokens"].values())
    assert learned.flops == direct["flops"] > 0 and learned.flops_formula == direct["flops_formula"]
    assert learned.extra == {"reference_and_proxy_tokens_per_seed": direct["tokens"]}


def test_select_budget_converts_tokens_to_bytes():
    pool = pd.DataFrame(
        {"id": [f"{i:04d}" for i in range(40)], "n_bytes": [100] * 40, "domain": ["a"] * 20 + ["b"] * 20}
    )
    # equal token weights, but a's documents hold 3 bytes per token and b's 1: byte shares 3:1
    state = {"weights": {"a": 0.5, "b": 0.5}, "bytes_per_token": {"a": 3.0, "b": 1.0}}
    p = METHOD.params({})
    sel, info = METHOD.select_budget(pool, state, 0.5, 0, p, {})
    assert info["n_bytes"] == 2000
    assert (sel["domain"] == "a").sum() == 15 and (sel["domain"] == "b").sum() == 5
    assert info["mixture_requested"] == {"a": 0.75, "b": 0.25}
    stale = {"weights": {"a": 1.0}, "bytes_per_token": {"a": 1.0}}  # learned on a pool without b
    with pytest.raises(DQError, match=r"no weight for pool domain\(s\) \['b'\]"):
        METHOD.select_budget(pool, stale, 0.5, 0, p, {})
    with pytest.raises(DQError, match=r"doremi state: .*; rerun the learn_mixture rule"):
        METHOD.select_budget(pool, {"weights": {"a": 1.0}}, 0.5, 0, p, {})
