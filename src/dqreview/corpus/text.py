"""Text normalisation and chunking.

Both functions are pure and linear in the length of the text: a chunk is described by
character spans of the input and cut out once, so no string is rebuilt piece by piece.
"""

from __future__ import annotations

import functools
import re
import sys
import unicodedata
from collections.abc import Callable, Sequence

from dqreview.errors import DQError

__all__ = ["normalise", "chunk", "count_words"]

_NEWLINES = re.compile(r"\r\n?")
_TRAILING_SPACE = re.compile(r"[^\S\n]+(?=\n|\Z)")
_MANY_NEWLINES = re.compile(r"\n{3,}")
_SURROGATE = re.compile("[\ud800-\udfff]")  # lone surrogates (e.g. from JSON "\\ud800") cannot be UTF-8

# Units of a text, coarse to fine. Each pattern matches the *separator* between units; the
# separator is kept in the chunk text, so code keeps its line structure.
_PARAGRAPH_SEP = re.compile(r"\n[^\S\n]*\n\s*")  # one or more blank lines
_SENTENCE_SEP = re.compile(r"(?<=[.!?])\s+")
_LINE_SEP = re.compile(r"\n\s*")
_WORD = re.compile(r"\S+")


@functools.cache
def _control_chars() -> re.Pattern[str]:
    """Pattern of every Cc/Cf code point except newline and tab (built once, on first use)."""
    drop = [
        cp
        for cp in range(sys.maxunicode + 1)
        if unicodedata.category(chr(cp)) in ("Cc", "Cf") and chr(cp) not in "\n\t"
    ]
    # Contiguous ranges keep the character class short; a class of single characters is
    # about ten times slower to match.
    ranges: list[list[int]] = []
    for cp in drop:
        if ranges and ranges[-1][1] == cp - 1:
            ranges[-1][1] = cp
        else:
            ranges.append([cp, cp])
    body = "".join(
        re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}" for a, b in ranges
    )
    return re.compile(f"[{body}]+")


def normalise(text: str) -> str:
    """Normalise text before hashing and chunking.

    Unicode NFC (not NFKC, which would rewrite code such as ``x²`` or ligatures), Unix
    newlines, no control or format characters except newline and tab, no trailing spaces,
    at most one blank line in a row, no leading or trailing whitespace. U+FFFD is kept: it
    marks bytes repaired when the source was decoded.

    Parameters
    ----------
    text : str
        Raw document text.

    Returns
    -------
    str
        The normalised text; normalising it again returns it unchanged.
    """
    text = _SURROGATE.sub("\ufffd", text)
    text = unicodedata.normalize("NFC", text)
    text = _NEWLINES.sub("\n", text)
    text = _control_chars().sub("", text)
    text = _TRAILING_SPACE.sub("", text)
    text = _MANY_NEWLINES.sub("\n\n", text)
    return text.strip()


def count_words(text: str) -> int:
    """Number of whitespace-separated words."""
    return len(text.split())


def _split_spans(text: str, start: int, end: int, sep: re.Pattern[str]) -> list[tuple[int, int]]:
    """Spans of ``text[start:end]`` between separator matches, empty spans dropped."""
    spans = []
    pos = start
    for m in sep.finditer(text, start, end):
        if m.start() > pos:
            spans.append((pos, m.start()))
        pos = m.end()
    if end > pos:
        spans.append((pos, end))
    return spans


def _word_windows(text: str, start: int, end: int, size: int) -> list[tuple[int, int, int]]:
    """Windows of ``size`` words as (start, end, n_words) spans."""
    words = [m.span() for m in _WORD.finditer(text, start, end)]
    return [
        (words[i][0], words[min(i + size, len(words)) - 1][1], min(size, len(words) - i))
        for i in range(0, len(words), size)
    ]


_LEVELS = (_SENTENCE_SEP, _LINE_SEP)


