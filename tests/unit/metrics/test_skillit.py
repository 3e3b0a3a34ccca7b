"""Skill-It: the windowed online mixture against hand-computed values, the graph, the proxy run."""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import pytest

from conftest import TINY_GPT
from dqreview.errors import DQError
from dqreview.lm.model import GPTConfig
from dqreview.metrics import skillit
from dqreview.metrics.base import ProxyLM
from dqreview.metrics.skillit import graph_from_losses, online_schedule, skillit_mixture

METHOD = skillit.METHOD

# a chain 0 → 1 → 2 with the reference code's 0.5 off-diagonal edges
A = np.array([[1.0, 0.5, 0.0], [0.0, 1.0, 0.5], [0.0, 0.0, 1.0]])
LOSSES = [
    np.array([2.0, 1.0, 3.0]),  # L_0, before training
    np.array([1.5, 1.0, 2.5]),
    np.array([1.0, 0.8, 2.0]),
    np.array([0.5, 0.6, 1.8]),
    np.array([0.4, 0.5, 1.7]),
]
# η = 0.5, window 3, uniform prior, no loss normalisation:
#   round 1: Σ = L_0           = [2, 1, 3]       A·Σ·η = [1.25, 1.25, 1.5]
#   round 2: Σ = L_0+L_1       = [3.5, 2, 5.5]   → [2.25, 2.375, 2.75]
#   round 3: Σ = L_0+L_1+L_2   = [4.5, 2.8, 7.5] → [2.95, 3.275, 3.75]
#   round 4: Σ = L_1+L_2+L_3   = [3, 2.4, 6.3]   → [2.1, 2.775, 3.15]   (L_0 left the window)
EXPONENTS = [[1.25, 1.25, 1.5], [2.25, 2.375, 2.75], [2.95, 3.275, 3.75], [2.1, 2.775, 3.15]]
MIXTURES = [
    [0.30450434242028407, 0.30450434242028407, 0.3909913151594319],
    [0.2644194731816262, 0.29962651699650483, 0.4359540098218691],
    [0.2169399007790176, 0.30025147101418376, 0.48280862820679854],
    [0.17177160145548936, 0.3373650895937313, 0.49086330895077934],
]


def test_hand_values_are_softmaxes_of_the_exponents():
    for e, m in zip(EXPONENTS, MIXTURES, strict=True):
        z = [math.exp(x) for x in e]
        assert [v / sum(z) for v in z] == pytest.approx(m, rel=1e-12)


def test_online_schedule_matches_hand_computation():
    evals = iter(LOSSES)
    trained = []
    out = online_schedule(
        np.ones(3), A, lambda: next(evals), lambda r, p: trained.append((r, p)), rounds=4, eta=0.5, window=3,
        normalize_loss=False,
    )  # fmt: skip
    np.testing.assert_allclose(out["mixtures"], MIXTURES, rtol=1e-12)
    np.testing.assert_array_equal(out["losses"], np.array(LOSSES))
    assert [r for r, _ in trained] == [0, 1, 2, 3]
    np.testing.assert_array_equal(trained[3][1], out["mixtures"][3])


