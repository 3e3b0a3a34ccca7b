"""dqreview.corpus.text: normalisation and chunking."""

from __future__ import annotations

import random
import time

import pytest

from dqreview.corpus.text import chunk, normalise
from dqreview.errors import DQError

# --- normalise ----------------------------------------------------------------------------


def test_normalise():
    raw = "Cafe\u0301 x\u00b2\r\nline  \t\rnext\x00\u200b\n\n\n\n  end \ufffd  "
    out = normalise(raw)
    assert out == "Café x\u00b2\nline\nnext\n\n  end \ufffd"  # NFC, not NFKC: x² survives
    assert normalise(out) == out
    assert normalise("\ud800bad") == "\ufffdbad"  # lone surrogates cannot be written as UTF-8


# --- chunk --------------------------------------------------------------------------------


def _words_of(chunks):
    return [w for c in chunks for w in c.split()]


def _prose(rng, n_paragraphs):
    vocab = ["alpha", "beta", "gamma.", "delta", "eps!", "zeta", "eta?"]
    return "\n\n".join(
        " ".join(rng.choice(vocab) for _ in range(rng.randint(1, 500))) for _ in range(n_paragraphs)
    )


def test_chunk_limits_and_word_preservation():
    rng = random.Random(0)
    text = normalise(_prose(rng, 200))
    chunks = chunk(text, chunk_words=50, max_chunk_words=80)
    assert all(0 < len(c.split()) <= 80 for c in chunks)
    assert _words_of(chunks) == text.split()  # nothing lost, duplicated or reordered
    # most chunks are close to the target: greedy packing, not one unit per chunk
    assert sum(len(c.split()) >= 40 for c in chunks) / len(chunks) > 0.7


def test_chunk_code_keeps_lines_and_splits_long_lines():
    code = "\n".join(f"    x{i} = f(y)  # step {i}" for i in range(300))  # no sentence ends
    chunks = chunk(code, chunk_words=60, max_chunk_words=90)
    assert all(len(c.split()) <= 90 for c in chunks) and len(chunks) > 1
    assert all("\n" in c for c in chunks)  # line structure kept within chunks
    assert _words_of(chunks) == code.split()
    one_line = " ".join(f"w{i}" for i in range(1000))
    chunks = chunk(one_line, chunk_words=100, max_chunk_words=150)
    assert [len(c.split()) for c in chunks] == [100] * 10


def test_chunk_token_limit_with_fake_counter():
    def count(texts):  # a "tokenizer" where long words cost many tokens
        return [sum(1 + len(w) // 3 for w in t.split()) for t in texts]

    rng = random.Random(1)
    words = ["a", "bb", "supercalifragilistic", "x" * 40]
    text = "\n\n".join(" ".join(rng.choice(words) for _ in range(rng.randint(50, 300))) for _ in range(20))
    chunks = chunk(text, 128, 192, count_tokens=count, max_tokens=100)
    assert max(count(chunks)) <= 100
    assert _words_of(chunks) == text.split()
    # a single word over the limit is cut by characters
    assert max(count(chunk("y" * 1000, count_tokens=count, max_tokens=50))) <= 50


def test_chunk_is_linear_time_on_a_large_document():
    rng = random.Random(2)
    text = normalise(_prose(rng, 6000))  # about 7 MB
    assert len(text) > 5_000_000
    start = time.perf_counter()
    chunks = chunk(text)
    flat = " ".join(["word"] * 1_000_000)  # one 5 MB paragraph, no sentences, no lines
    chunks_flat = chunk(flat)
    elapsed = time.perf_counter() - start
    assert elapsed < 15, f"chunking took {elapsed:.1f}s"
    assert max(len(c.split()) for c in chunks + chunks_flat) <= 192


def test_chunk_rejects_bad_limits():
    with pytest.raises(DQError, match="chunk_words <= max_chunk_words"):
        chunk("a b c", chunk_words=200, max_chunk_words=100)
    assert chunk("") == []
