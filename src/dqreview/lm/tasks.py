"""Likelihood-scored multiple-choice tasks: a downstream signal for proxy LMs.

Models this small are at chance on multiple-choice *formats*, so, like DataDecide's cloze
evaluations, each choice is scored by the log-likelihood the model gives to it as a continuation
of the context, and the highest-scoring choice is the prediction. ``acc`` ranks by the summed
log-likelihood; ``acc_norm`` by log-likelihood per UTF-8 byte of the choice (removes the bias
towards short answers).

A task file is JSON Lines, one item per line::

    {"context": "The capital of France is", "choices": [" Paris", " Rome"], "answer": 0}
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from dqreview.errors import DQError
from dqreview.lm.model import GPT
from dqreview.lm.tokenizer import EOT


def load_task(path: str | Path) -> list[dict]:
    """Read and check a task file; errors name the file and line."""
    items = []
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise DQError(f"task file {path} not found (config key lm.eval.tasks)") from None
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DQError(f"{path}:{lineno}: invalid JSON ({exc.msg})") from None
        choices = item.get("choices")
        if not isinstance(item.get("context"), str) or not isinstance(choices, list) or len(choices) < 2:
            raise DQError(f"{path}:{lineno}: need 'context' (string) and 'choices' (list of >= 2 strings)")
        if not all(isinstance(c, str) and c for c in choices):
            raise DQError(f"{path}:{lineno}: every choice must be a non-empty string")
        answer = item.get("answer")
        if not isinstance(answer, int) or not 0 <= answer < len(choices):
            raise DQError(f"{path}:{lineno}: 'answer' must be an index into 'choices'; got {answer!r}")
        items.append({"context": item["context"], "choices": choices, "answer": answer})
    if not items:
        raise DQError(f"{path}: no items")
    return items


@torch.no_grad()
def continuation_loglik(
    model: GPT, context: list[int], continuation: list[int], device: str = "cpu"
) -> float:
    """Sum of log p(continuation | EOT + context) in nats, left-truncated to the model's block size."""
    seq = [EOT, *context, *continuation]
    seq = seq[-(model.cfg.block_size + 1) :]
    x = torch.tensor(seq[:-1], device=device)[None]
    y = torch.tensor(seq[1:], device=device)[None]
    logits, _ = model(x)
    logp = F.log_softmax(logits.float(), dim=-1)[0, -len(continuation) :]
    return float(logp.gather(-1, y[0, -len(continuation) :, None]).sum())


def score_task(model: GPT, tokenizer, items: list[dict], device: str = "cpu") -> dict[str, float]:
    """Accuracy (``acc``, ``acc_norm``) of ``model`` on ``items`` and the number of items."""
    was_training = model.training
    model.eval()
    try:
        correct = correct_norm = 0
        for item in items:
            ctx = tokenizer.encode(item["context"]).ids
            ll = np.array(
                [continuation_loglik(model, ctx, tokenizer.encode(c).ids, device) for c in item["choices"]]
            )
            per_byte = ll / np.array([len(c.encode("utf-8")) for c in item["choices"]])
            correct += int(np.argmax(ll) == item["answer"])
            correct_norm += int(np.argmax(per_byte) == item["answer"])
    finally:
        model.train(was_training)
    return {"acc": correct / len(items), "acc_norm": correct_norm / len(items), "n": len(items)}
