"""Finding mentions: one pass of one regular expression over a text finds every candidate (a term, a
phrase anchor or a number), then the candidate's context rule or phrase rule decides.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from safellava import attributes
from safellava.privacy.lexicon.context import RULES
from safellava.privacy.lexicon.phrases import ANCHORS, NUMBER, PHRASE_RULES
from safellava.privacy.lexicon.terms import Mention, Term, term_table
from safellava.privacy.lexicon.vocabulary import trie_regex


@dataclass(frozen=True)
class _Scanner:
    terms: dict[str, Term]
    master: re.Pattern[str]
    master_any_case: re.Pattern[str]  # for text whose length changes when lowered


def _build_scanner() -> _Scanner:
    terms = term_table()
    # One pass finds every candidate: a number pattern or a word of the trie (terms and anchors). The
    # look-behind instead of \b lets the regex engine skip quickly to plausible starts (about 4x faster).
    pattern = rf"(?<![a-z0-9])(?:{NUMBER}|(?P<word>{trie_regex(set(terms) | set(ANCHORS))})\b)"
    return _Scanner(terms, re.compile(pattern), re.compile(pattern, re.IGNORECASE))


_scanner = attributes.cached(_build_scanner)


def find_mentions(text: str) -> list[Mention]:
    """Every biometric mention in `text`, in order of position (refusals not considered; see
    `leaked_mentions`). A word that carries two attributes ("girl") gives two mentions."""
    if not text:
        return []
    scanner = _scanner()
    terms = scanner.terms
    lowered = text.lower()
    pattern = scanner.master
    if len(lowered) != len(text):  # a few Unicode letters change length when lowered
        lowered, pattern = text, scanner.master_any_case
    mentions: list[Mention] = []
    covered = 0  # end of the last phrase found: "in their 20s or 30s" is one mention
    for match in pattern.finditer(lowered):
        group = match.lastgroup
        start, end = match.span(group)
        if start < covered:
            continue
        if group == "word":
            key = match.group(group)
            if pattern is scanner.master_any_case:
                key = key.lower()
            if " " in key or "-" in key or "\n" in key or "\t" in key:
                key = re.sub(r"[\s-]+", " ", key)
            anchor = ANCHORS.get(key)
            if anchor is not None:
                found = PHRASE_RULES[anchor](text, start, end)
                if found:
                    mentions.extend(found)
                    covered = max(m.end for m in found)
                    continue
                if key not in terms:  # an anchor that is a term too ("teens") is read as the term
                    continue
            term = terms[key]
            role = RULES[term.context](text, start, end, key, term.role)
            if isinstance(role, tuple):  # the rule extended the span to a head noun
                role, end = role
                key = text[start:end].lower()
            if role is not None:
                mentions.extend(Mention(a, key, start, end, term.kind, role) for a in term.attributes)
        else:
            found = PHRASE_RULES[group](text, start, end)
            if found:
                mentions.extend(found)
                covered = max(m.end for m in found)
    return mentions
