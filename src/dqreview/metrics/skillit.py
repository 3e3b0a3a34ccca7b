"""Skill-It: an online skill mixture steered by a skill graph (Chen et al. 2023), at proxy scale.

Skills are data slices: the *training skills* are the pool's domains, or (``skills:
ssl_proto/<variant>``) the pool's k-means clusters of that ssl_proto variant (embedding space);
the *evaluation skills* are a small validation slice of each training skill (documents picked by hash, kept out of the proxy's
training data) plus the target ref set, so the graph is rectangular (training × evaluation skills)
and the target is one evaluation skill (``eval_skills: target`` keeps the target column only, like
the reference code's ``--target_mask``).

Graph estimator (the paper's cheap linear approximation): from a common start θ₀ (a proxy warm-started
``start_steps`` on the natural mixture of the pool, by default ``lm.train.warmup_steps``) train a copy on
skill i alone for ``graph_steps`` steps, and set

    Δ_ij = max(L_j(θ₀) − L_j(θ_i), 0) / L_j(θ₀)      (relative drop of skill j's validation loss)
    A    = Δ / max(Δ)                                 (the largest edge is 1)

The relative drop puts skills with different loss scales on one footing; the clip keeps
interference out of the multiplicative update (it has no negative edges). The warm start matters:
from a fresh model, training on any text lowers every loss (unigram statistics), so the graph is
dense and says little about which skill helps which; past the proxy's learning-rate warm-up the
start-up descent is over and the edges measure transfer (docs/methods.md, "Skill-It", has the
measured graphs). ``start_steps: 0`` is the cold start.

Online mixture (``trainer/mw_trainer.py`` of HazyResearch/skill-it): a fresh proxy (the run the
selection steers also starts from scratch) is trained for ``rounds`` rounds of ``update_steps``
steps; before round t (1-based) the mixture is

    p_t ∝ prior ∘ exp(η · A · Σ_{τ = t−w .. t−1} L_τ / L_0)

with L_0 the losses before training, L_τ the evaluation skills' losses after round τ and w the
window (the last w evaluations, fewer at the start) — the windowed form of the reference code,
recomputed from the prior each round, not cumulative multiplicative weights. ``normalize_loss``
(the default) divides by L_0 as the reference's ``--normalize_loss``, so round 1 uses
``p_1 ∝ prior ∘ exp(η A 1)``, the reference's ``loss_init = 1``. One difference: the reference
code evaluates L_τ at the first step of the round *after* it has already set that round's mixture,
so its mixtures lag one evaluation; here each round uses the evaluations up to its start.

The output per seed is a schedule (round token counts and mixtures) as JSON. As a selection the
schedule is sampled to the byte budget (:func:`dqreview.mixture.sample_schedule`; a ``round``
column) and the training run streams the rounds in order, each stretched to its share of the
training tokens and shuffled within the round (:class:`dqreview.lm.data.TokenStream`). The
``static`` variant is the control: the final round's mixture (``static: final``) or the
token-weighted average mixture (``static: average``) sampled without rounds.

One module for one method (about 550 lines, a fifth of them this docstring and the parameters): the
graph estimator, the online loop and sampling the schedule share the skills and the state format.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Annotated, Any, Literal

import numpy as np
import pandas as pd

from dqreview.errors import DQError
from dqreview.metrics.base import Learned, MixtureLearner, ProxyLM
from dqreview.metrics.inputs import TARGET_DOCS, Input, scores_of
from dqreview.params import Ge, Gt, Match, Params, config_key
from dqreview.progress import Progress

if TYPE_CHECKING:
    from dqreview.mixture import PoolTokens

log = logging.getLogger(__name__)

#: ``skills``: the pool's domains, or the k-means clusters of an ssl_proto variant.
SKILLS_PATTERN = r"domains|ssl_proto/[A-Za-z0-9][A-Za-z0-9._-]*"


class SkillItParams(Params):
    """A Skill-It variant's settings."""

    #: T, the online rounds
    rounds: Annotated[int, Ge(1)] = 6
    #: optimizer steps per round
    update_steps: Annotated[int, Ge(1)] = 50
    #: h: steps on one skill alone, per training skill
    graph_steps: Annotated[int, Ge(1)] = 50
    #: warm start of the graph's common start: steps on the natural mixture (None = lm.train.warmup_steps; 0 = cold)
    start_steps: Annotated[int, Ge(0)] | None = None
    eta: Annotated[float, Gt(0)] = 0.5
    window: Annotated[int, Ge(1)] = 3
    normalize_loss: bool = True
    #: window reduction: sum (docs/methods.md, "Skill-It") or mean (reference with a target mask)
    reduce: Literal["sum", "mean"] = "sum"
    #: uniform, or natural (token proportions)
    prior: Literal["uniform", "natural"] = "uniform"
    #: all = domain validation slices + target; target = the target only
    eval_skills: Literal["all", "target"] = "all"
    #: validation documents per domain (kept out of the proxy's training data)
    val_docs: Annotated[int, Ge(1)] = 20
    #: target ref documents evaluated each round (None = all; a hash-picked subset)
    target_docs: Annotated[int, Ge(1)] | None = None
    #: None = lm.train.batch_size
    batch_size: Annotated[int, Ge(1)] | None = None
    #: "domains", or "ssl_proto/<variant>": that variant's pool k-means clusters
    skills: Annotated[str, Match(SKILLS_PATTERN, "'domains' or 'ssl_proto/<variant slug>'")] = "domains"
    #: None (online schedule), final or average: the static control
    static: Literal["final", "average"] | None = None
    #: another variant's slug whose schedule a static variant reuses
    from_: str | None = config_key("from", None)

    def check(self, where: str) -> None:
        if self.from_ is not None and self.static is None:
            self.fail(where, "from_", "only a static variant reuses another variant's schedule (a slug)")

    @property
    def skills_variant(self) -> str | None:
        """The ssl_proto variant whose clusters are the skills (None for the domains)."""
        return None if self.skills == "domains" else self.skills.split("/", 1)[1]


