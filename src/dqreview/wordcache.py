"""Tokenise each distinct word once: token ids of many texts from a cache of per-word ids.

A WordPiece (BERT-style) tokenizer normalises character by character, splits at whitespace before its
model runs, and never lets a token span a space. So the ids of a text are exactly the concatenation of
the ids of its space-separated pieces, each tokenised alone (no special tokens). A corpus repeats its
words: 1M chunks of ~130 words hold ~130M words but only a few hundred thousand distinct ones. Tokenising
each distinct word once and looking the rest up turns the tokenizer, the slowest part of prepare's
token-limit check and of the static encoder, into a dictionary lookup per word.

:func:`splits_at_spaces` decides from the tokenizer's own description (``tokenizer.json``) whether that
holds; :class:`WordTokenCache` falls back to tokenising whole texts when it does not. Tests check the
cached ids against the tokenizer on real and adversarial text.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np

#: Normalizers that map characters one by one (or add spaces around CJK), never across a space.
_LOCAL_NORMALIZERS = frozenset(
    {"BertNormalizer", "Lowercase", "NFD", "NFKD", "NFC", "NFKC", "StripAccents", "Strip"}
)
#: Pre-tokenizers that split at (and drop) every whitespace character.
_WHITESPACE_PRE_TOKENIZERS = frozenset({"BertPreTokenizer", "Whitespace", "WhitespaceSplit"})
#: Distinct words kept by default (about 150 bytes each: ~150 MB when full); later words are tokenised
#: per block without being kept.
MAX_WORDS = 1 << 20
#: Calls with at most this many texts take a plain Python loop over words instead of pyarrow.
_SMALL_CALL = 32


def _normalizer_is_local(spec: dict | None) -> bool:
    if spec is None:
        return True
    if spec.get("type") == "Sequence":
        return all(_normalizer_is_local(s) for s in spec.get("normalizers", []))
    return spec.get("type") in _LOCAL_NORMALIZERS


def splits_at_spaces(tokenizer) -> bool:
    """Whether ``tokenizer`` (a ``tokenizers.Tokenizer``) tokenises a text as the concatenation of its
    space-separated pieces tokenised alone (special tokens aside).

    True when the normalizer is character-local (:data:`_LOCAL_NORMALIZERS`, or a sequence of them), the
    pre-tokenizer splits at whitespace (:data:`_WHITESPACE_PRE_TOKENIZERS`) and no added token contains
    whitespace. Byte-level BPE (GPT-2) and Metaspace (SentencePiece) tokenizers carry the space into
    the next token, so they are False.
    """
    spec = json.loads(tokenizer.to_str())
    pre = spec.get("pre_tokenizer") or {}
    if pre.get("type") == "Sequence":
        steps = pre.get("pretokenizers", [])
        whitespace_first = bool(steps) and steps[0].get("type") in _WHITESPACE_PRE_TOKENIZERS
    else:
        whitespace_first = pre.get("type") in _WHITESPACE_PRE_TOKENIZERS
    added_ok = not any(any(c.isspace() for c in t.get("content", "")) for t in spec.get("added_tokens") or [])
    return whitespace_first and added_ok and _normalizer_is_local(spec.get("normalizer"))


class WordTokenCache:
    """Token ids of texts from per-word ids, each distinct word tokenised once.

    Parameters
    ----------
    tokenizer : tokenizers.Tokenizer
        A copy is used, without special tokens, truncation or padding (the caller's is not changed).
    max_words : int
        Distinct words kept (:data:`MAX_WORDS`); beyond that, new words are tokenised per call.

    Attributes
    ----------
    exact : bool
        :func:`splits_at_spaces` of the tokenizer. When False every call tokenises whole texts.
    """

    def __init__(self, tokenizer, max_words: int = MAX_WORDS):
        from tokenizers import Tokenizer

        self.tokenizer = Tokenizer.from_str(tokenizer.to_str())
        self.tokenizer.no_truncation()
        self.tokenizer.no_padding()
        self.exact = splits_at_spaces(tokenizer)
        self.max_words = int(max_words)
        self._ids: dict[str, np.ndarray] = {}
        self._n: dict[str, int] = {}  # len(self._ids[w]), for the per-word loop of small calls

    def _whole(self, texts: Sequence[str]) -> list[np.ndarray]:
        encoded = self.tokenizer.encode_batch_fast(list(texts), add_special_tokens=False)
        return [np.asarray(e.ids, dtype=np.int64) for e in encoded]

    def _lookup(self, words: Sequence[str]) -> list[np.ndarray]:
        """Ids of each (distinct) word, tokenising the ones not yet cached in one batch."""
        cache = self._ids
        missing = [w for w in words if w not in cache]
        if missing:
            fresh = dict(zip(missing, self._whole(missing), strict=True))
            room = self.max_words - len(cache)
            if room > 0:
                keep = fresh if len(fresh) <= room else dict(list(fresh.items())[:room])
                cache.update(keep)
                self._n.update((w, len(a)) for w, a in keep.items())
            return [cache[w] if w in cache else fresh[w] for w in words]
        return [cache[w] for w in words]

    def counts(self, texts: Sequence[str]) -> np.ndarray:
        """Number of tokens of each text (no special tokens), int64 array (n,)."""
        if not self.exact:
            return np.fromiter((len(ids) for ids in self._whole(texts)), dtype=np.int64, count=len(texts))
        if len(texts) <= _SMALL_CALL:
            return self._small_counts(texts)
        word_index, offsets, ids = self._words(texts)
        per_word = np.fromiter((len(a) for a in ids), dtype=np.int64, count=len(ids))
        return _segment_sums(per_word[word_index], offsets)

    def _small_counts(self, texts: Sequence[str]) -> np.ndarray:
        """:meth:`counts` of a few texts by a plain loop (pyarrow's per-call cost dominates there)."""
        split = [t.split(" ") for t in texts]
        n = self._n
        try:  # once the cache is warm, one pass
            return np.array([sum(map(n.__getitem__, words)) for words in split], dtype=np.int64)
        except KeyError:
            pass
        missing = list({w for words in split for w in words if w not in n})
        ids = dict(zip(missing, self._lookup(missing), strict=True))
        return np.array(
            [sum(n[w] if w in n else len(ids[w]) for w in words) for words in split], dtype=np.int64
        )

    def token_ids(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Every text's token ids, concatenated in order, and each text's count.

        Returns
        -------
        flat : int64 array (total tokens,)
        lengths : int64 array (n,)
        """
        if not self.exact:
            ids = self._whole(texts)
            lengths = np.fromiter((len(a) for a in ids), dtype=np.int64, count=len(ids))
            return (np.concatenate(ids) if ids else np.zeros(0, dtype=np.int64)), lengths
        word_index, offsets, ids = self._words(texts)
        per_word = np.fromiter((len(a) for a in ids), dtype=np.int64, count=len(ids))
        flat_words = np.concatenate(ids) if ids else np.zeros(0, dtype=np.int64)
        starts = np.concatenate(([0], np.cumsum(per_word)))
        # the tokens of word occurrence j are flat_words[starts[w_j] : starts[w_j] + per_word[w_j]]
        lengths_of = per_word[word_index]
        total = int(lengths_of.sum())
        position = np.arange(total) - np.repeat(np.cumsum(lengths_of) - lengths_of, lengths_of)
        flat = flat_words[np.repeat(starts[word_index], lengths_of) + position]
        return flat, _segment_sums(lengths_of, offsets)

    def _words(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
        """The texts' space-separated pieces as indices into their distinct words, each text's piece
        offsets (n + 1,) and the distinct words' ids."""
        import pyarrow as pa
        import pyarrow.compute as pc

        pieces = pc.split_pattern(pa.array(texts, type=pa.large_string()), " ")
        offsets = np.asarray(pieces.offsets, dtype=np.int64)
        encoded = pieces.flatten().dictionary_encode()
        ids = self._lookup(encoded.dictionary.to_pylist())
        return np.asarray(encoded.indices, dtype=np.int64), offsets - offsets[0], ids


def _segment_sums(values: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Sums of ``values[offsets[i]:offsets[i+1]]`` for each i (empty segments sum to 0)."""
    cumulative = np.concatenate(([0], np.cumsum(values)))
    return cumulative[offsets[1:]] - cumulative[offsets[:-1]]
