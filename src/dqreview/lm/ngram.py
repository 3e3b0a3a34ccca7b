"""An interpolated Kneser–Ney n-gram reference for the proxy LM, in bits per byte.

The n-gram model answers "how much of the proxy's result does a count model already get from the
same tokens?": it is fitted on a selection's training tokens with the proxy's own tokenizer and
scored on the proxy's evaluation sets with the proxy's byte denominator, so ``bpb/target`` and
``ngram2/bpb/target`` are directly comparable.

The model (plain interpolated Kneser–Ney; Chen & Goodman 1999, eq. 12 with one discount per order)
---------------------------------------------------------------------------------------------------
For order ``n`` and a context ``u`` of ``k − 1`` tokens, level ``k`` (``k = 1..n``) is

    p_k(w | u) = max(c_k(u w) − D_k, 0) / c_k(u •)  +  D_k · N_k(u •) / c_k(u •) · p_{k−1}(w | u')

where ``u'`` drops the first token of ``u``, ``c_k(u •) = Σ_w c_k(u w)`` and ``N_k(u •)`` is the number of
distinct ``w`` with ``c_k(u w) > 0``. The counts ``c_k`` are the raw n-gram counts at the top level
(``k = n``) and the continuation counts below it: ``c_k(g) = N1+(• g)``, the number of distinct tokens
that precede the k-gram ``g`` in the training stream. A context never seen at level ``k``
(``c_k(u •) = 0``) passes all its mass to level ``k − 1``. The recursion ends in the uniform
distribution over the tokenizer's vocabulary (``p_0(w) = 1 / V``), so every token has a probability
and the probabilities over the vocabulary sum to 1 for every context, seen or not.

Discounts: ``D_k = n1 / (n1 + 2 n2)`` (Ney, Essen & Kneser 1994), with ``n1``, ``n2`` the numbers of
k-grams whose level-``k`` count is 1 and 2; a level without singletons (``n1 = 0``, never the case on
real text) uses 0.5, since 0 would leave no mass for unseen tokens. Explicit discounts (one per order,
in ``[0, 1]``) may be given instead; ``discounts=(0, d, …, d)`` is NLTK's
``KneserNeyInterpolated(order, discount=d)`` (its unigram level is the continuation distribution with
no uniform floor), which the unit tests check probability by probability.

Streams and contexts, as the proxy sees them
--------------------------------------------
Fitting: the selection's documents, each once (one pass, not the proxy's repeated epochs) and in
the order given, as the stream ``EOT d1 EOT d2 EOT … dn EOT`` (id 0 = the end-of-text separator, as
in :class:`dqreview.lm.data.TokenStream`); n-grams are counted across document boundaries, as the
proxy's training windows cross them.

Scoring: the proxy's evaluation stream (:func:`dqreview.lm.evaluate.bits_per_byte`): ``EOT d1 EOT …
dn EOT``, every token after the leading EOT predicted once; bits per byte divide the total negative
log-likelihood by ``n_bytes + len(docs)`` (each predicted separator counts as one byte). A token's
context is the preceding ``n − 1`` tokens of that stream, crossing document boundaries as the
proxy's windows do, and cut at the proxy's window boundaries (``block_size``): the first target of a
window sees only the window's first input token, like the proxy, and is scored at the level its
shorter context reaches.

Everything is numpy: n-grams are packed into int64 keys (``((a · V) + b) · V + c``), counted with
``np.unique`` and looked up with ``np.searchsorted``; there is no Python loop over tokens.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from dqreview.errors import DQError
from dqreview.lm.tokenizer import EOT

MAX_ORDER = 3
SCORE_CHUNK = 1 << 20  # target tokens scored at once


def training_stream(docs: list[np.ndarray]) -> np.ndarray:
    """``EOT d1 EOT d2 EOT … dn EOT``: one pass over the documents in the order given."""
    eot = np.array([EOT], dtype=np.int64)
    return np.concatenate([eot] + [part for d in docs for part in (np.asarray(d, dtype=np.int64), eot)])


def _keys(stream: np.ndarray, k: int, vocab_size: int) -> np.ndarray:
    """Packed keys of every k-gram of ``stream`` (``len(stream) − k + 1`` of them, in stream order)."""
    n = len(stream) - k + 1
    key = np.zeros(max(n, 0), dtype=np.int64)
    for i in range(k):
        key = key * vocab_size + stream[i : i + n]
    return key


def _discount(counts: np.ndarray) -> float:
    n1 = int((counts == 1).sum())
    n2 = int((counts == 2).sum())
    return n1 / (n1 + 2 * n2) if n1 > 0 else 0.5


@dataclass
class _Level:
    """One order's counts: k-gram keys (sorted) with their counts, and per context the total and types."""

    keys: np.ndarray
    counts: np.ndarray
    ctx_keys: np.ndarray  # sorted (k−1)-gram keys; a single 0 for k = 1 (the empty context)
    ctx_total: np.ndarray  # c_k(u •)
    ctx_types: np.ndarray  # N_k(u •)
    discount: float