def skill_labels(ids: Sequence[str], clusters: pd.DataFrame, where: str = "skill clusters") -> np.ndarray:
    """Skill name of each document when skills are k-means clusters: ``c<cluster>`` (zero-padded).

    ``clusters`` is an ssl_proto score table (``id``, ``cluster``) covering every id.
    """
    if "cluster" not in clusters.columns or "id" not in clusters.columns:
        raise DQError(f"{where}: expected columns id and cluster; found {list(clusters.columns)}")
    table = clusters.set_index("id")["cluster"]
    ids = pd.Index(np.asarray(ids).astype(str))
    missing = ids.difference(table.index)
    if len(missing):
        raise DQError(
            f"{where}: {len(missing)} pool id(s) without a cluster, e.g. {missing[0]!r}; rerun ssl_proto"
        )
    cluster = table.loc[ids].to_numpy(dtype=np.int64)
    width = len(str(max(int(cluster.max()), 1)))
    return np.array([f"c{c:0{width}d}" for c in cluster])


# --- pure parts -------------------------------------------------------------------------------


def skillit_mixture(
    prior: np.ndarray,
    graph: np.ndarray,
    loss_history: Sequence[np.ndarray],
    eta: float,
    window: int,
    loss_scale: np.ndarray | None = None,
    reduce: str = "sum",
) -> np.ndarray:
    """``p ∝ prior ∘ exp(η · A · Σ_{last w} L_τ / scale)`` over the training skills.

    Parameters
    ----------
    prior : ndarray, shape (n_train,)
        Non-negative; a zero keeps the skill out.
    graph : ndarray, shape (n_train, n_eval)
        ``A_ij``: how much training on skill i lowers the loss of evaluation skill j.
    loss_history : sequence of ndarray, shape (n_eval,)
        Evaluation losses so far, oldest first; the last ``window`` enter the sum.
    eta : float
    window : int
    loss_scale : ndarray, shape (n_eval,), optional
        Divides the losses (``L_0`` for the reference's ``--normalize_loss``).
    reduce : {"sum", "mean"}
        Sum over the window (docs/methods.md, "Skill-It") or mean (the reference code with a target mask).

    Returns
    -------
    ndarray of float64, shape (n_train,)
        The mixture (sums to 1), computed in log space.
    """
    prior = np.asarray(prior, dtype=np.float64)
    graph = np.asarray(graph, dtype=np.float64)
    if graph.ndim != 2 or graph.shape[0] != len(prior):
        raise DQError(f"skill graph has shape {graph.shape}; expected ({len(prior)}, n_eval)")
    if (prior < 0).any() or not (prior > 0).any():
        raise DQError(f"skill prior must be non-negative and not all zero; got {prior}")
    if len(loss_history) == 0:
        raise DQError("skill-it: the loss history is empty (evaluate before the first round)")
    recent = np.array(loss_history[-int(window) :], dtype=np.float64)
    if recent.shape[1] != graph.shape[1]:
        raise DQError(f"losses of {recent.shape[1]} evaluation skills for a graph with {graph.shape[1]}")
    s = recent.sum(axis=0) if reduce == "sum" else recent.mean(axis=0)
    if loss_scale is not None:
        s = s / np.asarray(loss_scale, dtype=np.float64)
    with np.errstate(divide="ignore"):
        logits = np.log(prior) + float(eta) * (graph @ s)
    logits -= logits[np.isfinite(logits)].max()
    p = np.exp(logits)
    return p / p.sum()


