"""dqreview.lm.model: the GPT's config, per-token loss, tied head, FLOPs per token and causality."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from conftest import TINY_GPT
from dqreview.errors import DQError
from dqreview.lm import GPT, GPTConfig

pytestmark = pytest.mark.usefixtures("one_thread")


def test_config_rejects_unknown_key():
    with pytest.raises(DQError, match="n_layers"):
        GPTConfig.from_dict({**TINY_GPT, "n_layers": 2})
    cfg = GPTConfig.from_dict({k: v for k, v in TINY_GPT.items() if k != "vocab_size"}, vocab_size=64)
    assert cfg.vocab_size == 64 and cfg.tie_embeddings


def test_per_token_loss_matches_cross_entropy():
    torch.manual_seed(0)
    model = GPT(GPTConfig(**TINY_GPT))
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
    model = GPT(GPTConfig(**TINY_GPT)).eval()
    x = torch.randint(0, 64, (1, 8))
    x2 = x.clone()
    x2[0, 5] = (x2[0, 5] + 1) % 64
    a, b = model(x)[0], model(x2)[0]
    torch.testing.assert_close(a[:, :5], b[:, :5])
    assert not torch.allclose(a[:, 5:], b[:, 5:])