class KneserNey:
    """Interpolated Kneser–Ney n-gram model over token ids (see the module notes).

    Parameters
    ----------
    order : int
        ``n``, 1 to 3.
    vocab_size : int
        ``V``: token ids are ``0..V−1`` (the tokenizer's vocabulary; id 0 is EOT).
    discounts : sequence of float, optional
        ``D_1..D_n`` in ``[0, 1]``; default: estimated per order from the counts.
    """

    def __init__(self, order: int, vocab_size: int, discounts: tuple[float, ...] | None = None) -> None:
        if not 1 <= int(order) <= MAX_ORDER:
            raise DQError(f"lm.ngram.orders: an n-gram order must be 1 to {MAX_ORDER}; got {order}")
        if int(vocab_size) < 1 or int(vocab_size) ** int(order) >= 2**63:
            raise DQError(f"n-gram vocab_size {vocab_size} does not fit packed keys of order {order}")
        if discounts is not None and (
            len(discounts) != order or any(not 0.0 <= float(d) <= 1.0 for d in discounts)
        ):
            raise DQError(f"n-gram discounts must be {order} numbers in [0, 1]; got {list(discounts)}")
        self.order = int(order)
        self.vocab_size = int(vocab_size)
        self.fixed_discounts = None if discounts is None else tuple(float(d) for d in discounts)
        self.levels: list[_Level] = []

    def fit(self, stream: np.ndarray) -> KneserNey:
        """Count the n-grams of a token stream (e.g. :func:`training_stream`); returns ``self``."""
        stream = np.asarray(stream, dtype=np.int64)
        if len(stream) < self.order:
            raise DQError(f"an order-{self.order} n-gram model needs at least {self.order} training tokens")
        if stream.min() < 0 or stream.max() >= self.vocab_size:
            raise DQError(
                f"token ids must be in 0..{self.vocab_size - 1}; got {stream.min()}..{stream.max()}"
            )
        V, n = self.vocab_size, self.order
        levels: list[_Level] = []
        top_keys, top_counts = np.unique(_keys(stream, n, V), return_counts=True)
        higher_keys = top_keys  # distinct (k+1)-grams, for the continuation counts of level k
        for k in range(n, 0, -1):
            if k == n:
                keys, counts = top_keys, top_counts
            else:  # N1+(• g): distinct (k+1)-grams ending in g
                keys, counts = np.unique(higher_keys % V**k, return_counts=True)
                higher_keys = keys
            ctx = keys // V  # sorted, since keys are
            ctx_keys, start = np.unique(ctx, return_index=True)
            total = np.add.reduceat(counts, start)
            types = np.diff(np.append(start, len(keys)))
            d = _discount(counts) if self.fixed_discounts is None else self.fixed_discounts[k - 1]
            levels.append(_Level(keys, counts.astype(np.int64), ctx_keys, total, types, d))
        self.levels = levels[::-1]  # levels[k − 1] is order k
        return self

    @property
    def discounts(self) -> tuple[float, ...]:
        """``D_1..D_n`` in use (after :meth:`fit`)."""
        return tuple(level.discount for level in self.levels)

    def _level_probs(self, contexts: np.ndarray, targets: np.ndarray) -> list[np.ndarray]:
        """``p_k(target | last k − 1 tokens of context)`` for k = 1..n, each of shape (m,).

        ``contexts`` is (m, n − 1) of token ids (only the last ``k − 1`` columns matter for level k).
        """
        if not self.levels:
            raise DQError("the n-gram model is not fitted: call fit() first")
        V = self.vocab_size
        p = np.full(len(targets), 1.0 / V)
        out = []
        for k, level in enumerate(self.levels, start=1):
            ctx = np.zeros(len(targets), dtype=np.int64)
            for j in range(k - 1):
                ctx = ctx * V + contexts[:, contexts.shape[1] - (k - 1) + j]
            ci = np.searchsorted(level.ctx_keys, ctx)
            ci_ok = np.minimum(ci, len(level.ctx_keys) - 1)
            seen = level.ctx_keys[ci_ok] == ctx
            key = ctx * V + targets
            wi = np.minimum(np.searchsorted(level.keys, key), len(level.keys) - 1)
            c = np.where(level.keys[wi] == key, level.counts[wi], 0)
            total = np.where(seen, level.ctx_total[ci_ok], 1)
            alpha = np.where(seen, np.maximum(c - level.discount, 0.0) / total, 0.0)
            gamma = np.where(seen, level.discount * level.ctx_types[ci_ok] / total, 1.0)
            p = alpha + gamma * p
            out.append(p)
        return out

    def prob(self, context, targets) -> np.ndarray:
        """``p(w | context)`` of each id in ``targets`` after one context (a sequence of up to n − 1 ids).

        A context shorter than ``n − 1`` tokens is scored at the level it reaches (as at a window start).
        """
        context = [int(t) for t in context][-(self.order - 1) :] if self.order > 1 else []
        targets = np.asarray(targets, dtype=np.int64)
        pad = np.zeros((len(targets), self.order - 1), dtype=np.int64)
        if context:
            pad[:, -len(context) :] = context
        return self._level_probs(pad, targets)[len(context)]

    def log_probs(self, stream: np.ndarray, block_size: int | None = None) -> np.ndarray:
        """Natural-log probability of ``stream[1:]``, each token given its preceding tokens in ``stream``.

        With ``block_size`` the contexts are cut at the proxy's evaluation windows: target ``j`` (1-based
        stream position) sees ``stream[max(j − n + 1, w):j]`` with ``w = ((j − 1) // block_size) · block_size``.
        """
        s = np.asarray(stream, dtype=np.int64)
        m = len(s) - 1
        if m < 1:
            raise DQError("an n-gram evaluation stream needs at least two tokens")
        out = np.empty(m)
        for a in range(1, m + 1, SCORE_CHUNK):  # chunks bound the temporaries (~250 bytes per token)
            j = np.arange(a, min(a + SCORE_CHUNK, m + 1))  # target positions in the stream
            out[j - 1] = self._log_probs_at(s, j, block_size)
        return out

    def _log_probs_at(self, s: np.ndarray, j: np.ndarray, block_size: int | None) -> np.ndarray:
        n = self.order
        reach = j if block_size is None else (j - 1) % int(block_size) + 1  # tokens of context available
        ctx_len = np.minimum(n - 1, reach)
        contexts = np.zeros((len(j), n - 1), dtype=np.int64)
        for i in range(1, n):  # column n − 1 − i holds the token i positions back (0 where cut)
            contexts[:, n - 1 - i] = np.where(ctx_len >= i, s[np.maximum(j - i, 0)], 0)
        probs = np.stack(self._level_probs(contexts, s[j]))  # (n, len(j))
        return np.log(probs[ctx_len, np.arange(len(j))])