def online_schedule(
    prior: np.ndarray,
    graph: np.ndarray,
    evaluate: Callable[[], np.ndarray],
    train_round: Callable[[int, np.ndarray], None],
    rounds: int,
    eta: float,
    window: int,
    normalize_loss: bool = True,
    reduce: str = "sum",
) -> dict[str, Any]:
    """Run the online algorithm: evaluate, then for each round pick the mixture, train, evaluate.

    Returns
    -------
    dict
        ``mixtures`` (rounds, n_train) and ``losses`` (rounds + 1, n_eval): L_0 and the loss after
        each round.
    """
    history = [np.asarray(evaluate(), dtype=np.float64)]
    scale = history[0] if normalize_loss else None
    mixtures = []
    for r in range(int(rounds)):
        p = skillit_mixture(prior, graph, history, eta, window, scale, reduce)
        mixtures.append(p)
        train_round(r, p)
        history.append(np.asarray(evaluate(), dtype=np.float64))
    return {"mixtures": np.array(mixtures), "losses": np.array(history)}


def graph_from_losses(loss_start: np.ndarray, loss_after: np.ndarray) -> np.ndarray:
    """The skill graph from losses: relative loss drops, clipped at 0, scaled to a largest edge of 1.

    ``loss_start`` (n_eval,) at the common start; ``loss_after`` (n_train, n_eval) after training on
    each training skill alone. All zeros (no drop anywhere) gives a zero graph: the mixture is then
    the prior.
    """
    start = np.asarray(loss_start, dtype=np.float64)
    after = np.asarray(loss_after, dtype=np.float64)
    if (start <= 0).any():
        raise DQError(f"skill-it: start losses must be positive; got {start}")
    drop = np.maximum(start[None, :] - after, 0.0) / start[None, :]
    top = drop.max()
    return drop / top if top > 0 else drop


def validation_mask(ids: Sequence[str], domains: Sequence[str], n_per_domain: int, seed: int) -> np.ndarray:
    """The ``n_per_domain`` documents of each domain first in ``hash(id, "skillit-val", seed)`` order."""
    from dqreview.hashing import stable_hash64

    ids = np.asarray(ids).astype(str)
    domains = np.asarray(domains).astype(str)
    key = np.array([stable_hash64(i, "skillit-val", seed) for i in ids], dtype=np.uint64)
    mask = np.zeros(len(ids), dtype=bool)
    for d in np.unique(domains):
        pos = np.flatnonzero(domains == d)
        order = pos[np.lexsort((ids[pos], key[pos]))]
        if len(order) <= n_per_domain:
            raise DQError(
                f"skill-it: domain {d!r} has {len(order)} pool documents, not more than val_docs={n_per_domain}; "
                "lower the variant's val_docs"
            )
        mask[order[:n_per_domain]] = True
    return mask


def target_rows(ids: Sequence[str], target_docs: int | None) -> np.ndarray:
    """Positions of the target documents evaluated each round: all of them (in order) when ``target_docs``
    is None or covers them, else the ``target_docs`` first in ``unit_uniform(id, 0)`` order, a fixed
    hash-picked subset (the evaluation is most of Skill-It's cost)."""
    from dqreview.hashing import unit_uniform

    if target_docs is None or target_docs >= len(ids):
        return np.arange(len(ids))
    return np.argsort(unit_uniform(np.asarray(ids), 0), kind="stable")[:target_docs]


# --- training ---------------------------------------------------------------------------------


def _mean_losses(
    model, eval_sets: dict[str, list[np.ndarray]], block_size: int, batch_size: int, device: str
):
    from dqreview.lm.evaluate import bits_per_byte

    out = []
    for docs in eval_sets.values():
        r = bits_per_byte(model, docs, 0, block_size, batch_size, device)
        out.append(r["nll_nats"] / r["n_tokens"])
    return np.array(out)


