"""Budgeted sampling from a domain mixture (DoReMi weights, Skill-It schedules).

Mixture methods do not rank documents: they say how much of each domain to train on. To compare
them with every other method at the same byte budget, a mixture becomes a selection here:

1. the budget's bytes (``budget`` × pool bytes) are split over the domains by the mixture's byte
   shares; a domain asked for more than it holds is capped at what it holds and the excess is
   redistributed over the uncapped domains in proportion to their weights (repeated until nothing
   is over, i.e. water-filling);
2. within a domain, documents are taken without replacement in the order of
   ``unit_uniform(id, seed)`` (so the sample depends on the id set and the seed only, never on the
   shard count or the row order): first the longest prefix that stays within the domain's share,
   then, while the total is below the budget, the next document of the domain furthest below its
   share. Every document but the last one taken therefore fits under the budget: at most one
   document goes over, as in :func:`dqreview.select.select_budget`.

A mixture may be given over tokens (what a training loop samples); :func:`token_to_byte_mixture`
converts it with each domain's bytes per token. A Skill-It schedule (one mixture per round, each
round a share of the tokens) is sampled as its time-averaged mixture and the sampled documents of
each domain are then dealt to the rounds in proportion to the round's demand
(:func:`sample_schedule`).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from dqreview.errors import DQError
from dqreview.hashing import unit_uniform

#: Tolerance on a mixture's sum (weights are written to JSON with full float precision).
SUM_TOL = 1e-6


def check_budget(budget: object) -> float:
    """``budget`` as a float in (0, 1], else DQError."""
    if isinstance(budget, bool) or not isinstance(budget, numbers.Real):
        raise DQError(f"budget must be a number in (0, 1]; got {budget!r} ({type(budget).__name__})")
    value = float(budget)
    if not (0.0 < value <= 1.0):  # also rejects NaN
        raise DQError(f"budget must be in (0, 1]; got {value}")
    return value


def check_mixture(weights: Mapping[str, float], domains: Sequence[str], where: str = "mixture") -> dict:
    """Validate a mixture over ``domains``: finite, non-negative, summing to 1.

    Parameters
    ----------
    weights : mapping
        Domain name → weight. A pool domain that is absent gets weight 0.
    domains : sequence of str
        The pool's domains.
    where : str
        Names the mixture in error messages (e.g. the JSON file it came from).

    Returns
    -------
    dict
        Domain → float weight for every domain of ``domains`` (in that order).
    """
    if not isinstance(weights, Mapping) or not weights:
        raise DQError(f"{where}: expected a non-empty mapping of domain → weight; got {weights!r}")
    unknown = sorted(set(weights) - set(domains))
    if unknown:
        raise DQError(
            f"{where}: unknown domain(s) {unknown}; the pool's domains are {sorted(domains)} "
            "(the mixture was learned on another pool: rerun the mixture rule)"
        )
    out = {}
    for d in domains:
        w = weights.get(d, 0.0)
        if isinstance(w, bool) or not isinstance(w, numbers.Real) or not math.isfinite(w) or w < 0:
            raise DQError(f"{where}: weight of domain {d!r} must be a finite number >= 0; got {w!r}")
        out[d] = float(w)
    total = sum(out.values())
    if abs(total - 1.0) > SUM_TOL:
        raise DQError(f"{where}: weights sum to {total:.9g}, not 1; normalise the mixture")
    return out


def check_covers(weights: Mapping[str, float], domains: Sequence[str], where: str) -> None:
    """DQError unless a learned mixture names every pool domain (else it is stale: another pool)."""
    missing = sorted(set(domains) - set(weights))
    if missing:
        raise DQError(
            f"{where}: no weight for pool domain(s) {missing}; the mixture was learned on another pool, "
            "rerun its rule"
        )


def token_to_byte_mixture(weights: Mapping[str, float], bytes_per_token: Mapping[str, float]) -> dict:
    """Byte shares of a token mixture: ``w_i · bpt_i / Σ_j w_j · bpt_j``.

    A training loop samples domains by tokens; the budget counts bytes. Domains compress
    differently (code has fewer bytes per token than prose), so the same mixture means different
    byte shares.
    """
    missing = [d for d in weights if d not in bytes_per_token]
    if missing:
        raise DQError(f"bytes_per_token: no value for domain(s) {missing}")
    bad = {d: v for d, v in bytes_per_token.items() if not (isinstance(v, numbers.Real) and v > 0)}
    if bad:
        raise DQError(f"bytes_per_token: values must be positive numbers; got {bad}")
    raw = {d: float(w) * float(bytes_per_token[d]) for d, w in weights.items()}
    total = sum(raw.values())
    if total <= 0:
        raise DQError("mixture: every weight is 0")
    return {d: v / total for d, v in raw.items()}


def allocate_bytes(target: float, weights: np.ndarray, capacity: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Split ``target`` bytes over domains ∝ ``weights``, capping each at its ``capacity``.

    The excess of a capped domain goes to the uncapped ones in proportion to their weights, until no
    domain is over (water-filling). Domains with weight 0 get nothing.

    Returns
    -------
    shares : ndarray of float
        Bytes asked of each domain; sums to ``target`` unless every weighted domain is capped.
    capped : ndarray of bool
    """
    weights = np.asarray(weights, dtype=np.float64)
    capacity = np.asarray(capacity, dtype=np.float64)
    capped = np.zeros(len(weights), dtype=bool)
    shares = np.zeros(len(weights), dtype=np.float64)
    active = weights > 0
    while True:
        free = active & ~capped
        if not free.any():
            break
        remaining = target - capacity[capped].sum()
        shares[free] = remaining * weights[free] / weights[free].sum()
        over = free & (shares > capacity)
        if not over.any():
            break
        capped |= over
        shares[capped] = capacity[capped]
    shares[capped] = capacity[capped]
    return shares, capped


