"""dqreview.lm.ngram: interpolated Kneser–Ney equals NLTK's and the textbook formula, sums to 1 over the
vocabulary for every context, scores the proxy's evaluation stream with the proxy's windows and bytes."""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import numpy as np
import pytest
from nltk.lm import KneserNeyInterpolated
from nltk.util import everygrams

from conftest import REPO
from dqreview.errors import DQError
from dqreview.lm import encode_batch, train_tokenizer
from dqreview.lm.evaluate import _eval_stream
from dqreview.lm.ngram import KneserNey, ngram_bits_per_byte, ngram_scores, training_stream

# Every token of the stream, the leading EOT included, also occurs after another token, and every bigram
# at the stream's start recurs later: then NLTK's count of a context's follower types equals the
# textbook's (continuation) one, and its unigram level has no zero.
DOCS = [np.array(d) for d in ([1, 2, 3, 1, 2], [2, 3, 3, 1], [3, 1, 2, 2], [1, 1, 2, 3])]
V = 4


def test_training_stream_is_one_pass_with_separators():
    assert training_stream(DOCS[:2]).tolist() == [0, 1, 2, 3, 1, 2, 0, 2, 3, 3, 1, 0]


@pytest.mark.parametrize("order", [2, 3])
@pytest.mark.parametrize("discount", [0.1, 0.75])
def test_equals_nltk_kneser_ney_interpolated(order, discount):
    """NLTK's KneserNeyInterpolated(order, discount=d) is discounts (0, d, ..., d): its unigram level is the
    plain continuation distribution. Every context of every length, seen or not, and every token."""
    stream = training_stream(DOCS)
    ours = KneserNey(order, V, discounts=(0.0,) + (discount,) * (order - 1)).fit(stream)
    words = [str(t) for t in stream]
    nltk_lm = KneserNeyInterpolated(order, discount=discount)
    nltk_lm.fit([list(everygrams(words, max_len=order))], words)
    for length in range(order):
        for context in itertools.product(range(V), repeat=length):
            expected = [nltk_lm.score(str(w), [str(c) for c in context]) for w in range(V)]
            np.testing.assert_allclose(ours.prob(context, range(V)), expected, rtol=1e-13, atol=0)


def test_bigram_by_hand():
    """Stream 0 1 2 1 2 0 1 0 (V = 4), estimated discounts, probabilities from the formula in fractions."""
    stream = np.array([0, 1, 2, 1, 2, 0, 1, 0])
    model = KneserNey(2, 4).fit(stream)
    # bigram counts: 01:2 12:2 21:1 20:1 10:1 -> n1 = 3, n2 = 2 -> D2 = 3/7
    # continuation N1+(.w): w=0: {2,1} = 2, w=1: {0,2} = 2, w=2: {1} = 1 -> n1 = 1, n2 = 2 -> D1 = 1/5
    d2, d1 = Fraction(3, 7), Fraction(1, 5)
    assert model.discounts == pytest.approx((float(d1), float(d2)), rel=1e-15)
    cont = {0: 2, 1: 2, 2: 1, 3: 0}
    p1 = {w: max(cont[w] - d1, 0) / 5 + d1 * 3 / 5 * Fraction(1, 4) for w in range(4)}
    bigrams = {(0, 1): 2, (1, 2): 2, (2, 1): 1, (2, 0): 1, (1, 0): 1}
    for u in range(4):
        total = sum(c for (a, _), c in bigrams.items() if a == u)
        types = sum(1 for (a, _) in bigrams if a == u)
        for w in range(4):
            if total == 0:  # context 3 never seen: all mass to the unigram level
                expected = p1[w]
            else:
                expected = max(bigrams.get((u, w), 0) - d2, 0) / total + d2 * types / total * p1[w]
            assert model.prob([u], [w])[0] == pytest.approx(float(expected), rel=1e-14), (u, w)
    # the unigram model (order 1) is the same formula on raw counts, ending in the uniform distribution
    unigram = KneserNey(1, 4).fit(stream)
    raw = {0: 3, 1: 3, 2: 2, 3: 0}  # n1 = 0: the discount falls back to 1/2
    expected = [float(max(raw[w] - Fraction(1, 2), 0) / 8 + Fraction(1, 2) * 3 / 8 / 4) for w in range(4)]
    np.testing.assert_allclose(unigram.prob([], range(4)), expected, rtol=1e-14)