def run_skillit(
    docs: list[np.ndarray],
    domain_ids: np.ndarray,
    train_skills: list[str],
    eval_sets: dict[str, list[np.ndarray]],
    model_cfg,
    train_cfg: dict[str, Any],
    params: SkillItParams | None,
    seed: int,
    device: str = "cpu",
    eval_batch_size: int = 32,
) -> dict[str, Any]:
    """Estimate the skill graph and run the online mixture with a proxy; return the schedule.

    Parameters
    ----------
    docs, domain_ids
        Token arrays of the proxy's training documents (the pool without the validation slices)
        and their training-skill ids (0..n_train−1, ``train_skills`` order).
    eval_sets : dict
        Evaluation skill name → token arrays (the target ref last by convention: ``"target"``).
    model_cfg, train_cfg
        The proxy's shape and ``lm.train``.
    params : SkillItParams or None
        The variant's parameters (None: the defaults).
    seed : int

    Returns
    -------
    dict
        ``graph`` (n_train × n_eval), ``graph_losses`` (evaluation losses at the start and after each
        skill, training loss of each skill run's first step and of the warm start), ``rounds``
        (per round: steps, tokens, mixture, losses after), ``loss_history``, ``final_mixture``,
        ``average_mixture``, ``tokens`` (by phase), ``flops`` and ``flops_formula``.
    """
    import torch

    from dqreview.lm.data import DomainMixtureStream
    from dqreview.lm.model import GPT
    from dqreview.lm.train import Trainer, make_optimizer

    p = params if params is not None else SkillItParams()
    start_steps = int(train_cfg.get("warmup_steps", 0)) if p.start_steps is None else int(p.start_steps)
    k = len(train_skills)
    domain_ids = np.asarray(domain_ids, dtype=np.int64)
    batch = int(p.batch_size or train_cfg["batch_size"])
    T = model_cfg.block_size
    tokens_per_step = batch * T
    if p.eval_skills == "target":
        if "target" not in eval_sets:
            raise DQError("skill-it: eval_skills=target but there is no 'target' evaluation set")
        eval_sets = {"target": eval_sets["target"]}
    eval_names = list(eval_sets)
    eval_tokens_once = sum(len(d) + 1 for docs_ in eval_sets.values() for d in docs_)
    tok = np.bincount(domain_ids, weights=[len(d) + 1 for d in docs], minlength=k)
    natural = tok / tok.sum()
    prior = natural if p.prior == "natural" else np.ones(k) / k

    def evaluate(model):
        return _mean_losses(model, eval_sets, T, eval_batch_size, device)

    def trainer_for(model, weights, steps, stream_seed):
        opt = make_optimizer(model, train_cfg["lr"], train_cfg["weight_decay"])
        stream = DomainMixtureStream(docs, domain_ids, k, T, batch, stream_seed, weights, 0)
        return Trainer(model, opt, stream, train_cfg, steps, device), stream

    # every training step of the three phases: steps/s and ETA in the job's log
    bar = Progress(
        start_steps + k * p.graph_steps + p.rounds * p.update_steps,
        f"skill-it seed {seed}: proxies",
        "step",
    )

    # 1. the common start: warm-started on the natural mixture, past the start-up descent
    torch.manual_seed(seed)
    start = GPT(model_cfg).to(device)
    flops_per_token = start.flops_per_token()
    start_train_loss = []
    if start_steps:
        tr, _ = trainer_for(start, natural, start_steps, seed)
        for _ in range(start_steps):
            start_train_loss.append(tr.step().loss)
            bar.update(1, loss=start_train_loss[-1])
    loss_start = evaluate(start)
    # 2. one short run per training skill, from (a copy of) the common start
    loss_after, first_step_loss = [], []
    for i in range(k):
        model = copy.deepcopy(start)
        one_hot = np.eye(k)[i]
        tr, _ = trainer_for(model, one_hot, p.graph_steps, seed + 1 + i)
        for step in range(p.graph_steps):
            loss = tr.step().loss
            if step == 0:
                first_step_loss.append(loss)
            bar.update(1, loss=loss)
        loss_after.append(evaluate(model))
        del model
    graph = graph_from_losses(loss_start, np.array(loss_after))
    log.info(
        "skill-it seed %d: graph (rows %s, columns %s)\n%s",
        seed,
        train_skills,
        eval_names,
        np.round(graph, 3),
    )

    # 3. the online run, from scratch (as the run it steers)
    torch.manual_seed(seed)
    proxy = GPT(model_cfg).to(device)
    total = p.rounds * p.update_steps
    tr, stream = trainer_for(proxy, prior, total, seed + 1 + k)

    def train_round(r, mixture):
        stream.set_weights(mixture)
        for _ in range(p.update_steps):
            bar.update(1, loss=tr.step().loss)

    online = online_schedule(
        prior, graph, lambda: evaluate(proxy), train_round, p.rounds, p.eta, p.window,
        p.normalize_loss, p.reduce,
    )  # fmt: skip
    bar.close()
    mixtures, losses = online["mixtures"], online["losses"]
    round_tokens = p.update_steps * tokens_per_step
    rounds = [
        {
            "round": r,
            "steps": p.update_steps,
            "tokens": round_tokens,
            "mixture": dict(zip(train_skills, mixtures[r].tolist(), strict=True)),
            "loss_after": dict(zip(eval_names, losses[r + 1].tolist(), strict=True)),
        }
        for r in range(p.rounds)
    ]
    average = mixtures.mean(axis=0)  # rounds have equal token counts
    tokens = {
        "start": start_steps * tokens_per_step,
        "graph": k * p.graph_steps * tokens_per_step,
        "online": total * tokens_per_step,
        "evaluation": (1 + k + 1 + p.rounds) * eval_tokens_once,
    }
    train_tokens = tokens["start"] + tokens["graph"] + tokens["online"]
    flops = flops_per_token * train_tokens + flops_per_token / 3.0 * tokens["evaluation"]
    return {
        "train_skills": list(train_skills),
        "eval_skills": eval_names,
        "graph": graph.tolist(),
        "graph_estimator": "A_ij = max(L_j(start) - L_j(after h steps on i), 0) / L_j(start), scaled to max 1",
        "graph_losses": {
            "start": loss_start.tolist(),
            "after": np.array(loss_after).tolist(),
            # training loss of each skill run's first step (from the common start) and of the warm start
            "first_step": [round(x, 6) for x in first_step_loss],
            "start_train": [round(x, 6) for x in start_train_loss],
        },
        "prior": dict(zip(train_skills, prior.tolist(), strict=True)),
        "natural": dict(zip(train_skills, natural.tolist(), strict=True)),
        "rounds": rounds,
        "loss_history": losses.tolist(),
        "final_mixture": rounds[-1]["mixture"],
        "average_mixture": dict(zip(train_skills, average.tolist(), strict=True)),
        "params": {**p.to_dict(), "batch_size": batch, "start_steps": start_steps},
        "tokens": tokens,
        "flops": float(flops),
        "flops_formula": (
            "flops_per_token x (start + graph + online training tokens) + flops_per_token/3 x evaluation "
            f"tokens (forward only); flops_per_token={flops_per_token:.0f}"
        ),
    }


