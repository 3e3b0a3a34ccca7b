"""dqreview.lm.data: the token stream (epochs, windows, exact resume, rounds with token quotas) and DoReMi's
stratified domain-mixture batches."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import domain_docs, random_docs, round_docs
from dqreview.errors import DQError
from dqreview.lm.data import DomainMixtureStream, TokenStream

# --- TokenStream ------------------------------------------------------------------------------------


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


# --- DomainMixtureStream (DoReMi's batches) --------------------------------------------------------


def test_stratified_batches_hold_every_domain():
    docs, dom = domain_docs()
    s = DomainMixtureStream(docs, dom, 3, 8, 4, seed=1, weights=np.full(3, 1 / 3), min_per_domain=1)
    for _ in range(20):
        x, y, d = s.next_batch()
        assert x.shape == y.shape == d.shape == (4, 8)
        assert set(np.unique(d[:, -1])) == {0, 1, 2}
    with pytest.raises(DQError, match="cannot hold"):
        DomainMixtureStream(docs, dom, 3, 8, 2, seed=1, weights=np.full(3, 1 / 3), min_per_domain=1)


# --- rounds (Skill-It's schedule) ------------------------------------------------------------------


def _round_of(tokens):
    t = np.asarray(tokens)
    return t[t > 0] // 10  # EOT (0) belongs to no round


def test_stream_plays_rounds_in_order_with_quotas_and_resumes():
    docs, rounds = round_docs()
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
