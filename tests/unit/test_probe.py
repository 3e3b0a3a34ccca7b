"""The probe interface: the workflow's GPT probe (save/load) and any HF causal LM through the same path."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dqreview import task2vec as t2v
from dqreview.errors import DQError
from dqreview.lm import GPT, GPTConfig, save_tokenizer, train_tokenizer
from dqreview.probe import gpt_probe, load_gpt_probe, load_hf_probe, load_probe, save_gpt_probe

TEXTS = ["the cat sat on the mat. " * 5, "def f(x):\n    return x + 1\n" * 3, "Licensed under MIT. " * 4] * 5


@pytest.fixture(scope="module")
def tok():
    return train_tokenizer(TEXTS, vocab_size=300, min_frequency=2)


def test_gpt_probe_roundtrip(tmp_path, tok):
    torch.manual_seed(0)
    model = GPT(GPTConfig(n_layer=2, n_head=2, n_embd=16, block_size=16, vocab_size=tok.get_vocab_size()))
    save_gpt_probe(model, tok, tmp_path / "probe")  # a GPT2LMHeadModel directory
    save_tokenizer(tok, tmp_path / "tokenizer.json")
    probe = load_gpt_probe(tmp_path / "probe", tmp_path / "tokenizer.json")
    assert probe.was_tied and probe.model.lm_head.weight is not probe.model.wte.weight
    x = torch.tensor([[0, 5, 9, 33, 2]])
    with torch.no_grad():
        torch.testing.assert_close(probe.logits({}, x), model(x)[0], rtol=0, atol=0)
    assert [a.tolist() for a in probe.encode(["the cat"])] == [tok.encode("the cat").ids]
    spec_probe = load_probe({"kind": "gpt"}, tmp_path / "probe", tmp_path / "tokenizer.json")
    assert spec_probe.vocab_size == tok.get_vocab_size()


def test_gpt_probe_errors(tmp_path, tok):
    with pytest.raises(DQError, match="missing.*rule train_probe"):
        load_gpt_probe(tmp_path, tmp_path / "tokenizer.json")
    model = GPT(GPTConfig(n_layer=1, n_head=2, n_embd=16, block_size=16, vocab_size=999))
    save_gpt_probe(model, train_tokenizer(TEXTS, vocab_size=999, min_frequency=1), tmp_path / "probe")
    save_tokenizer(tok, tmp_path / "tokenizer.json")
    with pytest.raises(DQError, match="another tokenizer"):
        load_gpt_probe(tmp_path / "probe", tmp_path / "tokenizer.json")
    with pytest.raises(DQError, match="hf_model"):
        load_probe({"kind": "hf"})
    with pytest.raises(DQError, match="kind"):
        load_probe({"kind": "onnx"})
    with pytest.raises(DQError, match="cannot load"):
        load_hf_probe(str(tmp_path / "nowhere"))


@pytest.fixture(scope="module")
def hf_dir(tmp_path_factory, tok):
    """A tiny random Llama with tied embeddings and a fast tokenizer, saved like a hub checkpoint."""
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    path = tmp_path_factory.mktemp("hf")
    torch.manual_seed(0)
    cfg = LlamaConfig(
        vocab_size=tok.get_vocab_size(), hidden_size=16, intermediate_size=32, num_hidden_layers=2,
        num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=64, tie_word_embeddings=True,
        eos_token_id=0, bos_token_id=0,
    )  # fmt: skip
    LlamaForCausalLM(cfg).save_pretrained(path)
    PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>").save_pretrained(path)
    return path


def test_hf_probe_same_code_path(hf_dir):
    probe = load_hf_probe(str(hf_dir))
    assert probe.kind == "hf" and probe.was_tied and probe.eos_id == 0
    emb = probe.model.get_input_embeddings().weight
    assert probe.model.get_output_embeddings().weight is not emb
    final = probe.layer_names("final")
    assert final[0].startswith("model.layers.1.") and final[-2:] == ["model.norm.weight", "lm_head.weight"]
    assert not any("embed_tokens" in n or "layers.0." in n for n in final)
    assert probe.layer_names("final-outputs") == [
        "model.layers.1.self_attn.o_proj.weight", "model.layers.1.mlp.down_proj.weight", "lm_head.weight"
    ]  # fmt: skip
    docs = probe.encode(["the cat sat on the mat", "def f(x): return x"])
    x = torch.as_tensor(docs[0])[None]
    with torch.no_grad():  # the features head fine-tuning trains on are exactly what the head reads
        torch.testing.assert_close(
            probe.model.get_output_embeddings()(probe.head_inputs(x)), probe.logits({}, x)
        )
    vec, loss, n_windows = t2v.document_vectors(probe, docs, ["a", "b"], window=8, seed=1)
    again, _, _ = t2v.document_vectors(probe, docs, ["a", "b"], window=8, seed=1)
    np.testing.assert_array_equal(vec, again)
    assert vec.shape == (2, sum(n for _, n in t2v.layout(probe, final))) and (vec > 0).any()
    assert np.isfinite(loss).all() and (n_windows >= 1).all()
    # batch embedding with head fine-tuning: the input embedding never moves
    before = emb.clone()
    e = t2v.embed_batch(probe, docs, window=8, layers="final", finetune={"epochs": 2, "lr": 1e-2})
    assert np.isfinite(e).all()
    torch.testing.assert_close(probe.model.get_input_embeddings().weight, before, rtol=0, atol=0)


def test_hf_loop_equals_gpt_vmap_estimator(tok):
    """The loop path (used for HF probes) and the vmap path agree on the same GPT (float64)."""
    torch.manual_seed(1)
    model = GPT(
        GPTConfig(n_layer=1, n_head=2, n_embd=16, block_size=8, vocab_size=tok.get_vocab_size())
    ).double()
    probe = gpt_probe(model, tok)
    docs = probe.encode(["the cat sat on the mat, the cat sat"])
    a, _, _ = t2v.document_vectors(probe, docs, ["a"], window=8, method="vmap")
    b, _, _ = t2v.document_vectors(probe, docs, ["a"], window=8, method="loop")
    np.testing.assert_allclose(a, b, rtol=1e-5)


def test_hf_gpt2_conv1d_filters_are_output_units(tmp_path, tok):
    """HF GPT-2 stores Conv1D weights as (in, out): the filter-wise mean must keep the output units."""
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    torch.manual_seed(0)
    cfg = GPT2Config(
        vocab_size=tok.get_vocab_size(), n_positions=16, n_embd=16, n_layer=2, n_head=2, eos_token_id=0
    )
    GPT2LMHeadModel(cfg).save_pretrained(tmp_path)
    PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>").save_pretrained(tmp_path)
    probe = load_hf_probe(str(tmp_path))
    final = probe.layer_names("final")
    assert final[-3:] == ["transformer.ln_f.weight", "transformer.ln_f.bias", "lm_head.weight"]
    assert all(n.startswith("transformer.h.1.") for n in final[:-3])
    dims = dict(t2v.layout(probe, final))
    assert probe.filter_axis("transformer.h.1.attn.c_attn.weight") == 1
    assert dims["transformer.h.1.attn.c_attn.weight"] == 48  # 3 × n_embd output units, not 16 inputs
    assert dims["transformer.h.1.mlp.c_fc.weight"] == 64 and dims["lm_head.weight"] == tok.get_vocab_size()
    g = torch.rand(3, 16, 48)  # (chunk, in, out)
    torch.testing.assert_close(t2v._mean_square(g, 1), (g**2).mean(dim=1))
    x = torch.as_tensor(probe.encode(["the cat sat on the mat"])[0])[None]
    with torch.no_grad():
        torch.testing.assert_close(probe.model.lm_head(probe.head_inputs(x)), probe.logits({}, x))
    vec, _, _ = t2v.document_vectors(probe, probe.encode(["the cat sat on the mat"]), ["a"], window=8)
    assert vec.shape == (1, sum(dims.values())) and np.isfinite(vec).all()
    # the output projections are the Conv1D c_proj layers (and their biases), 16 output units each
    outputs = probe.layer_names("final-outputs")
    assert outputs == [
        "transformer.h.1.attn.c_proj.weight", "transformer.h.1.attn.c_proj.bias",
        "transformer.h.1.mlp.c_proj.weight", "transformer.h.1.mlp.c_proj.bias", "lm_head.weight",
    ]  # fmt: skip
    assert probe.layer_names("final-outputs-no-head") == outputs[:-1]
    assert probe.filter_axis("transformer.h.1.mlp.c_proj.weight") == 1
    assert dict(t2v.layout(probe, outputs))["transformer.h.1.mlp.c_proj.weight"] == 16  # not its 64 inputs
    # the same labels whatever the layers: the subset's vector is "final"'s entries of these parameters
    docs = probe.encode(["the cat sat on the mat", "def f(x): return x + 1"])
    assert t2v.resolve_method(probe, outputs, "auto") == "loop"
    sub, _, _ = t2v.document_vectors(probe, docs, ["a", "b"], window=8, layers="final-outputs", seed=3)
    full, _, _ = t2v.document_vectors(probe, docs, ["a", "b"], window=8, layers="final", seed=3)
    where, start = {}, 0
    for name, dim in t2v.layout(probe, final):
        where[name], start = slice(start, start + dim), start + dim
    expect = np.concatenate([full[:, where[n]] for n in outputs], axis=1)
    np.testing.assert_allclose(sub, expect, rtol=1e-5, atol=1e-6 * np.abs(expect).max())
    assert (sub > 0).any(axis=1).all()


def test_output_subsets_of_an_unknown_architecture_name_the_key(tmp_path, tok):
    """GPT-NeoX names its output projections attention.dense and mlp.dense_4h_to_h: not guessed."""
    from transformers import GPTNeoXConfig, GPTNeoXForCausalLM, PreTrainedTokenizerFast

    torch.manual_seed(0)
    cfg = GPTNeoXConfig(
        vocab_size=tok.get_vocab_size(), hidden_size=16, intermediate_size=32, num_hidden_layers=2,
        num_attention_heads=2, max_position_embeddings=32, eos_token_id=0, bos_token_id=0,
    )  # fmt: skip
    GPTNeoXForCausalLM(cfg).save_pretrained(tmp_path)
    PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>").save_pretrained(tmp_path)
    probe = load_hf_probe(str(tmp_path))
    assert probe.layer_names("final")  # the other subsets still work
    for layers in ("final-outputs", "final-outputs-no-head"):
        with pytest.raises(DQError, match=r"'task2vec.documents.layers'.*GPTNeoXForCausalLM.*use 'final'"):
            probe.layer_names(layers)
    names = probe.layer_names(["gpt_neox.layers.1.attention.dense", "gpt_neox.layers.1.mlp.dense_4h_to_h"])
    assert names == [
        "gpt_neox.layers.1.attention.dense.weight", "gpt_neox.layers.1.attention.dense.bias",
        "gpt_neox.layers.1.mlp.dense_4h_to_h.weight", "gpt_neox.layers.1.mlp.dense_4h_to_h.bias",
    ]  # fmt: skip  # what the message says to do instead: the prefixes


def test_missing_hf_probe_path_names_the_key(tmp_path):
    path = str(tmp_path / "no-such-model")
    with pytest.raises(DQError, match=rf"task2vec.probe.hf_model='{path}': cannot load it"):
        load_probe({"kind": "hf", "hf_model": path})


def test_hf_probe_revision_reaches_from_pretrained(hf_dir, monkeypatch):
    """task2vec.probe.revision is passed as revision= to the tokenizer's and the model's from_pretrained
    (recorded here, the hub being unreachable: both then load the local tiny model)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    seen = []
    for cls in (AutoTokenizer, AutoModelForCausalLM):

        def from_pretrained(model_id, *args, _real=cls.from_pretrained, _cls=cls.__name__, **kwargs):
            seen.append((_cls, model_id, kwargs.pop("revision", None)))
            return _real(str(hf_dir), *args, **kwargs)

        monkeypatch.setattr(cls, "from_pretrained", from_pretrained)
    probe = load_probe({"kind": "hf", "hf_model": "org/tiny-llama", "revision": "c0ffee" * 6 + "c0ff"})
    assert probe.name == "org/tiny-llama"
    assert seen == [
        ("AutoTokenizer", "org/tiny-llama", "c0ffee" * 6 + "c0ff"),
        ("AutoModelForCausalLM", "org/tiny-llama", "c0ffee" * 6 + "c0ff"),
    ]
    with pytest.raises(DQError, match=r"task2vec.probe.revision='v1': hf_model .* is a local directory"):
        load_hf_probe(str(hf_dir), revision="v1")
