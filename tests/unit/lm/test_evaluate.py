"""dqreview.lm.evaluate: bits per byte (every token predicted once, against a uniform model) and evaluation sets."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from conftest import TINY_GPT, random_docs
from dqreview.lm import GPT, GPTConfig, bits_per_byte, evaluate_sets

pytestmark = pytest.mark.usefixtures("one_thread")


def uniform_model(vocab=64):
    model = GPT(GPTConfig(**{**TINY_GPT, "vocab_size": vocab}))
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
