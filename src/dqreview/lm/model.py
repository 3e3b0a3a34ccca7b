"""A small GPT (nanoGPT-style) used as the proxy language model.

Pre-LayerNorm transformer: token + learned position embeddings, ``n_layer`` blocks of causal
self-attention and a 4x GELU MLP, a final LayerNorm and a linear head that by default shares
its weight with the token embedding.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from dqreview.errors import DQError

FLOPS_FORMULA = "6*N + 12*n_layer*n_embd*block_size (N = non-embedding parameters; PaLM/nanoGPT estimate)"
"""Training FLOPs per token: 6N for the forward and backward matmuls plus 12·L·d·T for attention."""


@dataclass(frozen=True)
class GPTConfig:
    """Shape of the model. ``vocab_size`` comes from the tokenizer, the rest from ``lm.model``."""

    n_layer: int
    n_head: int
    n_embd: int
    block_size: int
    vocab_size: int
    tie_embeddings: bool = True
    dropout: float = 0.0
    bias: bool = False

    def __post_init__(self) -> None:
        if self.n_embd % self.n_head:
            raise DQError(f"lm.model: n_embd={self.n_embd} is not divisible by n_head={self.n_head}")
        for name in ("n_layer", "n_head", "n_embd", "block_size", "vocab_size"):
            if getattr(self, name) < 1:
                raise DQError(f"lm.model.{name}={getattr(self, name)}: must be a positive integer")

    @classmethod
    def from_dict(cls, d: dict[str, Any], **overrides: Any) -> GPTConfig:
        """Build from a config mapping; unknown keys are an error (they are usually typos)."""
        known = {f.name for f in dataclasses.fields(cls)}
        merged = {**d, **overrides}
        for key in merged:
            if key not in known:
                raise DQError(f"lm.model.{key}: unknown key; expected one of {sorted(known)}")
        missing = [
            f.name
            for f in dataclasses.fields(cls)
            if f.default is dataclasses.MISSING and f.name not in merged
        ]
        if missing:
            raise DQError(f"lm.model: missing key(s) {missing}")
        return cls(**merged)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class CausalSelfAttention(nn.Module):
    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        self.n_head = cfg.n_head
        self.qkv = nn.Linear(cfg.n_embd, 3 * cfg.n_embd, bias=cfg.bias)
        self.proj = nn.Linear(cfg.n_embd, cfg.n_embd, bias=cfg.bias)
        self.proj.residual_scale = True  # marks a residual projection for the scaled init
        self.dropout = cfg.dropout
        self.resid_drop = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)
        # (B, T, C) -> (B, n_head, T, head_dim)
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))
        y = F.scaled_dot_product_attention(
            q, k, v, is_causal=True, dropout_p=self.dropout if self.training else 0.0
        )
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        return self.resid_drop(self.proj(y))


class MLP(nn.Module):
    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        self.fc = nn.Linear(cfg.n_embd, 4 * cfg.n_embd, bias=cfg.bias)
        self.proj = nn.Linear(4 * cfg.n_embd, cfg.n_embd, bias=cfg.bias)
        self.proj.residual_scale = True
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.proj(F.gelu(self.fc(x))))


class Block(nn.Module):
    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(cfg.n_embd, bias=cfg.bias)
        self.attn = CausalSelfAttention(cfg)
        self.ln2 = nn.LayerNorm(cfg.n_embd, bias=cfg.bias)
        self.mlp = MLP(cfg)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class GPT(nn.Module):
    """Decoder-only transformer returning logits and per-token cross-entropy."""

    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.wte = nn.Embedding(cfg.vocab_size, cfg.n_embd)
        self.wpe = nn.Embedding(cfg.block_size, cfg.n_embd)
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer))
        self.ln_f = nn.LayerNorm(cfg.n_embd, bias=cfg.bias)
        self.lm_head = nn.Linear(cfg.n_embd, cfg.vocab_size, bias=False)
        if cfg.tie_embeddings:
            self.lm_head.weight = self.wte.weight
        self.apply(self._init_weights)

    def _init_weights(self, module: nn.Module) -> None:
        # GPT-2 init; residual projections are scaled by 1/sqrt(2L) so the residual stream's
        # variance does not grow with depth (each block adds two residual branches).
        if isinstance(module, nn.Linear):
            std = 0.02 / math.sqrt(2 * self.cfg.n_layer) if getattr(module, "residual_scale", False) else 0.02
            nn.init.normal_(module.weight, mean=0.0, std=std)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def forward(
        self, idx: torch.Tensor, targets: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Run the model.

        Parameters
        ----------
        idx : LongTensor (B, T)
            Input token ids, ``T <= block_size``.
        targets : LongTensor (B, T), optional
            Next-token ids.

        Returns
        -------
        logits : Tensor (B, T, vocab_size)
        per_token_loss : Tensor (B, T) or None
            Cross-entropy in nats for every position (no reduction), so callers can weight
            tokens by domain (DoReMi, Group DRO) or sum them (bits per byte).
        """
        B, T = idx.shape
        if T > self.cfg.block_size:
            raise ValueError(f"sequence length {T} exceeds block_size {self.cfg.block_size}")
        pos = torch.arange(T, device=idx.device)
        x = self.drop(self.wte(idx) + self.wpe(pos))
        for block in self.blocks:
            x = block(x)
        logits = self.lm_head(self.ln_f(x))
        if targets is None:
            return logits, None
        loss = F.cross_entropy(
            logits.view(B * T, -1).float(), targets.reshape(B * T).long(), reduction="none"
        ).view(B, T)
        return logits, loss

    def n_params(self, non_embedding: bool = True) -> int:
        """Parameter count; by default without the position (and untied token) embeddings.

        With tied embeddings the token embedding is also the output layer and does real
        matmul work, so it stays in the count (as in nanoGPT).
        """
        n = sum(p.numel() for p in self.parameters())  # parameters() yields a tied weight once
        if non_embedding:
            n -= self.wpe.weight.numel()
            if not self.cfg.tie_embeddings:
                n -= self.wte.weight.numel()
        return n

    def flops_per_token(self) -> float:
        """Training FLOPs per token, see :data:`FLOPS_FORMULA`."""
        c = self.cfg
        return float(6 * self.n_params() + 12 * c.n_layer * c.n_embd * c.block_size)