# --- selection ---------------------------------------------------------------------------------


def select_from_schedule(
    pool: pd.DataFrame, state: dict, budget: float, seed: int, static: str | None = None
) -> tuple[pd.DataFrame, dict]:
    """Sample the schedule (or, for ``static`` "final" / "average", one mixture) to a byte budget.

    Mixtures are over tokens; each is converted to byte shares with ``state["bytes_per_token"]``,
    and a round's share of the budget is its tokens times its mixture's bytes per token.
    """
    from dqreview.mixture import check_covers, sample_mixture, sample_schedule, token_to_byte_mixture

    if not isinstance(state, dict) or "rounds" not in state or "bytes_per_token" not in state:
        raise DQError(
            "skillit state: expected a JSON object with 'rounds' and 'bytes_per_token'; "
            "rerun the learn_mixture rule"
        )
    bpt = state["bytes_per_token"]
    if "domain" in pool.columns:
        for r in state["rounds"]:
            check_covers(r["mixture"], pool["domain"].astype(str).unique(), "skillit schedule")
    if static is not None:
        mix = state["final_mixture"] if static == "final" else state["average_mixture"]
        sel, info = sample_mixture(pool, token_to_byte_mixture(mix, bpt), budget, seed)
        info["mixture_tokens"] = mix
        info["static"] = static
        return sel, info
    mixtures = [r["mixture"] for r in state["rounds"]]
    round_bytes = [r["tokens"] * sum(w * bpt[d] for d, w in r["mixture"].items()) for r in state["rounds"]]
    byte_mixtures = [token_to_byte_mixture(m, bpt) for m in mixtures]
    sel, info = sample_schedule(pool, byte_mixtures, round_bytes, budget, seed)
    for r, m in zip(info["rounds"], mixtures, strict=True):
        r["mixture_tokens"] = m
    return sel, info


