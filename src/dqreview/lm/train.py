"""Training loop for the proxy LM: a step-level :class:`Trainer` and a resumable :func:`train_run`.

Every run trains on the same number of tokens (``train.tokens``), whatever the size of its
selection; smaller selections are repeated for more epochs. The full state (model, optimizer,
RNG, stream position, curve so far) is saved every ``save_every`` steps, and a restarted run with
the same config, seed and data continues from it and ends with bitwise the same losses.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn as nn

from dqreview.errors import DQError
from dqreview.io import atomic_path
from dqreview.lm.data import TokenStream
from dqreview.lm.model import FLOPS_FORMULA, GPT, GPTConfig
from dqreview.progress import Progress

log = logging.getLogger(__name__)

TRAIN_KEYS = (
    "tokens", "batch_size", "lr", "min_lr", "warmup_steps", "weight_decay", "grad_clip", "checkpoints", "save_every",
)  # fmt: skip
STATE_FILE = "state.pt"
#: ``lm.train.precision``: fp32, or bf16 autocast for the training steps (evaluation stays fp32)
PRECISIONS = ("fp32", "bf16")

LossWeights = Callable[[torch.Tensor, np.ndarray], torch.Tensor]


def resolve_device(device: str) -> str:
    """The requested CUDA device (``"cuda"`` or ``"cuda:<i>"``) when available, else ``"cpu"``."""
    return device if device.startswith("cuda") and torch.cuda.is_available() else "cpu"


def make_optimizer(model: nn.Module, lr: float, weight_decay: float) -> torch.optim.AdamW:
    """AdamW with weight decay on matrices and embeddings only (not on LayerNorm gains or biases)."""
    params = [p for p in model.parameters() if p.requires_grad]  # a tied weight appears once
    decay = [p for p in params if p.dim() >= 2]
    no_decay = [p for p in params if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.95))


def lr_at(step: int, total_steps: int, lr: float, min_lr: float, warmup_steps: int) -> float:
    """Learning rate for 0-based ``step``: linear warmup to ``lr``, then cosine decay to ``min_lr``.

    Step 0 gets ``lr / warmup_steps`` (never 0, which would waste a step); the last step
    (``total_steps - 1``) gets ``min_lr``.
    """
    if step < warmup_steps:
        return lr * (step + 1) / warmup_steps
    decay_steps = total_steps - 1 - warmup_steps
    if decay_steps <= 0:
        return lr
    progress = min(1.0, (step - warmup_steps) / decay_steps)
    return min_lr + 0.5 * (1.0 + math.cos(math.pi * progress)) * (lr - min_lr)


@dataclass
class StepResult:
    """What one optimizer step saw: per-token losses (detached, on the model's device)."""

    per_token_loss: torch.Tensor  # (B, T), nats
    domains: np.ndarray  # (B, T), domain of each target token
    loss: float  # mean per-token loss (unweighted, for logging)
    tokens: int


class Trainer:
    """One optimizer step at a time, so data-mixing methods can steer training between steps.

    Parameters
    ----------
    model, optimizer, stream
    cfg : dict
        The ``lm.train`` section (uses lr, min_lr, warmup_steps, grad_clip and ``precision``, default fp32).
    total_steps : int
        Length of the learning-rate schedule.
    device : str
    loss_weights : callable, optional
        ``(per_token_loss (B, T), domains (B, T)) -> scalar`` training loss, e.g. Group DRO's
        domain-weighted loss. Default: the mean over tokens.
    """

    def __init__(
        self,
        model: GPT,
        optimizer: torch.optim.Optimizer,
        stream: TokenStream,
        cfg: dict[str, Any],
        total_steps: int,
        device: str = "cpu",
        loss_weights: LossWeights | None = None,
    ) -> None:
        self.model, self.optimizer, self.stream, self.cfg = model, optimizer, stream, cfg
        self.total_steps = total_steps
        self.device = device
        self.loss_weights = loss_weights
        precision = cfg.get("precision", "fp32")
        if precision not in PRECISIONS:
            raise DQError(
                f"lm.train.precision: unknown precision {precision!r}; known: {', '.join(PRECISIONS)}"
            )
        self.bf16 = precision == "bf16"
        self.step_num = 0  # optimizer steps taken so far

    def step(self) -> StepResult:
        lr = lr_at(
            self.step_num, self.total_steps, self.cfg["lr"], self.cfg["min_lr"], self.cfg["warmup_steps"]
        )
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        x, y, dom = self.stream.next_batch()
        x = torch.from_numpy(x).to(self.device)
        y = torch.from_numpy(y).to(self.device)
        self.model.train()
        # bf16 autocast: matmuls in bfloat16 (1.7x the tokens/s of fp32 on a CPU with avx512_bf16), the
        # loss, softmax and optimizer state in fp32 (torch's autocast lists)
        with torch.autocast(self.device.split(":")[0], dtype=torch.bfloat16, enabled=self.bf16):
            _, per_token = self.model(x, y)
        per_token = per_token.float()
        loss = per_token.mean() if self.loss_weights is None else self.loss_weights(per_token, dom)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.cfg["grad_clip"] and self.cfg["grad_clip"] > 0:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg["grad_clip"])
        self.optimizer.step()
        self.step_num += 1
        per_token = per_token.detach()
        return StepResult(per_token, dom, float(per_token.mean()), int(y.numel()))