def ngram_bits_per_byte(
    model: KneserNey, docs: list[np.ndarray], n_bytes: int, block_size: int | None
) -> dict[str, float | int]:
    """Bits per UTF-8 byte of ``docs`` under ``model``, counted as
    :func:`dqreview.lm.evaluate.bits_per_byte` counts the proxy's (same stream, tokens and bytes).

    Returns
    -------
    dict
        ``bpb``, ``nll_nats``, ``n_tokens`` and ``n_bytes`` (= ``n_bytes + len(docs)``).
    """
    from dqreview.lm.evaluate import _eval_stream

    if len(docs) == 0:
        raise DQError("n-gram bits per byte needs at least one document")
    lp = model.log_probs(_eval_stream(docs), block_size)
    total = float(-lp.sum())
    n_bytes_total = int(n_bytes) + len(docs)
    return {
        "bpb": total / (math.log(2) * n_bytes_total),
        "nll_nats": total,
        "n_tokens": len(lp),
        "n_bytes": n_bytes_total,
    }


def ngram_scores(
    docs: list[np.ndarray],
    eval_sets: dict[str, tuple[list[np.ndarray], int]],
    orders: list[int],
    vocab_size: int,
    block_size: int | None,
) -> dict[str, float]:
    """Fit one model per order on ``docs`` (:func:`training_stream`) and score every evaluation set.

    Returns
    -------
    dict
        ``ngram{n}/bpb/{set}`` for every order and set.
    """
    stream = training_stream(docs)
    scores = {}
    for n in orders:
        model = KneserNey(n, vocab_size).fit(stream)
        for name, (set_docs, nb) in eval_sets.items():
            scores[f"ngram{n}/bpb/{name}"] = ngram_bits_per_byte(model, set_docs, nb, block_size)["bpb"]
    return scores