def _units(text: str, chunk_words: int) -> list[tuple[int, int, int]]:
    """Split a text into (start, end, n_words) units of at most ``chunk_words`` words.

    Paragraphs are split once; a paragraph longer than ``chunk_words`` is split at sentence
    ends, then at line breaks (code has no sentences), then into word windows.
    """
    units: list[tuple[int, int, int]] = []
    # Work stack of (start, end, level); reversed so that units come out in text order.
    stack = [(s, e, 0) for s, e in reversed(_split_spans(text, 0, len(text), _PARAGRAPH_SEP))]
    while stack:
        s, e, level = stack.pop()
        n = count_words(text[s:e])
        if n == 0:
            continue
        if n <= chunk_words:
            units.append((s, e, n))
        elif level < len(_LEVELS):
            parts = _split_spans(text, s, e, _LEVELS[level])
            if len(parts) == 1:  # no separator at this level: go one level finer at once
                stack.append((s, e, level + 1))
            else:
                stack.extend((ps, pe, level + 1) for ps, pe in reversed(parts))
        else:
            units.extend(_word_windows(text, s, e, chunk_words))
    return units


def _pack(units: list[tuple[int, int, int]], chunk_words: int, max_chunk_words: int) -> list[tuple[int, int]]:
    """Greedily pack consecutive units into (start, end) chunk spans."""
    chunks = []
    cur_start = cur_end = None
    cur_words = 0
    for s, e, n in units:
        if cur_start is not None and (cur_words >= chunk_words or cur_words + n > max_chunk_words):
            chunks.append((cur_start, cur_end))
            cur_start = None
        if cur_start is None:
            cur_start, cur_words = s, 0
        cur_end = e
        cur_words += n
    if cur_start is not None:
        chunks.append((cur_start, cur_end))
    return chunks


def _halve(text: str) -> tuple[str, str]:
    """Split a chunk into two halves by words (by characters if it is a single word)."""
    words = [m.start() for m in _WORD.finditer(text)]
    cut = words[len(words) // 2] if len(words) > 1 else max(1, len(text) // 2)
    return text[:cut].strip(), text[cut:].strip()


def _fit_tokens(
    chunks: list[str], count_tokens: Callable[[list[str]], Sequence[int]], max_tokens: int
) -> list[str]:
    """Halve every chunk over ``max_tokens`` until all fit, keeping text order."""
    out: list[str] = []
    counts = count_tokens(chunks)
    for text, n in zip(chunks, counts, strict=True):
        if n <= max_tokens:
            out.append(text)
            continue
        if len(text) <= 1:
            raise DQError(
                f"a single character counts as {n} tokens, over the limit of {max_tokens}; "
                "raise embed.max_tokens in the config"
            )
        out.extend(_fit_tokens([p for p in _halve(text) if p], count_tokens, max_tokens))
    return out


def chunk(
    text: str,
    chunk_words: int = 128,
    max_chunk_words: int = 192,
    count_tokens: Callable[[list[str]], Sequence[int]] | None = None,
    max_tokens: int | None = None,
) -> list[str]:
    """Cut a normalised text into chunks of about ``chunk_words`` words.

    Parameters
    ----------
    text : str
        Normalised text (see :func:`normalise`).
    chunk_words : int, default=128
        Target chunk length in words; a chunk closes once it has this many words.
    max_chunk_words : int, default=192
        Hard limit in words; no chunk is longer.
    count_tokens : callable, optional
        ``list[str] -> list[int]``, the encoder tokenizer's token counts.
    max_tokens : int, optional
        With ``count_tokens``: chunks over this many tokens are halved by words until they
        fit, so the encoder never truncates.

    Returns
    -------
    list of str
        Chunks in text order, each a whitespace-trimmed slice of ``text``. Words are kept
        whole and in order, with the whitespace that separated them.
    """
    if not 0 < chunk_words <= max_chunk_words:
        raise DQError(
            f"prepare.chunk_words={chunk_words} and prepare.max_chunk_words={max_chunk_words}: "
            "need 0 < chunk_words <= max_chunk_words; fix them in the config"
        )
    spans = _pack(_units(text, chunk_words), chunk_words, max_chunk_words)
    chunks = [text[s:e].strip() for s, e in spans]
    if count_tokens is not None and max_tokens is not None and chunks:
        chunks = _fit_tokens(chunks, count_tokens, max_tokens)
    return chunks
