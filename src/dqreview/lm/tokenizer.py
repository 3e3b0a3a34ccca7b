"""Byte-level BPE tokenizer for the proxy language model.

Byte-level BPE can encode any string (every byte is in the initial alphabet), so the
evaluation never meets an unknown token and bits per byte stay comparable across selections.
Token id 0 is the end-of-text separator ``<|endoftext|>`` (:data:`EOT`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from dqreview.errors import DQError
from dqreview.io import atomic_path

EOT_TOKEN = "<|endoftext|>"
EOT = 0  # the trainer places special tokens first, so the separator is always id 0


def train_tokenizer(texts: Iterable[str], vocab_size: int, min_frequency: int) -> Tokenizer:
    """Train a byte-level BPE tokenizer.

    Parameters
    ----------
    texts : iterable of str
        Training documents (usually the target reference split plus the pool).
    vocab_size : int
        Final vocabulary size, including the 256 byte tokens and ``<|endoftext|>``.
    min_frequency : int
        Minimum pair count for a merge.

    Returns
    -------
    tokenizers.Tokenizer
        With ``<|endoftext|>`` at id 0. The same texts in the same order give the same
        ``tokenizer.json``.
    """
    if vocab_size < 257 + 1:
        raise DQError(
            f"lm.tokenizer.vocab_size={vocab_size}: must be at least 258 (256 bytes + EOT + 1 merge)"
        )
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=[EOT_TOKEN],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    if tok.token_to_id(EOT_TOKEN) != EOT:  # guards against a library change in special-token order
        raise DQError(
            f"tokenizer training put {EOT_TOKEN} at id {tok.token_to_id(EOT_TOKEN)}, expected {EOT}"
        )
    return tok


def save_tokenizer(tok: Tokenizer, path: str | os.PathLike) -> None:
    """Write ``tokenizer.json`` atomically."""
    with atomic_path(path) as tmp:
        tok.save(str(tmp), pretty=True)


def load_tokenizer(path: str | os.PathLike) -> Tokenizer:
    """Load a tokenizer written by :func:`save_tokenizer`, checking the EOT id."""
    path = Path(path)
    if not path.exists():
        raise DQError(f"{path}: tokenizer file not found; rebuild it with snakemake")
    try:
        tok = Tokenizer.from_file(str(path))
    except Exception as exc:  # the Rust side raises a generic Exception for bad JSON
        raise DQError(
            f"{path}: not a readable tokenizer.json ({exc}); delete it and rerun snakemake"
        ) from None
    if tok.token_to_id(EOT_TOKEN) != EOT:
        raise DQError(f"{path}: {EOT_TOKEN} is not token id {EOT}; this tokenizer was not made by dq-review")
    return tok


def encode_batch(tok: Tokenizer, texts: list[str]) -> list[np.ndarray]:
    """Encode texts in parallel (Rust threads) into int32 token arrays, one per text.

    Special tokens are not parsed from text: a document containing the literal string
    ``<|endoftext|>`` is encoded as ordinary bytes, so only the stream builder inserts EOT.
    """
    # The flag is not saved in tokenizer.json, so set it per call and restore the caller's value.
    previous = tok.encode_special_tokens
    tok.encode_special_tokens = True
    try:
        encs = tok.encode_batch_fast(list(texts), add_special_tokens=False)
    finally:
        tok.encode_special_tokens = previous
    return [np.asarray(e.ids, dtype=np.int32) for e in encs]
