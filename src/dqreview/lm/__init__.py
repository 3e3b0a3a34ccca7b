"""Proxy language model: tokenizer, GPT, token stream, training loop and bits-per-byte evaluation."""

from dqreview.lm.data import TokenStream
from dqreview.lm.evaluate import bits_per_byte, evaluate_sets
from dqreview.lm.model import FLOPS_FORMULA, GPT, GPTConfig
from dqreview.lm.tokenizer import (
    EOT,
    EOT_TOKEN,
    encode_batch,
    load_tokenizer,
    save_tokenizer,
    train_tokenizer,
)
from dqreview.lm.train import StepResult, Trainer, clear_checkpoint, lr_at, make_optimizer, train_run

__all__ = [
    "EOT", "EOT_TOKEN", "FLOPS_FORMULA", "GPT", "GPTConfig", "StepResult", "TokenStream", "Trainer",
    "bits_per_byte", "clear_checkpoint", "encode_batch", "evaluate_sets", "load_tokenizer", "lr_at",
    "make_optimizer", "save_tokenizer", "train_run", "train_tokenizer",
]  # fmt: skip
