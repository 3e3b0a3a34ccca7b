"""Diversity and alignment coefficients: formulas, batches, bounds, and their ordering on real text.

The real-text checks use a probe trained briefly in the test on three offline corpora that ship with
Python itself: English prose (the pydoc topic help), Python source (the stdlib ``json`` and ``email``
packages) and licence text (the interpreter's LICENSE.txt).
"""

from __future__ import annotations

import re
import sysconfig
from pathlib import Path

import numpy as np
import pytest
import torch

from dqreview import task2vec as t2v
from dqreview.errors import DQError
from dqreview.lm import GPTConfig, TokenStream, Trainer, encode_batch, make_optimizer, train_tokenizer
from dqreview.lm.model import GPT
from dqreview.measures import diversity as dv
from dqreview.probe import gpt_probe

WINDOW, BATCHES, BATCH = 32, 6, 8
EMBED = dict(window=WINDOW, layers="all", finetune={"epochs": 2})


def chunks(text: str, words: int = 40) -> list[str]:
    tokens = text.split(" ")
    return [" ".join(tokens[i : i + words]) for i in range(0, len(tokens) - words + 1, words)]


def corpora(n: int = 40) -> dict[str, list[str]]:
    from pydoc_data.topics import topics

    stdlib = Path(sysconfig.get_paths()["stdlib"])
    prose = chunks(re.sub(r"\s+", " ", " ".join(topics[k] for k in sorted(topics))))
    code = []
    for path in sorted((stdlib / "json").glob("*.py")) + sorted((stdlib / "email").glob("*.py")):
        code += chunks(path.read_text(encoding="utf-8"))
    licence = chunks(re.sub(r"\s+", " ", (stdlib / "LICENSE.txt").read_text(encoding="utf-8")))
    return {
        "target": prose[: 2 * n : 2],
        "prose2": prose[1 : 2 * n : 2],
        "code": code[:n],
        "licence": licence[:n],
    }


@pytest.fixture(scope="module")
def setup():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    texts = corpora()
    tok = train_tokenizer([t for v in texts.values() for t in v], vocab_size=400, min_frequency=2)
    docs = {k: [a.astype(np.int64) for a in encode_batch(tok, v)] for k, v in texts.items()}
    cfg = GPTConfig(n_layer=1, n_head=2, n_embd=32, block_size=WINDOW, vocab_size=tok.get_vocab_size())
    train = dict(lr=5e-3, min_lr=5e-4, warmup_steps=10, grad_clip=1.0)
    all_docs = [d for k in ("target", "code", "licence") for d in docs[k]]
    torch.manual_seed(0)
    model = GPT(cfg)
    stream = TokenStream(all_docs, np.zeros(len(all_docs), dtype=np.int64), WINDOW, 16, 0)
    trainer = Trainer(model, make_optimizer(model, 5e-3, 0.1), stream, train, total_steps=200)
    losses = [trainer.step().loss for _ in range(200)]
    assert np.mean(losses[-5:]) < np.mean(losses[:5]) - 1.0  # it learned something
    probe = gpt_probe(model, tok)
    V = tok.get_vocab_size()
    docs["lower"] = dv.lower_bound_docs(40, WINDOW, V, probe.eos_id, seed=0)
    docs["upper"] = dv.upper_bound_docs(40, WINDOW, V, seed=0)
    emb = {
        name: dv.dataset_embeddings(probe, d, BATCHES, BATCH, seed=0, key=name, **EMBED)
        for name, d in docs.items()
    }
    yield probe, docs, emb
    torch.set_num_threads(before)


def test_ordering_lower_domains_upper(setup):
    _, _, emb = setup
    div = {k: dv.diversity(e).value for k, e in emb.items()}
    for name in ("target", "code", "licence"):
        assert div["lower"] < div[name] < div["upper"], div


def test_mixture_more_diverse_than_its_lower_part(setup):
    probe, docs, emb = setup
    div = {k: dv.diversity(e).value for k, e in emb.items()}
    low = min(("code", "licence"), key=div.get)
    mixture = docs["code"] + docs["licence"]
    e_mix = dv.dataset_embeddings(probe, mixture, BATCHES, BATCH, seed=0, key="mix", **EMBED)
    assert dv.diversity(e_mix).value > div[low], (div, dv.diversity(e_mix).value)