@pytest.mark.parametrize("order", [1, 2, 3])
def test_probabilities_sum_to_one_for_seen_and_unseen_contexts(order):
    rng = np.random.default_rng(order)
    vocab = 9  # ids 7 and 8 never occur: unseen tokens and unseen contexts
    docs = [rng.integers(1, 7, size=rng.integers(1, 12)) for _ in range(30)]
    model = KneserNey(order, vocab).fit(training_stream(docs))
    for length in range(order):
        for context in itertools.product(range(vocab), repeat=length):
            p = model.prob(context, range(vocab))
            assert (p > 0).all()
            assert p.sum() == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("chunk", [3, 1 << 20])
def test_contexts_are_cut_at_the_proxys_windows(chunk, monkeypatch):
    """log_probs equals prob() token by token, each token seeing its window's tokens only (like the proxy),
    however the stream is chunked for scoring."""
    monkeypatch.setattr("dqreview.lm.ngram.SCORE_CHUNK", chunk)
    rng = np.random.default_rng(0)
    model = KneserNey(3, 8).fit(training_stream([rng.integers(1, 8, size=20) for _ in range(10)]))
    stream = _eval_stream([rng.integers(1, 8, size=n) for n in (5, 1, 9)])
    for block in (None, 1, 2, 4):
        lp = model.log_probs(stream, block)
        assert lp.shape == (len(stream) - 1,)
        for j in range(1, len(stream)):
            start = 0 if block is None else (j - 1) // block * block
            context = stream[max(start, j - 2) : j]
            assert lp[j - 1] == pytest.approx(math.log(model.prob(context, [stream[j]])[0]), rel=1e-13)
    # within one window a trigram differs from its own bigram level: the cut matters
    assert not np.allclose(model.log_probs(stream, 1), model.log_probs(stream, None))


def test_bits_per_byte_counts_like_the_proxy():
    docs = [np.array([1, 2, 3]), np.array([3]), np.array([2, 2, 1, 3])]
    model = KneserNey(2, 4).fit(training_stream(DOCS))
    out = ngram_bits_per_byte(model, docs, n_bytes=20, block_size=4)
    assert out["n_tokens"] == 8 + 3  # every document token and every trailing EOT, once
    assert out["n_bytes"] == 20 + 3  # each separator counts as one byte
    nll = -model.log_probs(_eval_stream(docs), 4).sum()
    assert out["nll_nats"] == pytest.approx(nll, rel=1e-14)
    assert out["bpb"] == pytest.approx(nll / (math.log(2) * 23), rel=1e-14)


def test_bigram_beats_unigram_on_real_text_and_is_deterministic():
    # the project's own documentation: English prose with code and tables
    text = "\n\n".join(path.read_text() for path in sorted((REPO / "docs").glob("*.md")))
    paragraphs = [p for p in text.split("\n\n") if len(p) > 80]
    assert len(paragraphs) > 100
    tok = train_tokenizer(paragraphs, vocab_size=400, min_frequency=2)
    tokens = encode_batch(tok, paragraphs)
    train, test = tokens[:-20], tokens[-20:]
    n_bytes = sum(len(p.encode()) for p in paragraphs[-20:])
    scores = ngram_scores(train, {"target": (test, n_bytes)}, [1, 2, 3], tok.get_vocab_size(), 128)
    assert scores["ngram2/bpb/target"] < scores["ngram1/bpb/target"] - 0.3
    assert scores["ngram3/bpb/target"] < scores["ngram2/bpb/target"]
    again = ngram_scores(train, {"target": (test, n_bytes)}, [1, 2, 3], tok.get_vocab_size(), 128)
    assert again == scores


def test_refuses_bad_orders_ids_and_discounts():
    with pytest.raises(DQError, match=r"lm\.ngram\.orders: an n-gram order must be 1 to 3; got 4"):
        KneserNey(4, 10)
    with pytest.raises(DQError, match=r"token ids must be in 0\.\.3; got 0\.\.5"):
        KneserNey(2, 4).fit(np.array([0, 1, 5]))
    with pytest.raises(DQError, match=r"discounts must be 2 numbers in \[0, 1\]"):
        KneserNey(2, 4, discounts=(0.5, 1.5))
    with pytest.raises(DQError, match="not fitted"):
        KneserNey(2, 4).prob([1], [2])
