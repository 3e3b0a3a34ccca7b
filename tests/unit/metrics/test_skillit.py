"""Skill-It: the windowed online mixture against hand-computed values, the graph, the proxy run."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from dqreview.errors import DQError
from dqreview.lm.model import GPTConfig
from dqreview.metrics import skillit
from dqreview.metrics.skillit import graph_from_losses, online_schedule, skillit_mixture

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


def test_params_and_schedule_variant():
    assert skillit.check_params({})["eta"] == 0.5 and skillit.check_params({})["window"] == 3
    with pytest.raises(DQError, match="unknown key"):
        skillit.check_params({"windw": 3})
    with pytest.raises(DQError, match="static"):
        skillit.check_params({"static": "last"})
    with pytest.raises(DQError, match="from"):
        skillit.check_params({"from": "online"})
    assert skillit.schedule_variant({"static": "final", "from": "online"}, "static-final") == "online"
    assert skillit.schedule_variant({}, "online") == "online"


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


TINY = {"n_layer": 1, "n_head": 2, "n_embd": 16, "block_size": 8, "vocab_size": 64}
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
    params = {"rounds": 3, "update_steps": 2, "graph_steps": 2}
    out = skillit.run_skillit(docs, dom, ["a", "b", "c"], evals, GPTConfig(**TINY), TRAIN, params, seed=0)
    assert np.array(out["graph"]).shape == (3, 2) and np.max(out["graph"]) == 1.0
    assert len(out["rounds"]) == 3 and len(out["loss_history"]) == 4
    assert out["rounds"][0]["tokens"] == 2 * 4 * 8
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
        GPTConfig(**TINY),
        TRAIN,
        {**params, "eval_skills": "target"},
        seed=0,
    )
    assert target_only["eval_skills"] == ["target"]


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
    sel, info = skillit.select_budget(pool, state, 0.4, seed=1)
    assert set(sel["round"]) == {0, 1}
    assert info["n_bytes"] == 8000
    r0 = sel[sel["round"] == 0]
    assert (r0["domain"] == "a").mean() == pytest.approx(0.9, abs=0.06)
    sel_f, info_f = skillit.select_budget(pool, state, 0.4, seed=1, params={"static": "final", "from": "x"})
    assert "round" not in sel_f.columns and (sel_f["domain"] == "b").sum() == 72
    assert info_f["static"] == "final"


# --- round-ordered training -----------------------------------------------------------------


def _round_docs():
    # round r's documents use tokens 10r+1..10r+9, so a token tells its round
    rng = np.random.default_rng(5)
    docs, rounds = [], []
    for r, n in ((0, 6), (1, 3), (2, 9)):
        for _ in range(n):
            docs.append(rng.integers(10 * r + 1, 10 * r + 10, size=int(rng.integers(3, 9))))
            rounds.append(r)
    perm = rng.permutation(len(docs))  # rounds interleaved in the input
    return [docs[i] for i in perm], np.array(rounds)[perm]


def _round_of(tokens):
    t = np.asarray(tokens)
    return t[t > 0] // 10  # EOT (0) belongs to no round


def test_stream_plays_rounds_in_order_with_quotas_and_resumes():
    from dqreview.lm.data import TokenStream

    docs, rounds = _round_docs()
    quotas = [40, 15, 60]
    s = TokenStream(docs, np.zeros(len(docs), np.int64), 5, 1, seed=3, rounds=rounds, round_tokens=quotas)
    toks, _ = s._epoch_stream(0)
    assert len(toks) == sum(quotas) == s.tokens_per_epoch
    r = _round_of(toks)
    assert (np.diff(r) >= 0).all()  # every token of round r before any of round r + 1
    # each round fills its quota (repeating its documents when the quota exceeds one pass)
    assert set(_round_of(toks[:40])) == {0}
    assert set(_round_of(toks[40:55])) == {1} and set(_round_of(toks[55:])) == {2}
    # shuffled within rounds: another seed orders round 2 differently, same multiset per pass
    other = TokenStream(docs, np.zeros(len(docs), np.int64), 5, 1, seed=4, rounds=rounds, round_tokens=quotas)
    assert not np.array_equal(other._epoch_stream(0)[0], toks)
    # resumable: a fresh stream loaded with the state continues identically
    for _ in range(7):
        s.next_batch()
    state = s.state_dict()
    expect = [s.next_batch()[0] for _ in range(30)]
    t = TokenStream(docs, np.zeros(len(docs), np.int64), 5, 1, seed=3, rounds=rounds, round_tokens=quotas)
    t.load_state_dict(state)
    for e in expect:
        np.testing.assert_array_equal(t.next_batch()[0], e)
    with pytest.raises(DQError, match="round_tokens"):
        TokenStream(docs, np.zeros(len(docs), np.int64), 5, 1, seed=3, rounds=rounds, round_tokens=[1, 2])


def test_train_run_follows_rounds_once_over_the_whole_run(tmp_path):
    from dqreview.lm.train import train_run

    docs, rounds = _round_docs()
    seen = []

    def record(per_token, domains):
        seen.append(domains.copy())
        return per_token.mean()

    cfg = GPTConfig(n_layer=1, n_head=2, n_embd=16, block_size=8, vocab_size=40)
    train = {**TRAIN, "tokens": 8 * 4 * 30, "checkpoints": 1, "save_every": 100}
    # the domain id carries the round so the loss hook sees which round each target token is from
    res = train_run(
        docs,
        rounds,
        cfg,
        train,
        0,
        lambda m, final: {},
        None,
        progress=False,
        loss_weights=record,
        rounds=rounds,
    )
    per_step = [np.bincount(d.ravel(), minlength=3) for d in seen]
    order = np.concatenate([d.ravel() for d in seen])
    assert (np.diff(order) >= 0).all()  # round 0, then 1, then 2, once over the 30 steps
    sizes = np.array([sum(len(d) + 1 for d, r in zip(docs, rounds, strict=True) if r == k) for k in range(3)])
    share = np.sum(per_step, axis=0) / np.sum(per_step)
    np.testing.assert_allclose(share, sizes / sizes.sum(), atol=0.01)  # stretched in proportion
    assert res["epochs"] == pytest.approx(8 * 4 * 30 / sizes.sum(), rel=1e-9)
    # without rounds, the rounds interleave
    seen.clear()
    train_run(docs, rounds, cfg, train, 0, lambda m, final: {}, None, progress=False, loss_weights=record)
    assert not (np.diff(np.concatenate([d.ravel() for d in seen])) >= 0).all()


# --- skills = k-means clusters ------------------------------------------------------------------


def test_skill_labels_from_clusters():
    clusters = pd.DataFrame({"id": ["x", "y", "z"], "cluster": [10, 2, 0]})
    assert skillit.skill_labels(["z", "x", "y"], clusters).tolist() == ["c00", "c10", "c02"]
    with pytest.raises(DQError, match="without a cluster"):
        skillit.skill_labels(["x", "w"], clusters)
    assert skillit.check_params({"skills": "ssl_proto/pool-k4"})["skills"] == "ssl_proto/pool-k4"
    with pytest.raises(DQError, match="skills"):
        skillit.check_params({"skills": "kmeans"})


def test_dry_run_with_cluster_skills(tmp_path):
    import yaml

    from conftest import REPO, snakemake

    override = tmp_path / "clusters.yaml"
    override.write_text(
        yaml.safe_dump(
            {
                "metrics": [
                    {"name": "random", "keep": ["high"], "variants": [{"slug": "uniform"}]},
                    {
                        "name": "ssl_proto",
                        "keep": ["high"],
                        "variants": [{"slug": "pool-k4", "params": {"k": 4}}],
                    },
                    {
                        "name": "skillit",
                        "keep": ["high"],
                        "variants": [
                            {"slug": "k4", "params": {"skills": "ssl_proto/pool-k4", "rounds": 2}},
                            {"slug": "k4-static", "params": {"static": "final", "from": "k4"}},
                        ],
                    },
                ]
            }
        )
    )
    proc = snakemake(
        tmp_path, "-n", "--quiet", "rules", "all", configfiles=[REPO / "configs/tiny.yaml", override]
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout + proc.stderr
    assert "skillit" in out and "select_mixture" in out and "doremi " not in out
    # the skills must name a configured ssl_proto variant
    bad = yaml.safe_load(override.read_text())
    bad["metrics"][2]["variants"][0]["params"]["skills"] = "ssl_proto/pool-k9"
    override.write_text(yaml.safe_dump(bad))
    proc = snakemake(tmp_path, "-n", "all", configfiles=[REPO / "configs/tiny.yaml", override])
    assert proc.returncode != 0 and "names no configured ssl_proto variant" in proc.stdout + proc.stderr


def test_round_ordered_run_resumes_exactly(tmp_path):
    from dqreview.lm.train import train_run

    docs, rounds = _round_docs()
    cfg = GPTConfig(n_layer=1, n_head=2, n_embd=16, block_size=8, vocab_size=40)
    train = {**TRAIN, "tokens": 8 * 4 * 10, "checkpoints": 2, "save_every": 3}

    def run(ckpt, evaluate=lambda m, final: {}, rounds=rounds):
        return train_run(docs, rounds, cfg, train, 0, evaluate, ckpt, progress=False, rounds=rounds)

    full = run(tmp_path / "full")

    class Killed(Exception):
        pass

    def dies(model, final):
        raise Killed

    with pytest.raises(Killed):  # first evaluation at step 5; state saved at step 3
        run(tmp_path / "resumed", evaluate=dies)
    resumed = run(tmp_path / "resumed")
    assert resumed["train_loss"] == full["train_loss"] and resumed["epochs"] == full["epochs"]
    # the rounds are part of the run's identity: a checkpoint of another order is not resumed
    with pytest.raises(Killed):
        run(tmp_path / "other", evaluate=dies)
    plain = train_run(docs, rounds, cfg, train, 0, lambda m, final: {}, tmp_path / "other", progress=False)
    fresh_plain = train_run(docs, rounds, cfg, train, 0, lambda m, final: {}, None, progress=False)
    assert plain["train_loss"] == fresh_plain["train_loss"] != full["train_loss"]


def test_target_rows_is_a_fixed_hash_picked_subset():
    from dqreview.metrics.skillit import target_rows

    ids = np.array([f"t{i}" for i in range(50)])
    assert target_rows(ids, None).tolist() == list(range(50)) == target_rows(ids, 50).tolist()
    rows = target_rows(ids, 10)
    assert len(set(rows)) == 10 and rows.tolist() == target_rows(ids, 10).tolist()
    assert set(target_rows(ids[::-1], 10)) == {49 - r for r in rows}  # chosen by id, not by position
