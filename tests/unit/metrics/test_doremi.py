"""DoReMi: the domain-weight update against hand-computed values, and the proxy training loop."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dqreview.errors import DQError
from dqreview.lm.data import DomainMixtureStream
from dqreview.lm.model import GPTConfig
from dqreview.metrics import doremi
from dqreview.metrics.doremi import domain_excess_means, doremi_update, run_updates

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
    assert doremi.check_params({})["eta"] == 1.0 and doremi.check_params({})["c"] == 1e-3
    with pytest.raises(DQError, match="unknown key"):
        doremi.check_params({"etaa": 1})
    with pytest.raises(DQError, match=r"\.c"):
        doremi.check_params({"c": 2})
    with pytest.raises(DQError, match=r"\.steps"):
        doremi.check_params({"steps": 0})


def _docs(n_per=12, k=3, seed=0):
    rng = np.random.default_rng(seed)
    docs, dom = [], []
    for i in range(k):
        for _ in range(n_per):
            # domain i uses its own band of the vocabulary, so the domains differ in difficulty
            docs.append(rng.integers(1 + 10 * i, 11 + 10 * i + 10 * i, size=int(rng.integers(10, 30))))
            dom.append(i)
    return docs, np.array(dom)


def test_stratified_batches_hold_every_domain():
    docs, dom = _docs()
    s = DomainMixtureStream(docs, dom, 3, 8, 4, seed=1, weights=np.full(3, 1 / 3), min_per_domain=1)
    for _ in range(20):
        x, y, d = s.next_batch()
        assert x.shape == y.shape == d.shape == (4, 8)
        assert set(np.unique(d[:, -1])) == {0, 1, 2}
    with pytest.raises(DQError, match="cannot hold"):
        DomainMixtureStream(docs, dom, 3, 8, 2, seed=1, weights=np.full(3, 1 / 3), min_per_domain=1)


TINY = {"n_layer": 1, "n_head": 2, "n_embd": 16, "block_size": 8, "vocab_size": 64}
TRAIN = {
    "batch_size": 6,
    "lr": 3e-3,
    "min_lr": 3e-4,
    "warmup_steps": 2,
    "weight_decay": 0.1,
    "grad_clip": 1.0,
}


def test_train_doremi_small_run():
    docs, dom = _docs()
    names = ["a", "b", "c"]
    params = {"steps": 6, "rounds": 2}
    out = doremi.train_doremi(docs, dom, names, GPTConfig(**TINY), TRAIN, params, seed=0)
    again = doremi.train_doremi(docs, dom, names, GPTConfig(**TINY), TRAIN, params, seed=0)
    assert out["weights"] == again["weights"]  # deterministic on the CPU
    w = np.array([out["weights"][n] for n in names])
    assert w.min() > 0 and abs(w.sum() - 1) < 1e-12
    assert len(out["rounds"]) == 2 and len(out["rounds"][0]["alpha"]) == 6
    # ᾱ is the mean of the per-step α, and round 2's reference trained on round 1's ᾱ
    np.testing.assert_allclose(np.mean(out["rounds"][1]["alpha"], axis=0), w, rtol=1e-12)
    assert out["rounds"][1]["reference_mixture"] == out["rounds"][0]["average"]
    assert out["tokens"] == {"reference": 2 * 6 * 6 * 8, "proxy": 2 * 6 * 6 * 8}


def test_select_budget_converts_tokens_to_bytes():
    pool = pd.DataFrame(
        {"id": [f"{i:04d}" for i in range(40)], "n_bytes": [100] * 40, "domain": ["a"] * 20 + ["b"] * 20}
    )
    # equal token weights, but a's documents hold 3 bytes per token and b's 1: byte shares 3:1
    state = {"weights": {"a": 0.5, "b": 0.5}, "bytes_per_token": {"a": 3.0, "b": 1.0}}
    sel, info = doremi.select_budget(pool, state, 0.5, seed=0)
    assert info["n_bytes"] == 2000
    assert (sel["domain"] == "a").sum() == 15 and (sel["domain"] == "b").sum() == 5
    assert info["mixture_requested"] == {"a": 0.75, "b": 0.25}
    stale = {"weights": {"a": 1.0}, "bytes_per_token": {"a": 1.0}}  # learned on a pool without b
    with pytest.raises(DQError, match=r"no weight for pool domain\(s\) \['b'\]"):
        doremi.select_budget(pool, stale, 0.5, seed=0)
    with pytest.raises(DQError, match="rerun the doremi rule"):
        doremi.select_budget(pool, {"weights": {"a": 1.0}}, 0.5, seed=0)
