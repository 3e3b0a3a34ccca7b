"""Our GPT as a Hugging Face GPT2LMHeadModel directory: same logits, loads offline, atomic."""

from __future__ import annotations

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, GPT2LMHeadModel

from dqreview.errors import DQError
from dqreview.lm import GPT, GPTConfig, train_tokenizer
from dqreview.lm.hf import HF_FILES, export_hf, from_hf, load_hf, to_hf

TEXTS = ["the cat sat on the mat. " * 5, "def f(x):\n    return x + 1\n" * 3, "Licensed under MIT. " * 4] * 5


@pytest.fixture(scope="module")
def tok():
    return train_tokenizer(TEXTS, vocab_size=300, min_frequency=2)


def _model(tok, bias=False, tie=True, seed=0):
    torch.manual_seed(seed)
    cfg = GPTConfig(n_layer=2, n_head=2, n_embd=16, block_size=24, vocab_size=tok.get_vocab_size(), bias=bias,
                    tie_embeddings=tie)  # fmt: skip
    model = GPT(cfg).eval()
    with torch.no_grad():  # non-zero biases and norm gains, so a misplaced one shows in the logits
        for name, p in model.named_parameters():
            if name.endswith(".bias") or (p.dim() == 1):
                p.normal_(0.0, 0.5 if name.endswith(".bias") else 1.0)
    return model


@pytest.mark.parametrize(("bias", "tie"), [(False, True), (True, True), (False, False), (True, False)])
def test_exported_directory_loads_offline_with_our_logits(tmp_path, tok, bias, tie):
    model = _model(tok, bias, tie)
    export_hf(model, tok, tmp_path / "proxy")
    assert {p.name for p in (tmp_path / "proxy").iterdir()} >= set(HF_FILES)
    hf = AutoModelForCausalLM.from_pretrained(tmp_path / "proxy", local_files_only=True).eval()
    assert isinstance(hf, GPT2LMHeadModel)
    x = torch.randint(0, tok.get_vocab_size(), (3, 24), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ours = model(x)[0]
        torch.testing.assert_close(hf(x).logits, ours, rtol=0, atol=1e-5)
        back, hf_tok = load_hf(tmp_path / "proxy")
        assert back.cfg == model.cfg
        torch.testing.assert_close(back(x)[0], ours, rtol=0, atol=0)
    assert (hf.lm_head.weight.data_ptr() == hf.transformer.wte.weight.data_ptr()) is tie
    assert hf_tok.eos_token_id == hf_tok.bos_token_id == 0


def test_tokenizer_is_ours_with_the_separator_first(tmp_path, tok):
    export_hf(_model(tok), tok, tmp_path / "proxy")
    hf_tok = AutoTokenizer.from_pretrained(tmp_path / "proxy", local_files_only=True)
    text = "the cat sat on\n  the mat. ünïcode"
    assert hf_tok(text)["input_ids"] == [0, *tok.encode(text).ids]  # EOT preceded every training document
    assert hf_tok(text, add_special_tokens=False)["input_ids"] == tok.encode(text).ids
    assert hf_tok.decode(tok.encode(text).ids) == text
    assert (hf_tok.eos_token, hf_tok.pad_token, hf_tok.model_max_length) == (
        "<|endoftext|>",
        "<|endoftext|>",
        24,
    )
    assert tok.post_processor is None  # the caller's tokenizer is untouched


def test_conversion_is_exact_in_both_directions(tok):
    model = _model(tok, bias=True)
    again = from_hf(to_hf(model))
    for (name, a), (_, b) in zip(model.state_dict().items(), again.state_dict().items(), strict=True):
        assert torch.equal(a, b), name


def test_failed_export_leaves_the_previous_directory(tmp_path, tok, monkeypatch):
    export_hf(_model(tok, seed=0), tok, tmp_path / "proxy")
    before = (tmp_path / "proxy" / "model.safetensors").read_bytes()

    def broken(self, *args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(GPT2LMHeadModel, "save_pretrained", broken)
    with pytest.raises(DQError, match="proxy"):
        export_hf(_model(tok, seed=1), tok, tmp_path / "proxy")
    assert (tmp_path / "proxy" / "model.safetensors").read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["proxy"]  # no temporary directory left behind


def test_load_errors_name_the_directory(tmp_path, tok):
    with pytest.raises(DQError, match="missing"):
        load_hf(tmp_path)
    hf = to_hf(_model(tok))
    hf.config.activation_function = "gelu_new"
    with pytest.raises(DQError, match="gelu_new"):
        from_hf(hf)