def test_window_normalisation_rectangular_graph_and_prior():
    # --normalize_loss: Σ_{L1..L3} / L_0 = [1.5, 2.4, 2.1] → η A · = [1.35, 1.725, 1.05]
    p = skillit_mixture(np.ones(3), A, LOSSES[:4], 0.5, 3, loss_scale=LOSSES[0])
    np.testing.assert_allclose(p, [0.31290975186829373, 0.45528100251867915, 0.2318092456130272], rtol=1e-12)
    # round 1 with normalisation is exp(η A 1): the reference's loss_init = 1
    p1 = skillit_mixture(np.ones(3), A, LOSSES[:1], 0.5, 3, loss_scale=LOSSES[0])
    z = np.exp(0.5 * A.sum(axis=1))
    np.testing.assert_allclose(p1, z / z.sum(), rtol=1e-12)
    # rectangular: 2 training skills × 3 evaluation skills, Σ = [3, 2.4, 6.3] → η A Σ = [2.1, 3.9]
    R = np.array([[1.0, 0.5, 0.0], [0.5, 0.0, 1.0]])
    p = skillit_mixture(np.ones(2), R, LOSSES[:4], 0.5, 3)
    np.testing.assert_allclose(p, [1 / (1 + math.exp(1.8)), math.exp(1.8) / (1 + math.exp(1.8))], rtol=1e-12)
    # a prior multiplies; a zero prior keeps a skill out
    p = skillit_mixture(np.array([0.25, 0.75]), R, LOSSES[:4], 0.5, 3)
    np.testing.assert_allclose(
        p, [0.25 / (0.25 + 0.75 * math.exp(1.8)), 1 - 0.25 / (0.25 + 0.75 * math.exp(1.8))]
    )
    assert skillit_mixture(np.array([0.0, 1.0]), R, LOSSES[:4], 0.5, 3).tolist() == [0.0, 1.0]
    # mean over the window = sum / 3
    np.testing.assert_allclose(
        skillit_mixture(np.ones(2), R, LOSSES[:4], 1.5, 3, reduce="mean"),
        skillit_mixture(np.ones(2), R, LOSSES[:4], 0.5, 3),
    )


def test_mixture_rejects_bad_shapes():
    with pytest.raises(DQError, match="graph has shape"):
        skillit_mixture(np.ones(2), A, LOSSES[:1], 0.5, 3)
    with pytest.raises(DQError, match="evaluation skills"):
        skillit_mixture(np.ones(3), A, [np.ones(2)], 0.5, 3)
    with pytest.raises(DQError, match="empty"):
        skillit_mixture(np.ones(3), A, [], 0.5, 3)


def test_graph_estimator():
    start = np.array([4.0, 2.0])
    after = np.array([[3.0, 2.5], [3.5, 1.0]])  # skill 0 helps eval 0 by 25%, hurts eval 1 (clipped)
    G = graph_from_losses(start, after)
    np.testing.assert_allclose(G, [[0.5, 0.0], [0.25, 1.0]])
    assert graph_from_losses(start, np.array([[5.0, 3.0]])).tolist() == [[0.0, 0.0]]


def test_params_and_state_variant():
    p = METHOD.params({})
    assert (p.rounds, p.update_steps, p.graph_steps, p.start_steps, p.eta, p.window) == (
        6,
        50,
        50,
        None,
        0.5,
        3,
    )
    assert (p.normalize_loss, p.reduce, p.prior, p.eval_skills, p.val_docs, p.target_docs, p.batch_size) == (
        True, "sum", "uniform", "all", 20, None, None,
    )  # fmt: skip
    assert (p.skills, p.static, p.from_, p.skills_variant) == ("domains", None, None, None)
    assert METHOD.params({"static": "final", "from": "online"}).to_dict()["from"] == "online"
    with pytest.raises(DQError, match=r"params: unknown key\(s\) \['windw'\]"):
        METHOD.params({"windw": 3})
    with pytest.raises(
        DQError, match=r"params\.static: expected one of \['final', 'average'\] or null; got 'last'"
    ):
        METHOD.params({"static": "last"})
    with pytest.raises(
        DQError,
        match=r"params\.from: only a static variant reuses another variant's schedule \(a slug\); "
        r"got 'online'",
    ):
        METHOD.params({"from": "online"})
    with pytest.raises(DQError, match=r"params\.from: expected a string or null; got 3"):
        METHOD.params({"static": "final", "from": 3})
    for key, bad, expected in (
        ("rounds", 0, "an integer >= 1"),
        ("update_steps", 0, "an integer >= 1"),
        ("graph_steps", 0, "an integer >= 1"),
        ("start_steps", -1, "an integer >= 0 or null"),
        ("window", 0, "an integer >= 1"),
        ("val_docs", 0, "an integer >= 1"),
        ("eta", 0, "a number > 0"),
        ("target_docs", 0, "an integer >= 1 or null"),
        ("batch_size", 0, "an integer >= 1 or null"),
        ("normalize_loss", "yes", "true or false"),
    ):
        with pytest.raises(DQError, match=rf"params\.{key}: expected {expected}; got {bad!r}"):
            METHOD.params({key: bad})
    for key, bad, allowed in (
        ("reduce", "max", "['sum', 'mean']"),
        ("prior", "zipf", "['uniform', 'natural']"),
        ("eval_skills", "some", "['all', 'target']"),
    ):
        with pytest.raises(DQError, match=rf"params\.{key}: '{bad}' is not one of {re.escape(allowed)}"):
            METHOD.params({key: bad})
    # the variant whose proxy run provides the schedule
    assert (
        METHOD.state_variant("static-final", METHOD.params({"static": "final", "from": "online"})) == "online"
    )
    assert METHOD.state_variant("online", METHOD.params({})) == "online"
    assert METHOD.state_variant("static", METHOD.params({"static": "average"})) == "static"