def eval_steps(total_steps: int, checkpoints: int) -> list[int]:
    """``checkpoints`` evenly spaced step counts ending at ``total_steps`` (duplicates removed)."""
    n = max(1, int(checkpoints))
    return sorted({max(1, round(total_steps * k / n)) for k in range(1, n + 1)})


def _fingerprint(
    docs: list[np.ndarray],
    domains: np.ndarray,
    model_cfg: GPTConfig,
    train_cfg: dict,
    seed: int,
    rounds: np.ndarray | None = None,
) -> str:
    """Hash of everything that determines the run, so a stale checkpoint is never resumed."""
    h = hashlib.blake2b(digest_size=16)
    # keep_model decides what is written after the run, not how it trains
    train = {k: v for k, v in train_cfg.items() if k != "keep_model"}
    h.update(
        json.dumps({"model": model_cfg.to_dict(), "train": train, "seed": seed}, sort_keys=True).encode()
    )
    h.update(np.asarray(domains, dtype=np.int64).tobytes())
    if rounds is not None:  # (absent for plain selections, so their fingerprints are unchanged)
        h.update(b"rounds")
        h.update(np.asarray(rounds, dtype=np.int64).tobytes())
    for d in docs:
        h.update(np.int64(len(d)).tobytes())
        h.update(np.asarray(d, dtype=np.int64).tobytes())
    return h.hexdigest()