def sample_mixture(
    pool: pd.DataFrame, weights: Mapping[str, float], budget: float, seed: int
) -> tuple[pd.DataFrame, dict]:
    """Sample documents per domain, without replacement, to a byte budget.

    Parameters
    ----------
    pool : DataFrame
        ``id``, ``n_bytes`` (UTF-8) and ``domain`` of every pool document.
    weights : mapping
        Byte share of each domain (sums to 1; absent domains get 0).
    budget : float
        Fraction of the pool's bytes, in (0, 1].
    seed : int
        Keys the per-document order ``unit_uniform(id, seed)``.

    Returns
    -------
    selection : DataFrame
        In the order taken (``order`` = row number): the documents within their domain's share,
        interleaved by ``unit_uniform(id, seed)``, then the top-up documents in the order added (the
        last row is the one that reached the budget). Columns ``id``, ``order``, ``n_bytes``,
        ``domain``, ``rank_in_domain`` (position in the domain's sampling order).
    info : dict
        ``requested``, ``target``, ``achieved``, ``n_docs``, ``n_bytes``, ``total_bytes``,
        ``target_bytes``, ``keep``, ``seed``, ``capped``, ``mixture_requested``,
        ``mixture_effective`` (after capping), ``mixture_achieved`` (byte shares of the selection),
        ``domains_capped``.
    """
    budget = check_budget(budget)
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise DQError(f"seed must be an integer; got {seed!r}")
    missing = [c for c in ("id", "n_bytes", "domain") if c not in pool.columns]
    if missing:
        raise DQError(f"pool: missing column(s) {missing}; found {list(pool.columns)}")
    if pool["id"].duplicated().any():
        raise DQError("pool: duplicate ids; rebuild the pool index")
    n_bytes = pool["n_bytes"]
    if n_bytes.isna().any() or not pd.api.types.is_integer_dtype(n_bytes) or (n_bytes < 0).any():
        raise DQError("pool: n_bytes must be non-negative integers (UTF-8 byte counts)")
    domains = sorted(pool["domain"].astype(str).unique())
    weights = check_mixture(weights, domains)

    ids = pool["id"].astype(str).to_numpy()
    dom = pool["domain"].astype(str).to_numpy()
    nb = pool["n_bytes"].to_numpy(dtype=np.int64)
    total = int(nb.sum())
    if total == 0:
        raise DQError("pool: total size is 0 bytes; the pool is empty, check the prepare step")
    u = unit_uniform(ids, int(seed))
    id_rank = np.empty(len(ids), dtype=np.int64)
    id_rank[np.argsort(ids, kind="stable")] = np.arange(len(ids))

    w = np.array([weights[d] for d in domains])
    per_domain = []  # positions of each domain's documents in sampling order
    for d in domains:
        pos = np.flatnonzero(dom == d)
        per_domain.append(pos[np.lexsort((id_rank[pos], u[pos]))])
    capacity = np.array([nb[p].sum() for p in per_domain], dtype=np.float64)
    target_bytes = budget * total
    shares, capped = allocate_bytes(target_bytes, w, capacity)
    # what can be reached at all (every weighted domain capped → less than the budget)
    reachable = float(min(target_bytes, shares.sum()))

    taken = np.zeros(len(domains), dtype=np.int64)  # documents taken per domain (a prefix)
    got = np.zeros(len(domains), dtype=np.int64)  # bytes taken per domain
    cums = [np.cumsum(nb[p]) for p in per_domain]
    for i, c in enumerate(cums):
        if capped[i]:
            taken[i] = len(c)
        elif shares[i] <= 0:
            taken[i] = 0
        else:  # the longest prefix within the share
            taken[i] = int(np.searchsorted(c, shares[i], side="right"))
        got[i] = int(c[taken[i] - 1]) if taken[i] else 0
    # top up one document at a time from the domain furthest below its share; each addition
    # puts that domain over its share, so this ends after at most one document per domain and
    # only the last document added can take the total over the budget
    within = taken.copy()  # the prefixes within the shares
    topped_up: list[int] = []  # domains of the top-up documents, in the order taken
    while got.sum() < reachable:
        shortfall = np.where(taken < [len(c) for c in cums], shares - got, -np.inf)
        i = int(np.argmax(shortfall))  # ties: the first domain in sorted order
        if not shortfall[i] > 0:  # only float rounding can leave the total a fraction of a byte short
            break
        taken[i] += 1
        got[i] = int(cums[i][taken[i] - 1])
        topped_up.append(i)

    def rows(i: int, start: int, stop: int) -> pd.DataFrame:
        pos = per_domain[i][start:stop]
        return pd.DataFrame(
            {
                "id": ids[pos],
                "n_bytes": nb[pos],
                "domain": domains[i],
                "rank_in_domain": np.arange(start, stop, dtype=np.int64),
                "_u": u[pos],
                "_r": id_rank[pos],
            }
        )

    # rows in the order taken, as every selection: the documents within the shares (interleaved
    # by hash), then the top-ups in the order added, so the last row is the one that reached the
    # budget
    within_rows = pd.concat([rows(i, 0, within[i]) for i in range(len(domains))], ignore_index=True)
    within_rows = within_rows.sort_values(["_u", "_r"], ignore_index=True)
    extra = np.zeros(len(domains), dtype=np.int64)
    top_rows = []
    for i in topped_up:
        top_rows.append(rows(i, within[i] + extra[i], within[i] + extra[i] + 1))
        extra[i] += 1
    sel = pd.concat([within_rows, *top_rows], ignore_index=True)
    sel.insert(1, "order", np.arange(len(sel), dtype=np.int64))
    sel = sel.drop(columns=["_u", "_r"])
    selected = int(got.sum())
    info = {
        "requested": budget,
        "target": reachable / total,
        "achieved": selected / total,
        "n_docs": int(len(sel)),
        "n_bytes": selected,
        "total_bytes": total,
        "target_bytes": float(target_bytes),
        "keep": "high",
        "seed": int(seed),
        "capped": bool(reachable < target_bytes),
        "mixture_requested": {d: float(x) for d, x in zip(domains, w, strict=True)},
        "mixture_effective": {
            d: float(s / shares.sum()) if shares.sum() > 0 else 0.0
            for d, s in zip(domains, shares, strict=True)
        },
        "mixture_achieved": {
            d: float(g / selected) if selected else 0.0 for d, g in zip(domains, got, strict=True)
        },
        "domains_capped": [d for d, c in zip(domains, capped, strict=True) if c],
    }
    return sel, info


