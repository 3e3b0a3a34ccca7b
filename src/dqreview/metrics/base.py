"""The method protocol: what a selection method is, as two base classes.

:class:`DocumentScorer` scores documents (every metric but the mixtures): an optional per-shard
feature pass, an optional global ``fit``, then ``score`` per pool shard, embarrassingly parallel; the
selection takes documents in score order to each byte budget. :class:`MixtureLearner` learns a domain
mixture (DoReMi) or a schedule of mixtures (Skill-It) with proxy runs, and samples each budget's
selection from it.

Both share :class:`Method`: typed parameters (a :class:`dqreview.params.Params` subclass, validated
when the workflow loads), the keep directions the method allows, and its declared inputs
(:mod:`dqreview.metrics.inputs`). A method lives in one module that sets ``METHOD`` to an instance;
the config names it by a registered name or by import path (``module: mylab.metrics.perplexity``).

Contracts every method keeps (tested for every registered one in ``tests/contract/``): scores and
selections do not depend on the number of pool shards (per-document randomness is keyed by hash(id,
seed)), the same inputs give the same outputs, and bad input raises :class:`dqreview.errors.DQError`
naming what to fix.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd

from dqreview.errors import DQError
from dqreview.metrics.inputs import SHARD_FEATURES, Input
from dqreview.params import NoParams, Params

if TYPE_CHECKING:
    from dqreview.mixture import PoolTokens

KEEP_DIRECTIONS = ("high", "low")


class Method:
    """Base of every selection method.

    Class attributes
    ----------------
    Params : type[Params]
        The variant parameters (``metrics[i].variants[j].params`` in the config).
    keep : tuple of str
        Allowed keep directions: ``"high"`` keeps what the method itself prefers; ``"low"`` is the
        reversed ablation, offered only where it means something.
    deduplicates : bool
        The method removes duplicates (a ``removed`` score column), so its variants are judged
        against the planted duplicates (``results/tables/dedup_quality.csv``).
    family : str
        The kind of bet the method makes, one facet of the comparison figure: ``"target-aware"`` (reads
        the target sample), ``"target-blind"`` (judges the pool alone), ``"dedup"`` (removes duplicates),
        ``"mixture"`` (learns domain weights), ``"baseline"`` (the reference every facet draws), or
        ``"other"`` (the default, for a method that declares none).
    """

    Params: ClassVar[type[Params]] = NoParams
    keep: ClassVar[tuple[str, ...]] = ("high",)
    deduplicates: ClassVar[bool] = False
    family: ClassVar[str] = "other"

    def __init__(self, name: str | None = None) -> None:
        self.name = name or type(self).__name__.lower()

    def params(self, raw: Mapping[str, Any] | Params | None = None, where: str | None = None) -> Params:
        """Typed parameters from a config mapping (defaults filled, every value checked)."""
        return self.Params.parse(raw, where or f"{self.name} params")

    def check_variants(self, variants: dict[str, Params], where: str) -> None:
        """Rules across a method's variants (``where`` = its ``metrics[i]`` key); none by default."""

    def state_variant(self, slug: str, params: Params) -> str:
        """The variant whose fitted or learned state this variant uses (itself, by default)."""
        return slug

    def inputs(self, params: Params) -> tuple[Input, ...]:
        """Every input the method reads for these parameters (for the workflow and cost accounting)."""
        return ()

    def pool_fraction(self, params: Params) -> float:
        """The fraction of the pool the variant selects from (pool-size ablations); the whole pool by default."""
        return 1.0

    def judged_at(self, params: Params) -> tuple[float, int] | None:
        """For a deduplicating method: the shingle-Jaccard threshold and shingle length at which its
        removals are judged (None: the report's defaults)."""
        return None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


