"""KL reduction of selections (DSIR's data metric)."""

from __future__ import annotations

import numpy as np
import pytest

from dqreview.report.kl_table import kl_reduction_table


def test_kl_reduction_signs():
    target = np.array([f"the cat {i} sat" for i in range(0, 20, 3)], dtype=object)
    catty = [f"the cat {i} sat" for i in range(20)]
    codey = [f"def f{i}(x): return x + {i}" for i in range(20)]
    pool_texts = np.array(catty + codey, dtype=object)
    pool_ids = np.array([f"d{i}" for i in range(40)], dtype=object)
    table = kl_reduction_table(
        pool_ids, pool_texts, target, {"all": pool_ids, "cats": pool_ids[:20], "code": pool_ids[20:]}
    ).set_index("selection")
    assert table.loc["all", "kl_reduction"] == pytest.approx(0.0, abs=1e-12)
    assert table.loc["cats", "kl_reduction"] > 0 > table.loc["code", "kl_reduction"]