def sample_schedule(
    pool: pd.DataFrame,
    mixtures: Sequence[Mapping[str, float]],
    round_sizes: Sequence[float],
    budget: float,
    seed: int,
) -> tuple[pd.DataFrame, dict]:
    """Sample a per-round schedule to a byte budget; the selection gets a ``round`` column.

    ``round_sizes`` are the rounds' relative sizes in bytes (a Skill-It round's tokens times its
    mixture's bytes per token). Round ``r`` takes the share ``f_r = round_sizes[r] / Σ round_sizes``
    of the budget, split over
    domains by ``mixtures[r]`` (byte shares). The documents are sampled once, with the
    time-averaged mixture ``Σ_r f_r · mixtures[r]`` (:func:`sample_mixture`, so the budget is exact
    and caps are redistributed), then each domain's sampled documents, in their sampling order,
    are dealt to the rounds in proportion to the rounds' demand on that domain (a document goes to
    the round whose slice of the domain's bytes contains the document's midpoint). The rows keep
    :func:`sample_mixture`'s order (the last one reached the budget); training streams the rounds in
    order and shuffles within each (:class:`dqreview.lm.data.TokenStream`).

    Returns
    -------
    selection : DataFrame
        As :func:`sample_mixture`, plus ``round`` (0-based).
    info : dict
        As :func:`sample_mixture`, plus ``rounds``: per round its requested and achieved share of the
        bytes and its requested and achieved byte mixture.
    """
    if len(mixtures) == 0 or len(mixtures) != len(round_sizes):
        raise DQError(
            f"schedule: {len(mixtures)} mixture(s) for {len(round_sizes)} round size(s); "
            "expected one mixture per round and at least one round"
        )
    sizes = np.asarray(round_sizes, dtype=np.float64)
    if not np.all(np.isfinite(sizes)) or (sizes < 0).any() or sizes.sum() <= 0:
        raise DQError(f"schedule: round sizes must be >= 0 with a positive sum; got {list(round_sizes)}")
    if "domain" not in pool.columns:
        raise DQError(f"pool: missing column(s) ['domain']; found {list(pool.columns)}")
    domains = sorted(pool["domain"].astype(str).unique())
    frac = sizes / sizes.sum()
    rounds = [check_mixture(m, domains, f"schedule round {r}") for r, m in enumerate(mixtures)]
    demand = np.array([[rounds[r][d] * frac[r] for d in domains] for r in range(len(rounds))])  # (R, k)
    average = demand.sum(axis=0)
    sel, info = sample_mixture(pool, dict(zip(domains, average / average.sum(), strict=True)), budget, seed)

    round_of = np.zeros(len(sel), dtype=np.int64)
    for i, d in enumerate(domains):
        mask = (sel["domain"] == d).to_numpy()
        if not mask.any():
            continue
        pos = np.flatnonzero(mask)
        pos = pos[np.argsort(sel["rank_in_domain"].to_numpy()[pos], kind="stable")]
        nb = sel["n_bytes"].to_numpy(dtype=np.float64)[pos]
        mid = (np.cumsum(nb) - nb / 2) / max(nb.sum(), 1.0)  # midpoint of each document, in [0, 1]
        bounds = np.cumsum(demand[:, i]) / demand[:, i].sum()
        round_of[pos] = np.minimum(np.searchsorted(bounds, mid, side="right"), len(rounds) - 1)
    sel = sel.assign(round=round_of)  # rows stay in the order taken; training orders by round
    nb_all = sel["n_bytes"].to_numpy(dtype=np.float64)
    per_round = []
    for r in range(len(rounds)):
        m = (sel["round"] == r).to_numpy()
        b = nb_all[m].sum()
        per_round.append(
            {
                "round": r,
                "byte_share_requested": float(frac[r]),
                "byte_share_achieved": float(b / nb_all.sum()) if nb_all.sum() else 0.0,
                "mixture_requested": {d: float(rounds[r][d]) for d in domains},
                "mixture_achieved": {
                    d: float(nb_all[m & (sel["domain"] == d).to_numpy()].sum() / b) if b else 0.0
                    for d in domains
                },
            }
        )
    info["rounds"] = per_round
    return sel, info


