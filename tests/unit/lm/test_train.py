"""dqreview.lm.train: the learning-rate schedule, deterministic and resumable training runs (plain and in
rounds), loss weights, and the training state under a full disk."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import TINY_GPT, random_docs, round_docs
from dqreview.errors import DQError
from dqreview.lm import GPTConfig, bits_per_byte, clear_checkpoint, lr_at, train_run

pytestmark = pytest.mark.usefixtures("one_thread")


def tiny_train_cfg(**kw):
    cfg = dict(
        tokens=10 * 4 * 8, batch_size=4, lr=3e-3, min_lr=3e-4, warmup_steps=2, weight_decay=0.1,
        grad_clip=1.0, checkpoints=2, save_every=3,
    )  # fmt: skip
    cfg.update(kw)
    return cfg


def test_lr_schedule_endpoints():
    assert lr_at(0, 100, 1.0, 0.1, 10) == pytest.approx(0.1)
    assert lr_at(9, 100, 1.0, 0.1, 10) == pytest.approx(1.0)
    assert lr_at(10, 100, 1.0, 0.1, 10) == pytest.approx(1.0)
    assert lr_at(99, 100, 1.0, 0.1, 10) == pytest.approx(0.1)
    mid = lr_at(10 + 89 // 2, 100, 1.0, 0.1, 10)
    assert 0.1 < mid < 1.0
    assert lr_at(0, 1, 1.0, 0.1, 0) == 1.0  # degenerate schedules do not divide by zero


def _run(docs, dom, seed=0, ckpt_dir=None, evaluate=None, **kw):
    eval_docs, _ = random_docs(4, seed=99)
    evaluate = evaluate or (lambda m, final: {"val": bits_per_byte(m, eval_docs, 100, 8, 4)["bpb"]})
    return train_run(
        docs, dom, GPTConfig(**TINY_GPT), tiny_train_cfg(**kw), seed, evaluate, ckpt_dir, progress=False
    )


def test_training_deterministic_and_seeded():
    docs, dom = random_docs(30)
    a, b, c = _run(docs, dom, seed=0), _run(docs, dom, seed=0), _run(docs, dom, seed=1)
    assert len(a["train_loss"]) == 10 and a["train_loss"] == b["train_loss"]
    assert a["curve"] == b["curve"]
    assert a["train_loss"] != c["train_loss"]
    assert [p["step"] for p in a["curve"]] == [5, 10]
    finals = []
    _run(docs, dom, evaluate=lambda m, final: finals.append(final) or {})
    assert finals == [False, True]  # only the last checkpoint is told it is final
    assert a["train_loss"][-1] < a["train_loss"][0]  # it learns something
    assert a["n_params"] > 0 and a["flops_per_token"] > 6 * a["n_params"] and a["tokens_per_s"] > 0


def test_bf16_precision_trains_deterministically_close_to_fp32():
    """bf16 autocast is a different run (rounded matmuls), reproducible, and close to fp32's losses."""
    docs, dom = random_docs(30)
    fp32 = _run(docs, dom)
    bf16, again = _run(docs, dom, precision="bf16"), _run(docs, dom, precision="bf16")
    assert bf16["train_loss"] == again["train_loss"] and bf16["curve"] == again["curve"]
    assert bf16["train_loss"] != fp32["train_loss"]
    assert np.allclose(bf16["train_loss"], fp32["train_loss"], atol=0.05)
    assert bf16["train_loss"][-1] < bf16["train_loss"][0]


def test_unknown_precision_is_refused():
    docs, dom = random_docs(5)
    with pytest.raises(DQError, match=r"lm.train.precision: unknown precision 'fp16'; known: fp32, bf16"):
        _run(docs, dom, precision="fp16")


def test_same_tokens_for_any_selection_size():
    docs, dom = random_docs(40)
    small = _run(docs[:3], dom[:3], tokens=300)
    large = _run(docs, dom, tokens=300)
    assert small["tokens"] == large["tokens"] == 320  # ceil(300 / 32) steps of 32 tokens
    assert len(small["train_loss"]) == len(large["train_loss"]) == 10
    assert small["epochs"] > large["epochs"] and small["epochs"] > 1


class Killed(Exception):
    pass