def test_check_variants_from_names_a_non_static_variant():
    variants = {
        "online": METHOD.params({"rounds": 2}),
        "static-own": METHOD.params({"static": "average"}),
        "static-final": METHOD.params({"static": "final", "from": "online"}),
    }
    METHOD.check_variants(variants, "metrics[4]")  # fine
    for source in ("nope", "static-own"):
        bad = {**variants, "static-bad": METHOD.params({"static": "final", "from": source})}
        with pytest.raises(
            DQError,
            match=rf"^metrics\[4\]\.variants\[3\]\.params\.from: '{source}' is not a non-static variant "
            r"of skillit; "
            r"variants: \['online', 'static-own', 'static-final', 'static-bad'\]$",
        ):
            METHOD.check_variants(bad, "metrics[4]")


def test_declared_inputs():
    p = METHOD.params({})
    assert [i.name for i in METHOD.learn_inputs(p)] == ["target_docs"] and METHOD.select_inputs(p) == ()
    k4 = METHOD.params({"skills": "ssl_proto/pool-k4"})
    skills = METHOD.select_inputs(k4)
    assert [i.name for i in skills] == ["skills"] and skills[0].requires == ("ssl_proto", "pool-k4")
    assert skills[0].template == "results/scores/ssl_proto/pool-k4.parquet"
    assert [i.name for i in METHOD.learn_inputs(k4)] == ["target_docs", "skills"]
    assert [i.name for i in METHOD.inputs(k4)] == ["target_docs", "skills"]


def test_validation_mask_is_per_domain_and_hash_keyed():
    ids = [f"d{i:03d}" for i in range(30)]
    doms = ["a"] * 10 + ["b"] * 20
    m = skillit.validation_mask(ids, doms, 3, seed=0)
    assert m[:10].sum() == 3 and m[10:].sum() == 3
    perm = np.random.default_rng(0).permutation(30)
    m2 = skillit.validation_mask(np.array(ids)[perm], np.array(doms)[perm], 3, seed=0)
    assert set(np.array(ids)[m]) == set(np.array(ids)[perm][m2])
    with pytest.raises(DQError, match="val_docs"):
        skillit.validation_mask(ids, doms, 10, seed=0)


TRAIN = {
    "batch_size": 4,
    "lr": 3e-3,
    "min_lr": 3e-4,
    "warmup_steps": 2,
    "weight_decay": 0.1,
    "grad_clip": 1.0,
}


