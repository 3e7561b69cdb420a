"""Small text utilities shared by the lexicon and the rewriter: words, sentences, clauses.

Everything works on character offsets into the original string, so a caller can map a finding back to
the exact span it came from. Standard library only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable

# A word: letters/digits with inner apostrophes ("woman's", "he's"); hyphens separate words so that
# "white-haired" is two words and the rules can see the hyphen between them.
WORD_RE = re.compile(r"[A-Za-z0-9]+(?:['’][A-Za-z]+)*")

# Characters that end a clause for the purpose of context windows: a rule never looks across them.
_HARD_BREAK = re.compile(r"[.!?;:\n()\[\]\"“”]")

_SENTENCE_END = re.compile(r"(?<=[.!?])([\"')\]]*)\s+|()\n\s*")

# Where a sentence splits into clauses: a contrast or an aside starts a new clause, so a refusal in one
# clause ("but it's not possible to tell their age") does not cover a statement in another.
_CLAUSE_BREAK = re.compile(
    r";|,?\s+(?:but|however|although|though|whereas|yet)\b,?|,\s+(?:and|so|while|which)\b|\s+-\s+",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class Word:
    """One word of a text: its lowercase form, its span, and the characters between it and its
    neighbour in the direction it was read (`gap`)."""

    lower: str
    start: int
    end: int
    gap: str


def words_after(text: str, pos: int, limit: int, stop_at_comma: bool = False) -> list[Word]:
    """Up to `limit` words after `pos`, stopping at a clause break (and at a comma if asked)."""
    return _collect(text, WORD_RE.finditer(text, pos), pos, limit, stop_at_comma, forward=True)


def words_before(text: str, pos: int, limit: int, stop_at_comma: bool = False) -> list[Word]:
    """Up to `limit` words before `pos`, nearest first, stopping at a clause break (and a comma if asked)."""
    lo = max(0, pos - 16 * limit - 16)  # enough characters for `limit` ordinary words
    found = [m for m in WORD_RE.finditer(text, lo, pos)]
    if found and lo > 0 and found[0].start() == lo:
        found = found[1:]  # the window may have cut a word in half
    return _collect(text, reversed(found), pos, limit, stop_at_comma, forward=False)


def _collect(
    text: str, matches: Iterable[re.Match[str]], pos: int, limit: int, stop_at_comma: bool, forward: bool
) -> list[Word]:
    """Words of `matches` (read away from `pos`) until a clause break or `limit`; each word's gap is the
    text between it and the previous word read (or `pos`)."""
    out: list[Word] = []
    boundary = pos
    for match in matches:
        gap = text[boundary:match.start()] if forward else text[match.end():boundary]
        if gap != " " and (_HARD_BREAK.search(gap) or (stop_at_comma and "," in gap)):
            break
        out.append(Word(match.group().lower(), match.start(), match.end(), gap))
        if len(out) >= limit:
            break
        boundary = match.end() if forward else match.start()
    return out


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence; the end excludes the whitespace that follows it."""
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        end = match.start() + len(match.group(1) or "")
        if text[start:end].strip():
            spans.append((start, end))
        start = match.end()
    if text[start:].strip():
        spans.append((start, len(text.rstrip())))
    return spans


def clause_spans(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """(start, end) of each clause inside text[start:end]."""
    spans: list[tuple[int, int]] = []
    cursor = start
    for match in _CLAUSE_BREAK.finditer(text, start, end):
        if match.start() > cursor:
            spans.append((cursor, match.start()))
        cursor = match.end()
    if end > cursor:
        spans.append((cursor, end))
    return spans
