"""dqreview.corpus.parsers: the archive member formats (wiki summaries, chit-chat conversations)."""

from __future__ import annotations

import json

import pytest

from dqreview.corpus.parsers import PARSERS, get_parser
from dqreview.errors import DQError


def test_wiki_parser():
    data = json.dumps({"Title A": {"title": "Title A", "extract": "Text A."}, "B": {"extract": ""}}).encode()
    assert list(PARSERS["wiki_summaries_json"]("m.json", data)) == [("Title A", "Text A."), ("B", "")]
    with pytest.raises(DQError, match=r'm.json: entry "X" has no string field "extract"'):
        list(PARSERS["wiki_summaries_json"]("m.json", json.dumps({"X": {"text": "t"}}).encode()))


def test_chitchat_parser_letters_speakers_by_first_appearance():
    conv = {
        "messages": [
            [{"text": "Hello", "sender": "s2"}, {"text": "how are you?", "sender": "s2"}],
            [{"text": "fine", "sender": "s1"}],
            [{"text": "good", "sender": "s2"}],
        ]
    }
    out = list(PARSERS["chitchat_json"]("d.json", json.dumps({"c1": conv}).encode()))
    assert out == [("c1", "A: Hello how are you?\nB: fine\nA: good")]


def test_invalid_json_member_and_unknown_format():
    with pytest.raises(DQError, match="d.json: not valid UTF-8 JSON at line 1"):
        list(PARSERS["chitchat_json"]("d.json", b"{oops"))
    with pytest.raises(DQError, match=r"unknown format 'csv'; known formats: \['chitchat_json', 'text'"):
        get_parser("csv")