def test_run_skillit_small():
    rng = np.random.default_rng(0)
    docs = [rng.integers(1 + 20 * (i % 3), 21 + 20 * (i % 3), size=20) for i in range(30)]
    dom = np.array([i % 3 for i in range(30)])
    evals = {"a": docs[:2], "target": [rng.integers(1, 21, size=20)]}
    raw = {"rounds": 3, "update_steps": 2, "graph_steps": 2}
    params = METHOD.params(raw)
    out = skillit.run_skillit(docs, dom, ["a", "b", "c"], evals, GPTConfig(**TINY_GPT), TRAIN, params, seed=0)
    assert np.array(out["graph"]).shape == (3, 2) and np.max(out["graph"]) == 1.0
    assert len(out["rounds"]) == 3 and len(out["loss_history"]) == 4
    assert out["rounds"][0]["tokens"] == 2 * 4 * 8
    # start_steps None: the warm start is lm.train.warmup_steps (2) on the natural mixture
    assert (
        out["params"] == {**params.to_dict(), "batch_size": 4, "start_steps": 2} and "from" in out["params"]
    )
    assert out["tokens"]["start"] == 2 * 4 * 8 and len(out["graph_losses"]["start_train"]) == 2
    # round 1 is exp(η A 1) with normalised losses
    z = np.exp(0.5 * np.array(out["graph"]).sum(axis=1))
    np.testing.assert_allclose(list(out["rounds"][0]["mixture"].values()), z / z.sum(), rtol=1e-12)
    for r in out["rounds"]:
        assert sum(r["mixture"].values()) == pytest.approx(1.0)
    target_only = skillit.run_skillit(
        docs,
        dom,
        ["a", "b", "c"],
        evals,
        GPTConfig(**TINY_GPT),
        TRAIN,
        METHOD.params({**raw, "eval_skills": "target"}),
        seed=0,
    )
    assert target_only["eval_skills"] == ["target"]


def test_graph_runs_start_from_the_warm_model():
    """The skill runs copy a proxy trained start_steps on the natural mixture: their first training step
    (and every evaluation skill at the common start) has a lower loss than from a fresh model."""
    rng = np.random.default_rng(0)
    docs = [rng.integers(1 + 20 * (i % 3), 21 + 20 * (i % 3), size=40) for i in range(30)]
    dom = np.array([i % 3 for i in range(30)])
    evals = {"a": docs[:2], "target": [rng.integers(1, 21, size=40)]}
    raw = {"rounds": 1, "update_steps": 1, "graph_steps": 2}
    cfg = GPTConfig(**TINY_GPT)
    runs = {
        steps: skillit.run_skillit(
            docs, dom, ["a", "b", "c"], evals, cfg, TRAIN, METHOD.params({**raw, "start_steps": steps}), seed=0
        )
        for steps in (0, 12)
    }  # fmt: skip
    cold, warm = (runs[s]["graph_losses"] for s in (0, 12))
    assert cold["start_train"] == [] and len(warm["start_train"]) == 12
    assert all(w < c for w, c in zip(warm["first_step"], cold["first_step"], strict=True)), (warm, cold)
    assert all(w < c for w, c in zip(warm["start"], cold["start"], strict=True))
    assert runs[12]["tokens"]["start"] == 12 * 4 * 8 and runs[0]["tokens"]["start"] == 0
    assert runs[12]["flops"] > runs[0]["flops"]


def _token_pool(n=36):
    from dqreview.lm.tokenizer import encode_batch, train_tokenizer
    from dqreview.mixture import PoolTokens

    rng = np.random.default_rng(1)
    words = {d: [f"{d}{w}" for w in "abcdefgh"] for d in ("code", "web", "wiki")}
    domains = [("web", "code", "wiki")[i % 3] for i in range(n)]
    texts = [" ".join(rng.choice(words[d], size=int(rng.integers(6, 14)))) for d in domains]
    frame = pd.DataFrame(
        {"id": [f"doc{i:03d}" for i in range(n)], "domain": domains, "n_bytes": [len(t) for t in texts]}
    )
    tok = train_tokenizer(texts, 300, 1)
    target = pd.DataFrame({"id": [f"t{i}" for i in range(8)], "text": [" ".join(words["wiki"][:5])] * 8})
    return PoolTokens(frame, encode_batch(tok, texts), tok), target


