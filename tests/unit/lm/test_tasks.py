"""Likelihood-scored multiple-choice tasks."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from conftest import REPO
from dqreview.errors import DQError
from dqreview.lm.model import GPT, GPTConfig
from dqreview.lm.tasks import continuation_loglik, load_task, score_task
from dqreview.lm.tokenizer import EOT, train_tokenizer

TEXTS = [
    "the capital of france is paris. " * 3,
    "water freezes at zero degrees celsius. " * 3,
    "hello how are you",
] * 5


@pytest.fixture(scope="module")
def tok():
    return train_tokenizer(TEXTS, vocab_size=300, min_frequency=1)


def _model(vocab, block=32, seed=0):
    torch.manual_seed(seed)
    return GPT(GPTConfig(n_layer=1, n_head=2, n_embd=16, block_size=block, vocab_size=vocab)).eval()


def test_loglik_matches_per_token_loss(tok):
    model = _model(tok.get_vocab_size())
    ctx, cont = tok.encode("the capital of").ids, tok.encode(" france is").ids
    seq = torch.tensor([EOT, *ctx, *cont])
    with torch.no_grad():
        _, loss = model(seq[None, :-1], seq[None, 1:])
    expected = -float(loss[0, -len(cont) :].sum())
    assert continuation_loglik(model, ctx, cont) == pytest.approx(expected, rel=1e-6)


def test_uniform_model_prefers_fewer_tokens(tok):
    model = _model(tok.get_vocab_size())
    with torch.no_grad():
        model.lm_head.weight.zero_()  # tied: every logit is 0, p = 1/V for every token
    V = tok.get_vocab_size()
    short, long = " paris", " zzqx zzqx zzqx"
    n_short, n_long = len(tok.encode(short).ids), len(tok.encode(long).ids)
    assert n_short < n_long
    assert continuation_loglik(model, tok.encode("x").ids, tok.encode(short).ids) == pytest.approx(
        -n_short * math.log(V)
    )
    items = [
        {"context": "x", "choices": [long, short], "answer": 1},
        {"context": "y", "choices": [short, long], "answer": 1},
    ]
    res = score_task(model, tok, items)
    assert res == {"acc": 0.5, "acc_norm": res["acc_norm"], "n": 2}
    per_byte = np.array([-n_short * math.log(V) / len(short), -n_long * math.log(V) / len(long)])
    expected_norm = 0.5 * (int(np.argmax(per_byte[::-1]) == 1) + int(np.argmax(per_byte) == 1))
    assert res["acc_norm"] == expected_norm


def test_context_longer_than_block_is_left_truncated(tok):
    model = _model(tok.get_vocab_size(), block=8)
    ctx = tok.encode("the capital of france is paris. " * 4).ids
    assert np.isfinite(continuation_loglik(model, ctx, tok.encode(" paris").ids))


def test_task_file_checks(tmp_path):
    assert len(load_task(REPO / "configs/tasks/tiny_cloze.jsonl")) == 6
    bad = tmp_path / "t.jsonl"
    bad.write_text(json.dumps({"context": "a", "choices": ["b", "c"], "answer": 2}) + "\n")
    with pytest.raises(DQError, match=r"t\.jsonl:1: 'answer'"):
        load_task(bad)
    bad.write_text('{"context": "a", "choices": ["b"]\n')
    with pytest.raises(DQError, match=r"t\.jsonl:1: invalid JSON"):
        load_task(bad)
    with pytest.raises(DQError, match="not found"):
        load_task(tmp_path / "missing.jsonl")