class DocumentScorer(Method, ABC):
    """A method that gives every pool document a score (HIGH = what the method prefers).

    Class attributes
    ----------------
    features : Input or None
        The per-shard array ``score`` receives, row i belonging to the shard's document i
        (:data:`~dqreview.metrics.inputs.EMBEDDINGS` or :data:`~dqreview.metrics.inputs.T2V`).
    fit_inputs : tuple of Input
        Inputs of the global ``fit``, computed once over the pool; empty = no fit step. Listing
        :data:`~dqreview.metrics.inputs.SHARD_FEATURES` adds a per-shard :meth:`shard_features` pass
        whose outputs ``fit`` receives as a list in shard order.

    A method whose inputs depend on its parameters (e.g. which space it works in) overrides
    :meth:`features_for` and :meth:`fit_inputs_for`; the class attributes are then its defaults, and
    whether it fits (:attr:`fits`) and has a shard pass (:attr:`has_shard_features`) stay the same for
    every parameter setting. The workflow, cost accounting and the contract tests only ever call the two
    methods.
    """

    features: ClassVar[Input | None] = None
    fit_inputs: ClassVar[tuple[Input, ...]] = ()

    @property
    def fits(self) -> bool:
        return bool(self.fit_inputs)

    @property
    def has_shard_features(self) -> bool:
        return SHARD_FEATURES in self.fit_inputs

    def features_for(self, params: Params) -> Input | None:
        """The per-shard array ``score`` receives for these parameters (:attr:`features` by default)."""
        return self.features

    def fit_inputs_for(self, params: Params) -> tuple[Input, ...]:
        """The inputs of ``fit`` for these parameters (:attr:`fit_inputs` by default); empty exactly
        when :attr:`fit_inputs` is."""
        return self.fit_inputs

    def inputs(self, params: Params) -> tuple[Input, ...]:
        features = self.features_for(params)
        return (*((features,) if features else ()), *self.fit_inputs_for(params))

    def shard_features(self, docs: pd.DataFrame, params: Params) -> dict[str, np.ndarray]:
        """Per-document work ``fit`` needs, for one pool shard: plain arrays (saved without pickle)."""
        raise NotImplementedError(f"{self.name} lists SHARD_FEATURES in fit_inputs but has no shard_features")

    def fit(self, inputs: dict[str, Any], params: Params) -> dict[str, np.ndarray]:
        """Global state from ``inputs`` (one value per ``fit_inputs_for(params)`` name); plain arrays only."""
        raise NotImplementedError(f"{self.name} declares fit_inputs but does not implement fit")

    @abstractmethod
    def score(
        self,
        docs: pd.DataFrame,
        features: np.ndarray | None,
        state: dict[str, np.ndarray] | None,
        params: Params,
    ) -> pd.DataFrame:
        """One row per document of the shard ``docs`` (``id``, ``text``, ``domain``, ``n_bytes``), in order.

        Returns ``id``, ``score`` (float; HIGH = preferred), optionally ``removed`` (bool: never
        selected) and method-specific columns.
        """

    def scored_per_seed(self, params: Params) -> bool:
        """Seed s of the grid fits and scores with its own seed (a scoring seed is ``"run"``, see
        :data:`dqreview.params.RunSeed`): the workflow keeps one state and one score file per seed.
        Otherwise every seed selects from one shared score file."""
        return params.follows_run_seed

    def selection_score(self, scores: pd.DataFrame, seed: int, params: Params, keep: str) -> np.ndarray:
        """The ordering key of seed ``seed`` from the merged scores (by default the score itself; DSIR
        adds Gumbel noise keyed by hash(id, seed) to sample without replacement)."""
        return scores["score"].to_numpy(np.float64)


@dataclass
class ProxyLM:
    """How a mixture learner trains its proxies: the proxy model, training settings, device."""

    model: Any  # dqreview.lm.model.GPTConfig
    train: dict[str, Any]
    eval_batch_size: int
    device: str = "cpu"


@dataclass
class Learned:
    """One seed's learned mixture: the state written as JSON, and what learning it cost."""

    state: dict[str, Any]
    flops: float
    tokens: int
    flops_formula: str
    extra: dict[str, Any] = field(default_factory=dict)


class MixtureLearner(Method, ABC):
    """A method that learns a domain mixture (or a schedule of them) and samples selections from it.

    The workflow tokenises the pool once (:class:`dqreview.mixture.PoolTokens`), calls :meth:`learn`
    per seed and writes each state as JSON; :meth:`select_budget` then samples a byte budget from the
    state of the same seed.

    Class attributes
    ----------------
    figure : str or None
        Name of the figure (``results/figs/<figure>.pdf``) that :meth:`draw` makes from every seed's
        state of every learned variant, or None.
    """

    figure: ClassVar[str | None] = None
    family: ClassVar[str] = "mixture"

    def draw(self, states: list[dict[str, Any]], path: str) -> None:
        """Draw :attr:`figure` from the learned states."""
        raise NotImplementedError(f"{self.name} names a figure but does not draw it")

    def learn_inputs(self, params: Params) -> tuple[Input, ...]:
        """Inputs of :meth:`learn` besides the tokenised pool."""
        return ()

    def select_inputs(self, params: Params) -> tuple[Input, ...]:
        """Inputs of :meth:`select_budget` besides the pool index and the learned state."""
        return ()

    def inputs(self, params: Params) -> tuple[Input, ...]:
        return tuple({i.name: i for i in (*self.learn_inputs(params), *self.select_inputs(params))}.values())

    @abstractmethod
    def learn(
        self, pool: PoolTokens, inputs: dict[str, Any], params: Params, seed: int, proxy: ProxyLM
    ) -> Learned:
        """Learn this seed's mixture (or schedule) from the tokenised pool."""

    @abstractmethod
    def select_budget(
        self,
        pool: pd.DataFrame,
        state: dict[str, Any],
        budget: float,
        seed: int,
        params: Params,
        inputs: dict[str, Any],
    ) -> tuple[pd.DataFrame, dict[str, Any]]:
        """Sample ``budget`` (a fraction of pool bytes) from ``pool`` (``id``, ``n_bytes``, ``domain``).

        Returns the selection (``id``, ``order``, ``n_bytes``, optionally ``round``) and its info (as
        :func:`dqreview.select.select_budget`'s, plus the requested and achieved mixture).
        """


def check_method(method: Any, where: str) -> Method:
    """``method`` if it is a :class:`DocumentScorer` or :class:`MixtureLearner`, else a DQError."""
    if not isinstance(method, DocumentScorer | MixtureLearner):
        raise DQError(
            f"{where}: METHOD must be an instance of dqreview.metrics.base.DocumentScorer or MixtureLearner; "
            f"got {method!r}"
        )
    bad = [k for k in method.keep if k not in KEEP_DIRECTIONS]
    if bad or not method.keep:
        raise DQError(
            f"{where}: keep directions {list(method.keep)} must be a non-empty subset of {KEEP_DIRECTIONS}"
        )
    return method