def test_learn_wires_validation_slices_target_and_cluster_skills():
    from dqreview.lm.tokenizer import encode_batch

    pool, target = _token_pool()
    proxy = ProxyLM(GPTConfig(**{**TINY_GPT, "vocab_size": pool.vocab_size}), TRAIN, eval_batch_size=4)
    raw = {"rounds": 2, "update_steps": 1, "graph_steps": 1, "val_docs": 2, "target_docs": 3}
    p = METHOD.params(raw)
    learned = METHOD.learn(pool, {"target_docs": target}, p, 5, proxy)
    state = learned.state
    assert state["train_skills"] == state["domains"] == ["code", "web", "wiki"]
    assert state["eval_skills"] == ["code", "web", "wiki", "target"]
    assert state["bytes_per_token"] == pool.bytes_per_token
    # the same run by hand: validation slices out of the training data, the target_docs subset evaluated
    frame = pool.frame
    codes = frame["domain"].map({"code": 0, "web": 1, "wiki": 2}).to_numpy()
    val = skillit.validation_mask(frame["id"], frame["domain"], 2, 5)
    evals = {
        d: [pool.tokens[i] for i in np.flatnonzero(val & (codes == j))]
        for j, d in enumerate(state["domains"])
    }
    ref = target.iloc[skillit.target_rows(target["id"].to_numpy(), 3)]
    evals["target"] = encode_batch(pool.tokenizer, ref["text"].tolist())
    train = np.flatnonzero(~val)
    direct = skillit.run_skillit(
        [pool.tokens[i] for i in train], codes[train], state["domains"], evals, proxy.model, TRAIN, p, 5,
        eval_batch_size=4,
    )  # fmt: skip
    assert state["rounds"] == direct["rounds"] and state["graph"] == direct["graph"]
    assert (
        learned.tokens == direct["tokens"]["start"] + direct["tokens"]["graph"] + direct["tokens"]["online"]
    )
    assert learned.tokens == (2 + 3 * 1 + 2 * 1) * 4 * 8  # warm start (lm.train.warmup_steps), graph, online
    assert learned.flops == direct["flops"] and learned.extra == {"tokens_per_seed": direct["tokens"]}
    # skills = clusters: the clusters are the training skills; the caller's pool keeps its domains
    clusters = pd.DataFrame({"id": frame["id"], "cluster": np.arange(len(frame)) % 2})
    k2 = METHOD.params({**raw, "skills": "ssl_proto/pool-k2"})
    by_cluster = METHOD.learn(pool, {"target_docs": target, "skills": clusters}, k2, 5, proxy).state
    assert by_cluster["train_skills"] == ["c0", "c1"] and set(by_cluster["bytes_per_token"]) == {"c0", "c1"}
    assert list(pool.frame["domain"][:3]) == ["web", "code", "wiki"]


