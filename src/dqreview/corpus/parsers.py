"""Archive-member parsers: bytes of one member in, ``(key, text)`` documents out.

Each parser is registered in :data:`PARSERS` under the ``format`` name used in the config.
Keys must be unique within a source; the caller checks that.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from dqreview.errors import DQError

__all__ = ["PARSERS", "get_parser", "parse_text", "parse_wiki_summaries_json", "parse_chitchat_json"]

Parser = Callable[[str, bytes], Iterator[tuple[str, str]]]


def _load_json(name: str, data: bytes) -> Any:
    try:
        return json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        where = f"line {exc.lineno}" if isinstance(exc, json.JSONDecodeError) else f"byte {exc.start}"
        raise DQError(
            f"{name}: not valid UTF-8 JSON at {where} ({exc}); check the member pattern and format "
            "of this source in the config"
        ) from None


def _expect_object(name: str, obj: Any, what: str) -> dict:
    if not isinstance(obj, dict):
        raise DQError(f"{name}: expected {what}, found a JSON {type(obj).__name__}; is the format right?")
    return obj


def parse_text(name: str, data: bytes) -> Iterator[tuple[str, str]]:
    """The whole member is one document, keyed by its path.

    Invalid UTF-8 is replaced by U+FFFD (the caller counts repaired members).
    """
    yield name, data.decode("utf-8", errors="replace")


def parse_wiki_summaries_json(name: str, data: bytes) -> Iterator[tuple[str, str]]:
    """``{title: {"extract": text, ...}}`` → one document per title."""
    obj = _expect_object(name, _load_json(name, data), 'an object {title: {"extract": ...}}')
    for title, entry in obj.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("extract"), str):
            found = list(entry) if isinstance(entry, dict) else type(entry).__name__
            raise DQError(f'{name}: entry "{title}" has no string field "extract" (found {found})')
        yield str(title), entry["extract"]


def _render_conversation(name: str, conv_id: str, turns: Any) -> str:
    """Lines ``A: ...`` / ``B: ...``; speakers lettered by order of first appearance."""
    if not isinstance(turns, list):
        raise DQError(f'{name}: conversation "{conv_id}": "messages" is not a list of turns')
    letters: dict[str, str] = {}
    lines = []
    for t, turn in enumerate(turns):
        if not isinstance(turn, list) or not all(isinstance(m, dict) and "text" in m for m in turn):
            raise DQError(
                f'{name}: conversation "{conv_id}", turn {t}: expected a list of messages with a "text" field'
            )
        if not turn:
            continue
        sender = str(turn[0].get("sender", ""))
        if sender not in letters:
            # A..Z, then A1, B1, ... so that large group chats still get distinct labels.
            k = len(letters)
            letters[sender] = chr(ord("A") + k % 26) + (str(k // 26) if k >= 26 else "")
        lines.append(f"{letters[sender]}: " + " ".join(str(m["text"]) for m in turn))
    return "\n".join(lines)


def parse_chitchat_json(name: str, data: bytes) -> Iterator[tuple[str, str]]:
    """``{conv_id: {"messages": [[message, ...], ...]}}`` → one document per conversation.

    Each inner list is one turn by one sender; the turn's messages are joined by a space.
    """
    obj = _expect_object(name, _load_json(name, data), 'an object {conversation id: {"messages": ...}}')
    for conv_id, conv in obj.items():
        if not isinstance(conv, dict) or "messages" not in conv:
            raise DQError(f'{name}: conversation "{conv_id}" has no "messages" field')
        yield str(conv_id), _render_conversation(name, conv_id, conv["messages"])


PARSERS: dict[str, Parser] = {
    "text": parse_text,
    "wiki_summaries_json": parse_wiki_summaries_json,
    "chitchat_json": parse_chitchat_json,
}


def get_parser(fmt: str, where: str = "format") -> Parser:
    """The parser registered as ``fmt``; a :class:`DQError` listing known formats otherwise."""
    try:
        return PARSERS[fmt]
    except KeyError:
        raise DQError(f"{where}: unknown format {fmt!r}; known formats: {sorted(PARSERS)}") from None
