"""Compute accounting: is selecting data cheaper than the training it saves?

The review's rule is that a selection method must cost less than the training compute it saves. For a
method trained on ``D`` tokens that reaches target bits per byte ``b``, the *effective compute
multiplier* is the number of tokens the random baseline needs to reach ``b`` divided by ``D``. The
random baseline's tokens-to-reach come from its learning curve, trained to several times ``D`` so that
the curve covers every method's result. Training compute saved is then ``(multiplier - 1) * D``
tokens' worth of training; it is set against the method's own selection cost (its fit, scoring and
selection jobs in full, plus its share of stages it uses with other methods, such as the embedding
pass).

The ground rule as a measured quantity is the *break-even training compute* ``T*``
(:func:`break_even_tokens`): the run length at which selecting starts to pay. Selecting once costs
``C_sel`` seconds; a run that would train the baseline for ``T`` tokens reaches the same loss on the
selection after ``T / m`` tokens, saving ``(1 - 1/m) * T`` tokens at ``c_token`` seconds each, so the
selection pays for itself when ``T > T* = C_sel / ((1 - 1/m) * c_token)``; with ``m <= 1`` it never does
(``T* = inf``). ``T*`` assumes only that the multiplier holds at the run length ``T`` (it is measured at
the proxy's own). Against "train on all of it", :func:`bpb_at_tokens` reads the whole-pool arm's curve at
the compute the method spends, its selection included.

At a larger target model trained on the same selected tokens, the selection cost stays what it is while
training cost grows with the model's FLOPs per token; :func:`project_saving` makes that projection,
assuming the multiplier measured with the proxy carries over and the token count stays the proxy's, so
every multiplier clear of 1 "pays off" there by construction (kept in compute.csv; the report shows
``T*`` instead).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from dqreview.errors import DQError
from dqreview.plan import MethodJobs

#: Where a method's result lies relative to the baseline's learning curve.
WITHIN, BETTER_THAN_CURVE, WORSE_THAN_CURVE = "within", "better_than_curve", "worse_than_curve"
#: Where a token count lies relative to a learning curve's checkpoints (:func:`bpb_at_tokens`).
BEFORE_CURVE, AFTER_CURVE = "before_curve", "after_curve"
#: How a method's selection scales with workers (:func:`selection_parallelism`).
PER_SHARD, SEQUENTIAL = "per-shard", "sequential"


def tokens_to_reach(curve_tokens, curve_bpb, target_bpb: float) -> tuple[float, str]:
    """Tokens the baseline needs to reach ``target_bpb``, read off its learning curve.

    The curve is made monotone (running minimum: more training never makes the best checkpoint so far
    worse) and interpolated linearly in log(tokens), where learning curves are close to straight.

    Parameters
    ----------
    curve_tokens : array of float, shape (m,)
        Training tokens at each checkpoint, increasing.
    curve_bpb : array of float, shape (m,)
        Bits per byte at each checkpoint.
    target_bpb : float
        The value to reach.

    Returns
    -------
    tokens : float
        Interpolated tokens; at a curve end when the target is outside the curve.
    where : str
        :data:`WITHIN`; :data:`BETTER_THAN_CURVE` when the target is below the curve's best value (the
        baseline never gets there: ``tokens`` is the curve's last point, a lower bound);
        :data:`WORSE_THAN_CURVE` when it is above the first checkpoint (``tokens`` is the first point,
        an upper bound).
    """
    if not math.isfinite(target_bpb):
        raise DQError("learning curve: bits per byte must be finite")
    t, best = _checked_curve(curve_tokens, curve_bpb)
    if target_bpb < best[-1]:
        return float(t[-1]), BETTER_THAN_CURVE
    if target_bpb > best[0]:
        return float(t[0]), WORSE_THAN_CURVE
    j = int(np.argmax(best <= target_bpb))  # first checkpoint at or below the target
    if j == 0 or best[j] == target_bpb:
        return float(t[j]), WITHIN
    lo, hi = best[j - 1], best[j]  # lo > target >= hi
    frac = (lo - target_bpb) / (lo - hi)
    return float(np.exp(np.log(t[j - 1]) + frac * (np.log(t[j]) - np.log(t[j - 1])))), WITHIN


def _checked_curve(curve_tokens, curve_bpb) -> tuple[np.ndarray, np.ndarray]:
    """A learning curve as arrays, checked; bits per byte made monotone (running minimum)."""
    t = np.asarray(curve_tokens, dtype=np.float64)
    b = np.asarray(curve_bpb, dtype=np.float64)
    if t.ndim != 1 or t.shape != b.shape or len(t) == 0:
        raise DQError(
            f"learning curve: tokens {t.shape} and bits per byte {b.shape} must be equal 1-d arrays"
        )
    if np.any(np.diff(t) <= 0) or np.any(t <= 0):
        raise DQError("learning curve: checkpoint tokens must be positive and increasing")
    if not np.all(np.isfinite(b)):
        raise DQError("learning curve: bits per byte must be finite")
    return t, np.minimum.accumulate(b)


def bpb_at_tokens(curve_tokens, curve_bpb, tokens: float) -> tuple[float, str]:
    """Bits per byte a learning curve reaches after ``tokens`` training tokens (the inverse reading of
    :func:`tokens_to_reach`: running minimum, linear in log(tokens) between checkpoints).

    Returns
    -------
    bpb : float
        Interpolated bits per byte; the nearest end's value outside the curve.
    where : str
        :data:`WITHIN`; :data:`AFTER_CURVE` when ``tokens`` is past the last checkpoint (``bpb`` is the
        curve's best, an upper bound: more training is taken never to be worse); :data:`BEFORE_CURVE`
        when it is before the first (``bpb`` is the first checkpoint's, a lower bound).
    """
    t, best = _checked_curve(curve_tokens, curve_bpb)
    if not (math.isfinite(tokens) and tokens > 0):
        raise DQError(f"learning curve: tokens must be positive and finite; got {tokens}")
    if tokens > t[-1]:
        return float(best[-1]), AFTER_CURVE
    if tokens < t[0]:
        return float(best[0]), BEFORE_CURVE
    j = int(np.searchsorted(t, tokens))  # t[j-1] < tokens <= t[j]
    if t[j] == tokens:
        return float(best[j]), WITHIN
    frac = (np.log(tokens) - np.log(t[j - 1])) / (np.log(t[j]) - np.log(t[j - 1]))
    return float(best[j - 1] + frac * (best[j] - best[j - 1])), WITHIN


def break_even_tokens(
    selection_s: float, multiplier: float, multiplier_ci95: float, seconds_per_token: float
) -> dict:
    """Break-even training compute ``T* = C_sel / ((1 - 1/m) * c_token)``, with its 95% CI.

    A training run that would take the baseline ``T`` tokens reaches the same loss on the selection after
    ``T / m`` tokens; selecting (``C_sel`` seconds, once) pays off when the ``(1 - 1/m) * T`` tokens it saves
    cost more than ``C_sel`` to train. ``T`` is therefore the baseline's run length. ``T*`` falls as ``m``
    rises, so its CI is ``T*`` at the multiplier CI's ends, swapped: ``lo = T*(m + ci)``, ``hi = T*(m - ci)``
    (the selection cost is taken as measured, without an interval of its own).

    Parameters
    ----------
    selection_s : float
        ``C_sel``: the method's measured selection cost in seconds.
    multiplier, multiplier_ci95 : float
        ``m`` (:func:`compute_multiplier`, seed mean) and the half-width of its 95% CI (NaN: one seed,
        so the CI's ends are NaN).
    seconds_per_token : float
        ``c_token``: measured proxy training seconds per token.

    Returns
    -------
    dict
        ``tokens``, ``tokens_lo``, ``tokens_hi`` (baseline training tokens; ``inf`` where ``m <= 1``: the
        selection never pays) and ``seconds``, ``seconds_lo``, ``seconds_hi`` (the same in proxy training
        seconds, ``T* * c_token``).
    """
    if not seconds_per_token > 0:
        raise DQError(f"break-even compute: seconds per token must be positive; got {seconds_per_token}")
    if selection_s < 0:
        raise DQError(f"break-even compute: selection cost must not be negative; got {selection_s}")

    def seconds(m: float) -> float:
        if math.isnan(m) or math.isnan(selection_s):
            return float("nan")
        return selection_s / (1.0 - 1.0 / m) if m > 1 else float("inf")

    s, s_lo, s_hi = (
        seconds(multiplier),
        seconds(multiplier + multiplier_ci95),
        seconds(multiplier - multiplier_ci95),
    )
    return {
        "tokens": s / seconds_per_token, "tokens_lo": s_lo / seconds_per_token,
        "tokens_hi": s_hi / seconds_per_token, "seconds": s, "seconds_lo": s_lo, "seconds_hi": s_hi,
    }  # fmt: skip


def full_data_verdict(diff: float, ci95: float, where: str) -> str:
    """Selecting against training on all of it, at equal training compute (selection included).

    ``diff`` = the method's bits per byte minus the whole pool's read off its curve (seed mean; ``ci95`` its
    half-width), ``where`` :func:`bpb_at_tokens`'s flags over seeds joined by "+". Past the whole pool's
    curve its value is an upper bound, so ``diff`` is a lower bound: it can show that the whole pool wins,
    never that selecting does; before the curve the reverse.

    Returns
    -------
    str
        ``"selecting better"`` (diff + ci < 0, and no seed past the curve), ``"whole pool better"`` (diff − ci
        > 0, and no seed before it), else ``"undecided"`` (also with one seed or no whole-pool arm).
    """
    flags = set(where.split("+")) if where else set()
    if not flags or not math.isfinite(diff) or not math.isfinite(ci95):
        return "undecided"
    if diff + ci95 < 0 and AFTER_CURVE not in flags:
        return "selecting better"
    if diff - ci95 > 0 and BEFORE_CURVE not in flags:
        return "whole pool better"
    return "undecided"


def selection_parallelism(method) -> str:
    """How a method's selection spreads over workers, from its protocol alone.

    :data:`PER_SHARD` (embarrassingly parallel): a :class:`~dqreview.metrics.base.DocumentScorer` whose
    scoring runs per pool shard and whose fit, if any, reads no pool-wide input (only a bounded sample such
    as target ref), so every job but that small fit splits by shard. :data:`SEQUENTIAL`: a
    :class:`~dqreview.metrics.base.MixtureLearner` (its proxy runs are SGD, one step after another) or a
    document scorer whose fit reads the whole pool (a greedy pass, clustering or counts over every document
    in one job), which grows with the pool and does not split.
    """
    from dqreview.metrics.base import DocumentScorer

    if not isinstance(method, DocumentScorer):
        return SEQUENTIAL
    pool_wide = any(i.per_shard or i.pool_rows for i in method.fit_inputs)
    return SEQUENTIAL if pool_wide else PER_SHARD


def mean_curve(curves: list[pd.DataFrame], value: str = "bpb/target") -> pd.DataFrame:
    """Seed-mean learning curve: ``tokens`` and the mean of ``value`` at checkpoints all seeds share."""
    if not curves:
        raise DQError("no learning curves to average")
    frames = [c.set_index("tokens")[value] for c in curves]
    joined = pd.concat(frames, axis=1, join="inner")
    if joined.empty:
        raise DQError("learning curves share no checkpoint (different training configs?)")
    return pd.DataFrame(
        {"tokens": joined.index.to_numpy(dtype=np.float64), value: joined.mean(axis=1).to_numpy()}
    )


def baseline_curves(
    runs: pd.DataFrame, ladder: pd.DataFrame, value: str = "bpb/target"
) -> tuple[pd.DataFrame, dict[tuple[float, int], pd.DataFrame]]:
    """Random's compute curve per budget and seed: its main run plus the last checkpoint of each curve run.

    Parameters
    ----------
    runs : DataFrame
        :func:`dqreview.report.runs.collect_runs` rows; random's (``metric == "random"``) give the curve's
        point at the run length (``budget``, ``seed``, ``tokens``, ``value``).
    ladder : DataFrame
        :func:`dqreview.report.runs.collect_curves` rows of random's runs at the other token multipliers
        (``budget``, ``seed``, ``run_tokens``, ``tokens``, ``value``): every checkpoint; the last of each
        run is its point (a shorter run's learning-rate schedule ends there, a checkpoint of a longer one
        does not).

    Returns
    -------
    points : DataFrame
        ``budget``, ``seed``, ``tokens``, ``value``: every point of every curve.
    curves : dict
        ``(budget, seed)`` → that curve's ``tokens`` and ``value``, by increasing tokens
        (:func:`compute_verdicts`' ``curves``).
    """
    last = ladder["tokens"] == ladder.groupby(["budget", "seed", "run_tokens"])["tokens"].transform("max")
    cols = ["budget", "seed", "tokens", value]
    points = pd.concat([ladder.loc[last, cols], runs.loc[runs.metric == "random", cols]], ignore_index=True)
    curves = {
        (budget, seed): g.sort_values("tokens")[["tokens", value]].reset_index(drop=True)
        for (budget, seed), g in points.groupby(["budget", "seed"])
    }
    return points, curves


def compute_multiplier(method_bpb: float, method_tokens: float, baseline_curve: pd.DataFrame) -> dict:
    """Effective compute multiplier of one result against a baseline learning curve.

    Returns
    -------
    dict
        ``baseline_tokens`` (tokens the baseline needs), ``multiplier`` (= baseline_tokens /
        method_tokens), ``where`` (see :func:`tokens_to_reach`; outside the curve the multiplier is a
        bound), ``tokens_saved`` (= baseline_tokens − method_tokens; negative when the method is worse).
    """
    if method_tokens <= 0:
        raise DQError(f"method tokens must be positive; got {method_tokens}")
    need, where = tokens_to_reach(baseline_curve["tokens"], baseline_curve["bpb/target"], method_bpb)
    return {
        "baseline_tokens": need,
        "multiplier": need / method_tokens,
        "where": where,
        "tokens_saved": need - method_tokens,
    }


def amortised_cost(shared_cost: float, n_users: int) -> float:
    """A shared stage's cost charged to one of the ``n_users`` methods that use it."""
    if n_users < 1:
        raise DQError(f"a shared stage needs at least one user; got {n_users}")
    return shared_cost / n_users


def project_saving(
    tokens_saved: float,
    selection_seconds: float,
    proxy_flops_per_token: float,
    target_flops_per_token: float,
    proxy_seconds_per_token: float,
) -> dict:
    """Project the proxy-scale trade-off to a larger model trained on the same tokens.

    Training time scales with FLOPs per token (same hardware throughput assumed); the selection cost does
    not change, since it works on the same pool.

    Returns
    -------
    dict
        ``saved_s`` (training seconds saved at the target scale), ``net_s`` (= saved_s − selection_seconds),
        ``pays_off`` (net_s > 0).
    """
    target = target_seconds_per_token(proxy_seconds_per_token, proxy_flops_per_token, target_flops_per_token)
    saved = tokens_saved * target
    return {"saved_s": saved, "net_s": saved - selection_seconds, "pays_off": bool(saved > selection_seconds)}


def target_seconds_per_token(
    proxy_seconds_per_token: float, proxy_flops_per_token: float, target_flops_per_token: float
) -> float:
    """Training seconds per token of the projected target model: the proxy's, scaled by the ratio of their
    training FLOPs per token (same hardware throughput assumed). The one projection :func:`project_saving`
    and :func:`per_million_costs` share."""
    if proxy_flops_per_token <= 0 or target_flops_per_token <= 0:
        raise DQError("FLOPs per token must be positive")
    return proxy_seconds_per_token * target_flops_per_token / proxy_flops_per_token


#: Named larger target models for the projection, as ``lm.model`` mappings of our GPT (GPT-2 small:
#: 12 layers, width 768, context 1024, vocabulary 50,257, biases, tied embeddings).
TARGET_MODELS = {
    "gpt2-124m": {
        "n_layer": 12, "n_head": 12, "n_embd": 768, "block_size": 1024, "vocab_size": 50257,
        "tie_embeddings": True, "bias": True,
    },
}  # fmt: skip


def target_flops_per_token(name: str) -> float:
    """Training FLOPs per token of a named target model, by the proxy's own formula (built on the meta
    device, so no memory is allocated)."""
    import torch

    from dqreview.lm.model import GPT, GPTConfig

    if name not in TARGET_MODELS:
        raise DQError(f"review.target_model: unknown model {name!r}; known: {sorted(TARGET_MODELS)}")
    with torch.device("meta"):
        return GPT(GPTConfig(**TARGET_MODELS[name])).flops_per_token()


def selection_costs(
    costs: pd.DataFrame,
    methods: pd.DataFrame,
    jobs: dict[tuple[str, str], MethodJobs],
    stage_costs: dict[str, Sequence[str]],
    select_costs: dict[tuple[str, str, str, str], Sequence[str]] | None = None,
) -> pd.DataFrame:
    """Selection cost of every (metric, variant, keep, budget), in seconds and FLOPs.

    Parameters
    ----------
    costs : DataFrame
        Cost records (:func:`dqreview.cost.load_costs`): ``path``, ``wall_s``, ``flops``.
    methods : DataFrame
        ``metric``, ``variant``, ``keep``, ``budget`` rows to cost.
    jobs : dict
        ``(metric, variant)`` → its :class:`~dqreview.plan.MethodJobs`: ``own``, the cost records of its
        own jobs (fit, per-shard work, scoring, proxy training), and ``shared``, the shared stages it uses
        (:meth:`dqreview.plan.Plan.method_jobs`).
    stage_costs : dict
        Shared stage → the cost record paths of its jobs (:meth:`dqreview.plan.Plan.stage_costs`).
    select_costs : dict, optional
        ``(metric, variant, keep, budget)`` → the selection jobs' cost record paths, one per seed (their
        mean is charged: one seed's selection).

    Returns
    -------
    DataFrame
        ``methods`` plus ``own_s`` (the method's own jobs plus one seed's selection), ``shared_s`` (its
        shared stages in full), ``shared_amortised_s`` (each shared stage divided by the number of metric
        variants using it), ``selection_s`` (= own + shared in full: what running this method alone
        costs), ``selection_amortised_s`` and ``selection_flops`` (where every job estimated FLOPs, else
        NaN).
    """
    by_path = costs.assign(flops=pd.to_numeric(costs["flops"], errors="coerce")).set_index("path")

    def records(files: Sequence[str]) -> pd.DataFrame:
        missing = [f for f in files if f not in by_path.index]
        if missing:
            raise DQError(
                f"cost accounting: no cost record {missing[0]} (and {len(missing) - 1} more); rerun"
            )
        return by_path.loc[list(files)]

    users: dict[str, int] = {}
    for spec in jobs.values():
        for stage in spec.shared:
            users[stage] = users.get(stage, 0) + 1
    shared = {}
    for stage in users:
        rows = records(stage_costs[stage])
        shared[stage] = (float(rows["wall_s"].sum()), float(rows["flops"].sum(min_count=len(rows))))
    out = []
    for row in methods.itertuples(index=False):
        spec = jobs.get((row.metric, row.variant), MethodJobs(own=(), shared=()))
        own = records(spec.own)
        sel = records((select_costs or {}).get((row.metric, row.variant, row.keep, f"{row.budget:.2f}"), ()))
        own_s = float(own["wall_s"].sum()) + (float(sel["wall_s"].mean()) if len(sel) else 0.0)
        own_flops = float(own["flops"].sum(min_count=len(own))) if len(own) else 0.0
        stages = spec.shared
        out.append(
            {
                **row._asdict(),
                "own_s": own_s,
                "shared_s": sum(shared[s][0] for s in stages),
                "shared_amortised_s": sum(amortised_cost(shared[s][0], users[s]) for s in stages),
                "selection_s": own_s + sum(shared[s][0] for s in stages),
                "selection_amortised_s": own_s + sum(amortised_cost(shared[s][0], users[s]) for s in stages),
                "selection_flops": own_flops + sum(shared[s][1] for s in stages),  # NaN where a job gave none
            }
        )
    return pd.DataFrame(out)


def training_rate(train_logs: Sequence[dict]) -> tuple[float, float]:
    """``(seconds per token, FLOPs per token)`` of the proxy's training: the mean rate over the training logs
    (``tokens_per_s``) and the model's FLOPs per token (``flops_per_token``, the same in every log)."""
    if not train_logs:
        raise DQError("compute accounting: no training log to measure the proxy's training rate from")
    seconds = 1.0 / float(np.mean([log["tokens_per_s"] for log in train_logs]))
    return seconds, float(train_logs[0]["flops_per_token"])


def plan_selection_costs(
    plan, methods: pd.DataFrame, costs: pd.DataFrame, variants: set[tuple[str, str]] | None = None
) -> tuple[pd.DataFrame, dict[tuple[str, str], MethodJobs]]:
    """:func:`selection_costs` of ``methods`` with the plan's jobs: each (metric, variant)'s own and shared
    jobs (only ``variants`` where given: the shared stages' users are then counted among them) and each
    selection's jobs. Returns the costs and the jobs used."""
    jobs = {
        (m, v): plan.method_jobs(m, v) for m, v in plan.variants() if variants is None or (m, v) in variants
    }
    select_costs = {(s.metric, s.variant, s.keep, s.budget): plan.select_costs(s) for s in plan.selections}
    return selection_costs(costs, methods, jobs, plan.stage_costs(), select_costs), jobs


def compute_verdicts(
    runs: pd.DataFrame,
    curves: dict[tuple[float, int], pd.DataFrame],
    costs: pd.DataFrame,
    seconds_per_token: float,
    proxy_flops_per_token: float,
    target_flops_per_token: float,
    value: str = "bpb/target",
    full_curves: dict[int, pd.DataFrame] | None = None,
) -> pd.DataFrame:
    """The review's verdict per method and budget: does selecting cost less than the training it saves?

    Parameters
    ----------
    runs : DataFrame
        One row per (metric, variant, keep, budget, seed): ``value`` and ``tokens`` (training tokens).
        Random and the full-data baseline are left out of the verdicts.
    curves : dict
        ``(budget, seed)`` → the random baseline's long learning curve at that budget (``tokens``,
        ``value``), trained with that seed.
    costs : DataFrame
        :func:`selection_costs` output for the same methods.
    seconds_per_token : float
        Measured proxy training seconds per token.
    proxy_flops_per_token, target_flops_per_token : float
        Training FLOPs per token of the proxy and of the projected target model.
    full_curves : dict, optional
        ``seed`` → the whole-pool arm's compute curve (``tokens``, ``value``) with that seed, for the
        comparison with training on all of it; without it those columns are NaN.

    Returns
    -------
    DataFrame
        Per method and budget: mean bits per byte and training tokens (``train_tokens``, the proxy's run
        length), the effective compute multiplier (mean and 95% CI over seeds, each seed against the same
        seed's random curve), how many seeds fell outside the curve, training tokens / seconds / FLOPs
        saved, selection seconds (full and amortised), net seconds, the verdict; the break-even training
        compute ``T*`` (:func:`break_even_tokens` with the full selection cost: ``break_even_tokens`` and
        ``_lo``/``_hi``, ``break_even_s`` and ``_lo``/``_hi`` in proxy training seconds,
        ``break_even_bound``: True where every seed beat random's whole curve, so the multiplier is a lower
        bound and ``T*`` an upper one); the whole-pool comparison at equal training compute
        (``full_data_tokens`` = train_tokens + selection_s / seconds_per_token, the tokens the whole pool
        trains for the same seconds; ``full_data_bpb``, its curve read there; ``bpb_minus_full_data`` and
        ``_ci95``, the method's minus that, paired by seed, negative = selecting beats training on all of
        it; ``full_data_where``, :func:`bpb_at_tokens`'s flags over seeds; ``full_data_verdict``,
        :func:`full_data_verdict`), ``seconds_per_token`` (``c_token``); and the same verdict projected to
        the target model.
    """
    from dqreview.report.stats import mean_ci

    rows = []
    methods = runs[runs["metric"] != "random"]
    for key, group in methods.groupby(["metric", "variant", "keep", "budget"], sort=True):
        mults, saved, outside, beyond = [], [], 0, 0
        cost = costs[
            (costs.metric == key[0])
            & (costs.variant == key[1])
            & (costs.keep == key[2])
            & (costs.budget == key[3])
        ]
        sel_s = float(cost["selection_s"].iloc[0]) if len(cost) else float("nan")
        full_diffs, full_bpbs, full_where = [], [], set()
        for _, r in group.iterrows():
            curve = curves.get((float(r["budget"]), int(r["seed"])))
            if curve is None:
                raise DQError(f"no random learning curve for budget {r['budget']} seed {r['seed']}")
            res = compute_multiplier(float(r[value]), float(r["tokens"]), curve)
            mults.append(res["multiplier"])
            saved.append(res["tokens_saved"])
            outside += res["where"] != WITHIN
            beyond += res["where"] == BETTER_THAN_CURVE
            full = (full_curves or {}).get(int(r["seed"]))
            if full is not None and math.isfinite(sel_s):
                full_tokens = float(r["tokens"]) + sel_s / seconds_per_token
                full_bpb, where = bpb_at_tokens(full["tokens"], full[value], full_tokens)
                full_bpbs.append(full_bpb)
                full_diffs.append(float(r[value]) - full_bpb)
                full_where.add(where)
        if not mults:
            continue
        mult, mult_ci, n = mean_ci(mults)
        tokens_saved = float(np.mean(saved))
        train_tokens = float(group["tokens"].mean())
        tstar = break_even_tokens(sel_s, mult, mult_ci, seconds_per_token) if math.isfinite(sel_s) else {}
        full_diff, full_ci, _ = mean_ci(full_diffs)
        sel_am = float(cost["selection_amortised_s"].iloc[0]) if len(cost) else float("nan")
        saved_s = tokens_saved * seconds_per_token
        proj = project_saving(
            tokens_saved, sel_s, proxy_flops_per_token, target_flops_per_token, seconds_per_token
        )
        rows.append(
            {
                "metric": key[0], "variant": key[1], "keep": key[2], "budget": key[3],
                "bpb": float(group[value].mean()),
                "multiplier": mult, "multiplier_ci95": mult_ci, "n_seeds": n, "seeds_outside_curve": outside,
                "tokens_saved": tokens_saved,
                "train_flops_saved": tokens_saved * proxy_flops_per_token,
                "train_s_saved": saved_s,
                "selection_s": sel_s, "selection_amortised_s": sel_am,
                "selection_flops": float(cost["selection_flops"].iloc[0]) if len(cost) else float("nan"),
                "net_s": saved_s - sel_s,
                "verdict": _verdict(mult, mult_ci, saved_s - sel_s, beyond == n),
                "target_saved_s": proj["saved_s"], "target_net_s": proj["net_s"],
                "target_verdict": _verdict(mult, mult_ci, proj["net_s"], beyond == n),
                "train_tokens": train_tokens,
                **{f"break_even_{k}": tstar.get(k, float("nan")) for k in
                   ("tokens", "tokens_lo", "tokens_hi")},
                **{f"break_even_{k.replace('seconds', 's')}": tstar.get(k, float("nan")) for k in
                   ("seconds", "seconds_lo", "seconds_hi")},
                "break_even_bound": beyond == n,
                "full_data_tokens": train_tokens + sel_s / seconds_per_token,
                "full_data_bpb": float(np.mean(full_bpbs)) if full_bpbs else float("nan"),
                "bpb_minus_full_data": full_diff, "bpb_minus_full_data_ci95": full_ci,
                "full_data_where": "+".join(sorted(full_where)),
                "full_data_verdict": full_data_verdict(full_diff, full_ci, "+".join(sorted(full_where))),
                "seconds_per_token": seconds_per_token,
            }
        )  # fmt: skip
    return pd.DataFrame(rows)


def _verdict(multiplier: float, ci95: float, net_s: float, beyond_curve: bool = False) -> str:
    """One phrase per method: is it better than random at all (multiplier > 1, its 95% CI clear of 1), and
    does the training it saves outweigh what selecting cost? ``beyond_curve``: every seed beat random's
    longest run, so the multiplier is only a lower bound (random's curve must go further to measure it)."""
    if beyond_curve:
        return f"better than random's whole curve (multiplier >= {multiplier:.2f}; extend review.curve_multipliers)"
    if not multiplier > 1:
        return "no saving (not better than random)"
    if not multiplier - ci95 > 1:  # NaN (one seed) is not significant either
        return "saving not significant"
    return "pays off" if net_s > 0 else "costs more than it saves"


def tokens_text(tokens: float, bound: bool = False) -> str:
    """A break-even token count as the tables print it: three significant figures, ``never`` for ``inf``
    (the selection never pays), ``unknown`` for ``inf`` that is only a bound (``bound``: the multiplier is a
    lower bound, so ``T*`` is an upper one), ``at most`` before a finite bound, ``--`` for NaN."""
    if math.isnan(tokens):
        return "--"
    if math.isinf(tokens):
        return "unknown" if bound else "never"
    return ("at most " if bound else "") + f"{tokens:.3g}"


def verdicts_latex(verdicts: pd.DataFrame) -> str:
    """compute.tex: per method and budget the multiplier, the selection cost, ``T*`` and its CI (baseline
    training tokens) beside the proxy's own run length, the whole-pool comparison and the parallelism of the
    selection (the proxy-scale verdict phrase stays in compute.csv: ``T*`` says the same in a number). The
    projection to a larger model stays in compute.csv only: it keeps the proxy's token count, so every
    multiplier clear of 1 would pay off there by construction."""
    from dqreview.report.tables import to_latex

    bounds = verdicts["break_even_bound"].astype(bool)
    table = verdicts.assign(
        tstar=[tokens_text(t, b) for t, b in zip(verdicts["break_even_tokens"], bounds, strict=True)],
        tstar_ci=[
            f"[{tokens_text(lo, b)}, {tokens_text(hi, b)}]"
            for lo, hi, b in zip(
                verdicts["break_even_tokens_lo"], verdicts["break_even_tokens_hi"], bounds, strict=True
            )
        ],
        run=[tokens_text(t) for t in verdicts["train_tokens"]],
    )
    cols = {
        "method": "method",
        "budget": "budget",
        "multiplier": "multiplier",
        "multiplier_ci95": "95% CI +/-",
        "selection_s": "selection s",
        "tstar": "T* (tokens)",
        "tstar_ci": "T* 95% CI",
        "run": "proxy run (tokens)",
        "bpb_minus_full_data": "bpb minus whole pool",
        "selection_parallelism": "selection",
    }
    return to_latex(table[list(cols)].rename(columns=cols), digits=2)


# --- per-million costs: selection per pool document against training per token -----------------------------

#: Columns of the scaling benchmark (``results/tables/scaling.csv``) that :func:`per_million_costs` reads.
SCALING_COLUMNS = ("stage", "method", "n_docs", "us_per_doc")
#: Where ``selection_s_per_million_docs`` comes from: the scaling benchmark, this run's own selection cost
#: extrapolated linearly, or nowhere (no cost measured).
FROM_SCALING, FROM_RUN, NO_COST = "scaling", "run", "none"
#: The scaling benchmark's stage of the selection step itself (every method's last job).
SELECT_STAGE = "select"
#: The columns :func:`per_million_costs` adds to compute.csv.
PER_MILLION_COLUMNS = (
    "selection_s_per_million_docs", "selection_cost_source", "selection_cost_stages", "train_s_per_million_tokens",
    "target_train_s_per_million_tokens", "crossover_tokens_per_doc", "target_crossover_tokens_per_doc",
)  # fmt: skip


def check_scaling(table: pd.DataFrame, path: str) -> pd.DataFrame:
    """The scaling benchmark's table, checked: the columns :func:`per_million_costs` reads, ``method``
    empty (not NaN) on the rows of shared stages, ``n_docs`` and ``us_per_doc`` numeric."""
    missing = [c for c in SCALING_COLUMNS if c not in table.columns]
    if missing:
        raise DQError(
            f"{path}: no column {missing[0]!r} (the per-million costs read {', '.join(SCALING_COLUMNS)}); "
            "the file was written by another version of rule scaling: delete it and rerun snakemake"
        )
    out = table.assign(method=table["method"].fillna("").astype(str), stage=table["stage"].astype(str))
    for column in ("n_docs", "us_per_doc"):
        values = pd.to_numeric(out[column], errors="coerce")
        if values.isna().any() and column == "n_docs":
            row = int(np.flatnonzero(values.isna().to_numpy())[0])
            raise DQError(f"{path}: row {row + 2}: column n_docs is not a number; rerun rule scaling")
        out[column] = values
    return out


def scaling_stage_costs(scaling: pd.DataFrame) -> dict[str, dict]:
    """Each stage of the scaling benchmark at its largest ``n_docs``: ``method`` (empty for a shared
    stage), ``us_per_doc`` (wall microseconds per document, numerically the seconds per million documents)
    and ``extrapolated`` (projected from a sample; False where the table has no such column)."""
    out = {}
    for stage, g in scaling.groupby("stage", sort=True):
        r = g.loc[g["n_docs"].idxmax()]
        extrapolated = str(r.get("extrapolated", False)).strip().lower() in ("true", "1")
        out[stage] = {
            "method": r["method"],
            "us_per_doc": float(r["us_per_doc"]),
            "extrapolated": extrapolated,
        }
    return out


def _charged_variant(variants: list[str], stages: dict[str, dict], encoder: str) -> str:
    """Which of a shared stage's benchmarked variants (``embed:static``, ``embed:minilm``) this run uses:
    the one whose suffix names the run's ``encoder`` (the longest such suffix), else, conservatively, the
    most expensive."""
    named = [v for v in variants if ":" in v and v.split(":", 1)[1].lower() in encoder.lower()]
    if named:
        longest = max(len(v) for v in named)
        variants = [v for v in named if len(v) == longest]
    return max(variants, key=lambda v: stages[v]["us_per_doc"])


def scaling_selection_cost(
    stages: dict[str, dict], metric: str, shared: Sequence[str], encoder: str = ""
) -> tuple[float, str] | None:
    """One method's selection seconds per million pool documents from the scaling benchmark.

    The sum, at each stage's largest size (:func:`scaling_stage_costs`), of ``us_per_doc`` over the stages
    the method uses: each shared stage of its declared inputs (``shared``, e.g. ``embed``: rows
    ``embed:<encoder>``, the one this run's ``encoder`` names, see :func:`_charged_variant`; ``embed_static``:
    row ``embed:static``), its own stages
    (the rows whose ``method`` is ``metric``) and :data:`SELECT_STAGE`. Data preparation is charged to no
    method, as in :func:`selection_costs`.

    Returns
    -------
    (float, str) or None
        The seconds per million documents and the stages charged joined by ``+`` (``*`` marks a stage
        extrapolated from a sample); None where the benchmark lacks one of the stages (or its time is not
        finite), so that the caller falls back to the run's own cost.
    """
    charged = []
    for stage in shared:
        # a stage's rows: ``embed`` → ``embed:<encoder>``; ``embed_static`` → ``embed:static`` itself
        variants = [
            s for s in stages if s in (stage, stage.replace("_", ":", 1)) or s.startswith(stage + ":")
        ]
        if not variants:
            return None
        charged.append(_charged_variant(variants, stages, encoder))
    own = sorted(s for s, r in stages.items() if r["method"] == metric and s not in charged)
    if not own or SELECT_STAGE not in stages:
        return None
    charged += [*own, SELECT_STAGE]
    seconds = sum(stages[s]["us_per_doc"] for s in charged)
    if not math.isfinite(seconds):
        return None
    return seconds, "+".join(s + ("*" if stages[s]["extrapolated"] else "") for s in charged)


def per_million_costs(
    verdicts: pd.DataFrame,
    shared: dict[tuple[str, str], Sequence[str]],
    pool_docs: int,
    proxy_flops_per_token: float,
    target_flops_per_token: float,
    scaling: pd.DataFrame | None = None,
    encoder: str = "",
) -> pd.DataFrame:
    """The ground rule at scale: selection seconds per million pool documents beside training seconds per
    million tokens, per method and budget.

    Parameters
    ----------
    verdicts : DataFrame
        :func:`compute_verdicts` output (``metric``, ``variant``, ``selection_s``, ``multiplier``,
        ``multiplier_ci95``, ``seconds_per_token``).
    shared : dict
        ``(metric, variant)`` → the shared stages its declared inputs use
        (:attr:`dqreview.plan.MethodJobs.shared`).
    pool_docs : int
        Documents in this run's pool (the linear extrapolation's denominator).
    proxy_flops_per_token, target_flops_per_token : float
        Training FLOPs per token of the proxy and of the projected target model
        (:func:`target_seconds_per_token`).
    scaling : DataFrame, optional
        The scaling benchmark (:func:`check_scaling`); None when it is not drawn.
    encoder : str
        The run's sentence encoder (config ``embed.model``), to pick its ``embed:*`` stage.

    Returns
    -------
    DataFrame
        ``verdicts`` plus ``selection_s_per_million_docs``; ``selection_cost_source``
        (:data:`FROM_SCALING` where the benchmark covers every stage the method uses; else :data:`FROM_RUN`,
        ``selection_s`` × 1e6 / ``pool_docs``, a linear extrapolation; :data:`NO_COST` where neither is
        known, the value NaN); ``selection_cost_stages`` (what was charged); ``train_s_per_million_tokens``
        (the proxy, 1e6 × ``seconds_per_token``), ``target_train_s_per_million_tokens`` (the projected
        target model); and ``crossover_tokens_per_doc`` / ``target_crossover_tokens_per_doc``: the baseline
        training tokens per pool document a run must spend before selecting pays, at the proxy's and the
        target model's training cost (:func:`break_even_tokens` with the selection cost of one document;
        ``inf`` where the multiplier is at most 1; an upper bound where ``break_even_bound``).
    """
    if pool_docs < 1:
        raise DQError(f"per-million costs: the pool has no documents ({pool_docs})")
    stages = scaling_stage_costs(scaling) if scaling is not None else {}
    rows = []
    for r in verdicts.itertuples(index=False):
        from_scaling = scaling_selection_cost(
            stages, r.metric, shared.get((r.metric, r.variant), ()), encoder
        )
        if from_scaling is not None:
            per_mdoc, source, charged = from_scaling[0], FROM_SCALING, from_scaling[1]
        elif math.isfinite(r.selection_s):
            per_mdoc, source = r.selection_s * 1e6 / pool_docs, FROM_RUN
            charged = f"linear: selection_s x 1e6 / {pool_docs} pool documents"
        else:
            per_mdoc, source, charged = float("nan"), NO_COST, ""
        proxy_spt = float(r.seconds_per_token)
        target_spt = target_seconds_per_token(proxy_spt, proxy_flops_per_token, target_flops_per_token)
        crossover = [
            break_even_tokens(per_mdoc / 1e6, r.multiplier, r.multiplier_ci95, spt)["tokens"]
            for spt in (proxy_spt, target_spt)
        ]
        rows.append(
            {
                "selection_s_per_million_docs": per_mdoc, "selection_cost_source": source,
                "selection_cost_stages": charged,
                "train_s_per_million_tokens": proxy_spt * 1e6, "target_train_s_per_million_tokens": target_spt * 1e6,
                "crossover_tokens_per_doc": crossover[0], "target_crossover_tokens_per_doc": crossover[1],
            }
        )  # fmt: skip
    added = pd.DataFrame(rows, index=verdicts.index, columns=PER_MILLION_COLUMNS)
    return pd.concat([verdicts, added], axis=1)