def test_resume_gives_identical_run(tmp_path):
    docs, dom = random_docs(30)
    full = _run(docs, dom, ckpt_dir=tmp_path / "full")
    eval_docs, _ = random_docs(4, seed=99)

    def dies_at_step_5(model, final):
        raise Killed

    with pytest.raises(Killed):  # the first evaluation is at step 5; the last state saved is step 3
        _run(docs, dom, ckpt_dir=tmp_path / "resumed", evaluate=dies_at_step_5)
    saved = torch.load(tmp_path / "resumed" / "state.pt", weights_only=True)
    assert saved["step"] == 3
    resumed = _run(docs, dom, ckpt_dir=tmp_path / "resumed")
    assert resumed["train_loss"] == full["train_loss"]
    assert resumed["curve"] == full["curve"]
    assert resumed["epochs"] == full["epochs"]

    # A finished run's state is kept (a rerun returns at once) until the caller clears it.
    assert torch.load(tmp_path / "resumed" / "state.pt", weights_only=True)["step"] == 10
    rerun = _run(docs, dom, ckpt_dir=tmp_path / "resumed")
    assert rerun["curve"] == full["curve"]
    # ... and hands back the trained model though it ran no step (what the export of a killed job needs)
    for name, weight in full["model"].state_dict().items():
        assert torch.equal(rerun["model"].state_dict()[name], weight), name
    clear_checkpoint(tmp_path / "resumed")
    assert not (tmp_path / "resumed" / "state.pt").exists()


def test_stale_checkpoint_is_ignored(tmp_path):
    docs, dom = random_docs(30)
    with pytest.raises(Killed):
        _run(docs, dom, seed=1, ckpt_dir=tmp_path, evaluate=lambda m, final: (_ for _ in ()).throw(Killed()))
    # Different seed: the step-3 state of seed 1 must not be resumed.
    assert _run(docs, dom, seed=0, ckpt_dir=tmp_path)["train_loss"] == _run(docs, dom, seed=0)["train_loss"]


def test_loss_weights_callable_is_used():
    docs, dom = random_docs(30)
    calls = []

    def group_weighted(per_token, domains):
        assert per_token.shape == domains.shape == (4, 8) and per_token.requires_grad
        calls.append(1)
        return sum(per_token[torch.from_numpy(domains == g)].sum() for g in range(3)) / per_token.numel()

    plain = _run(docs, dom)
    eval_docs, _ = random_docs(4, seed=99)
    weighted = train_run(
        docs, dom, GPTConfig(**TINY_GPT), tiny_train_cfg(), 0,
        lambda m, final: {"val": bits_per_byte(m, eval_docs, 100, 8, 4)["bpb"]}, None,
        progress=False, loss_weights=group_weighted,
    )  # fmt: skip
    assert len(calls) == 10
    # The weighted loss equals the mean here, so training matches up to float summation order.
    np.testing.assert_allclose(weighted["train_loss"], plain["train_loss"], rtol=1e-4)


def test_disk_full_while_saving_training_state(tmp_path, disk_full):
    """The training state is written atomically: a full disk names the file and leaves nothing behind."""
    import dqreview.lm.train as train

    path = tmp_path / ".ckpt" / "state.pt"
    with pytest.raises(DQError, match=rf"{path}: cannot write.*(free space|free disk space)"):
        train._save_state(path, {"step": 1, "weights": np.zeros(10_000).tolist()})
    assert not list(path.parent.iterdir())


# --- round-ordered training (Skill-It's schedule) -----------------------------------------------


def test_train_run_follows_rounds_once_over_the_whole_run(tmp_path):
    docs, rounds = round_docs()
    seen = []

    def record(per_token, domains):
        seen.append(domains.copy())
        return per_token.mean()

    cfg = GPTConfig(n_layer=1, n_head=2, n_embd=16, block_size=8, vocab_size=40)
    train = tiny_train_cfg(tokens=8 * 4 * 30, checkpoints=1, save_every=100)
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


def test_round_ordered_run_resumes_exactly(tmp_path):
    docs, rounds = round_docs()
    cfg = GPTConfig(n_layer=1, n_head=2, n_embd=16, block_size=8, vocab_size=40)
    train = tiny_train_cfg(tokens=8 * 4 * 10, checkpoints=2, save_every=3)

    def run(ckpt, evaluate=lambda m, final: {}, rounds=rounds):
        return train_run(docs, rounds, cfg, train, 0, evaluate, ckpt, progress=False, rounds=rounds)

    full = run(tmp_path / "full")

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
