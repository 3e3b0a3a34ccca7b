"""Budgeted selection: turn a score table into the documents kept under a byte budget.

Budget = fraction of the pool's UTF-8 bytes. Documents are taken in score order (descending for
keep=high, ascending for keep=low; ties broken by ``unit_uniform(id, seed)``) until the cumulative
bytes reach the target, so at most one document goes over. The order never depends on the row
order of the inputs or on the number of shards.
"""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd

from dqreview.errors import DQError
from dqreview.hashing import unit_uniform
from dqreview.metrics import KEEP_DIRECTIONS


def _check_fraction(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise DQError(f"{name} must be a number in (0, 1]; got {value!r} ({type(value).__name__})")
    value = float(value)
    if not (0.0 < value <= 1.0):  # also rejects NaN
        raise DQError(f"{name} must be in (0, 1]; got {value}")
    return value


def _examples(values, n: int = 3) -> str:
    return ", ".join(repr(v) for v in list(values)[:n])


def _check_inputs(pool: pd.DataFrame, scores: pd.DataFrame) -> None:
    for frame, what, cols in ((pool, "pool", ("id", "n_bytes")), (scores, "scores", ("id", "score"))):
        missing = [c for c in cols if c not in frame.columns]
        if missing:
            raise DQError(f"{what}: missing column(s) {missing}; found {list(frame.columns)}")
        dup = frame["id"][frame["id"].duplicated()]
        if len(dup):
            raise DQError(
                f"{what}: {len(dup)} duplicate id(s), e.g. {_examples(dup.unique())}; ids must be unique "
                "(rebuild the file: a shard was probably merged twice)"
            )
    n_bytes = pool["n_bytes"]
    if n_bytes.isna().any() or not pd.api.types.is_integer_dtype(n_bytes) or (n_bytes < 0).any():
        raise DQError(
            "pool: n_bytes must be non-negative integers (UTF-8 byte counts) without missing values"
        )
    pool_ids, score_ids = pd.Index(pool["id"]), pd.Index(scores["id"])
    missing = pool_ids.difference(score_ids)
    extra = score_ids.difference(pool_ids)
    if len(missing) or len(extra):
        raise DQError(
            f"scores do not cover the pool exactly: {len(missing)} pool id(s) without a score"
            + (f" (e.g. {_examples(missing)})" if len(missing) else "")
            + f", {len(extra)} scored id(s) not in the pool"
            + (f" (e.g. {_examples(extra)})" if len(extra) else "")
            + "; the scores are stale or from another pool, rerun the scoring rule"
        )
    nan = scores["score"].isna().to_numpy()
    if nan.any():
        raise DQError(
            f"scores: {int(nan.sum())} NaN score(s), e.g. id {scores['id'].to_numpy()[nan][0]!r}; "
            "a metric must give every document a number (rank removed documents last instead)"
        )


def selection_order(
    ids: np.ndarray, scores: np.ndarray, keep: str, seed: int, last: np.ndarray | None = None
) -> np.ndarray:
    """Positions of the documents in selection order.

    Parameters
    ----------
    ids : ndarray of str, shape (n,)
    scores : ndarray of float, shape (n,)
    keep : {"high", "low"}
    seed : int
    last : ndarray of bool, shape (n,), optional
        Documents that rank after every other whatever the direction (those a dedup method
        removed), so keep=low reverses the order among the survivors only.

    Returns
    -------
    ndarray of int, shape (n,)
        Indices into ``ids``: best first by score (descending for keep=high, ascending for keep=low),
        ties broken by ``unit_uniform(id, seed)`` ascending, then by id.
    """
    if keep not in KEEP_DIRECTIONS:
        raise DQError(f"keep must be one of {KEEP_DIRECTIONS}; got {keep!r}")
    ids = np.asarray(ids).astype(str)
    primary = (
        -np.asarray(scores, dtype=np.float64) if keep == "high" else np.asarray(scores, dtype=np.float64)
    )
    removed = np.zeros(len(ids), dtype=bool) if last is None else np.asarray(last, dtype=bool)
    # The tie-breaks only matter among documents that share (removed, score): hash those alone (hashing
    # every id is most of a selection's cost at a million documents, and continuous scores rarely tie).
    by_score = np.lexsort((primary, removed))
    same = (primary[by_score][1:] == primary[by_score][:-1]) & (
        removed[by_score][1:] == removed[by_score][:-1]
    )
    tied = np.zeros(len(ids), dtype=bool)
    tied[by_score[1:][same]] = tied[by_score[:-1][same]] = True
    tie = np.zeros(len(ids), dtype=np.float64)
    tie[tied] = unit_uniform(ids[tied], seed)
    # the last resort (equal hashes) is the id itself, so the order is a function of the id set alone
    id_rank = np.zeros(len(ids), dtype=np.int64)
    id_rank[np.flatnonzero(tied)[np.argsort(ids[tied], kind="stable")]] = np.arange(int(tied.sum()))
    return np.lexsort((id_rank, tie, primary, removed))


def select_budget(
    pool: pd.DataFrame,
    scores: pd.DataFrame,
    budget: float,
    keep: str,
    seed: int,
    max_fraction: float | None = None,
) -> tuple[pd.DataFrame, dict]:
    """Select documents in score order until a fraction of the pool's bytes is reached.

    Parameters
    ----------
    pool : DataFrame
        ``id``, ``n_bytes`` (UTF-8 bytes) of every pool document.
    scores : DataFrame
        ``id``, ``score`` for exactly the pool's ids (HIGH = what the method prefers), and
        optionally ``removed`` (bool): documents a dedup method removed rank last in either direction.
    budget : float
        Fraction of the pool's bytes, in (0, 1]. 1.0 selects every document (the full-data baseline).
    keep : {"high", "low"}
        Take the highest scores first, or the lowest.
    seed : int
        Tie-break seed (``unit_uniform(id, seed)``).
    max_fraction : float, optional
        Most a method can supply (e.g. the dedup survivors' byte fraction); a larger budget is capped
        to it and reported with ``capped: True``.

    Returns
    -------
    selection : DataFrame
        ``id``, ``order`` (0-based rank), ``n_bytes`` of the selected documents, in selection order.
    info : dict
        ``requested``, ``target`` (effective fraction after capping), ``achieved`` (bytes fraction),
        ``n_docs``, ``n_bytes``, ``total_bytes``, ``target_bytes``, ``keep``, ``seed``, ``capped``.
    """
    budget = _check_fraction(budget, "budget")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise DQError(f"seed must be an integer; got {seed!r}")
    _check_inputs(pool, scores)
    effective = budget
    capped = False
    if max_fraction is not None:
        max_fraction = _check_fraction(max_fraction, "max_fraction")
        if budget > max_fraction:
            effective, capped = max_fraction, True

    columns = ["id", "score"] + (["removed"] if "removed" in scores.columns else [])
    merged = pool[["id", "n_bytes"]].merge(scores[columns], on="id", how="left", validate="1:1")
    last = merged["removed"].to_numpy(dtype=bool) if "removed" in merged.columns else None
    order = selection_order(merged["id"].to_numpy(), merged["score"].to_numpy(), keep, int(seed), last)
    n_bytes = merged["n_bytes"].to_numpy(dtype=np.int64)[order]
    total = int(n_bytes.sum())
    if total == 0:
        raise DQError("pool: total size is 0 bytes; the pool is empty, check the prepare step")
    target_bytes = effective * total
    if effective >= 1.0:
        n_take = len(order)
    else:
        cumulative = np.cumsum(n_bytes)
        # the first document whose inclusion reaches the target is the last one taken
        n_take = int(np.searchsorted(cumulative, target_bytes, side="left")) + 1
        n_take = min(n_take, len(order))
    taken = order[:n_take]
    selection = pd.DataFrame(
        {
            "id": merged["id"].to_numpy()[taken],
            "order": np.arange(n_take, dtype=np.int64),
            "n_bytes": n_bytes[:n_take],
        }
    )
    selected_bytes = int(selection["n_bytes"].sum())
    info = {
        "requested": budget,
        "target": effective,
        "achieved": selected_bytes / total,
        "n_docs": int(n_take),
        "n_bytes": selected_bytes,
        "total_bytes": total,
        "target_bytes": float(target_bytes),
        "keep": keep,
        "seed": int(seed),
        "capped": capped,
    }
    return selection, info


def supply_fraction(pool: pd.DataFrame, scores: pd.DataFrame) -> float | None:
    """Fraction of the pool's bytes a method can supply: those it did not mark ``removed`` (None: all).

    A budget above it is capped (``select_budget``'s ``max_fraction``) rather than filled with documents
    the method removed.
    """
    if "removed" not in scores.columns:
        return None
    kept = pool[["id", "n_bytes"]].merge(scores[["id", "removed"]], on="id", how="left", validate="1:1")
    total = kept["n_bytes"].sum()
    return (
        float(kept.loc[~kept["removed"].fillna(False).astype(bool), "n_bytes"].sum() / total)
        if total
        else None
    )


def _check_pool_domains(pool: pd.DataFrame) -> None:
    missing = [c for c in ("id", "n_bytes", "domain") if c not in pool.columns]
    if missing:
        raise DQError(f"pool: missing column(s) {missing}; found {list(pool.columns)} (use the pool index)")
    _check_inputs(pool, pool[["id"]].assign(score=0.0))


def domain_matched_control(
    pool: pd.DataFrame, selection: pd.DataFrame, seed: int
) -> tuple[pd.DataFrame, dict]:
    """Random documents drawn per domain to a selection's achieved domain bytes (its domain-matched control).

    For every domain *d* the selection took :math:`B_d` bytes from, the pool's documents of *d* are taken in
    random order (``unit_uniform(id, seed)`` ascending, then id: random's own order restricted to *d*)
    until their bytes reach :math:`B_d`, so each domain ends within one document of its quota and the
    total within one document per domain of the selection's bytes. A method and its control thus differ
    only in *which documents* of each domain they hold, not in *how much of each domain*.

    Parameters
    ----------
    pool : DataFrame
        ``id``, ``n_bytes``, ``domain`` of every pool document (the pool index).
    selection : DataFrame
        ``id`` of the selected documents (any order); every id must be in ``pool``.
    seed : int
        The selection's seed: the same ``unit_uniform(id, seed)`` key as random at that seed.

    Returns
    -------
    control : DataFrame
        ``id``, ``order`` (0-based), ``n_bytes``, ``domain``, in training order (``unit_uniform`` ascending
        over all domains, so domains are interleaved at random as in random's selections).
    info : dict
        ``requested`` and ``target`` (the selection's byte fraction of the pool), ``achieved``, ``n_docs``,
        ``n_bytes``, ``total_bytes``, ``target_bytes``, ``keep`` ("high"), ``seed``, ``capped`` (always
        False: a domain's quota is bytes the selection took from it, so never more than its supply), and
        ``domains``: per domain its ``target_bytes``, ``bytes`` and ``n_docs``.

    Raises
    ------
    DQError
        A missing column, a duplicate id, or a selected id not in the pool (the selection is stale or
        from another pool).
    """
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise DQError(f"seed must be an integer; got {seed!r}")
    _check_pool_domains(pool)
    if "id" not in selection.columns:
        raise DQError(f"selection: missing column 'id'; found {list(selection.columns)}")
    chosen = pd.Index(selection["id"])
    if chosen.has_duplicates:
        raise DQError(f"selection: duplicate id(s), e.g. {_examples(chosen[chosen.duplicated()].unique())}")
    stray = chosen.difference(pd.Index(pool["id"]))
    if len(stray):
        raise DQError(
            f"selection: {len(stray)} id(s) not in the pool (e.g. {_examples(stray)}); the selection is stale "
            "or from another pool, rerun its select job"
        )
    ids = pool["id"].to_numpy().astype(str)
    n_bytes = pool["n_bytes"].to_numpy(dtype=np.int64)
    domains = pool["domain"].to_numpy().astype(str)
    in_selection = pd.Index(ids).isin(chosen)
    total = int(n_bytes.sum())
    if total == 0:
        raise DQError("pool: total size is 0 bytes; the pool is empty, check the prepare step")
    order = selection_order(ids, np.zeros(len(ids)), "high", int(seed))  # random's order
    taken: list[np.ndarray] = []
    per_domain = {}
    for domain in sorted(set(domains[in_selection])):
        quota = int(n_bytes[in_selection & (domains == domain)].sum())
        candidates = order[domains[order] == domain]
        cumulative = np.cumsum(n_bytes[candidates])
        # as select_budget: the first document whose inclusion reaches the quota is the last one taken;
        # the selection's own documents of this domain are candidates, so the quota is always reachable
        n_take = min(int(np.searchsorted(cumulative, quota, side="left")) + 1, len(candidates))
        taken.append(candidates[:n_take])
        per_domain[domain] = {
            "target_bytes": quota,
            "bytes": int(cumulative[n_take - 1]),
            "n_docs": n_take,
        }
    rank = np.empty(len(ids), dtype=np.int64)
    rank[order] = np.arange(len(ids))
    rows = np.concatenate(taken) if taken else np.zeros(0, dtype=np.int64)
    rows = rows[np.argsort(rank[rows], kind="stable")]
    control = pd.DataFrame(
        {
            "id": ids[rows],
            "order": np.arange(len(rows), dtype=np.int64),
            "n_bytes": n_bytes[rows],
            "domain": domains[rows],
        }
    )
    selected_bytes = int(n_bytes[in_selection].sum())
    info = {
        "requested": selected_bytes / total,
        "target": selected_bytes / total,
        "achieved": int(control["n_bytes"].sum()) / total,
        "n_docs": len(control),
        "n_bytes": int(control["n_bytes"].sum()),
        "total_bytes": total,
        "target_bytes": float(selected_bytes),
        "keep": "high",
        "seed": int(seed),
        "capped": False,
        "domains": per_domain,
    }
    return control, info


def target_domain_selection(
    pool: pd.DataFrame, domain: str, budget: float, seed: int
) -> tuple[pd.DataFrame, dict]:
    """Random documents of one pool domain up to a byte budget (the target-domain-only random arm).

    Random's own order (``unit_uniform(id, seed)``) with every other domain ranked last and the budget capped
    at the domain's byte share (:func:`select_budget` with ``max_fraction``), so a budget larger than the
    domain is reported ``capped: True`` rather than filled from other domains.

    Parameters
    ----------
    pool : DataFrame
        ``id``, ``n_bytes``, ``domain`` of every pool document.
    domain : str
        The pool domain to draw from (the target's own, :meth:`dqreview.plan.Plan.target_domain`).
    budget : float
        Fraction of the whole pool's bytes, in (0, 1].
    seed : int

    Returns
    -------
    selection, info
        As :func:`select_budget`, with ``domain`` in ``info``.
    """
    _check_pool_domains(pool)
    inside = (pool["domain"] == domain).to_numpy()
    if not inside.any():
        raise DQError(
            f"pool: no document of domain {domain!r} (domains: {sorted(pool['domain'].unique())}); "
            "check 'target.source' and 'domains' in the config"
        )
    scores = pd.DataFrame({"id": pool["id"], "score": 0.0, "removed": ~inside})
    share = float(pool["n_bytes"].to_numpy()[inside].sum() / pool["n_bytes"].sum())
    selection, info = select_budget(pool, scores, budget, "high", seed, max_fraction=share)
    info["domain"] = domain
    return selection, info
