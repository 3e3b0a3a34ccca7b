"""Random baseline: no preference at all.

Every document scores 0.0, so the order comes entirely from :func:`dqreview.select.select_budget`'s
tie-break by ``unit_uniform(id, seed)``. The random baseline is therefore exactly "uniform from
hash(id, seed)", paired seed by seed with every other method and independent of the shard count.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

PER_DOCUMENT = True
KEEP = ("high",)
NEEDS: tuple[str, ...] = ()


def score(
    docs: pd.DataFrame,
    embeddings: np.ndarray | None = None,
    state: dict | None = None,
    params: dict | None = None,
) -> pd.DataFrame:
    """Score 0.0 for every document of ``docs`` (columns ``id``, ``score``)."""
    return pd.DataFrame({"id": docs["id"].to_numpy(), "score": np.zeros(len(docs), dtype=np.float64)})
