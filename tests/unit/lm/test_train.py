"""Tests of the proxy LM: tokenizer, model, token stream, training loop, bits per byte."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dqreview.errors import DQError
from dqreview.lm import (
    EOT,
    GPT,
    GPTConfig,
    TokenStream,
    bits_per_byte,
    clear_checkpoint,
    encode_batch,
    evaluate_sets,
    load_tokenizer,
    lr_at,
    save_tokenizer,
    train_run,
    train_tokenizer,
)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny models run fastest on one thread; restore the setting for other test modules."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


TEXTS = [
    "The quick brown fox jumps over the lazy dog. " * 3,
    "def f(x):\n    return x ** 2  # square\n",
    'Licensed under the Apache License, Version 2.0 (the "License").',
    "Hello! How are you today? I'm fine, thanks.",
    "Ünïcödé tëxt wïth àccents, 日本語のテキスト, and emoji 🎉🚀👩‍👩‍👧.",
] * 4

TINY = dict(n_layer=1, n_head=2, n_embd=16, block_size=8, vocab_size=64)


def tiny_train_cfg(**kw):
    cfg = dict(
        tokens=10 * 4 * 8, batch_size=4, lr=3e-3, min_lr=3e-4, warmup_steps=2, weight_decay=0.1,
        grad_clip=1.0, checkpoints=2, save_every=3,
    )  # fmt: skip
    cfg.update(kw)
    return cfg


def random_docs(n, seed=0, vocab=64):
    rng = np.random.default_rng(seed)
    docs = [rng.integers(1, vocab, size=rng.integers(1, 30)).astype(np.int32) for _ in range(n)]
    return docs, rng.integers(0, 3, size=n)


# --- tokenizer ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tok():
    return train_tokenizer(TEXTS, vocab_size=300, min_frequency=2)


@pytest.mark.parametrize(
    "text",
    [
        "plain ascii",
        "  leading and trailing spaces  ",
        "emoji 🎉🚀 and ZWJ 👩‍👩‍👧 and flags 🇫🇷",
        "中文 العربية עברית हिन्दी",
        "\x00\x01\x7f control \t\r\n chars",
        "literal <|endoftext|> in text",
        "\ufffd replacement \ufeff BOM \u200b zero-width",
        "",
    ],
)
def test_tokenizer_roundtrip(tok, text):
    (ids,) = encode_batch(tok, [text])
    assert ids.dtype == np.int32
    assert tok.decode(ids.tolist(), skip_special_tokens=False) == text
    assert EOT not in ids.tolist()  # only the stream builder inserts EOT


def test_tokenizer_eot_deterministic_and_saved(tok, tmp_path):
    assert tok.token_to_id("<|endoftext|>") == EOT == 0
    assert tok.get_vocab_size() == 300
    again = train_tokenizer(TEXTS, vocab_size=300, min_frequency=2)
    assert again.to_str() == tok.to_str()
    path = tmp_path / "tokenizer.json"
    save_tokenizer(tok, path)
    assert load_tokenizer(path).to_str() == tok.to_str()
    with pytest.raises(DQError, match="not found"):
        load_tokenizer(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(DQError, match="not a readable"):
        load_tokenizer(tmp_path / "bad.json")


# --- model --------------------------------------------------------------------------------------


def test_config_rejects_unknown_key():
    with pytest.raises(DQError, match="n_layers"):
        GPTConfig.from_dict({**TINY, "n_layers": 2})
    cfg = GPTConfig.from_dict({k: v for k, v in TINY.items() if k != "vocab_size"}, vocab_size=64)
    assert cfg.vocab_size == 64 and cfg.tie_embeddings


def test_per_token_loss_matches_cross_entropy():
    torch.manual_seed(0)
    model = GPT(GPTConfig(**TINY))
    x = torch.randint(0, 64, (3, 8))
    y = torch.randint(0, 64, (3, 8))
    logits, loss = model(x, y)
    assert logits.shape == (3, 8, 64) and loss.shape == (3, 8)
    torch.testing.assert_close(loss.mean(), F.cross_entropy(logits.view(-1, 64), y.view(-1)))
    assert model(x)[1] is None
    assert model.lm_head.weight is model.wte.weight
    assert model.flops_per_token() == 6 * model.n_params() + 12 * 1 * 16 * 8


def test_model_is_causal():
    torch.manual_seed(0)
    model = GPT(GPTConfig(**TINY)).eval()
    x = torch.randint(0, 64, (1, 8))
    x2 = x.clone()
    x2[0, 5] = (x2[0, 5] + 1) % 64
    a, b = model(x)[0], model(x2)[0]
    torch.testing.assert_close(a[:, :5], b[:, :5])
    assert not torch.allclose(a[:, 5:], b[:, 5:])


# --- bits per byte ------------------------------------------------------------------------------


def uniform_model(vocab=64):
    model = GPT(GPTConfig(**{**TINY, "vocab_size": vocab}))
    with torch.no_grad():
        model.lm_head.weight.zero_()  # tied: logits are exactly 0, i.e. uniform over the vocabulary
    return model


@pytest.mark.parametrize("block_size,batch_size", [(8, 2), (8, 100), (5, 3), (1, 1)])
def test_bits_per_byte_uniform_model(block_size, batch_size):
    docs, _ = random_docs(7)
    n_tok = sum(len(d) for d in docs)
    n_bytes = 3 * n_tok  # any byte count: bpb is a pure function of it
    model = uniform_model()
    model.train()
    out = bits_per_byte(model, docs, n_bytes, block_size=min(block_size, 8), batch_size=batch_size)
    n_pred = n_tok + len(docs)  # every document token and every trailing EOT, once
    assert out["n_tokens"] == n_pred
    assert out["n_bytes"] == n_bytes + len(docs)
    expected = n_pred * math.log(64) / (math.log(2) * (n_bytes + len(docs)))
    assert out["bpb"] == pytest.approx(expected, rel=1e-6)
    assert model.training  # train mode restored


def test_bits_per_byte_predicts_every_token_once(monkeypatch):
    """Record the targets the model is asked to predict: the stream minus its leading EOT."""
    docs = [np.array([5, 6, 7]), np.array([9]), np.array([3, 4, 5, 6, 7, 8, 9, 10, 11])]
    model = uniform_model()
    seen = []
    orig = GPT.forward

    def spy(self, idx, targets=None):
        assert idx.shape[1] <= 4
        torch.testing.assert_close(idx[:, 1:], targets[:, :-1])  # targets are inputs shifted by one
        seen.extend(targets.reshape(-1).tolist())
        return orig(self, idx, targets)

    monkeypatch.setattr(GPT, "forward", spy)
    out = bits_per_byte(model, docs, 13, block_size=4, batch_size=2)
    stream = [5, 6, 7, 0, 9, 0, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0]
    assert sorted(seen) == sorted(stream) and len(seen) == out["n_tokens"] == 16


def test_evaluate_sets():
    docs, _ = random_docs(3)
    out = evaluate_sets(uniform_model(), {"a": (docs, 50), "b": (docs[:1], 5)}, block_size=8, batch_size=4)
    assert set(out) == {"a", "b"} and out["b"]["n_tokens"] == len(docs[0]) + 1


# --- token stream -------------------------------------------------------------------------------


def test_stream_epochs_and_windows():
    docs = [np.array([1, 2, 3]), np.array([4, 5]), np.array([6])]  # 9 tokens per epoch with EOTs
    s = TokenStream(docs, np.array([0, 1, 2]), block_size=4, batch_size=2, seed=0)
    assert s.tokens_per_epoch == 9
    x, y, d = s.next_batch()
    assert x.shape == y.shape == d.shape == (2, 4)
    np.testing.assert_array_equal(x[:, 1:], y[:, :-1])
    np.testing.assert_array_equal(x[1, 0], y[0, -1])  # consecutive windows share one token
    assert s.epochs_completed == pytest.approx(8 / 9)
    # Each document is followed by EOT and the domain of a target is its document's domain.
    stream0, dom0 = s._epoch_stream(0)
    assert sorted(stream0.tolist()) == [0, 0, 0, 1, 2, 3, 4, 5, 6]
    doc_dom = {1: 0, 2: 0, 3: 0, 4: 1, 5: 1, 6: 2}
    for t, dd in zip(stream0, dom0, strict=True):
        if t:
            assert doc_dom[t] == dd
    # Crossing into epoch 1: the window continues with epoch 1's (differently shuffled) stream.
    x, y, d = s.next_batch()
    stream1, _ = s._epoch_stream(1)
    np.testing.assert_array_equal(
        np.concatenate([x[0], y[0, -1:]]), np.concatenate([stream0[8:], stream1[:4]])
    )
    assert s.epochs_completed == pytest.approx(16 / 9)


def test_stream_tiny_selection_spans_epochs_and_empty():
    s = TokenStream([np.array([7])], np.array([0]), block_size=5, batch_size=3, seed=1)
    x, y, _ = s.next_batch()
    np.testing.assert_array_equal(x[0], [7, 0, 7, 0, 7])
    assert s.epochs_completed == pytest.approx(7.5)
    with pytest.raises(DQError, match="empty"):
        TokenStream([], np.array([]), 4, 2, 0)


def test_stream_resume_is_exact():
    docs, dom = random_docs(20)
    a = TokenStream(docs, dom, 8, 4, seed=3)
    for _ in range(5):
        a.next_batch()
    b = TokenStream(docs, dom, 8, 4, seed=3)
    b.load_state_dict(a.state_dict())
    for _ in range(10):
        for u, v in zip(a.next_batch(), b.next_batch(), strict=True):
            np.testing.assert_array_equal(u, v)
    assert a.epochs_completed == b.epochs_completed > 1


# --- training -----------------------------------------------------------------------------------


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
        docs, dom, GPTConfig(**TINY), tiny_train_cfg(**kw), seed, evaluate, ckpt_dir, progress=False
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
    assert _run(docs, dom, ckpt_dir=tmp_path / "resumed")["curve"] == full["curve"]
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
        docs, dom, GPTConfig(**TINY), tiny_train_cfg(), 0,
        lambda m, final: {"val": bits_per_byte(m, eval_docs, 100, 8, 4)["bpb"]}, None,
        progress=False, loss_weights=group_weighted,
    )  # fmt: skip
    assert len(calls) == 10
    # The weighted loss equals the mean here, so training matches up to float summation order.
    np.testing.assert_allclose(weighted["train_loss"], plain["train_loss"], rtol=1e-4)


_ALLOC_LOOP = """
import resource, sys
import torch
from dqreview.runner import keep_freed_memory
if sys.argv[1] == "reuse":
    assert keep_freed_memory()
def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for i in range(20):  # 48 MiB of float32, over glibc's largest mmap threshold; the heap settles first
    if i == 10:
        before = faults()
    torch.ones(48 << 18).sum()
print(faults() - before)
"""


def test_keep_freed_memory_stops_page_faults_on_large_tensors():
    # A training step frees and re-allocates its 32 MiB logits; by default every step faults them in again.
    faults = {
        mode: int(
            subprocess.run(
                [sys.executable, "-c", _ALLOC_LOOP, mode], capture_output=True, text=True, check=True
            ).stdout
        )
        for mode in ("default", "reuse")
    }
    assert faults["default"] > 10 * 12_000  # 12,288 pages of 4 KiB per allocation
    assert faults["reuse"] < 1_000
