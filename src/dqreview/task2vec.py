"""Task2Vec embeddings of text with a causal-LM probe (Achille et al. 2019; Miranda et al. 2023).

A set of token windows is embedded as the diagonal of the probe's Fisher information with labels
SAMPLED from the probe (the true Fisher, not the empirical one), averaged per filter.

Estimator
---------
The definition and its deviations from the reference code: docs/methods.md, "Task2Vec".
For a window ``x`` with ``n`` prediction positions (position ``t`` reads ``x[:t+1]`` and predicts the next
token): draw ``ŷ_t ~ softmax(logits_t)`` at every valid position, take the gradient ``g`` of the window's
token-mean log-likelihood ``(1/n) Σ_t log p(ŷ_t | x_{≤t})`` with respect to the chosen parameters, and keep
``n · g²`` (elementwise). A set's Fisher is the MEAN of these per-window vectors. The reference code
instead squares the gradient of the token-mean loss of a loader batch of 8 sequences (the square of a
batch-mean gradient, ≈ 1/8 of the per-sequence Fisher plus cross terms between sequences): a different
estimator whose scale depends on the loader batch size. Ours is a sum of per-window terms, so the mean
of per-window (or per-document) vectors IS the set's Fisher — the property that lets every selection's
embedding come from cached per-document vectors.

The factor ``n`` (``token_scale=True``) makes a window's term an estimate of the per-token Fisher
(for weakly correlated token gradients ``E[(mean g)²] ≈ E[g²]/n``), so a document's short last window does
not outweigh its full windows only because it is short. For full windows it is the constant ``W``, a
common factor the Task2Vec distance ignores (``d(cF_a, cF_b) = d(F_a, F_b)``; it is NOT invariant to
rescaling only one argument, so scale matters — trap 4 below). ``token_scale=False`` gives the plain
squared gradient of the token-mean loss.

Filter-wise means: every parameter tensor of shape ``(out, ...)`` contributes ``out`` entries, the mean of
its squared gradient over all other axes. For our ``nn.Linear`` weights ``(out_features, in_features)``
that is one entry per output unit (the mean over axis 1, the input features); for an embedding
``(vocab, d)`` one per token row; LayerNorm gains and biases keep one entry per element. HF GPT-2's
``Conv1D`` stores ``(in, out)``, so for those weights the mean is over axis 0 and the entries are again the
output units (the reference code averaged over the output units of these layers instead).

Traps of the reference code, fixed here
---------------------------------------
1. Label positions: the label for position ``t`` is sampled from the logits AT ``t`` (which predict token
   ``t+1``); the reference samples at ``t+1`` and scores it at ``t`` (off by one).
2. Padding: windows are right-padded; padded positions are excluded from the labels, the loss and the
   Fisher (and causal attention means real positions never see the padding). The reference only drops
   positions whose *sampled* label is eos, so padding entered the Fisher and genuine eos did not.
3. Tied head: the probe's head is untied at load time (:mod:`dqreview.probe`), so head fine-tuning never
   moves the input embeddings and the head's Fisher is not mixed with the input embedding's.
4. Scale: set embeddings are only compared when computed with the same window length, layers and
   ``token_scale``; the per-window estimator has no loader-batch-size dependence at all.
5. Seeds: every window has its own label-sampling seed, ``hash(seed, key, window)`` (a document's key is
   its id, so the per-document vectors do not depend on sharding); batches are drawn with distinct
   seeds (:mod:`dqreview.measures.diversity`), never one seed reused for every batch.

Distances (:func:`distance_matrix`): Task2Vec's symmetric distance, the cosine distance between
``F_a/(F_a+F_b+1e-8)`` and ``F_b/(F_a+F_b+1e-8)``; ``"l1"``/``"l2"`` are the L1/L2 norms of the difference of
the same two normalised vectors (``Σ|F_a−F_b|/(F_a+F_b+1e-8)``, ...).

One module of ~900 lines: windows, label sampling, the Fisher estimator and its distances share the
conventions above (the traps) and are only meaningful together.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

from dqreview.errors import DQError
from dqreview.hashing import stable_hash64
from dqreview.progress import Progress

#: Head fine-tuning recipe of Miranda et al. (paper text: 5 epochs; AdamW lr 5e-5, wd 1e-4, eps 1e-8,
#: loader batch 8). The head is NOT re-initialised (as in their code; their algorithm box says it is).
FINETUNE_DEFAULTS = {"epochs": 5, "lr": 5e-5, "weight_decay": 1e-4, "eps": 1e-8, "batch_size": 8}

DISTANCES = ("cosine", "l1", "l2")
#: Per-window gradient paths of :func:`window_fisher` (``auto`` picks ``forward`` where it applies).
METHODS = ("forward", "vmap", "loop")
EPS = 1e-8  # the reference code's guard in F_a / (F_a + F_b + eps)


# --- windows ----------------------------------------------------------------------------------
@dataclass
class Windows:
    """Fixed-length token windows, right-padded.

    Attributes
    ----------
    x : LongTensor (n, W)
        Inputs; padding uses the eos id (never read: causal attention, and padded positions are masked).
    y : LongTensor (n, W)
        True next tokens (``-1`` at padded positions); only used for head fine-tuning and probe losses.
    n_pred : LongTensor (n,)
        Number of prediction positions of each window (positions ``0 .. n_pred-1``), ``>= 1``.
    owner : ndarray (n,), int64
        Index of the document each window came from.
    index : ndarray (n,), int64
        Position of the window within its document.
    """

    x: torch.Tensor
    y: torch.Tensor
    n_pred: torch.Tensor
    owner: np.ndarray
    index: np.ndarray

    def __len__(self) -> int:
        return int(self.x.shape[0])

    @property
    def mask(self) -> torch.Tensor:
        """Bool (n, W): True at prediction positions."""
        return torch.arange(self.x.shape[1]) < self.n_pred[:, None]


def _check_docs(docs: Sequence[np.ndarray], vocab_size: int | None, where: str) -> None:
    if len(docs) == 0:
        raise DQError(f"{where}: no documents to embed")
    for i, d in enumerate(docs):
        d = np.asarray(d)
        if d.ndim != 1:
            raise DQError(f"{where}: document {i} is not a 1-D token array (shape {d.shape})")
        if len(d) == 0:
            raise DQError(
                f"{where}: document {i} has no tokens; empty documents have no Task2Vec vector "
                "(prepare drops empty chunks — the input is not a prepared shard)"
            )
        if vocab_size is not None and len(d) and (d.min() < 0 or d.max() >= vocab_size):
            raise DQError(
                f"{where}: document {i} has token ids outside [0, {vocab_size}); "
                "it was tokenised with another tokenizer than the probe's"
            )


def document_windows(
    docs: Sequence[np.ndarray],
    window: int,
    eos_id: int,
    first_only: bool = False,
    vocab_size: int | None = None,
) -> Windows:
    """Cut documents into windows of ``window`` predictions.

    Each document becomes ``s = [eos] + tokens + [eos]`` (how the training stream shows it: the previous
    document's separator in front, its own after), so every token and the end of the document are
    predicted once. Window ``k`` has inputs ``s[kW : kW+W]`` and targets ``s[kW+1 : kW+W+1]``;
    the last window is shorter and right-padded. ``first_only`` keeps only each document's first window
    (the batch-level coefficients: pad/truncate every sequence to ``W``, as in the paper).
    """
    if window < 1:
        raise DQError(f"task2vec.window={window}: must be a positive number of tokens")
    _check_docs(docs, vocab_size, "task2vec")
    xs, ys, n_pred, owner, index = [], [], [], [], []
    for i, d in enumerate(docs):
        s = np.concatenate([[eos_id], np.asarray(d, dtype=np.int64), [eos_id]])
        n_windows = 1 if first_only else -(-(len(s) - 1) // window)
        for k in range(n_windows):
            tgt = s[k * window + 1 : k * window + window + 1]
            inp = s[k * window : k * window + len(tgt)]
            x = np.full(window, eos_id, dtype=np.int64)
            y = np.full(window, -1, dtype=np.int64)
            x[: len(inp)], y[: len(tgt)] = inp, tgt
            xs.append(x)
            ys.append(y)
            n_pred.append(len(tgt))
            owner.append(i)
            index.append(k)
    return Windows(
        torch.from_numpy(np.stack(xs)),
        torch.from_numpy(np.stack(ys)),
        torch.tensor(n_pred, dtype=torch.int64),
        np.asarray(owner, dtype=np.int64),
        np.asarray(index, dtype=np.int64),
    )


def window_seeds(seed: int, keys: Sequence[object], index: Sequence[int]) -> np.ndarray:
    """Label-sampling seed of each window: ``hash(seed, key, window index)`` (63-bit)."""
    return np.array(
        [stable_hash64("t2v", seed, k, int(i)) & (2**63 - 1) for k, i in zip(keys, index, strict=True)],
        dtype=np.int64,
    )


def _uniforms(seeds: np.ndarray, length: int) -> torch.Tensor:
    """One U(0,1) per position of each window, from the window's own generator (float64)."""
    out = torch.empty(len(seeds), length, dtype=torch.float64)
    gen = torch.Generator()
    for i, s in enumerate(seeds):
        gen.manual_seed(int(s))
        out[i] = torch.rand(length, generator=gen, dtype=torch.float64)
    return out


def sample_labels(logits: torch.Tensor, u: torch.Tensor, log_probs: bool = False) -> torch.Tensor:
    """Inverse-CDF sample of one label per position: ``ŷ_t ~ softmax(logits_t)`` given ``u_t ~ U(0,1)``.

    ``logits`` (..., T, V) — or log-probabilities with ``log_probs=True`` (no second softmax) —, ``u`` (..., T).
    Written with a comparison and a sum (no ``searchsorted``) so it runs under ``torch.func.vmap``. The cdf is
    accumulated in the input's precision (at least float32) and ``u`` is scaled by its last entry, so rounding
    in the cumulative sum cannot pile probability onto the last token.
    """
    x = _at_least_float32(logits.detach())
    return _sample_from_probs(x.exp() if log_probs else torch.softmax(x, dim=-1), u)


#: Vocabularies at least this large are sampled in two levels (blocks of _BLOCK tokens, then a token
#: within the chosen block): two short cumulative sums instead of one over the whole vocabulary.
_TWO_LEVEL_MIN_VOCAB = 1024
_BLOCK = 64


def _sample_from_probs(probs: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """Inverse-CDF sample from (T, V) probabilities (unnormalised allowed) with one ``u ∈ [0, 1)`` per row.

    label = the first index whose cumulative probability exceeds ``u · total`` (so a zero-probability token
    is never drawn, ``u = 0`` included). ``u`` is kept below 1 in the working precision.
    """
    V = probs.shape[-1]
    u = u.to(probs.dtype).clamp(max=1.0 - torch.finfo(probs.dtype).eps)
    if V < _TWO_LEVEL_MIN_VOCAB or V % _BLOCK:
        cdf = probs.cumsum(dim=-1)
        label = (cdf <= (u * cdf[..., -1])[..., None]).sum(dim=-1)
        return label.clamp(max=V - 1)
    blocks = probs.unflatten(-1, (V // _BLOCK, _BLOCK))  # (T, nb, B)
    block_cdf = blocks.sum(dim=-1).cumsum(dim=-1)  # (T, nb)
    target = u * block_cdf[..., -1]
    block = (block_cdf <= target[..., None]).sum(dim=-1).clamp(max=V // _BLOCK - 1)  # (T,)
    before = torch.where(block > 0, block_cdf.gather(-1, (block - 1).clamp(min=0)[..., None])[..., 0], 0.0)
    inside = blocks.gather(-2, block[..., None, None].expand(*block.shape, 1, _BLOCK))[..., 0, :].cumsum(
        dim=-1
    )
    offset = (inside <= (target - before)[..., None]).sum(dim=-1).clamp(max=_BLOCK - 1)
    return block * _BLOCK + offset


# --- head fine-tuning ---------------------------------------------------------------------------
def finetune_head(
    probe,
    windows: Windows,
    epochs: int = 5,
    lr: float = 5e-5,
    weight_decay: float = 1e-4,
    eps: float = 1e-8,
    batch_size: int = 8,
    seed: int = 0,
) -> torch.Tensor:
    """Fine-tune only the (untied) LM-head weight on the windows' true next tokens; return the new weight.

    The features the head reads are computed once (nothing before the head changes), so each epoch costs
    only the head's matmuls. Padded positions are excluded from the loss (token mean per loader batch).
    The loader order of epoch ``e`` is ``randperm`` seeded with ``(seed, e)``.
    """
    if epochs < 0 or batch_size < 1 or lr <= 0:
        raise DQError(f"task2vec.finetune: epochs={epochs}, batch_size={batch_size}, lr={lr} are not valid")
    device = probe.device
    weight = dict(probe.model.named_parameters())[probe.head_name].detach().clone()
    if epochs == 0:
        return weight
    # causal attention: real positions of a right-padded window never read the padding
    feats = _at_least_float32(probe.head_inputs(windows.x.to(device)))
    y = windows.y.to(device)
    weight.requires_grad_(True)
    opt = torch.optim.AdamW([weight], lr=lr, weight_decay=weight_decay, eps=eps)
    n = len(windows)
    gen = torch.Generator()
    with torch.enable_grad():
        for epoch in range(epochs):
            gen.manual_seed(stable_hash64("t2v-finetune", seed, epoch) & (2**63 - 1))
            order = torch.randperm(n, generator=gen)
            for lo in range(0, n, batch_size):
                idx = order[lo : lo + batch_size].to(device)
                logits = feats[idx] @ weight.t().to(feats.dtype)
                target = y[idx]
                loss = F.cross_entropy(
                    logits.reshape(-1, logits.shape[-1]), target.reshape(-1), ignore_index=-1
                )
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
    return weight.detach()


# --- Fisher ------------------------------------------------------------------------------------
def layout(probe, names: Sequence[str]) -> list[tuple[str, int]]:
    """``(parameter name, entries)`` in embedding order: one entry per filter (output unit)."""
    params = dict(probe.model.named_parameters())
    return [(n, int(params[n].shape[probe.filter_axis(n)])) for n in names]


def _mean_square(g: torch.Tensor, axis: int = 0) -> torch.Tensor:
    """(chunk, *shape) gradients → (chunk, shape[axis]): the mean of their squares over every other axis.

    ``axis`` is the parameter's output-unit axis: 0 for ``nn.Linear`` (out, in), embeddings and 1-D
    parameters; 1 for HF ``Conv1D`` (in, out). One reduction pass (a vector norm), so the squared
    per-window gradients are never materialised.
    """
    if g.dim() <= 2:
        return g * g
    if axis:
        g = g.movedim(1 + axis, 1)
    g = g.flatten(2)
    return torch.linalg.vector_norm(g, dim=2).square() / g.shape[2]


def _at_least_float32(t: torch.Tensor) -> torch.Tensor:
    """Half-precision logits go to float32 for the softmax; float64 probes stay float64."""
    return t.float() if t.dtype in (torch.float16, torch.bfloat16) else t


class _SampledNLL(torch.autograd.Function):
    """Weighted NLL of labels sampled inside the forward, with the analytic gradient ``(p − e_ŷ) · w``.

    Forward: ``logp = log_softmax(logits)``, ``ŷ`` by :func:`sample_labels` from ``logp`` and ``u``,
    ``loss = Σ_t w_t (−logp_t[ŷ_t])``; it also returns ``ŷ`` and the weighted true-label loss (no gradient).
    Backward reuses the probabilities already computed for sampling instead of differentiating
    ``log_softmax`` and ``gather`` (which zero-fills a (T, V) tensor): the same numbers, fewer passes over
    the (T, V) logits. ``generate_vmap_rule`` lets ``torch.func.vmap(grad(...))`` batch it over windows.
    """

    generate_vmap_rule = True

    @staticmethod
    def forward(logits, u, weight, y):
        logp = torch.log_softmax(logits, dim=-1)
        probs = logp.exp()  # once: for sampling and for the backward
        label = _sample_from_probs(probs, u)
        loss = -(logp.gather(-1, label[:, None]).squeeze(-1) * weight).sum()
        true_loss = -(logp.gather(-1, y.clamp(min=0)[:, None]).squeeze(-1) * weight).sum()
        return loss, label, true_loss, probs

    @staticmethod
    def setup_context(ctx, inputs, output):
        _, label, _, probs = output
        ctx.mark_non_differentiable(label, output[2], probs)
        ctx.save_for_backward(probs, label, inputs[2])

    @staticmethod
    def backward(ctx, grad_loss, _grad_label, _grad_true, _grad_probs):
        probs, label, weight = ctx.saved_tensors
        idx = label[:, None]
        grad = torch.scatter_add(
            probs, -1, idx, torch.full(idx.shape, -1.0, dtype=probs.dtype, device=probs.device)
        )
        return grad * (weight * grad_loss)[:, None], None, None, None


def _window_loss_fn(probe, split: bool):
    """Per-window loss for torch.func: (params, inp, y, n_pred, u) → (sampled loss, (true loss, labels)).

    The loss is the token-mean NLL of the sampled labels over the window's prediction positions (its
    gradient is minus that of the token-mean log-likelihood; the square is the same).
    """

    def fn(params, inp, y, n_pred, u):
        if split:
            logits = probe.tail_logits(params, inp[None])[0]
        else:
            logits = probe.logits(params, inp[None])[0]
        mask = torch.arange(logits.shape[0], device=logits.device) < n_pred
        weight = mask.to(torch.float32 if logits.dtype != torch.float64 else torch.float64) / n_pred
        loss, label, true_loss, _ = _SampledNLL.apply(_at_least_float32(logits), u, weight, y)
        return loss, (true_loss, torch.where(mask, label, -1))

    return fn


class _Scratch:
    """Buffers of the forward path reused from chunk to chunk, one per name, grown on demand.

    A chunk's (positions, V) logits are large (16 windows x 128 positions x 4,096 tokens = 32 MiB): a fresh
    CPU tensor of that size is a fresh mapping whose page faults cost as much as the exp over it, so the
    logits and their log-probabilities are written into the same buffers chunk after chunk.
    """

    def __init__(self) -> None:
        self._buffers: dict[str, torch.Tensor] = {}

    def __call__(self, name: str, rows: int, cols: int, like: torch.Tensor) -> torch.Tensor:
        buf = self._buffers.get(name)
        if buf is None or buf.numel() < rows * cols or (buf.dtype, buf.device) != (like.dtype, like.device):
            buf = self._buffers[name] = torch.empty(rows * cols, dtype=like.dtype, device=like.device)
        return buf[: rows * cols].view(rows, cols)


def _sampled_logit_error(
    h: torch.Tensor, head: torch.Tensor, u: torch.Tensor, y: torch.Tensor, scratch: _Scratch
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Labels and the logit error of the sampled-label loss at N prediction positions.

    ``h`` (N, d): what the head reads; ``head`` (V, d); ``u`` (N,) the positions' uniforms; ``y`` (N,) the
    true next tokens. The softmax and the sampler are the vmap path's (``log_softmax``, ``exp``,
    :func:`_sample_from_probs`), so the labels are the same. Returns ``err`` (N, V) ``= p − e_ŷ``, the
    gradient of ``−log p(ŷ)`` with respect to the logits (unweighted; it lives in ``scratch`` until the
    next call), the labels ``ŷ`` (N,) and the true next tokens' NLL (N,).
    """
    n, vocab = len(h), len(head)
    logits = _at_least_float32(torch.mm(h, head.t(), out=scratch("logits", n, vocab, h)))
    logp = torch.log_softmax(logits, dim=-1, out=scratch("logp", n, vocab, logits))
    true_nll = -logp.gather(1, y[:, None])[:, 0]
    probs = torch.exp(logp, out=logits)  # the logits are not needed any more: their buffer takes p
    label = _sample_from_probs(probs, u)
    err = probs.scatter_add_(1, label[:, None], torch.full_like(label[:, None], -1, dtype=probs.dtype))
    return err, label, true_nll


def _forward_block(
    probe,
    names: Sequence[str],
    x: torch.Tensor,
    y: torch.Tensor,
    n_pred: torch.Tensor,
    u: torch.Tensor,
    head: torch.Tensor,
    scratch: _Scratch,
) -> tuple[list[torch.Tensor], torch.Tensor, torch.Tensor]:
    """Per-window filter-wise squared gradients of one chunk of windows without per-window autograd.

    The trunk runs once without gradients; the tail (last block, final norm) runs ONCE for the whole chunk
    with a graph. The error at the logits is the analytic ``(p − e_ŷ) · w_t`` of the sampled-label loss
    (:func:`_sampled_logit_error`), computed at the prediction positions only (padding never goes through
    the head), and sent back through the head by one matmul; one ``autograd.grad`` from there to the
    differentiated modules' outputs gives each one's per-token output error ``δ``. Autograd runs only the
    part of the graph between those outputs and the final norm: for the output projections
    ("final-outputs") the final norm and, for the attention projection (its output is the MLP's input too),
    the MLP — never attention; for "final" the whole block. Windows never mix inside the tail (attention is
    per window), so ``δ`` of a window's tokens is the gradient of that window's own loss, and its gradient
    of a linear weight is ``Σ_t δ_t ⊗ a_t`` (one batched matmul per chunk, ``δᵀ a``), of a LayerNorm gain
    ``Σ_t δ_t ⊙ x̂_t``, of a bias ``Σ_t δ_t``, of the head ``Σ_t w_t (p_t − e_ŷt) ⊗ h_t`` (:func:`_head_rows`).
    Exact (the same numbers as :func:`torch.func.grad` per window, up to float rounding).

    Returns
    -------
    rows : list of Tensor (chunk, filters), in the order of ``names``
    true_loss : Tensor (chunk,)
    labels : Tensor (chunk, W), ``-1`` at padded positions
    """
    tail = probe._tail
    owners = _forward_owners(probe, names)
    captured: dict[nn.Module, tuple[torch.Tensor, torch.Tensor]] = {}

    def keep(module, args, output):
        if module in captured:
            raise DQError(f"task2vec method=forward: module {type(module).__name__} ran twice in the tail")
        captured[module] = (args[0].detach(), output)

    # the head is not run as a module here: its logits come from h below
    handles = [mod.register_forward_hook(keep) for mod in {m for m, _ in owners.values()} - {tail.lm_head}]
    try:
        trunk = probe.trunk(x).requires_grad_(True)  # a leaf, so the tail has a graph; never differentiated
        with torch.enable_grad():
            feats = tail.ln_f(tail.block(trunk))
    finally:
        for handle in handles:
            handle.remove()
    mask = torch.arange(x.shape[1], device=x.device)[None, :] < n_pred[:, None]
    pos = mask.flatten().nonzero()[:, 0]  # the prediction positions, window after window
    window = torch.arange(len(x), device=x.device).repeat_interleave(n_pred)  # the window of each position
    h = feats.detach().flatten(0, 1)[pos]  # what the head reads at the prediction positions
    err, label, true_nll = _sampled_logit_error(h, head, u[mask], y[mask], scratch)
    w = 1.0 / n_pred.to(err.dtype)  # the token mean's weight, w_t = 1/n at every prediction position
    true_loss = torch.zeros_like(w).index_add_(0, window, true_nll) * w
    labels = torch.full_like(x, -1)
    labels[mask] = label
    grads = {}
    if captured:
        delta = torch.zeros_like(feats.detach()).flatten(0, 1)
        delta[pos] = (err.to(head.dtype) @ head) * w[window, None].to(head.dtype)
        modules = list(captured)
        outputs = [captured[m][1] for m in modules]
        grads = dict(zip(modules, torch.autograd.grad(feats, outputs, delta.view_as(feats)), strict=True))
    rows = []
    for name in names:
        module, kind = owners[name]
        if module is tail.lm_head:
            rows.append(_head_rows(err, h, n_pred, scratch) * (w * w)[:, None].to(err.dtype))
            continue
        inp, delta = captured[module][0], grads[module]
        if kind == "bias":
            g = delta.sum(dim=1)
        elif isinstance(module, nn.LayerNorm):
            g = (delta * F.layer_norm(inp, module.normalized_shape, eps=module.eps)).sum(dim=1)
        else:
            g = delta.transpose(1, 2) @ inp  # (chunk, out, in): Σ_t δ_t ⊗ a_t per window
        rows.append(_mean_square(_at_least_float32(g), 0))
    return rows, true_loss, labels


def _head_rows(err: torch.Tensor, h: torch.Tensor, n_pred: torch.Tensor, scratch: _Scratch) -> torch.Tensor:
    """(chunk, V): per window, the head rows' mean square of ``Σ_t err_t ⊗ h_t`` (without the weight w²).

    A window's positions are consecutive rows of ``err`` (N, V) and ``h`` (N, d); one (V, d) product per
    window, so short windows cost only their own positions.
    """
    g = scratch("head_grad", err.shape[1], h.shape[1], h)
    rows, start = [], 0
    for end in n_pred.cumsum(0).tolist():
        torch.mm(err[start:end].t().to(h.dtype), h[start:end], out=g)
        rows.append(_mean_square(_at_least_float32(g)[None], 0)[0])
        start = end
    return torch.stack(rows)


def _forward_owners(probe, names: Sequence[str]) -> dict[str, tuple[nn.Module, str]]:
    """``name → (module, "weight" | "bias")`` of a tail subset the forward path can do, or a DQError."""
    tail = getattr(probe, "_tail", None)
    if tail is None or not probe.can_split(names):
        raise DQError(
            "config key 'task2vec.method'=forward: the forward path needs the GPT probe (task2vec.probe.kind: "
            f"gpt) and layers inside its last block, final norm and head ('final', 'final-outputs', ...); got "
            f"{len(names)} parameter(s) such as {list(names)[:2]}. Use task2vec.method: vmap (or auto)"
        )
    last = f"blocks.{len(probe.model.blocks) - 1}."
    prefix = {last: tail.block, "ln_f.": tail.ln_f, "lm_head.": tail.lm_head}
    owners = {}
    for name in names:
        base = next(p for p in prefix if name.startswith(p))
        module_path, _, leaf = name[len(base) :].rpartition(".")
        module = prefix[base].get_submodule(module_path) if module_path else prefix[base]
        if not isinstance(module, (nn.Linear, nn.LayerNorm)) or leaf not in ("weight", "bias"):
            raise DQError(
                f"config key 'task2vec.method'=forward: parameter {name} belongs to a "
                f"{type(module).__name__}; the forward path handles Linear and LayerNorm parameters only. "
                "Use task2vec.method: vmap"
            )
        owners[name] = (module, leaf)
    return owners


def window_fisher(
    probe,
    windows: Windows,
    names: Sequence[str],
    seeds: np.ndarray,
    head: torch.Tensor | None = None,
    chunk_size: int = 16,
    token_scale: bool = True,
    method: str = "vmap",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-window filter-wise Fisher vectors (the same numbers, up to float rounding, with every ``method``).

    Parameters
    ----------
    probe : dqreview.probe.Probe
    windows : Windows
    names : list of str
        Differentiated parameters (``probe.layer_names(...)``), in embedding order.
    seeds : int64 array (n,)
        Label-sampling seed of each window (:func:`window_seeds`).
    head : Tensor, optional
        A fine-tuned head weight replacing the probe's (only matters when the head is used).
    chunk_size : int
        Windows per ``vmap`` call (memory ~ chunk × differentiated parameters); results do not depend on it.
    token_scale : bool
        Multiply each window's squared gradient by its number of predictions (see the module docstring).
    method : {"forward", "vmap", "loop"}
        ``forward``: one batched forward of the tail and one backward from the analytic logit error, the
        per-window gradients by batched matmuls (:func:`_forward_block`; GPT probe, parameters of the last
        block, final norm and head only — ``final``, ``final-outputs`` and their ``-no-head``; windows
        longest first, each chunk cut after its longest window); ``vmap``: per-window gradients with
        ``torch.func.vmap(grad)`` (GPT probe, any layers); ``loop``: one ordinary ``autograd.grad`` per
        window (any probe; the reference the other two are tested against). :func:`resolve_method` picks
        one for ``auto``.

    Returns
    -------
    fisher : ndarray (n, D), float64
    true_loss : ndarray (n,), float64
        Mean true-next-token cross-entropy of each window (nats), for "hardest example" prototypes.
    labels : ndarray (n, W), int64
        The sampled labels (``-1`` at padded positions).
    """
    n = len(windows)
    if len(seeds) != n:
        raise DQError(f"task2vec: {len(seeds)} seeds for {n} windows")
    if (windows.n_pred < 1).any():
        raise DQError("task2vec: a window without any prediction position (an empty document?)")
    if method not in METHODS:
        raise DQError(f"config key 'task2vec.method'={method!r}: use one of {', '.join(METHODS)}")
    if method == "forward":
        _forward_owners(probe, names)  # a DQError naming the key before any work
    device = probe.device
    split = method == "vmap" and probe.can_split(names)
    params = {k: v.detach() for k, v in probe.parameters_of(names).items()}
    if head is not None and probe.head_name in params:
        params[probe.head_name] = head.to(device)
    override = (
        {probe.head_name: head.to(device)} if head is not None and probe.head_name not in params else {}
    )
    u_all = _uniforms(seeds, windows.x.shape[1])
    fn = _window_loss_fn(probe, split)
    scratch = _Scratch()  # the forward path's buffers, reused by every chunk
    fisher = np.zeros((n, sum(d for _, d in layout(probe, list(params)))), dtype=np.float64)
    true_loss = np.zeros(n, dtype=np.float64)
    labels = np.full(tuple(windows.x.shape), -1, dtype=np.int64)
    step = max(1, int(chunk_size))
    # The forward path takes the windows longest first and cuts each chunk after its longest window's last
    # prediction: exact (causal attention; nothing later is read), and the padding of a document's short
    # last window no longer runs through the model. The other paths keep the windows' order and width.
    order = np.argsort(-windows.n_pred.numpy(), kind="stable") if method == "forward" else np.arange(n)
    for lo in range(0, n, step):
        sel = order[lo : lo + step]
        idx = torch.from_numpy(sel)
        width = int(windows.n_pred[idx].max()) if method == "forward" else windows.x.shape[1]
        x = windows.x[idx, :width].to(device)
        y = windows.y[idx, :width].to(device)
        n_pred = windows.n_pred[idx].to(device)
        u = u_all[idx, :width].to(device)
        if method == "vmap":
            inp = probe.trunk(x) if split else x
            if override:
                raise DQError(
                    "task2vec: a fine-tuned head outside the differentiated layers needs method=loop"
                )
            # the math attention kernel has vmap batching rules; the fused CPU kernel falls back to a loop
            with sdpa_kernel([SDPBackend.MATH]):
                grads, (tl, lab) = torch.func.vmap(
                    torch.func.grad(fn, has_aux=True), in_dims=(None, 0, 0, 0, 0)
                )(params, inp, y, n_pred, u)
            rows = [_mean_square(_at_least_float32(grads[k]), probe.filter_axis(k)) for k in params]
        elif method == "forward":
            if override:
                raise DQError(
                    "task2vec: a fine-tuned head outside the differentiated layers needs method=loop"
                )
            head_weight = params.get(probe.head_name, probe.model.lm_head.weight)
            rows, tl, lab = _forward_block(probe, list(params), x, y, n_pred, u, head_weight, scratch)
        elif method == "loop":
            rows_list, tl_list, lab_list = [], [], []
            for j in range(len(sel)):
                p = {k: v.clone().requires_grad_(True) for k, v in params.items()}
                with torch.enable_grad():
                    logits = probe.logits({**p, **override}, x[j : j + 1])[0]
                    logp = torch.log_softmax(_at_least_float32(logits), dim=-1)
                    mask = torch.arange(logp.shape[0], device=device) < n_pred[j]
                    label = sample_labels(logp, u[j], log_probs=True)
                    lab_list.append(torch.where(mask, label, -1))
                    nll = -logp.gather(-1, label[:, None]).squeeze(-1)
                    loss = torch.where(mask, nll, 0.0).sum() / n_pred[j]
                    g = torch.autograd.grad(loss, list(p.values()))
                true = -logp.gather(-1, y[j].clamp(min=0)[:, None]).squeeze(-1)
                tl_list.append(torch.where(mask, true, 0.0).sum() / n_pred[j])
                rows_list.append(
                    [
                        _mean_square(_at_least_float32(gi)[None], probe.filter_axis(k))[0]
                        for k, gi in zip(p, g, strict=True)
                    ]
                )
            rows = [torch.stack([r[k] for r in rows_list]) for k in range(len(params))]
            tl = torch.stack(tl_list).detach()
            lab = torch.stack(lab_list)
        else:
            raise DQError(f"config key 'task2vec.method'={method!r}: use one of {', '.join(METHODS)}")
        block = torch.cat(rows, dim=1).double()
        if token_scale:
            block = block * n_pred.double()[:, None]
        fisher[sel] = block.cpu().numpy()
        true_loss[sel] = tl.double().cpu().numpy()
        labels[sel, :width] = lab.cpu().numpy()
    return fisher, true_loss, labels


def _names_and_method(probe, layers, method: str | None) -> tuple[list[str], str]:
    names = probe.layer_names(layers)
    return names, resolve_method(probe, names, method)


def forward_possible(probe, names: Sequence[str]) -> bool:
    """Whether :func:`window_fisher` can take ``method="forward"`` for these parameters."""
    try:
        _forward_owners(probe, names)
    except DQError:
        return False
    return True


def resolve_method(probe, names: Sequence[str], method: str | None) -> str:
    """``auto`` / None → ``forward`` where the layers allow it (GPT probe, tail layers), else ``vmap`` (GPT
    probe) or ``loop`` (HF probe); any other value is checked and returned."""
    if method in (None, "auto"):
        if forward_possible(probe, names):
            return "forward"
        return "vmap" if probe.kind == "gpt" else "loop"
    if method not in METHODS:
        raise DQError(f"config key 'task2vec.method'={method!r}: use one of auto, {', '.join(METHODS)}")
    return method


def embed_batch(
    probe,
    docs: Sequence[np.ndarray],
    window: int = 128,
    layers: str | Sequence[str] = "all",
    finetune: dict | None = None,
    seed: int = 0,
    key: object = "batch",
    chunk_size: int = 16,
    token_scale: bool = True,
    method: str | None = None,
) -> np.ndarray:
    """Task2Vec embedding of a batch of documents (Miranda et al.'s f_B, with our estimator).

    Every document contributes its first window (``[eos] + tokens``, truncated/padded to ``window``);
    the head is fine-tuned on the batch when ``finetune`` is a dict (keys of :data:`FINETUNE_DEFAULTS`;
    ``None`` = no fine-tuning); labels are sampled with per-window seeds ``hash(seed, key, i)``.

    Returns
    -------
    ndarray (D,), float64
        The mean of the per-window filter-wise Fisher vectors.
    """
    names, method = _names_and_method(probe, layers, method)
    w = document_windows(docs, window, probe.eos_id, first_only=True, vocab_size=probe.vocab_size)
    head = None
    if finetune is not None:
        ft = {**FINETUNE_DEFAULTS, **finetune}
        # the loader order is seeded per batch too (hash of seed and key), never one order for all batches
        head = finetune_head(probe, w, seed=stable_hash64("t2v-batch", seed, key) & (2**63 - 1), **ft)
    if head is not None and probe.head_name not in names:
        method = "loop"
    seeds = window_seeds(seed, [f"{key}/{i}" for i in range(len(w))], np.zeros(len(w), dtype=np.int64))
    fisher, _, _ = window_fisher(probe, w, names, seeds, head, chunk_size, token_scale, method)
    return fisher.mean(axis=0)


def document_vector_options(task2vec: dict) -> dict:
    """The keyword arguments of :func:`document_vectors` that config key ``task2vec`` sets (all but the
    label ``seed``): ``window``, ``layers``, ``chunk_size``, ``token_scale``, ``label_samples``, ``method``."""
    documents = task2vec["documents"]
    return {
        "window": task2vec["window"],
        "layers": documents["layers"],
        "chunk_size": task2vec["chunk_size"],
        "token_scale": task2vec["token_scale"],
        "label_samples": documents.get("label_samples", 1),
        "method": task2vec.get("method", "auto"),
    }


def document_vectors(
    probe,
    docs: Sequence[np.ndarray],
    ids: Sequence[str],
    window: int = 128,
    layers: str | Sequence[str] = "final",
    seed: int = 0,
    chunk_size: int = 16,
    token_scale: bool = True,
    method: str | None = None,
    docs_per_step: int = 64,
    progress: str | None = None,
    label_samples: int = 1,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-document Task2Vec vectors (docs/methods.md, "Task2Vec"): the mean of each document's window vectors.

    No head fine-tuning. Window ``k`` of document ``id`` samples its labels with seed
    ``hash(seed, id, k)``, so a document's vector does not depend on the shard it is in. ``progress``
    names the work in progress lines of the job's log (documents done/total, rate, ETA); None: quiet.

    ``label_samples`` > 1 averages each window's Fisher over that many independent label draws per
    position (draw ``j > 0`` uses the key ``"<id>#<j>"``; draw 0 is the single-draw vector, so
    ``label_samples=1`` is unchanged): a lower-variance estimate of the same expectation, at
    ``label_samples`` times the cost.

    Returns
    -------
    vectors : ndarray (n_docs, D), float32
    loss : ndarray (n_docs,), float64
        Probe loss of each document: mean true-next-token cross-entropy over its predictions (nats).
    n_windows : ndarray (n_docs,), int64
    """
    if len(ids) != len(docs):
        raise DQError(f"task2vec: {len(docs)} documents but {len(ids)} ids")
    if int(label_samples) < 1:
        raise DQError(
            f"task2vec.documents.label_samples={label_samples}: must be at least 1 label draw per position"
        )
    names, method = _names_and_method(probe, layers, method)
    _check_docs(docs, probe.vocab_size, "task2vec")
    out, losses, counts = [], [], []
    bar = Progress(len(docs), progress or "task2vec", "doc", enabled=progress is not None)
    for lo in range(0, len(docs), docs_per_step):
        part = docs[lo : lo + docs_per_step]
        w = document_windows(part, window, probe.eos_id, vocab_size=probe.vocab_size)
        keys = [ids[lo + i] for i in w.owner]
        fisher, tl, _ = window_fisher(
            probe, w, names, window_seeds(seed, keys, w.index), None, chunk_size, token_scale, method
        )
        for draw in range(1, int(label_samples)):
            more, _, _ = window_fisher(
                probe, w, names, window_seeds(seed, [f"{k}#{draw}" for k in keys], w.index), None,
                chunk_size, token_scale, method,
            )  # fmt: skip
            fisher += more
        fisher /= int(label_samples)
        n = len(part)
        count = np.bincount(w.owner, minlength=n)
        vec = np.zeros((n, fisher.shape[1]))
        np.add.at(vec, w.owner, fisher)
        out.append((vec / count[:, None]).astype(np.float32))
        npred = w.n_pred.numpy().astype(np.float64)
        tok_loss = np.bincount(w.owner, weights=tl * npred, minlength=n)
        losses.append(tok_loss / np.bincount(w.owner, weights=npred, minlength=n))
        counts.append(count)
        bar.update(n)
    bar.close()
    return np.concatenate(out), np.concatenate(losses), np.concatenate(counts)


# --- distances ---------------------------------------------------------------------------------
def _check_vectors(A: np.ndarray, name: str) -> np.ndarray:
    A = np.asarray(A, dtype=np.float64)
    if A.ndim == 1:
        A = A[None, :]
    if A.ndim != 2 or A.shape[0] == 0:
        raise DQError(f"task2vec: {name} must be a non-empty (n, D) array of Fisher vectors; got {A.shape}")
    if not np.all(np.isfinite(A)) or (A < 0).any():
        raise DQError(f"task2vec: {name} has negative or non-finite entries; Fisher diagonals are >= 0")
    return A


def distance_matrix(
    A: np.ndarray, B: np.ndarray | None = None, distance: str = "cosine", chunk_size: int = 256
) -> np.ndarray:
    """Task2Vec distances between the rows of ``A`` (n, D) and of ``B`` (m, D) (``B=None``: ``A`` itself).

    ``cosine``: ``1 − cos(F_a/(F_a+F_b+ε), F_b/(F_a+F_b+ε))`` (clipped at 0 against rounding); ``l1``/``l2``:
    the norm of the difference of the same two vectors. Float64, shape (n, m).
    """
    if distance not in DISTANCES:
        raise DQError(f"unknown Task2Vec distance {distance!r}; use one of {', '.join(DISTANCES)}")
    A = _check_vectors(A, "A")
    B = A if B is None else _check_vectors(B, "B")
    if A.shape[1] != B.shape[1]:
        raise DQError(
            f"task2vec: embeddings of different dimension ({A.shape[1]} vs {B.shape[1]}); "
            "they come from different probes or layer subsets and cannot be compared"
        )
    if A.shape[0] > B.shape[0]:
        # every distance here is symmetric: loop over the smaller side, vectorise over the larger
        return distance_matrix(B, A, distance, chunk_size).T
    out = np.empty((A.shape[0], B.shape[0]))
    for lo in range(0, B.shape[0], max(1, chunk_size)):
        b = B[lo : lo + chunk_size]
        for i, a in enumerate(A):
            s = a[None, :] + b + EPS
            p, q = a[None, :] / s, b / s
            if distance == "cosine":
                num = (p * q).sum(axis=1)
                den = np.linalg.norm(p, axis=1) * np.linalg.norm(q, axis=1)
                if (den == 0).any():
                    raise DQError(
                        "task2vec: a zero Fisher vector has no cosine distance (all gradients zero)"
                    )
                d = np.maximum(0.0, 1.0 - num / den)
                d[(p == q).all(axis=1)] = 0.0  # identical embeddings: exactly 0, not 1e-16
                out[i, lo : lo + len(b)] = d
            elif distance == "l1":
                out[i, lo : lo + len(b)] = np.abs(p - q).sum(axis=1)
            else:
                out[i, lo : lo + len(b)] = np.sqrt(((p - q) ** 2).sum(axis=1))
    return out


def task2vec_distance(a: np.ndarray, b: np.ndarray, distance: str = "cosine") -> float:
    """Distance between two Fisher vectors (see :func:`distance_matrix`)."""
    return float(distance_matrix(a, b, distance)[0, 0])


def forward_backward_seconds(
    probe, docs: Sequence[np.ndarray], window: int = 128, batch_size: int = 16
) -> tuple[float, int]:
    """Seconds for one ordinary forward+backward of the probe over the same windows as
    :func:`document_vectors` (true next tokens, padding masked, gradients for every parameter).

    The yardstick of the cost records: per-document Task2Vec cost = its time / this time.

    Returns
    -------
    seconds : float
    tokens : int
        Prediction positions processed.
    """
    import time

    w = document_windows(docs, window, probe.eos_id, vocab_size=probe.vocab_size)
    params = list(probe.model.parameters())
    for p in params:
        p.requires_grad_(True)
    device = probe.device
    try:
        t0 = time.perf_counter()
        for lo in range(0, len(w), batch_size):
            x = w.x[lo : lo + batch_size].to(device)
            y = w.y[lo : lo + batch_size].to(device)
            with torch.enable_grad():
                logits = probe.logits({}, x)
                loss = F.cross_entropy(
                    logits.reshape(-1, logits.shape[-1]).float(), y.reshape(-1), ignore_index=-1
                )
                loss.backward()
            probe.model.zero_grad(set_to_none=True)
        if str(device).startswith("cuda"):
            torch.cuda.synchronize(device)
        seconds = time.perf_counter() - t0
    finally:
        for p in params:
            p.requires_grad_(False)
    return seconds, int(w.n_pred.sum())
