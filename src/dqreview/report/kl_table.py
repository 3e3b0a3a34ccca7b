"""DSIR's data metric for every selection: KL reduction on hashed n-gram distributions.

KL reduction = KL(target ‖ pool) − KL(target ‖ selection), with the bucket distributions of the
hashed unigrams and bigrams (Xie et al. 2023). Positive = the selection looks more like the target
than the pool does. The pool's bucket counts are computed once; a selection's distribution is the sum
of its documents' count rows.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from dqreview.metrics.dsir import featurize, fit_distribution, kl_divergence


def kl_reduction_table(
    pool_ids: np.ndarray,
    pool_texts: np.ndarray,
    target_texts: np.ndarray,
    selections: Mapping[str, np.ndarray],
    num_buckets: int = 10_000,
    ngrams: int = 2,
) -> pd.DataFrame:
    """One row per selection: ``selection``, ``kl_target_pool``, ``kl_target_selection``, ``kl_reduction``."""
    pool_counts = featurize(list(pool_texts), num_buckets, ngrams, "fast")
    target = fit_distribution(featurize(list(target_texts), num_buckets, ngrams, "fast"))
    kl_pool = kl_divergence(target, fit_distribution(pool_counts))
    position = pd.Series(np.arange(len(pool_ids)), index=pool_ids)
    rows = []
    for name, ids in selections.items():
        rows_of = position.loc[np.asarray(ids)].to_numpy()
        kl_sel = kl_divergence(target, fit_distribution(pool_counts[rows_of]))
        rows.append(
            {
                "selection": name,
                "kl_target_pool": kl_pool,
                "kl_target_selection": kl_sel,
                "kl_reduction": kl_pool - kl_sel,
            }
        )
    return pd.DataFrame(rows)
