"""Training token stream over a selection of documents.

Each epoch is one pass over the selection in a fresh random order: documents are shuffled with
``np.random.default_rng((seed, epoch))``, each is followed by an EOT token (id 0), and the
result is concatenated into one stream with a parallel array of domain ids. Batches are
consecutive windows of ``block_size + 1`` tokens that overlap by one token (the last target of
one window is the first input of the next), so every token of the stream is a target exactly
once. The epoch streams are laid end to end: a window that runs past the end of one epoch
continues into the next, and a small selection simply repeats for more epochs. The position
``(epoch, cursor)`` is the whole state, so training resumes exactly.
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
    """

    def __init__(
        self, docs: list[np.ndarray], domains: np.ndarray, block_size: int, batch_size: int, seed: int
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
        self.tokens_per_epoch = sum(len(d) for d in self.docs) + len(self.docs)
        self.epoch = 0
        self.cursor = 0  # start of the next window within the current epoch's stream
        self._cache: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def _epoch_stream(self, epoch: int) -> tuple[np.ndarray, np.ndarray]:
        """Tokens and per-token domains of one epoch (cached: a window touches at most a few)."""
        if epoch not in self._cache:
            order = np.random.default_rng((self.seed, epoch)).permutation(len(self.docs))
            eot = np.array([EOT], dtype=np.int64)
            toks = np.concatenate([part for i in order for part in (self.docs[i], eot)])
            lengths = np.array([len(self.docs[i]) + 1 for i in order])
            doms = np.repeat(self.domains[order], lengths)
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
        """Passes over the selection so far (tokens consumed / tokens per epoch)."""
        return self.epoch + self.cursor / self.tokens_per_epoch

    def state_dict(self) -> dict[str, Any]:
        return {"epoch": int(self.epoch), "cursor": int(self.cursor)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        epoch, cursor = int(state["epoch"]), int(state["cursor"])
        if epoch < 0 or not 0 <= cursor < self.tokens_per_epoch:
            raise DQError(f"stream state {state} does not fit a selection of {self.tokens_per_epoch} tokens")
        self.epoch, self.cursor = epoch, cursor
