"""dqreview.metrics.random: the uniform baseline scores every document 0 (the selection draws by id hash)."""

import pandas as pd

from dqreview.metrics import load_method


def test_random_scores_zero():
    docs = pd.DataFrame({"id": ["a", "b", "c"]})
    method = load_method("random")
    out = method.score(docs, None, None, method.params())
    assert list(out["id"]) == ["a", "b", "c"] and (out["score"] == 0.0).all()
