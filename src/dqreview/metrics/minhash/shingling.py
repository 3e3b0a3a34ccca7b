"""Shingles: the plain-Python definition, and every shingle's 64-bit hash or exact id, compiled.

A shingle is a word ``ngram``-gram (default 5) of the lower-cased, whitespace-split normalised text
(:func:`dqreview.corpus.text.normalise`), joined by one space; a text shorter than ``ngram`` words is
ONE shingle (its words joined by one space; the empty text gives the shingle ``""``). :func:`shingles`
is the definition; the compiled path (:class:`dqreview.textkernels.scan.SplitWords`, one pass over a
whole batch) produces the same words (tested against it).

A word's 64-bit hash is FNV-1a over its UTF-8 bytes followed by the murmur3 ``fmix64`` finaliser; a
shingle's 64-bit hash is a polynomial combination of its word hashes (wrapping uint64, plus the word
count) followed by ``fmix64``. Exact ids come from open-addressing tables that compare the bytes
(:mod:`dqreview.textkernels.tables`).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from dqreview.corpus.text import normalise
from dqreview.textkernels.mix import GOLDEN64, fmix64, span_hashes
from dqreview.textkernels.scan import SplitWords
from dqreview.textkernels.tables import intern_shingles, intern_words

_U = np.uint64


def _words(text: str, assume_normalised: bool = False) -> list[str]:
    return (text if assume_normalised else normalise(text)).lower().split()


def shingles(text: str, n: int = 5, assume_normalised: bool = False) -> list[str]:
    """Word ``n``-grams (lower-cased, normalised, space-joined); the whole text as one when shorter."""
    w = _words(text, assume_normalised)
    if len(w) < n:
        return [" ".join(w)]
    return [" ".join(w[i : i + n]) for i in range(len(w) - n + 1)]


@njit(cache=True)
def shingle_offsets(doc_w, ngram):
    """``doc_s`` (n+1,): text d owns shingles doc_s[d]:doc_s[d+1] (one when shorter than ngram)."""
    n = doc_w.size - 1
    doc_s = np.empty(n + 1, np.int64)
    doc_s[0] = 0
    for d in range(n):
        L = doc_w[d + 1] - doc_w[d]
        doc_s[d + 1] = doc_s[d] + (L - ngram + 1 if L >= ngram else 1)
    return doc_s


@njit(cache=True)
def _shingle_hashes(whash, doc_w, ngram):
    """64-bit hash of every shingle of every text (S,), and ``doc_s`` (n+1,) shingle offsets."""
    n = doc_w.size - 1
    doc_s = shingle_offsets(doc_w, ngram)
    out = np.empty(doc_s[n], np.uint64)
    for d in range(n):
        L = doc_w[d + 1] - doc_w[d]
        k = ngram if L >= ngram else L
        for s in range(doc_s[d + 1] - doc_s[d]):
            h = _U(0)
            base = doc_w[d] + s
            for j in range(k):
                h = h * GOLDEN64 + whash[base + j]
            out[doc_s[d] + s] = fmix64(h + _U(k))  # the word count tags short texts
    return out, doc_s


def shingle_hashes(texts, ngram: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """64-bit hash of every shingle of every text (duplicates within a text kept), and the (n+1,)
    offsets: text d owns hashes[offsets[d]:offsets[d+1]]."""
    words = SplitWords(texts)
    return _shingle_hashes(span_hashes(words.buf, words.start, words.stop), words.doc_w, ngram)


def shingle_ids(texts, ngram: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Exact shingle ids (equal shingle text ⇔ equal id, within this call) of every shingle of every
    text, and the (n+1,) offsets."""
    words = SplitWords(texts)
    whash = span_hashes(words.buf, words.start, words.stop)
    tok, _ = intern_words(words.buf, words.start, words.stop, whash)
    sh, doc_s = _shingle_hashes(whash, words.doc_w, ngram)
    uid, _, _ = intern_shingles(sh, doc_s, tok, words.doc_w, ngram)
    return uid, doc_s
