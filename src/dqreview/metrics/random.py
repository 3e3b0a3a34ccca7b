"""Random baseline: no preference at all.

Every document scores 0.0, so the order comes entirely from :func:`dqreview.select.select_budget`'s
tie-break by ``unit_uniform(id, seed)``. The random baseline is therefore exactly "uniform from
hash(id, seed)", paired seed by seed with every other method and independent of the shard count.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from dqreview.metrics.base import DocumentScorer
from dqreview.params import NoParams


def zero_scores(docs: pd.DataFrame) -> pd.DataFrame:
    """Score 0.0 for every document of ``docs`` (columns ``id``, ``score``)."""
    return pd.DataFrame({"id": docs["id"].to_numpy(), "score": np.zeros(len(docs), dtype=np.float64)})


class Random(DocumentScorer):
    """Uniform selection: every score is 0, the select step's hash(id, seed) tie-break orders them."""

    Params = NoParams
    keep = ("high",)
    family = "baseline"

    def score(self, docs, features, state, params) -> pd.DataFrame:
        return zero_scores(docs)


METHOD = Random()