def bytes_per_token(
    n_bytes: Sequence[int], n_tokens: Sequence[int], domains: Sequence[str]
) -> dict[str, float]:
    """UTF-8 bytes per token of each domain: ``Σ bytes / Σ tokens`` over its documents."""
    frame = pd.DataFrame(
        {"b": np.asarray(n_bytes, dtype=np.float64), "t": np.asarray(n_tokens, dtype=np.float64)}
    )
    frame["d"] = np.asarray(domains).astype(str)
    sums = frame.groupby("d")[["b", "t"]].sum()
    if (sums["t"] <= 0).any():
        raise DQError(f"domain(s) {sums.index[sums['t'] <= 0].tolist()} have no tokens")
    return {d: float(row.b / row.t) for d, row in sums.iterrows()}


class PoolTokens:
    """The pool, sorted by id (so nothing depends on the shard count), and its token arrays.

    Attributes: ``frame`` (``id``, ``domain``, ``n_bytes``), ``tokens`` (list of int arrays, row
    order), ``tokenizer``, ``vocab_size``, ``bytes_per_token`` (per domain).
    """

    def __init__(self, frame: pd.DataFrame, tokens: list[np.ndarray], tokenizer) -> None:
        self.frame, self.tokens, self.tokenizer = frame, tokens, tokenizer
        self.vocab_size = tokenizer.get_vocab_size()
        self.bytes_per_token = bytes_per_token(frame["n_bytes"], [len(t) for t in tokens], frame["domain"])

    def relabel(self, labels: Sequence[str]) -> None:
        """Replace the domains by other slices (e.g. k-means clusters as skills)."""
        self.frame = self.frame.assign(domain=np.asarray(labels).astype(str))
        self.bytes_per_token = bytes_per_token(
            self.frame["n_bytes"], [len(t) for t in self.tokens], self.frame["domain"]
        )


def load_pool_tokens(shards: Sequence[str], tokenizer_path: str) -> PoolTokens:
    """Read the pool shards and tokenise them (for the mixture methods' proxy runs)."""
    from dqreview.io import read_parquet
    from dqreview.lm.tokenizer import encode_batch, load_tokenizer

    tok = load_tokenizer(tokenizer_path)
    frame = pd.concat(
        [read_parquet(p, columns=["id", "text", "domain", "n_bytes"]) for p in shards], ignore_index=True
    ).sort_values("id", ignore_index=True)
    tokens = encode_batch(tok, frame["text"].tolist())
    return PoolTokens(frame.drop(columns=["text"]), tokens, tok)