def test_target_aligns_best_with_itself(setup):
    probe, docs, emb = setup
    again = dv.dataset_embeddings(probe, docs["target"], BATCHES, BATCH, seed=1, key="target-again", **EMBED)
    self_align = dv.alignment(emb["target"], again).value
    for other in ("code", "licence", "lower", "upper"):
        assert self_align > dv.alignment(emb["target"], emb[other]).value, other
    full_self = dv.full_alignment(emb["target"].mean(0), again.mean(0))
    for other in ("code", "licence", "lower", "upper"):
        assert full_self > dv.full_alignment(emb["target"].mean(0), emb[other].mean(0)), other


# --- formulas -----------------------------------------------------------------------------------


def test_diversity_is_mean_pairwise_distance_with_zeros_kept():
    rng = np.random.default_rng(0)
    E = rng.random((4, 10))
    E[3] = E[0]  # a duplicate batch: its zero distance must count
    D = t2v.distance_matrix(E)
    pairs = [D[i, j] for i in range(4) for j in range(i + 1, 4)]
    c = dv.diversity(E)
    assert c.n_pairs == 6 and 0.0 in pairs
    assert c.value == pytest.approx(np.mean(pairs), abs=1e-15)
    assert c.ci95 == pytest.approx(1.959963984540054 * np.std(pairs, ddof=1) / np.sqrt(6), abs=1e-15)


def test_identical_batches_give_zero_diversity():
    v = np.random.default_rng(1).random(20)
    c = dv.diversity(np.stack([v, v, v]))
    assert c.value == 0.0 and c.ci95 == 0.0 and c.n_pairs == 3


def test_cross_diversity_and_alignment():
    rng = np.random.default_rng(2)
    A, B = rng.random((3, 8)), rng.random((2, 8))
    D = t2v.distance_matrix(A, B)
    assert dv.cross_diversity(A, B).value == pytest.approx(D.mean(), abs=1e-15)
    assert dv.cross_diversity(A, B).n_pairs == 6
    assert dv.alignment(A, B).value == pytest.approx(1 - D.mean(), abs=1e-15)
    assert dv.full_alignment(A[0], A[0]) == 1.0
    with pytest.raises(DQError):
        dv.alignment(A, B, "l2")


@pytest.mark.parametrize("E", [np.ones((1, 5)), np.ones(5), np.ones((0, 5))])
def test_diversity_needs_two_batches(E):
    with pytest.raises(DQError):
        dv.diversity(E)


def test_sample_batches_distinct_seeds_and_no_replacement():
    batches = dv.sample_batches(100, 5, 10, seed=0, key="d")
    assert all(len(set(b.tolist())) == 10 for b in batches)
    assert len({tuple(b) for b in batches}) == 5  # the reference reused one seed: every batch equal
    again = dv.sample_batches(100, 5, 10, seed=0, key="d")
    assert all((a == b).all() for a, b in zip(batches, again, strict=True))
    assert not all(
        (a == b).all() for a, b in zip(batches, dv.sample_batches(100, 5, 10, 0, "e"), strict=True)
    )
    with pytest.raises(DQError, match="fewer than a batch"):
        dv.sample_batches(5, 2, 10, 0, "small")


def test_bounds_built_with_our_vocabulary():
    low = dv.lower_bound_docs(50, 64, vocab_size=300, eos_id=0, seed=0)
    tokens = np.concatenate(low)
    assert set(np.unique(tokens)) <= {0, int(tokens[tokens != 0][0])}
    assert tokens[tokens != 0][0] != 0 and (tokens == 0).mean() < 0.02
    up = np.concatenate(dv.upper_bound_docs(50, 64, vocab_size=300, seed=0))
    assert up.min() >= 0 and up.max() < 300 and len(np.unique(up)) > 250


def test_batch_vectors_from_documents_are_means():
    X = np.arange(20, dtype=np.float64).reshape(10, 2)
    B = dv.batch_vectors_from_documents(X, 3, 4, seed=0, key="s")
    idx = dv.sample_batches(10, 3, 4, 0, "s")
    np.testing.assert_allclose(B, np.stack([X[i].mean(0) for i in idx]))
    with pytest.raises(DQError, match="fewer than a batch"):
        dv.batch_vectors_from_documents(X[:2], 3, 4, seed=0, key="s")
