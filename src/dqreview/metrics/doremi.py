"""DoReMi: domain weights from Group DRO on a small proxy LM (Xie et al. 2023).

1. A reference proxy LM is trained on the natural domain proportions (tokens).
2. A same-size proxy is trained with online Group DRO. Each step, on a batch that holds every
   domain, the per-token excess loss ``max(ℓ_proxy − ℓ_ref, 0)`` is clipped at 0 *before* it is
   averaged per domain into ``λ``; a domain absent from the batch keeps its last ``λ``. The domain
   weights take an exponentiated-gradient step in log space, ``α' ∝ α_{t−1} · exp(η λ)``, and are
   smoothed towards uniform, ``α_t = (1 − c) α' + c / k``. The proxy's loss is
   ``Σ_i α_t,i · mean loss of domain i``.
3. The output is the time average after a burn-in, ``ᾱ = 1/(T − t₀) Σ_{t > t₀} α_t`` with
   ``t₀ = ⌊average_from · T⌋`` (the last ``α_T`` is noisy; the first steps, while both models are
   still in their start-up descent, measure how fast two fresh models fall rather than which domain
   is hard; docs/methods.md, "DoReMi", has the measured trace), written per seed as JSON; optional
   further rounds retrain the reference on ``ᾱ`` (iterated DoReMi).

The update is :func:`doremi_update` (float64, pure, unit-tested by hand); the training loop is
:func:`train_doremi`, run per seed by :meth:`DoReMi.learn`. As a selection, ``ᾱ`` (a token mixture)
is converted to byte shares with each domain's bytes per token and sampled to the byte budget by
:func:`dqreview.mixture.sample_mixture` (:func:`select_from_weights`).

Batches: the proxy's batches are *stratified* — every domain gets ``min_per_domain`` (1) windows of
each batch and the rest are drawn uniformly over domains (the paper samples the proxy's data
uniformly over domains), so every batch contains every domain and the weights cannot collapse for
lack of data (doremi issue #5). The reference's windows are drawn i.i.d. from the natural token
proportions (from ``ᾱ`` in later rounds). See :class:`dqreview.lm.data.DomainMixtureStream`.
"""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING, Annotated, Any

import numpy as np
import pandas as pd

from dqreview.errors import DQError
from dqreview.metrics.base import Learned, MixtureLearner, ProxyLM
from dqreview.params import Ge, Gt, Le, Lt, Params
from dqreview.progress import Progress

if TYPE_CHECKING:
    from dqreview.mixture import PoolTokens

log = logging.getLogger(__name__)


class DoReMiParams(Params):
    """A DoReMi variant's settings."""

    #: optimizer steps of the reference and of the proxy (each round)
    steps: Annotated[int, Ge(1)] = 200
    #: windows per batch; None = lm.train.batch_size
    batch_size: Annotated[int, Ge(1)] | None = None
    #: step size η of the exponentiated-gradient update (positive, finite)
    eta: Annotated[float, Gt(0), Lt(math.inf)] = 1.0
    #: smoothing towards uniform
    c: Annotated[float, Ge(0), Le(1)] = 1e-3
    #: >1: iterated DoReMi (the next reference trains on ᾱ)
    rounds: Annotated[int, Ge(1)] = 1
    #: windows of every domain in each proxy batch
    min_per_domain: Annotated[int, Ge(0)] = 1
    #: burn-in: ᾱ averages α_t over the steps after this fraction of each round's proxy steps
    average_from: Annotated[float, Ge(0), Lt(1)] = 0.25


# --- the update rule (pure, float64) ----------------------------------------------------------


