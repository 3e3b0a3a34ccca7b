"""t2v_complexity: ‖f(x)‖₁ of each document's Task2Vec vector, whole-document and per token."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dqreview.errors import DQError
from dqreview.metrics import fit_state, load_method
from dqreview.metrics.inputs import POOL_T2V_TOKENS

METHOD = load_method("t2v_complexity")


def _docs(ids):
    return pd.DataFrame(
        {"id": ids, "text": ["x"] * len(ids), "domain": ["a"] * len(ids), "n_bytes": [1] * len(ids)}
    )


def _score(vectors, n_tokens, ids, normalise, shards=1):
    """What the workflow computes: fit over the pool (id order), score per shard, concatenate."""
    params = METHOD.params({"normalise": normalise})
    state = fit_state(METHOD, {"pool_t2v_tokens": np.asarray(n_tokens), "pool_ids": np.asarray(ids)}, params)
    parts = np.array_split(np.arange(len(ids)), shards)
    out = [
        METHOD.score(_docs([ids[i] for i in rows]), np.asarray(vectors)[rows], state, params)
        for rows in parts
    ]
    return pd.concat(out, ignore_index=True)


def test_exact_values_against_a_hand_computed_l1_norm():
    vectors = np.array([[1.0, 2.0, 3.0], [0.0, 0.5, 0.0], [0.25, 0.25, 0.5]], dtype=np.float32)
    n_tokens = [10, 3, 129]
    ids = ["c", "a", "b"]
    per_token = _score(vectors, n_tokens, ids, "tokens")
    whole = _score(vectors, n_tokens, ids, "none")
    assert per_token["id"].tolist() == ids
    # |1|+|2|+|3| = 6, 0.5, 1.0; the whole document's Fisher = n_tokens · that
    np.testing.assert_array_equal(per_token["score"], [6.0, 0.5, 1.0])
    np.testing.assert_array_equal(whole["score"], [60.0, 1.5, 129.0])
    np.testing.assert_array_equal(whole["l1"], per_token["score"])
    assert whole["n_tokens"].tolist() == n_tokens
    assert METHOD.params({}).normalise == "none"


@pytest.mark.parametrize("normalise", ["none", "tokens"])
def test_scores_do_not_depend_on_shards_or_pool_order(normalise):
    rng = np.random.default_rng(3)
    vectors = np.abs(rng.normal(size=(50, 7))).astype(np.float32)
    n_tokens = rng.integers(1, 500, size=50)
    ids = [f"d{i:03d}" for i in rng.permutation(50)]
    one = _score(vectors, n_tokens, ids, normalise, shards=1)
    four = _score(vectors, n_tokens, ids, normalise, shards=4)
    pd.testing.assert_frame_equal(one, four)
    # the fit sees the pool in another order (another sharding): the same token counts per id
    order = rng.permutation(50)
    params = METHOD.params({"normalise": normalise})
    state = fit_state(
        METHOD, {"pool_t2v_tokens": n_tokens[order], "pool_ids": np.asarray(ids)[order]}, params
    )
    again = METHOD.score(_docs(ids), vectors, state, params)
    pd.testing.assert_frame_equal(one, again)


def test_the_per_token_form_does_not_depend_on_length():
    """One document whose windows all carry the per-token Fisher v, and the same text three times over: the
    cached vector is the mean of the window vectors (token_scale: each window term is already per token), so it
    is v for both; the per-token complexity is equal and the whole-document one triples."""
    v = np.array([0.5, 1.5, 2.0])
    window = 128
    windows = {"short": [v], "long": [v, v, v]}
    vectors = np.stack([np.mean(w, axis=0) for w in windows.values()])
    n_tokens = [window * len(w) for w in windows.values()]
    per_token = _score(vectors, n_tokens, list(windows), "tokens")["score"].to_numpy()
    whole = _score(vectors, n_tokens, list(windows), "none")["score"].to_numpy()
    assert per_token[0] == per_token[1] == 4.0
    assert whole[1] == 3 * whole[0] == 3 * 4.0 * window


def test_bad_inputs_say_what_to_do(tmp_path):
    params = METHOD.params({})
    state = fit_state(METHOD, {"pool_t2v_tokens": np.array([5, 6]), "pool_ids": np.array(["a", "b"])}, params)
    with pytest.raises(DQError, match=r"\(e.g. 'z'\) have no token count in the fitted state"):
        METHOD.score(_docs(["a", "z"]), np.ones((2, 3)), state, params)
    with pytest.raises(DQError, match=r"negative or non-finite entries"):
        METHOD.score(_docs(["a", "b"]), -np.ones((2, 3)), state, params)
    with pytest.raises(DQError, match=r"3 Task2Vec vectors for 2 documents"):
        METHOD.score(_docs(["a", "b"]), np.ones((3, 3)), state, params)
    with pytest.raises(DQError, match=r"^p\.normalise: .bytes. is not one of \[.none., .tokens.\]"):
        METHOD.params({"normalise": "bytes"}, "p")
    # an info file of an older t2v_vectors has no n_tokens
    old = tmp_path / "shard-0.parquet"
    pd.DataFrame({"id": ["a"], "loss": [1.0], "n_windows": [1]}).to_parquet(old)
    with pytest.raises(DQError, match=r"no n_tokens column.*delete results/t2v"):
        POOL_T2V_TOKENS.load([str(old)])
    new = tmp_path / "shard-1.parquet"
    pd.DataFrame(
        {"id": ["b", "c"], "loss": [1.0, 2.0], "n_windows": [1, 2], "n_tokens": [7, 200]}
    ).to_parquet(new)
    assert POOL_T2V_TOKENS.load([str(new), str(new)]).tolist() == [7, 200, 7, 200]
