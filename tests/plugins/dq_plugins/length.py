"""A method outside dq-review: longer documents first (keep=low: shorter first)."""

import pandas as pd

from dqreview.metrics.base import DocumentScorer
from dqreview.params import Annotated, Gt, Params


class LengthParams(Params):
    power: Annotated[float, Gt(0)] = 1.0


class Length(DocumentScorer):
    Params = LengthParams
    keep = ("high", "low")
    family = "target-blind"

    def score(self, docs, features, state, p):
        return pd.DataFrame({"id": docs["id"], "score": docs["n_bytes"].astype(float) ** p.power})


METHOD = Length()
