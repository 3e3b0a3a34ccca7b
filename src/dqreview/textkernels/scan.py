"""UTF-8 scanners of a batch of texts packed into one byte buffer, and their character classes.

Two tokenisations, each named for what it splits on:

``str.split`` words (:class:`SplitWords`, :func:`scan_split_words`; MinHash shingles)
    Words of the lower-cased text at ``str.split`` whitespace. ``normalise`` only changes whitespace
    (which the split discards) unless a text has control/format characters (Cc/Cf other than newline
    and tab), lone surrogates or is not NFC: the scanner flags the first kind and Python checks the
    others, and only those texts go through :func:`dqreview.corpus.text.normalise`.
``\\w+|[^\\w\\s]+`` tokens (:func:`wordpunct_spans`; DSIR, nltk's WordPunctTokenizer)
    Maximal runs of word or of other non-space characters, classes decided by stdlib ``re`` per code
    point (:func:`token_classes`, filled lazily as code points are met).
"""

from __future__ import annotations

import functools
import re
import sys
import unicodedata

import numpy as np
from numba import njit

from dqreview.corpus.text import normalise

# --- packing ------------------------------------------------------------------------------------


def pack_bytes(parts: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
    """The parts back to back as one uint8 buffer, and the (n+1,) offsets: part d is buf[off[d]:off[d+1]]."""
    off = np.zeros(len(parts) + 1, np.int64)
    np.cumsum(np.fromiter(map(len, parts), np.int64, len(parts)), out=off[1:])
    return np.frombuffer(b"".join(parts), np.uint8), off


@njit(cache=True, inline="always")
def utf8_decode(buf, p):
    """(code point, byte length) of the UTF-8 sequence at ``buf[p]`` (input is valid UTF-8)."""
    b0 = np.int64(buf[p])
    if b0 < 0x80:
        return b0, 1
    if b0 < 0xE0:
        return ((b0 & 0x1F) << 6) | (np.int64(buf[p + 1]) & 0x3F), 2
    if b0 < 0xF0:
        return ((b0 & 0x0F) << 12) | ((np.int64(buf[p + 1]) & 0x3F) << 6) | (np.int64(buf[p + 2]) & 0x3F), 3
    return (
        ((b0 & 0x07) << 18)
        | ((np.int64(buf[p + 1]) & 0x3F) << 12)
        | ((np.int64(buf[p + 2]) & 0x3F) << 6)
        | (np.int64(buf[p + 3]) & 0x3F),
        4,
    )


# --- str.split words ----------------------------------------------------------------------------

#: Classes of the ``str.split`` scanner.
SPLIT_WORD, SPLIT_SPACE, SPLIT_CONTROL = 0, 1, 2


@functools.cache
def split_classes() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Class of each ASCII byte (word / space / control), the sorted non-ASCII ``str.split``
    whitespace code points, and the non-ASCII Cc/Cf code-point ranges (lo, hi), built once."""
    ascii_cls = np.zeros(128, np.uint8)
    for c in range(128):
        ch = chr(c)
        if unicodedata.category(ch) in ("Cc", "Cf") and ch not in "\n\t":
            ascii_cls[c] = SPLIT_CONTROL
        elif ch.isspace():
            ascii_cls[c] = SPLIT_SPACE
    spaces: list[int] = []
    lo: list[int] = []
    hi: list[int] = []
    for cp in range(128, sys.maxunicode + 1):
        ch = chr(cp)
        if unicodedata.category(ch) in ("Cc", "Cf"):  # control wins: normalise removes it
            if hi and hi[-1] == cp - 1:
                hi[-1] = cp
            else:
                lo.append(cp)
                hi.append(cp)
        elif ch.isspace():
            spaces.append(cp)
    return ascii_cls, np.array(spaces, np.int64), np.array(lo, np.int64), np.array(hi, np.int64)


@njit(cache=True)
def _split_class_nonascii(buf, i, spaces, ctrl_lo, ctrl_hi):
    """(class, byte length) of the multi-byte UTF-8 character starting at buf[i]."""
    cp, n = utf8_decode(buf, i)
    j = np.searchsorted(ctrl_hi, cp)
    if j < ctrl_lo.size and ctrl_lo[j] <= cp:
        return SPLIT_CONTROL, n
    j = np.searchsorted(spaces, cp)
    if j < spaces.size and spaces[j] == cp:
        return SPLIT_SPACE, n
    return SPLIT_WORD, n


@njit(cache=True)
def scan_split_words(buf, off, ascii_cls, spaces, ctrl_lo, ctrl_hi, start, stop):
    """Words of each text buf[off[d]:off[d+1]]: per-text word counts and control-character flags.

    When ``start``/``stop`` have room (size ≥ the total count) the word byte spans are written too.
    ASCII bytes are classified inline: a call per byte would cost a reference-count update per array.
    """
    n = off.size - 1
    counts = np.zeros(n, np.int64)
    flagged = np.zeros(n, np.bool_)
    write = start.size > 0
    w = 0
    for d in range(n):
        i, end, inword = off[d], off[d + 1], False
        while i < end:
            c = buf[i]
            if c < 128:
                cls, ln = np.int64(ascii_cls[c]), 1
            else:
                cls, ln = _split_class_nonascii(buf, i, spaces, ctrl_lo, ctrl_hi)
            if cls == SPLIT_WORD:
                if not inword:
                    inword = True
                    counts[d] += 1
                    if write:
                        start[w] = i
            else:
                if cls == SPLIT_CONTROL:
                    flagged[d] = True
                if inword:
                    inword = False
                    if write:
                        stop[w] = i
                        w += 1
            i += ln
        if inword and write:
            stop[w] = end
            w += 1
    return counts, flagged


class SplitWords:
    """Every word of a batch of texts: UTF-8 ``buf`` (lower-cased), word byte spans ``start``/``stop``
    (W,), and ``doc_w`` (n+1,) — text d owns words doc_w[d]:doc_w[d+1]. The words are those of
    ``normalise(text).lower().split()``."""

    def __init__(self, texts):
        texts = [str(t) for t in texts]
        parts = [_lower_utf8(t) for t in texts]
        cls = split_classes()
        buf, off = pack_bytes(parts)
        empty = np.zeros(0, np.int64)
        counts, flagged = scan_split_words(buf, off, *cls, empty, empty)
        if flagged.any():  # control/format characters: normalise removes them (and may join words)
            for d in np.flatnonzero(flagged):
                parts[d] = normalise(texts[d]).lower().encode("utf-8")
            buf, off = pack_bytes(parts)
            counts, flagged = scan_split_words(buf, off, *cls, empty, empty)
            assert not flagged.any(), "normalise left a control character"
        self.start = np.empty(int(counts.sum()), np.int64)
        self.stop = np.empty_like(self.start)
        scan_split_words(buf, off, *cls, self.start, self.stop)
        self.buf = buf
        self.doc_w = np.zeros(len(texts) + 1, np.int64)
        np.cumsum(counts, out=self.doc_w[1:])

    @property
    def n(self) -> int:
        return self.doc_w.size - 1


def _lower_utf8(t: str) -> bytes:
    if not t.isascii() and not unicodedata.is_normalized("NFC", t):
        t = normalise(t)
    try:
        return t.lower().encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: normalise replaces them with U+FFFD
        return normalise(t).lower().encode("utf-8")


# --- \w+|[^\w\s]+ tokens ------------------------------------------------------------------------

#: Classes of the ``\w+|[^\w\s]+`` scanner (UNKNOWN = not yet classified).
TOKEN_SPACE, TOKEN_WORD, TOKEN_OTHER, TOKEN_UNKNOWN = 0, 1, 2, -1

_WORD_RE = re.compile(r"\w", flags=re.UNICODE)
_SPACE_RE = re.compile(r"\s", flags=re.UNICODE)
_CLS: dict[str, np.ndarray] = {}
_FLAGS: list[np.ndarray] = []


def _class_of(ch: str) -> int:
    """Tokeniser class of one character under ``\\w+|[^\\w\\s]+`` (stdlib ``re`` decides)."""
    if _WORD_RE.match(ch):
        return TOKEN_WORD  # part of \w+
    if _SPACE_RE.match(ch):
        return TOKEN_SPACE  # separates tokens
    return TOKEN_OTHER  # part of [^\w\s]+


def token_classes(mode: str) -> np.ndarray:
    """int8 class per code point, one table per process. ``"re"``: the classes of ``\\w+|[^\\w\\s]+``,
    filled lazily (−1 = not yet; see :func:`classify_unknown`); ``"split"``: only U+0020 separates (for
    tokens already joined by single spaces)."""
    t = _CLS.get(mode)
    if t is None:
        if mode == "split":
            t = np.full(0x110000, 1, dtype=np.int8)
            t[32] = 0
        else:
            t = np.full(0x110000, -1, dtype=np.int8)
            t[:128] = [_class_of(chr(c)) for c in range(128)]
        _CLS[mode] = t
    return t


def unknown_flags() -> np.ndarray:
    """The process's uint8[0x110000] scratch where :func:`wordpunct_spans` flags unclassified code points."""
    if not _FLAGS:
        _FLAGS.append(np.zeros(0x110000, dtype=np.uint8))
    return _FLAGS[0]


def classify_unknown(table: np.ndarray, flags: np.ndarray) -> None:
    """Classify the code points flagged in ``flags`` into ``table``, and clear the flags."""
    cps = np.flatnonzero(flags)
    flags[cps] = 0
    table[cps] = [_class_of(chr(c)) for c in cps.tolist()]


@njit(cache=True)
def wordpunct_spans(buf, doc_ends, cls, tok_start, tok_end, n_tok, unknown):
    """Maximal runs of WORD or of OTHER characters (``\\w+|[^\\w\\s]+``) of each document.

    ``buf``: UTF-8 bytes of the documents back to back; document d is ``buf[doc_ends[d-1]:doc_ends[d]]``.
    ``cls``: int8 class of every code point (SPACE, WORD, OTHER, or UNKNOWN = not yet classified).
    Writes token byte spans to ``tok_start``/``tok_end`` (room for ``buf.size`` tokens) and the
    number of tokens of each document to ``n_tok``. Returns the total number of tokens, or −1 if
    an UNKNOWN code point was met: then every unknown code point of the input is flagged in
    ``unknown`` (uint8[0x110000]) and the caller classifies them and calls again.
    """
    k = 0
    s = 0
    for d in range(doc_ends.size):
        e = doc_ends[d]
        k0 = k
        p = s
        while p < e:
            cp, w = utf8_decode(buf, p)
            c = cls[cp]
            if c == 0:
                p += w
                continue
            if c < 0:
                return _collect_unknown(buf, p, cls, unknown)
            ts = p
            p += w
            while p < e:
                b0 = buf[p]
                if b0 < 0x80:
                    c2 = cls[b0]
                    w2 = 1
                else:
                    cp2, w2 = utf8_decode(buf, p)
                    c2 = cls[cp2]
                if c2 != c:
                    if c2 < 0:
                        return _collect_unknown(buf, p, cls, unknown)
                    break
                p += w2
            tok_start[k] = ts
            tok_end[k] = p
            k += 1
        n_tok[d] = k - k0
        s = e
    return k


@njit(cache=True)
def _collect_unknown(buf, p, cls, unknown):
    while p < buf.size:
        cp, w = utf8_decode(buf, p)
        if cls[cp] < 0:
            unknown[cp] = 1
        p += w
    return -1