def test_select_budget_schedule_and_static():
    pool = pd.DataFrame(
        {"id": [f"{i:04d}" for i in range(200)], "n_bytes": [100] * 200, "domain": ["a", "b"] * 100}
    )
    state = {
        "bytes_per_token": {"a": 2.0, "b": 2.0},
        "rounds": [
            {"tokens": 10, "mixture": {"a": 0.9, "b": 0.1}},
            {"tokens": 10, "mixture": {"a": 0.1, "b": 0.9}},
        ],
        "final_mixture": {"a": 0.1, "b": 0.9},
        "average_mixture": {"a": 0.5, "b": 0.5},
    }
    sel, info = METHOD.select_budget(pool, state, 0.4, 1, METHOD.params({}), {})
    assert set(sel["round"]) == {0, 1}
    assert info["n_bytes"] == 8000
    r0 = sel[sel["round"] == 0]
    assert (r0["domain"] == "a").mean() == pytest.approx(0.9, abs=0.06)
    sel_f, info_f = METHOD.select_budget(
        pool, state, 0.4, 1, METHOD.params({"static": "final", "from": "x"}), {}
    )
    assert "round" not in sel_f.columns and (sel_f["domain"] == "b").sum() == 72
    assert info_f["static"] == "final"
    sel_a, info_a = METHOD.select_budget(pool, state, 0.4, 1, METHOD.params({"static": "average"}), {})
    assert (sel_a["domain"] == "b").sum() == 40 and info_a["mixture_tokens"] == {"a": 0.5, "b": 0.5}
    with pytest.raises(DQError, match=r"skillit state: .*; rerun the learn_mixture rule"):
        METHOD.select_budget(pool, {"rounds": []}, 0.4, 1, METHOD.params({}), {})


def test_select_budget_relabels_the_pool_by_cluster_skills():
    pool = pd.DataFrame(
        {"id": [f"{i:04d}" for i in range(200)], "n_bytes": [100] * 200, "domain": ["a", "b"] * 100}
    )
    clusters = pd.DataFrame({"id": pool["id"], "cluster": [0] * 50 + [1] * 150})
    state = {
        "bytes_per_token": {"c0": 2.0, "c1": 2.0},
        "rounds": [{"tokens": 10, "mixture": {"c0": 1.0, "c1": 0.0}}],
        "final_mixture": {"c0": 1.0, "c1": 0.0},
        "average_mixture": {"c0": 1.0, "c1": 0.0},
    }
    p = METHOD.params({"skills": "ssl_proto/pool-k2", "static": "final"})
    sel, info = METHOD.select_budget(pool, state, 0.2, 0, p, {"skills": clusters})
    assert set(sel["id"]) <= set(pool["id"][:50]) and info["n_bytes"] == 4000  # cluster 0 only
    with pytest.raises(DQError, match=r"no weight for pool domain\(s\) \['a', 'b'\]"):
        METHOD.select_budget(pool, state, 0.2, 0, p, {})  # without the clusters the domains are a, b
    with pytest.raises(
        DQError, match=r"results/scores/ssl_proto/pool-k2\.parquet: 50 pool id\(s\) without a cluster"
    ):
        METHOD.select_budget(pool, state, 0.2, 0, p, {"skills": clusters.iloc[50:]})


# --- skills = k-means clusters ------------------------------------------------------------------


def test_skill_labels_from_clusters():
    clusters = pd.DataFrame({"id": ["x", "y", "z"], "cluster": [10, 2, 0]})
    assert skillit.skill_labels(["z", "x", "y"], clusters).tolist() == ["c00", "c10", "c02"]
    with pytest.raises(DQError, match="without a cluster"):
        skillit.skill_labels(["x", "w"], clusters)
    assert METHOD.params({"skills": "ssl_proto/pool-k4"}).skills_variant == "pool-k4"
    for bad in ("kmeans", "ssl_proto/", "ssl_proto/a/b", "semdedup/x"):
        with pytest.raises(
            DQError,
            match=r"params\.skills: expected a string of the form 'domains' or "
            r"'ssl_proto/<variant slug>'; got",
        ):
            METHOD.params({"skills": bad})


def test_target_rows_is_a_fixed_hash_picked_subset():
    from dqreview.metrics.skillit import target_rows

    ids = np.array([f"t{i}" for i in range(50)])
    assert target_rows(ids, None).tolist() == list(range(50)) == target_rows(ids, 50).tolist()
    rows = target_rows(ids, 10)
    assert len(set(rows)) == 10 and rows.tolist() == target_rows(ids, 10).tolist()
    assert set(target_rows(ids[::-1], 10)) == {49 - r for r in rows}  # chosen by id, not by position
