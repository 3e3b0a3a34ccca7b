"""Our proxy :class:`~dqreview.lm.model.GPT` as a Hugging Face ``GPT2LMHeadModel`` directory, and back.

An exported directory (``config.json``, ``model.safetensors``, ``tokenizer.json``, ``tokenizer_config.json``)
loads offline with ``AutoModelForCausalLM.from_pretrained(dir)`` and ``AutoTokenizer.from_pretrained(dir)``,
so any tool built on transformers (lm-eval-harness among them) runs on the proxies and the Task2Vec probe.

The two architectures are the same function:

- GELU: ours is ``F.gelu`` (exact, erf), GPT-2's ``activation_function="gelu"`` (not ``gelu_new``, the
  tanh approximation GPT-2 itself was trained with);
- LayerNorm eps 1e-5 (``nn.LayerNorm``'s default), pre-norm blocks and a final norm in both;
- biases: our default model has none (``bias=False``), GPT-2 always has them, so they are exported as
  zeros; on import a model whose biases are all zero becomes ``bias=False`` again;
- GPT-2's ``Conv1D`` stores weights as (in, out), the transpose of ``nn.Linear``; the fused q, k, v
  projection has the same q|k|v order in both;
- learned position embeddings of ``block_size`` positions (``n_positions``); attention scaled by
  1/sqrt(head_dim) (``scale_attn_weights``), no per-layer scaling;
- the head is tied to the token embedding when ``tie_embeddings`` (``tie_word_embeddings``).

The tokenizer is our byte-level BPE (:mod:`dqreview.lm.tokenizer`) as a ``PreTrainedTokenizerFast``
whose ``<|endoftext|>`` (id 0) is the end-of-text, beginning-of-text and padding token. Encoding with
special tokens (the transformers default) prepends it, because every training document was preceded by
it: log-likelihoods through the exported tokenizer then equal :func:`dqreview.lm.tasks.continuation_loglik`'s.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch

from dqreview.errors import DQError
from dqreview.lm.model import GPT, GPTConfig
from dqreview.lm.tokenizer import EOT, EOT_TOKEN

LAYER_NORM_EPS = 1e-5
#: key of ``config.json`` that keeps our exact :class:`GPTConfig` (transformers ignores unknown keys)
GPT_CONFIG_KEY = "dqreview_gpt"
#: files of an exported directory
HF_FILES = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json")


def to_hf_config(cfg: GPTConfig):
    """The ``GPT2Config`` of a model with the shape ``cfg``."""
    from transformers import GPT2Config

    return GPT2Config(
        vocab_size=cfg.vocab_size,
        n_positions=cfg.block_size,
        n_embd=cfg.n_embd,
        n_layer=cfg.n_layer,
        n_head=cfg.n_head,
        n_inner=4 * cfg.n_embd,
        activation_function="gelu",
        resid_pdrop=cfg.dropout,
        embd_pdrop=cfg.dropout,
        attn_pdrop=cfg.dropout,
        layer_norm_epsilon=LAYER_NORM_EPS,
        scale_attn_weights=True,
        scale_attn_by_inverse_layer_idx=False,
        reorder_and_upcast_attn=False,
        tie_word_embeddings=cfg.tie_embeddings,
        bos_token_id=EOT,
        eos_token_id=EOT,
        pad_token_id=EOT,
        **{GPT_CONFIG_KEY: cfg.to_dict()},
    )


def _pairs(cfg: GPTConfig) -> list[tuple[str, str, bool]]:
    """(our name, GPT-2 name, transpose) for every weight and bias (biases even when ours has none)."""
    out = [("wte.weight", "transformer.wte.weight", False), ("wpe.weight", "transformer.wpe.weight", False)]
    for i in range(cfg.n_layer):
        ours, theirs = f"blocks.{i}.", f"transformer.h.{i}."
        for a, b, is_linear in (
            ("ln1", "ln_1", False),
            ("attn.qkv", "attn.c_attn", True),
            ("attn.proj", "attn.c_proj", True),
            ("ln2", "ln_2", False),
            ("mlp.fc", "mlp.c_fc", True),
            ("mlp.proj", "mlp.c_proj", True),
        ):
            out.append((f"{ours}{a}.weight", f"{theirs}{b}.weight", is_linear))
            out.append((f"{ours}{a}.bias", f"{theirs}{b}.bias", False))
    out += [("ln_f.weight", "transformer.ln_f.weight", False), ("ln_f.bias", "transformer.ln_f.bias", False)]
    if not cfg.tie_embeddings:
        out.append(("lm_head.weight", "lm_head.weight", False))
    return out


@torch.no_grad()
def to_hf(model: GPT):
    """A ``GPT2LMHeadModel`` (float32, CPU, eval mode) computing the same logits as ``model``."""
    from transformers import GPT2LMHeadModel

    cfg = model.cfg
    hf = GPT2LMHeadModel(to_hf_config(cfg)).float().eval()
    ours = {k: v.detach().float().cpu() for k, v in model.state_dict().items()}
    theirs = dict(hf.named_parameters())
    for src, dst, transpose in _pairs(cfg):
        if src in ours:
            theirs[dst].copy_(ours[src].T if transpose else ours[src])
        elif src.endswith(".bias"):
            theirs[dst].zero_()  # our bias-free layers: GPT-2 always has a bias
        else:
            raise DQError(f"to_hf: our model has no {src}; is it a dqreview GPT?")
    if cfg.tie_embeddings and hf.lm_head.weight.data_ptr() != hf.transformer.wte.weight.data_ptr():
        hf.lm_head.weight.copy_(theirs["transformer.wte.weight"])
    return hf


@torch.no_grad()
def from_hf(hf) -> GPT:
    """Our :class:`GPT` from a ``GPT2LMHeadModel`` exported by :func:`to_hf` (or any GPT-2 with exact GELU)."""
    c = hf.config
    if c.activation_function != "gelu" or c.scale_attn_by_inverse_layer_idx or not c.scale_attn_weights:
        raise DQError(
            f"{getattr(c, '_name_or_path', 'model')}: activation {c.activation_function!r} / attention scaling "
            "differ from dqreview's GPT (exact GELU, 1/sqrt(head_dim)); only models exported by "
            "dqreview.lm.hf convert exactly"
        )
    if abs(c.layer_norm_epsilon - LAYER_NORM_EPS) > 0 or (c.n_inner or 4 * c.n_embd) != 4 * c.n_embd:
        raise DQError(f"{getattr(c, '_name_or_path', 'model')}: LayerNorm eps or MLP width differ from ours")
    theirs = {k: v.detach().float().cpu() for k, v in hf.named_parameters()}
    if "lm_head.weight" not in theirs:  # a tied head is listed once, as the token embedding
        theirs["lm_head.weight"] = hf.lm_head.weight.detach().float().cpu()
    stored = getattr(c, GPT_CONFIG_KEY, None)
    if stored is not None:
        cfg = GPTConfig.from_dict(dict(stored))
    else:
        has_bias = any(bool(theirs[k].abs().max() > 0) for k in theirs if k.endswith(".bias"))
        cfg = GPTConfig(
            n_layer=c.n_layer, n_head=c.n_head, n_embd=c.n_embd, block_size=c.n_positions,
            vocab_size=c.vocab_size, tie_embeddings=bool(c.tie_word_embeddings),
            dropout=float(c.resid_pdrop), bias=bool(has_bias),
        )  # fmt: skip
    model = GPT(cfg)
    ours = dict(model.named_parameters())
    for dst, src, transpose in _pairs(cfg):
        if dst not in ours:
            if theirs[src].abs().max() > 0:
                raise DQError(f"from_hf: {src} is non-zero but the model's config says bias=False")
            continue
        value = theirs[src]
        ours[dst].copy_(value.T if transpose else value)
    if cfg.tie_embeddings:
        model.lm_head.weight = model.wte.weight
    return model.eval()


def hf_tokenizer(tokenizer, block_size: int):
    """Our ``tokenizers.Tokenizer`` as a ``PreTrainedTokenizerFast`` that prepends ``<|endoftext|>``."""
    from tokenizers import Tokenizer, processors
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer.from_str(tokenizer.to_str())  # a copy: the caller's tokenizer keeps its post-processor
    tok.post_processor = processors.TemplateProcessing(
        single=f"{EOT_TOKEN} $A", pair=f"{EOT_TOKEN} $A {EOT_TOKEN} $B", special_tokens=[(EOT_TOKEN, EOT)]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=EOT_TOKEN,
        eos_token=EOT_TOKEN,
        pad_token=EOT_TOKEN,
        unk_token=None,
        model_max_length=block_size,
        clean_up_tokenization_spaces=False,
    )


def export_hf(model: GPT, tokenizer, directory: str | os.PathLike) -> None:
    """Write ``model`` and ``tokenizer`` as a Hugging Face directory, atomically (all files or none)."""
    from transformers.utils import logging as hf_logging

    from dqreview.io import atomic_dir

    hf = to_hf(model)
    tok = hf_tokenizer(tokenizer, model.cfg.block_size)
    hf_logging.disable_progress_bar()  # one shard per small model: a bar in every train log says nothing
    with atomic_dir(directory) as tmp:
        hf.save_pretrained(tmp, safe_serialization=True)
        tok.save_pretrained(tmp)


def load_hf(directory: str | os.PathLike) -> tuple[GPT, Any]:
    """Our GPT and the ``PreTrainedTokenizerFast`` of a directory written by :func:`export_hf`."""
    from transformers import AutoTokenizer, GPT2LMHeadModel

    directory = Path(directory)
    missing = [f for f in HF_FILES if not (directory / f).exists()]
    if missing:
        raise DQError(f"{directory}: missing {missing}; rebuild it with snakemake (the rule that trained it)")
    if json.loads((directory / "config.json").read_text()).get("model_type") != "gpt2":
        raise DQError(f"{directory}/config.json: not a GPT-2 model directory written by dqreview.lm.hf")
    hf = GPT2LMHeadModel.from_pretrained(directory, dtype=torch.float32)
    return from_hf(hf), AutoTokenizer.from_pretrained(directory)
