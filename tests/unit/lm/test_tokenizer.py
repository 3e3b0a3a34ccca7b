"""dqreview.lm.tokenizer: byte-level BPE round trips any text, EOT is token 0, training is deterministic."""

from __future__ import annotations

import numpy as np
import pytest

from dqreview.errors import DQError
from dqreview.lm import EOT, encode_batch, load_tokenizer, save_tokenizer, train_tokenizer

TEXTS = [
    "The quick brown fox jumps over the lazy dog. " * 3,
    "def f(x):\n    return x ** 2  # square\n",
    'Licensed under the Apache License, Version 2.0 (the "License").',
    "Hello! How are you today? I'm fine, thanks.",
    "Ünïcödé tëxt wïth àccents, 日本語のテキスト, and emoji 🎉🚀👩‍👩‍👧.",
] * 4


@pytest.fixture(scope="module")
def tok():
    return train_tokenizer(TEXTS, vocab_size=300, min_frequency=2)


@pytest.mark.parametrize(
    "text",
    [
        "plain ascii",
        "  leading and trailing spaces  ",
        "emoji 🎉🚀 and ZWJ 👩‍👩‍👧 and flags 🇫🇷",
        "中文 العربية עברית हिन्दी",
        "\x00\x01\x7f control \t\r\n chars",
        "literal <|endoftext|> in text",
        "\ufffd replacement \ufeff BOM \u200b zero-width",
        "",
    ],
)
def test_tokenizer_roundtrip(tok, text):
    (ids,) = encode_batch(tok, [text])
    assert ids.dtype == np.int32
    assert tok.decode(ids.tolist(), skip_special_tokens=False) == text
    assert EOT not in ids.tolist()  # only the stream builder inserts EOT


def test_tokenizer_eot_deterministic_and_saved(tok, tmp_path):
    assert tok.token_to_id("<|endoftext|>") == EOT == 0
    assert tok.get_vocab_size() == 300
    again = train_tokenizer(TEXTS, vocab_size=300, min_frequency=2)
    assert again.to_str() == tok.to_str()
    path = tmp_path / "tokenizer.json"
    save_tokenizer(tok, path)
    assert load_tokenizer(path).to_str() == tok.to_str()
    with pytest.raises(DQError, match="not found"):
        load_tokenizer(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(DQError, match="not a readable"):
        load_tokenizer(tmp_path / "bad.json")