def _plain(obj: Any) -> Any:
    """Numpy scalars and tuples to plain Python, so ``torch.load(weights_only=True)`` accepts the curve."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return obj


def _save_state(path: Path, state: dict[str, Any]) -> None:
    # atomic_path turns OS errors (disk full) into a DQError naming the checkpoint
    try:
        with atomic_path(path) as tmp:
            torch.save(state, tmp)
    except RuntimeError as exc:  # torch.save reports a failed write as a RuntimeError
        raise DQError(f"{path}: cannot write the training state ({exc}); free disk space and rerun") from exc


def _load_state(path: Path, fingerprint: str) -> dict[str, Any] | None:
    if not path.exists():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a damaged file: start over rather than fail
        log.warning("%s: unreadable checkpoint (%s); starting from scratch", path, exc)
        return None
    if state.get("fingerprint") != fingerprint:
        log.warning(
            "%s: checkpoint is for a different config, seed or selection; starting from scratch", path
        )
        return None
    return state


def clear_checkpoint(ckpt_dir: str | os.PathLike | None) -> None:
    """Remove the resumable state of a finished run (its outputs are safely written by then)."""
    if ckpt_dir is not None:
        Path(ckpt_dir, STATE_FILE).unlink(missing_ok=True)


def train_run(
    docs: list[np.ndarray],
    domains: np.ndarray,
    model_cfg: GPTConfig,
    train_cfg: dict[str, Any],
    seed: int,
    evaluate: Callable[[GPT, bool], dict[str, Any]],
    ckpt_dir: Path | None,
    device: str = "cpu",
    progress: bool = True,
    loss_weights: LossWeights | None = None,
    rounds: np.ndarray | None = None,
) -> dict[str, Any]:
    """Train a fresh model on a selection for ``train_cfg["tokens"]`` tokens.

    Parameters
    ----------
    docs, domains
        Token arrays of the selected documents and their domain ids.
    model_cfg : GPTConfig
    train_cfg : dict
        The ``lm.train`` section (keys in :data:`TRAIN_KEYS`).
    seed : int
        Seeds the model init (``torch.manual_seed``) and the data order.
    evaluate : callable
        ``(model, final) -> dict`` of metrics, called at each of the ``checkpoints`` evaluation
        steps; ``final`` is True at the last one, so a caller may score its cheap sets along the
        curve and everything at the end.
    ckpt_dir : Path or None
        Where ``state.pt`` lives; None disables saving and resuming.
    device : str
        ``"cuda"`` if asked and available, else CPU.
    progress : bool
        Log progress (steps done/total, rate, ETA) every 10 s, and show a tqdm bar on a terminal
        (:class:`dqreview.progress.Progress`).
    loss_weights : callable, optional
        Passed to :class:`Trainer`.
    rounds : int array, shape (len(docs),), optional
        Round of each document (a schedule, e.g. Skill-It's): the rounds are trained in order, each
        stretched to its share of the selection's tokens times the training tokens and shuffled
        within itself (:class:`TokenStream` with ``round_tokens``), so the run follows the schedule
        once from start to end.

    Returns
    -------
    dict
        ``curve`` (``[{step, tokens, epochs, **evaluate(model, final)}]``), ``tokens_per_s`` (training
        only, excluding evaluation), ``n_params``, ``flops_per_token``, ``flops_formula``,
        ``train_loss`` (per-step mean, rounded to 6 decimals), ``epochs``, ``tokens``, ``steps``.
    """
    missing = [k for k in TRAIN_KEYS if k not in train_cfg]
    if missing:
        raise DQError(f"lm.train: missing key(s) {missing}")
    device = resolve_device(device)
    B, T = int(train_cfg["batch_size"]), model_cfg.block_size
    tokens_per_step = B * T
    total_steps = math.ceil(int(train_cfg["tokens"]) / tokens_per_step)
    at_eval = set(eval_steps(total_steps, train_cfg["checkpoints"]))
    save_every = int(train_cfg["save_every"])

    torch.manual_seed(seed)
    model = GPT(model_cfg).to(device)
    optimizer = make_optimizer(model, train_cfg["lr"], train_cfg["weight_decay"])
    round_tokens = None
    if rounds is not None:
        rounds = np.asarray(rounds)
        if rounds.shape != (len(docs),):
            raise DQError(f"rounds: expected one round per document ({len(docs)}); got shape {rounds.shape}")
        # each round's quota ∝ its tokens in the selection, summing past the stream's last target
        # token, so the schedule is stretched over the whole run exactly once
        sizes = np.array([len(d) + 1 for d in docs], dtype=np.float64)
        needed = total_steps * tokens_per_step + 1
        share = np.array([sizes[rounds == r].sum() for r in np.unique(rounds)]) / sizes.sum()
        round_tokens = [max(1, math.ceil(needed * f)) for f in share]
    stream = TokenStream(docs, domains, T, B, seed, rounds=rounds, round_tokens=round_tokens)
    trainer = Trainer(model, optimizer, stream, train_cfg, total_steps, device, loss_weights)

    fingerprint = _fingerprint(docs, domains, model_cfg, train_cfg, seed, rounds)
    state_path = Path(ckpt_dir, STATE_FILE) if ckpt_dir is not None else None
    curve: list[dict[str, Any]] = []
    train_loss: list[float] = []
    train_seconds, trained_tokens = 0.0, 0  # summed over sessions, for tokens/s
    state = _load_state(state_path, fingerprint) if state_path is not None else None
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        stream.load_state_dict(state["stream"])
        torch.set_rng_state(state["torch_rng"])
        if device.startswith("cuda") and "cuda_rng" in state:
            torch.cuda.set_rng_state_all(state["cuda_rng"])
        trainer.step_num = int(state["step"])
        curve, train_loss = state["curve"], state["train_loss"]
        train_seconds, trained_tokens = float(state["train_seconds"]), int(state["trained_tokens"])
        log.info("resuming from %s at step %d/%d", state_path, trainer.step_num, total_steps)

    def save() -> None:
        s = {
            "fingerprint": fingerprint,
            "step": trainer.step_num,
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "stream": stream.state_dict(),
            "torch_rng": torch.get_rng_state(),
            "curve": curve,
            "train_loss": train_loss,
            "train_seconds": train_seconds,
            "trained_tokens": trained_tokens,
        }
        if device.startswith("cuda"):
            s["cuda_rng"] = torch.cuda.get_rng_state_all()
        _save_state(state_path, s)

    # done/total, steps/s and ETA in the job's log every 10 s; a tqdm bar only on a terminal
    bar = Progress(total_steps, "train", "step", initial=trainer.step_num, enabled=progress)
    try:
        while trainer.step_num < total_steps:
            t0 = time.perf_counter()
            res = trainer.step()
            if device.startswith("cuda"):
                torch.cuda.synchronize(device)  # so the timing covers the step's kernels
            train_seconds += time.perf_counter() - t0
            trained_tokens += res.tokens
            train_loss.append(round(res.loss, 6))
            step = trainer.step_num
            bar.update(1, loss=f"{res.loss:.3f}", tok_s=f"{trained_tokens / max(train_seconds, 1e-9):.0f}")
            if step in at_eval:
                point = {"step": step, "tokens": step * tokens_per_step, "epochs": stream.epochs_completed}
                curve.append(_plain({**point, **evaluate(model, step == total_steps)}))
            if state_path is not None and (step % save_every == 0 or step == total_steps):
                save()
    finally:
        bar.close()

    tokens_per_s = trained_tokens / train_seconds if train_seconds > 0 else float("nan")
    log.info("trained %d steps, %.0f tokens/s on %s", total_steps, tokens_per_s, device)
    return {
        "model": model,  # the trained weights, also when a finished state was resumed (zero steps run)
        "curve": curve,
        "tokens_per_s": tokens_per_s,
        "n_params": model.n_params(),
        "flops_per_token": model.flops_per_token(),
        "flops_formula": FLOPS_FORMULA,
        "train_loss": train_loss,
        "epochs": stream.epochs_completed,
        "tokens": total_steps * tokens_per_step,
        "steps": total_steps,
        "device": device,
    }