# --- the method --------------------------------------------------------------------------------


def skills_input(params: SkillItParams) -> Input | None:
    """The ssl_proto scores whose k-means clusters are the skills (None when the skills are the domains)."""
    slug = params.skills_variant
    return None if slug is None else scores_of("skills", "ssl_proto", slug)


class SkillIt(MixtureLearner):
    """An online skill schedule per seed (skill graph + rounds with a proxy), sampled to each budget."""

    Params = SkillItParams
    keep = ("high",)
    family = "mixture"
    figure = "skillit_schedule"

    def draw(self, states, path):
        from dqreview.report.mixture import skillit_schedule_figure

        skillit_schedule_figure(states, path)

    def state_variant(self, slug: str, params: SkillItParams) -> str:
        """The variant whose proxy run provides the schedule (``from``, else the variant itself)."""
        return params.from_ or slug

    def check_variants(self, variants: dict[str, SkillItParams], where: str) -> None:
        slugs = list(variants)
        static = {slug for slug, p in variants.items() if p.static is not None}
        for j, p in enumerate(variants.values()):
            if p.from_ is not None and (p.from_ not in slugs or p.from_ in static):
                raise DQError(
                    f"{where}.variants[{j}].params.from: {p.from_!r} is not a non-static variant of "
                    f"{self.name}; variants: {slugs}"
                )

    def learn_inputs(self, params: SkillItParams) -> tuple[Input, ...]:
        skills = skills_input(params)
        return (TARGET_DOCS, *((skills,) if skills is not None else ()))

    def select_inputs(self, params: SkillItParams) -> tuple[Input, ...]:
        skills = skills_input(params)
        return (skills,) if skills is not None else ()

    def learn(
        self, pool: PoolTokens, inputs: dict[str, Any], params: SkillItParams, seed: int, proxy: ProxyLM
    ) -> Learned:
        from dqreview.lm.tokenizer import encode_batch

        p, seed = params, int(seed)
        skills = skills_input(p)
        if skills is not None:  # skills = k-means clusters of an ssl_proto variant
            pool = copy.copy(pool)  # relabel a copy: the caller's pool keeps its domains
            pool.relabel(skill_labels(pool.frame["id"], inputs["skills"], skills.template))
        frame = pool.frame
        names = sorted(frame["domain"].unique())
        codes = frame["domain"].map({d: i for i, d in enumerate(names)}).to_numpy(np.int64)
        ref = inputs["target_docs"]
        ref = ref.iloc[target_rows(ref["id"].to_numpy(), p.target_docs)]
        target = encode_batch(pool.tokenizer, ref["text"].tolist())
        # evaluation skills: a hash-picked validation slice of each domain (kept out of the proxy's
        # training data) and the target ref
        val = validation_mask(frame["id"], frame["domain"], p.val_docs, seed)
        evals = {d: [pool.tokens[i] for i in np.flatnonzero(val & (codes == j))] for j, d in enumerate(names)}
        evals["target"] = target
        train_idx = np.flatnonzero(~val)
        out = run_skillit(
            [pool.tokens[i] for i in train_idx], codes[train_idx], names, evals, proxy.model, proxy.train,
            p, seed, proxy.device, eval_batch_size=proxy.eval_batch_size,
        )  # fmt: skip
        out.update(domains=names, bytes_per_token=pool.bytes_per_token)
        log.info("seed %s: final mixture %s", seed, {d: round(w, 4) for d, w in out["final_mixture"].items()})
        return Learned(
            state=out,
            flops=out["flops"],
            tokens=int(out["tokens"]["start"] + out["tokens"]["graph"] + out["tokens"]["online"]),
            flops_formula=out["flops_formula"],
            extra={"tokens_per_seed": out["tokens"]},
        )

    def select_budget(
        self, pool, state, budget, seed, params: SkillItParams, inputs
    ) -> tuple[pd.DataFrame, dict]:
        if "skills" in inputs:  # Skill-It over k-means clusters: the clusters are the slices
            skills = skills_input(params)
            where = skills.template if skills is not None else "skill clusters"
            pool = pool.assign(domain=skill_labels(pool["id"], inputs["skills"], where))
        return select_from_schedule(pool, state, budget, seed, params.static)


METHOD = SkillIt()
