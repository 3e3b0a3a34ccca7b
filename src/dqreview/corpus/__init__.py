"""Corpus construction: sources → raw documents → normalised, chunked, split, decontaminated,
planted and sharded document frames (see docs/architecture.md, "Documents")."""

from dqreview.corpus.parsers import PARSERS, get_parser
from dqreview.corpus.prepare import Prepared, prepare_corpus
from dqreview.corpus.sources import fetch_source, glob_to_regex, match_members
from dqreview.corpus.text import chunk, normalise

__all__ = [
    "PARSERS",
    "Prepared",
    "chunk",
    "fetch_source",
    "get_parser",
    "glob_to_regex",
    "match_members",
    "normalise",
    "prepare_corpus",
]