def domain_excess_means(
    proxy_loss: np.ndarray, ref_loss: np.ndarray, domains: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per-domain mean of the per-token excess loss ``max(ℓ_proxy − ℓ_ref, 0)``.

    The clip is per token, *before* the mean: a token the proxy already predicts better than the
    reference contributes 0, not a negative amount that would cancel another token's excess.

    Parameters
    ----------
    proxy_loss, ref_loss : ndarray, same shape
        Per-token losses (nats) of the proxy and of the reference on the same tokens.
    domains : int ndarray, same shape
        Domain id (0..k−1) of each token.
    k : int
        Number of domains.

    Returns
    -------
    excess : ndarray of float64, shape (k,)
        Mean clipped excess per domain (0 where the domain has no token).
    present : ndarray of bool, shape (k,)
        Whether the domain has at least one token.
    """
    proxy_loss = np.asarray(proxy_loss, dtype=np.float64).ravel()
    ref_loss = np.asarray(ref_loss, dtype=np.float64).ravel()
    domains = np.asarray(domains).ravel()
    if not (proxy_loss.shape == ref_loss.shape == domains.shape):
        raise DQError(
            f"per-token losses and domains differ in size: {proxy_loss.shape}, {ref_loss.shape}, {domains.shape}"
        )
    if len(domains) and (domains.min() < 0 or domains.max() >= k):
        raise DQError(f"domain ids must be in 0..{k - 1}; got {domains.min()}..{domains.max()}")
    excess = np.maximum(proxy_loss - ref_loss, 0.0)
    counts = np.bincount(domains, minlength=k)
    sums = np.bincount(domains, weights=excess, minlength=k)
    present = counts > 0
    means = np.zeros(k, dtype=np.float64)
    means[present] = sums[present] / counts[present]
    return means, present


def doremi_update(
    alpha: np.ndarray,
    lam: np.ndarray,
    excess_by_domain: np.ndarray,
    present: np.ndarray,
    eta: float,
    c: float,
) -> tuple[np.ndarray, np.ndarray]:
    """One DoReMi domain-weight step.

    ``λ_i`` ← the batch's mean clipped excess of domain i (kept from the previous step when domain i
    is absent); ``log α' = log α_{t−1} + η λ − logsumexp(log α_{t−1} + η λ)``;
    ``α_t = (1 − c) exp(log α') + c / k``.

    The state is ``α`` itself, as in the reference code (``doremi/trainer.py``,
    ``update_domain_weights``): the smoothing mixes with the uniform distribution in linear space,
    and the log is only taken for the exponentiated step.

    Parameters
    ----------
    alpha : ndarray, shape (k,)
        ``α_{t−1}``: positive, sums to 1.
    lam : ndarray, shape (k,)
        ``λ`` of the previous step (the value kept for absent domains).
    excess_by_domain : ndarray, shape (k,)
        This batch's per-domain mean clipped excess (:func:`domain_excess_means`).
    present : ndarray of bool, shape (k,)
    eta, c : float
        Step size and smoothing.

    Returns
    -------
    alpha_t : ndarray of float64, shape (k,)
    lam_t : ndarray of float64, shape (k,)
    """
    alpha = np.asarray(alpha, dtype=np.float64)
    k = len(alpha)
    if alpha.shape != (k,) or k == 0 or (alpha <= 0).any() or abs(alpha.sum() - 1.0) > 1e-9:
        raise DQError(f"domain weights must be a positive vector summing to 1; got {alpha}")
    lam_t = np.where(np.asarray(present, dtype=bool), np.asarray(excess_by_domain, dtype=np.float64), lam)
    logits = np.log(alpha) + float(eta) * lam_t
    m = logits.max()
    log_alpha = logits - (m + np.log(np.exp(logits - m).sum()))  # logsumexp, stable
    alpha_t = (1.0 - float(c)) * np.exp(log_alpha) + float(c) / k
    return alpha_t, lam_t.astype(np.float64)


def burn_in_steps(steps: int, average_from: float) -> int:
    """``t₀ = ⌊average_from · steps⌋``: the proxy steps left out of ᾱ (fewer than ``steps`` when
    ``average_from`` < 1, so at least one α_t is averaged)."""
    if not 0.0 <= float(average_from) < 1.0:
        raise DQError(f"doremi: average_from must be in [0, 1); got {average_from}")
    return min(int(math.floor(float(average_from) * int(steps))), max(int(steps) - 1, 0))


def average_after_burn_in(alpha: np.ndarray, average_from: float) -> np.ndarray:
    """ᾱ: the mean of the rows ``α_{t₀+1} .. α_T`` of ``alpha`` (T, k), ``t₀`` from :func:`burn_in_steps`."""
    alpha = np.asarray(alpha, dtype=np.float64)
    return alpha[burn_in_steps(len(alpha), average_from) :].mean(axis=0)


def run_updates(
    excess_steps: list[np.ndarray],
    present_steps: list[np.ndarray],
    eta: float,
    c: float,
    alpha0=None,
    average_from: float = 0.0,
) -> dict[str, np.ndarray]:
    """Apply :func:`doremi_update` over a sequence of steps (from uniform, λ = 0).

    Returns
    -------
    dict
        ``alpha`` (T, k): α_t after each step; ``lam`` (T, k); ``average`` (k,): ᾱ = mean of
        α_{t₀+1}..α_T (:func:`average_after_burn_in`; all steps for ``average_from=0``).
    """
    k = len(excess_steps[0])
    alpha = np.full(k, 1.0 / k) if alpha0 is None else np.asarray(alpha0, dtype=np.float64)
    lam = np.zeros(k)
    alphas, lams = [], []
    for excess, present in zip(excess_steps, present_steps, strict=True):
        alpha, lam = doremi_update(alpha, lam, excess, present, eta, c)
        alphas.append(alpha)
        lams.append(lam)
    A = np.array(alphas)
    return {"alpha": A, "lam": np.array(lams), "average": average_after_burn_in(A, average_from)}


# --- training: reference + Group DRO proxy ----------------------------------------------------


class _Recorder:
    """Passes a stream's batches through and keeps the last one (for the reference's forward)."""

    def __init__(self, stream) -> None:
        self.stream = stream
        self.last: tuple[np.ndarray, np.ndarray] | None = None

    def next_batch(self):
        x, y, d = self.stream.next_batch()
        self.last = (x, y)
        return x, y, d


def _train_reference(docs, domain_ids, k, mixture, model_cfg, train_cfg, steps, batch, seed, device, bar):
    import torch

    from dqreview.lm.data import DomainMixtureStream
    from dqreview.lm.model import GPT
    from dqreview.lm.train import Trainer, make_optimizer

    torch.manual_seed(seed)
    model = GPT(model_cfg).to(device)
    opt = make_optimizer(model, train_cfg["lr"], train_cfg["weight_decay"])
    stream = DomainMixtureStream(docs, domain_ids, k, model_cfg.block_size, batch, seed, mixture, 0)
    trainer = Trainer(model, opt, stream, train_cfg, steps, device)
    losses = []
    for _ in range(steps):
        losses.append(trainer.step().loss)
        bar.update(1, loss=losses[-1])
    return model, losses


def train_doremi(
    docs: list[np.ndarray],
    domain_ids: np.ndarray,
    domain_names: list[str],
    model_cfg,
    train_cfg: dict[str, Any],
    seed: int,
    device: str = "cpu",
    *,
    steps: int = 200,
    batch_size: int | None = None,
    eta: float = 1.0,
    c: float = 1e-3,
    rounds: int = 1,
    min_per_domain: int = 1,
    average_from: float = 0.25,
) -> dict[str, Any]:
    """Train the reference and the Group DRO proxy; return the domain weights.

    Parameters
    ----------
    docs, domain_ids
        Token arrays of the pool's documents and their domain ids (0..k−1, ``domain_names`` order).
    model_cfg : GPTConfig
        The proxy's shape (the same for the reference).
    train_cfg : dict
        ``lm.train`` (lr, min_lr, warmup_steps, weight_decay, grad_clip, batch_size).
    seed : int
        Seeds both models' initialisation and their data streams.
    steps, batch_size, eta, c, rounds, min_per_domain, average_from
        The variant's parameters (:class:`DoReMiParams`); ``batch_size=None`` takes ``train_cfg``'s.
        ``average_from`` is ᾱ's burn-in (0 averages every step, as the paper's ᾱ).

    Returns
    -------
    dict
        ``weights`` (ᾱ of the last round, domain → weight), ``weights_last`` (α_T), ``natural``
        (token proportions), ``rounds`` (per round: reference mixture, α per step, ᾱ, the burn-in
        ``average_from_step`` t₀, λ per step, losses), ``tokens`` (reference and proxy training tokens), ``flops`` and ``flops_formula``.
    """
    import torch

    from dqreview.lm.data import DomainMixtureStream
    from dqreview.lm.model import GPT
    from dqreview.lm.train import Trainer, make_optimizer

    k = len(domain_names)
    domain_ids = np.asarray(domain_ids, dtype=np.int64)
    batch = int(batch_size or train_cfg["batch_size"])
    if batch < k * min_per_domain:
        raise DQError(
            f"doremi: a batch of {batch} windows cannot hold {min_per_domain} window(s) of each of "
            f"{k} domains; raise the variant's batch_size to at least {k * min_per_domain}"
        )
    steps = int(steps)
    burn_in = burn_in_steps(steps, average_from)  # per round: each round trains a fresh proxy
    tok = np.bincount(domain_ids, weights=[len(d) + 1 for d in docs], minlength=k)
    natural = tok / tok.sum()
    ref_mixture = natural
    uniform = np.full(k, 1.0 / k)
    tokens_per_step = batch * model_cfg.block_size
    n_rounds = int(rounds)
    rounds = []
    flops_per_token = None
    # every round trains a reference, then the proxy: steps/s and ETA over both in the job's log
    bar = Progress(2 * n_rounds * steps, f"doremi seed {seed}: reference and proxy", "step")
    for r in range(n_rounds):
        ref, ref_losses = _train_reference(
            docs, domain_ids, k, ref_mixture, model_cfg, train_cfg, steps, batch, seed + 7919 * r, device, bar
        )
        ref.eval()
        torch.manual_seed(seed)
        proxy = GPT(model_cfg).to(device)
        flops_per_token = proxy.flops_per_token()
        opt = make_optimizer(proxy, train_cfg["lr"], train_cfg["weight_decay"])
        stream = _Recorder(
            DomainMixtureStream(
                docs,
                domain_ids,
                k,
                model_cfg.block_size,
                batch,
                seed + 104729 * (r + 1),
                uniform,
                min_per_domain,
            )
        )
        state = {"alpha": uniform.copy(), "lam": np.zeros(k)}
        alphas, lams = [], []

        def group_dro_loss(per_token, dom, stream=stream, state=state, alphas=alphas, lams=lams, ref=ref):
            x, y = stream.last
            with torch.no_grad():
                _, ref_loss = ref(torch.from_numpy(x).to(device), torch.from_numpy(y).to(device))
            excess, present = domain_excess_means(
                per_token.detach().double().cpu().numpy(), ref_loss.double().cpu().numpy(), dom, k
            )
            state["alpha"], state["lam"] = doremi_update(
                state["alpha"], state["lam"], excess, present, eta, c
            )
            alphas.append(state["alpha"])
            lams.append(state["lam"])
            # the proxy's objective with the updated weights: Σ_i α_i · mean loss of domain i
            dom_t = torch.from_numpy(dom).to(per_token.device).reshape(-1)
            sums = torch.zeros(k, dtype=per_token.dtype, device=per_token.device).index_add_(
                0, dom_t, per_token.reshape(-1)
            )
            counts = torch.bincount(dom_t, minlength=k).to(per_token.dtype)
            w = torch.tensor(state["alpha"] * present, dtype=per_token.dtype, device=per_token.device)
            return (w * sums / counts.clamp(min=1)).sum() / w.sum()

        trainer = Trainer(proxy, opt, stream, train_cfg, steps, device, loss_weights=group_dro_loss)
        proxy_losses = []
        for _ in range(steps):
            proxy_losses.append(trainer.step().loss)
            bar.update(1, loss=proxy_losses[-1])
        A = np.array(alphas)
        average = average_after_burn_in(A, average_from)
        rounds.append(
            {
                "round": r,
                "reference_mixture": dict(zip(domain_names, ref_mixture.tolist(), strict=True)),
                "alpha": A.tolist(),
                "lam": np.array(lams).tolist(),
                "average": dict(zip(domain_names, average.tolist(), strict=True)),
                "average_from_step": burn_in,
                "reference_train_loss": [round(x, 6) for x in ref_losses],
                "proxy_train_loss": [round(x, 6) for x in proxy_losses],
            }
        )
        log.info(
            "doremi seed %d round %d: ᾱ = %s",
            seed,
            r,
            ", ".join(f"{d} {a:.3f}" for d, a in zip(domain_names, average, strict=True)),
        )
        ref_mixture = average
    bar.close()
    tokens_ref = n_rounds * steps * tokens_per_step
    tokens_proxy = n_rounds * steps * tokens_per_step
    # reference: a training run; proxy: a training run plus a reference forward (≈ 1/3 of a
    # training step's FLOPs: forward 2N of the 6N) on every proxy token
    flops = flops_per_token * (tokens_ref + tokens_proxy) + flops_per_token / 3.0 * tokens_proxy
    return {
        "weights": rounds[-1]["average"],
        "weights_last": dict(zip(domain_names, np.array(rounds[-1]["alpha"])[-1].tolist(), strict=True)),
        "natural": dict(zip(domain_names, natural.tolist(), strict=True)),
        "rounds": rounds,
        "params": {
            "steps": steps,
            "batch_size": batch,
            "eta": eta,
            "c": c,
            "rounds": n_rounds,
            "min_per_domain": min_per_domain,
            "average_from": float(average_from),
        },  # fmt: skip
        "tokens": {"reference": tokens_ref, "proxy": tokens_proxy},
        "flops": float(flops),
        "flops_formula": (
            "flops_per_token x (reference tokens + proxy tokens) + flops_per_token/3 x proxy tokens "
            f"(reference forward on each proxy batch); flops_per_token={flops_per_token:.0f}"
        ),
    }


# --- selection ---------------------------------------------------------------------------------


def select_from_weights(
    pool: pd.DataFrame, state: dict, budget: float, seed: int
) -> tuple[pd.DataFrame, dict]:
    """Sample the pool to a byte budget from the learned weights ``state["weights"]`` (tokens).

    ``state`` is this seed's learned state (:meth:`DoReMi.learn`); its ``bytes_per_token`` turns the
    token mixture into byte shares (:func:`dqreview.mixture.token_to_byte_mixture`).
    """
    from dqreview.mixture import check_covers, check_mixture, sample_mixture, token_to_byte_mixture

    if not isinstance(state, dict) or "weights" not in state or "bytes_per_token" not in state:
        raise DQError(
            "doremi state: expected a JSON object with 'weights' and 'bytes_per_token'; "
            "rerun the learn_mixture rule"
        )
    domains = sorted(pool["domain"].astype(str).unique()) if "domain" in pool.columns else []
    check_covers(state["weights"], domains, "doremi weights")
    weights = check_mixture(state["weights"], domains, "doremi weights")
    byte_mix = token_to_byte_mixture(weights, state["bytes_per_token"])
    selection, info = sample_mixture(pool, byte_mix, budget, seed)
    info["mixture_tokens"] = weights
    return selection, info


# --- the method --------------------------------------------------------------------------------


class DoReMi(MixtureLearner):
    """Domain weights ᾱ from a reference and a Group DRO proxy per seed, sampled to each budget."""

    Params = DoReMiParams
    keep = ("high",)
    family = "mixture"
    figure = "doremi_weights"

    def draw(self, states, path):
        from dqreview.report.mixture import doremi_weights_figure

        doremi_weights_figure(states, path)

    def learn(
        self, pool: PoolTokens, inputs: dict[str, Any], params: DoReMiParams, seed: int, proxy: ProxyLM
    ) -> Learned:
        names = sorted(pool.frame["domain"].unique())
        codes = pool.frame["domain"].map({d: i for i, d in enumerate(names)}).to_numpy(np.int64)
        p = params
        out = train_doremi(
            pool.tokens, codes, names, proxy.model, proxy.train, int(seed), proxy.device, steps=p.steps,
            batch_size=p.batch_size, eta=p.eta, c=p.c, rounds=p.rounds, min_per_domain=p.min_per_domain,
            average_from=p.average_from,
        )  # fmt: skip
        out.update(domains=names, bytes_per_token=pool.bytes_per_token)
        log.info("seed %s: weights %s", seed, {d: round(w, 4) for d, w in out["weights"].items()})
        return Learned(
            state=out,
            flops=out["flops"],
            tokens=int(sum(out["tokens"].values())),
            flops_formula=out["flops_formula"],
            extra={"reference_and_proxy_tokens_per_seed": out["tokens"]},
        )

    def select_budget(self, pool, state, budget, seed, params, inputs) -> tuple[pd.DataFrame, dict]:
        return select_from_weights(pool, state, budget, seed)


METHOD = DoReMi()
