"""Training token stream over a selection of documents.

Each epoch is one pass over the selection in a fresh random order: documents are shuffled with
``np.random.default_rng((seed, epoch))``, each is followed by an EOT token (id 0), and the
result is concatenated into one stream with a parallel array of domain ids. Batches are
consecutive windows of ``block_size + 1`` tokens that overlap by one token (the last target of
one window is the first input of the next), so every token of the stream is a target exactly
once. The epoch streams are laid end to end: a window that runs past the end of one epoch
continues into the next, and a small selection simply repeats for more epochs. The position
``(epoch, cursor)`` is the whole state, so training resumes exactly.

Round order (a schedule such as Skill-It's): when each document carries a ``round``, an epoch is
the rounds in increasing order, and round ``r`` is ``round_tokens[r]`` tokens of shuffled passes
over its own documents (pass ``p`` of round ``r`` in epoch ``e`` ordered by
``default_rng((seed, e, r, p))``), cut at the quota. So every document of round r is streamed
before any of round r + 1, each round is stretched (repeated) to its share of the training tokens
and shuffled within itself; without quotas a round is one shuffled pass.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dqreview.errors import DQError
from dqreview.lm.tokenizer import EOT


class TokenStream:
    """Endless shuffled token stream over a selection.

    Parameters
    ----------
    docs : list of int arrays
        Token ids of each selected document (without EOT).
    domains : int array, shape (len(docs),)
        Domain id of each document; an EOT separator takes the domain of the document before it.
    block_size, batch_size : int
        Window length ``T`` and windows per batch ``B``.
    seed : int
        Shuffling seed; epoch ``e`` is ordered by ``default_rng((seed, e))``.
    rounds : int array, shape (len(docs),), optional
        Round of each document: rounds are streamed in increasing order (see the module notes).
    round_tokens : sequence of int, optional
        Tokens of each round (sorted round order) per epoch; default one pass over each round.
    """

    def __init__(
        self,
        docs: list[np.ndarray],
        domains: np.ndarray,
        block_size: int,
        batch_size: int,
        seed: int,
        rounds: np.ndarray | None = None,
        round_tokens: list[int] | None = None,
    ) -> None:
        if len(docs) == 0:
            raise DQError("the selection is empty: there are no documents to train on")
        domains = np.asarray(domains)
        if domains.shape != (len(docs),):
            raise DQError(f"got {len(docs)} documents but domains has shape {domains.shape}")
        self.docs = [np.asarray(d, dtype=np.int64) for d in docs]
        self.domains = domains.astype(np.int64)
        self.block_size = block_size
        self.batch_size = batch_size
        self.seed = seed
        self.selection_tokens = sum(len(d) for d in self.docs) + len(self.docs)
        self.tokens_per_epoch = self.selection_tokens
        self.rounds: np.ndarray | None = None
        if rounds is not None:
            self._init_rounds(rounds, round_tokens)
        elif round_tokens is not None:
            raise DQError("round_tokens given without rounds")
        self.epoch = 0
        self.cursor = 0  # start of the next window within the current epoch's stream
        self._cache: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def _init_rounds(self, rounds: np.ndarray, round_tokens: list[int] | None) -> None:
        rounds = np.asarray(rounds)
        if rounds.shape != (len(self.docs),) or not np.issubdtype(rounds.dtype, np.integer):
            raise DQError(
                f"rounds must be one integer per document; got shape {rounds.shape}, dtype {rounds.dtype}"
            )
        self.rounds = rounds.astype(np.int64)
        self.round_ids = np.unique(self.rounds)
        self.round_members = [np.flatnonzero(self.rounds == r) for r in self.round_ids]
        if round_tokens is None:
            round_tokens = [int(sum(len(self.docs[i]) + 1 for i in m)) for m in self.round_members]
        if len(round_tokens) != len(self.round_ids) or any(int(q) < 1 for q in round_tokens):
            raise DQError(
                f"round_tokens: expected {len(self.round_ids)} positive token counts (one per round "
                f"{self.round_ids.tolist()}); got {list(round_tokens)}"
            )
        self.round_tokens = [int(q) for q in round_tokens]
        self.tokens_per_epoch = sum(self.round_tokens)

    def _concat(self, order: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        eot = np.array([EOT], dtype=np.int64)
        toks = np.concatenate([part for i in order for part in (self.docs[i], eot)])
        lengths = np.array([len(self.docs[i]) + 1 for i in order])
        return toks, np.repeat(self.domains[order], lengths)

    def _round_epoch(self, epoch: int) -> tuple[np.ndarray, np.ndarray]:
        toks, doms = [], []
        for r, members, quota in zip(self.round_ids, self.round_members, self.round_tokens, strict=True):
            have, p = 0, 0
            while have < quota:  # shuffled passes over the round's documents, cut at the quota
                order = members[
                    np.random.default_rng((self.seed, epoch, int(r), p)).permutation(len(members))
                ]
                t, d = self._concat(order)
                t, d = t[: quota - have], d[: quota - have]
                toks.append(t)
                doms.append(d)
                have += len(t)
                p += 1
        return np.concatenate(toks), np.concatenate(doms)

    def _epoch_stream(self, epoch: int) -> tuple[np.ndarray, np.ndarray]:
        """Tokens and per-token domains of one epoch (cached: a window touches at most a few)."""
        if epoch not in self._cache:
            if self.rounds is not None:
                toks, doms = self._round_epoch(epoch)
            else:
                order = np.random.default_rng((self.seed, epoch)).permutation(len(self.docs))
                toks, doms = self._concat(order)
            # Keep only epochs near the cursor; windows never move backwards.
            self._cache = {e: v for e, v in self._cache.items() if e >= epoch - 1}
            self._cache[epoch] = (toks, doms)
        return self._cache[epoch]

    def _take(self, epoch: int, cursor: int, n: int) -> tuple[np.ndarray, np.ndarray]:
        """``n`` tokens starting at ``(epoch, cursor)``, crossing epoch boundaries as needed."""
        toks, doms = [], []
        while n > 0:
            t, d = self._epoch_stream(epoch)
            part = t[cursor : cursor + n]
            toks.append(part)
            doms.append(d[cursor : cursor + n])
            n -= len(part)
            epoch, cursor = epoch + 1, 0
        return np.concatenate(toks), np.concatenate(doms)

    def next_batch(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return ``x``, ``y`` (int64, (B, T)) and the domain of each target token (int64, (B, T))."""
        T = self.block_size
        xs, ys, ds = [], [], []
        for _ in range(self.batch_size):
            w, d = self._take(self.epoch, self.cursor, T + 1)
            xs.append(w[:-1])
            ys.append(w[1:])
            ds.append(d[1:])
            self.cursor += T
            while self.cursor >= self.tokens_per_epoch:  # a loop: tiny selections span several epochs
                self.cursor -= self.tokens_per_epoch
                self.epoch += 1
        return np.stack(xs), np.stack(ys), np.stack(ds)

    @property
    def epochs_completed(self) -> float:
        """Passes over the selection so far (tokens consumed / tokens of the selection)."""
        if self.rounds is None:
            return self.epoch + self.cursor / self.tokens_per_epoch
        return (self.epoch * self.tokens_per_epoch + self.cursor) / self.selection_tokens

    def state_dict(self) -> dict[str, Any]:
        return {"epoch": int(self.epoch), "cursor": int(self.cursor)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        epoch, cursor = int(state["epoch"]), int(state["cursor"])
        if epoch < 0 or not 0 <= cursor < self.tokens_per_epoch:
            raise DQError(f"stream state {state} does not fit a selection of {self.tokens_per_epoch} tokens")
        self.epoch, self.cursor = epoch, cursor


class DomainMixtureStream:
    """Batches whose windows are drawn per domain from a mixture (for mixture-learning proxies).

    Each domain has its own :class:`TokenStream` (its documents only, shuffled epochs). A batch of
    ``B`` windows holds ``min_per_domain`` windows of every domain — so, with ``min_per_domain >= 1``,
    every batch contains every domain (DoReMi's proxy needs this) — and the remaining
    ``B − k · min_per_domain`` windows take their domain i.i.d. from ``weights``, drawn with
    ``default_rng((seed, batch index))``. With ``min_per_domain = 0`` the domains of a batch follow
    ``weights`` exactly in expectation (a reference model on the natural proportions; a Skill-It
    round's mixture). The windows of a batch are grouped by domain; no loss here depends on where
    a window sits in the batch.

    Parameters
    ----------
    docs : list of int arrays
    domain_ids : int array, shape (len(docs),)
        Domain of each document, in 0..k−1.
    k : int
        Number of domains.
    block_size, batch_size, seed : int
    weights : array, shape (k,)
        Sampling mixture over domains (non-negative, sums to 1); a domain with weight > 0 or with
        ``min_per_domain > 0`` must have documents.
    min_per_domain : int
    """

    def __init__(
        self,
        docs: list[np.ndarray],
        domain_ids: np.ndarray,
        k: int,
        block_size: int,
        batch_size: int,
        seed: int,
        weights: np.ndarray,
        min_per_domain: int = 0,
    ) -> None:
        from dqreview.hashing import stable_hash64

        domain_ids = np.asarray(domain_ids, dtype=np.int64)
        if domain_ids.shape != (len(docs),):
            raise DQError(f"got {len(docs)} documents but domain_ids has shape {domain_ids.shape}")
        if batch_size < k * min_per_domain:
            raise DQError(
                f"a batch of {batch_size} windows cannot hold {min_per_domain} window(s) of each of {k} domains"
            )
        self.k, self.block_size, self.batch_size, self.seed = k, block_size, batch_size, seed
        self.min_per_domain = int(min_per_domain)
        self.streams: list[TokenStream | None] = []
        for i in range(k):
            idx = np.flatnonzero(domain_ids == i)
            if len(idx) == 0:
                self.streams.append(None)
                continue
            sub_seed = stable_hash64("domain-stream", seed, i) % 2**62
            self.streams.append(TokenStream([docs[j] for j in idx], domain_ids[idx], block_size, 1, sub_seed))
        self.set_weights(weights)
        self.batches = 0  # batches drawn so far (keys the domain draws)

    def set_weights(self, weights: np.ndarray) -> None:
        """Change the sampling mixture (e.g. at a Skill-It round boundary)."""
        w = np.asarray(weights, dtype=np.float64)
        if w.shape != (self.k,) or not np.all(np.isfinite(w)) or (w < 0).any() or abs(w.sum() - 1.0) > 1e-6:
            raise DQError(f"mixture weights must be {self.k} non-negative numbers summing to 1; got {w}")
        empty = [i for i, s in enumerate(self.streams) if s is None and (w[i] > 0 or self.min_per_domain > 0)]
        if empty:
            raise DQError(f"domain(s) {empty} have no documents but are to be sampled")
        self.weights = w / w.sum()

    def next_batch(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``x``, ``y`` and per-token domains, each int64 (B, T), like :meth:`TokenStream.next_batch`."""
        counts = np.full(self.k, self.min_per_domain, dtype=np.int64)
        free = self.batch_size - int(counts.sum())
        if free:
            rng = np.random.default_rng((self.seed, self.batches))
            counts += rng.multinomial(free, self.weights)
        self.batches += 1
        xs, ys, ds = [], [], []
        for i, n in enumerate(counts):
            for _ in range(int(n)):
                x, y, d = self.streams[i].next_batch()
                xs.append(x)
                ys.append(y)
                ds.append(d)
        return np.concatenate(xs), np.concatenate(ys), np.concatenate(ds)
