"""Bits per byte of a model on fixed evaluation sets.

Bits per byte (rather than per token) is independent of the tokenizer's compression, so runs
remain comparable however the vocabulary splits a domain's text.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from dqreview.lm.model import GPT
from dqreview.lm.tokenizer import EOT


def _eval_stream(docs: list[np.ndarray]) -> np.ndarray:
    """``EOT d1 EOT d2 EOT ... dn EOT``: the leading EOT gives the first token a context."""
    eot = np.array([EOT], dtype=np.int64)
    return np.concatenate([eot] + [part for d in docs for part in (np.asarray(d, dtype=np.int64), eot)])


@torch.no_grad()
def bits_per_byte(
    model: GPT, docs: list[np.ndarray], n_bytes: int, block_size: int, batch_size: int, device: str = "cpu"
) -> dict[str, float | int]:
    """Bits per UTF-8 byte of ``docs`` under ``model``.

    The stream ``EOT d1 EOT d2 EOT ... dn EOT`` is cut into non-overlapping windows: inputs
    ``s[iT:(i+1)T]``, targets ``s[iT+1:(i+1)T+1]``, the last window possibly shorter. Every
    token after the leading EOT is therefore predicted exactly once; contexts restart at each
    window boundary (no sliding window), which is cheap and identical for every model.

    Parameters
    ----------
    model : GPT
    docs : list of int arrays
        Token ids of each document (without EOT).
    n_bytes : int
        Sum of the documents' UTF-8 byte lengths.
    block_size, batch_size : int
        Window length and windows per forward pass.
    device : str

    Returns
    -------
    dict
        ``bpb`` = total NLL (nats) / (ln 2 * bytes) with ``bytes = n_bytes + len(docs)``: each of
        the ``len(docs)`` predicted EOT separators counts as one byte, like a newline between
        documents, so predicting the end of a document is charged rather than free.
        Also ``nll_nats`` (total), ``n_tokens`` (tokens predicted) and ``n_bytes`` (= bytes).
    """
    if len(docs) == 0:
        raise ValueError("bits_per_byte needs at least one document")
    s = torch.from_numpy(_eval_stream(docs))
    n_pred = len(s) - 1
    T = block_size
    n_full = n_pred // T
    was_training = model.training
    model.eval()
    total = 0.0
    counted = 0
    try:
        # Full windows in batches; a view of the stream avoids copying it.
        for start in range(0, n_full, batch_size):
            stop = min(start + batch_size, n_full)
            x = s[start * T : stop * T].view(-1, T).to(device)
            y = s[start * T + 1 : stop * T + 1].view(-1, T).to(device)
            _, loss = model(x, y)
            total += loss.double().sum().item()
            counted += y.numel()
        if n_pred > n_full * T:  # the short last window
            x = s[n_full * T : n_pred].view(1, -1).to(device)
            y = s[n_full * T + 1 : n_pred + 1].view(1, -1).to(device)
            _, loss = model(x, y)
            total += loss.double().sum().item()
            counted += y.numel()
    finally:
        model.train(was_training)
    assert counted == n_pred
    n_bytes_total = int(n_bytes) + len(docs)
    return {
        "bpb": total / (math.log(2) * n_bytes_total),
        "nll_nats": total,
        "n_tokens": counted,
        "n_bytes": n_bytes_total,
    }


def evaluate_sets(
    model: GPT,
    sets: dict[str, tuple[list[np.ndarray], int]],
    block_size: int,
    batch_size: int,
    device: str = "cpu",
) -> dict[str, dict[str, float | int]]:
    """:func:`bits_per_byte` for each named set ``{name: (docs, n_bytes)}``."""
    return {
        name: bits_per_byte(model, docs, nb, block_size, batch_size, device)
        for name, (docs, nb) in sets.items()
    }
