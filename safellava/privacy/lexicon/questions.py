"""Question parsing: which attributes a question asks for (`attributes_asked`), by name ("how old…",
"what is the ethnicity…", the registry's question forms) or as a yes/no predicate ("Is the person
overweight?").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from safellava import attributes
from safellava.privacy.lexicon.mentions import find_mentions
from safellava.privacy.lexicon.vocabulary import ANIMAL_NOUNS, SUBJECT_WORDS, base, lower_words, trie_regex, words
from safellava.records.conversation import IMAGE_TOKEN

# A question may start with the image placeholder ("<image>\nIs he tall?").
_START = rf"^\s*(?:{re.escape(IMAGE_TOKEN)}\s*)?"

_PERSON_IN_QUESTION = re.compile(rf"(?<![a-z0-9])(?:{trie_regex(SUBJECT_WORDS | words('his her their him'))})\b")


@dataclass(frozen=True)
class _QuestionPatterns:
    """The registry's question forms, compiled: `asks` (any question not about an animal), `asks_of_person`
    (only a question that names a person), and `trigger`, a fast first test (None: no fast test)."""

    asks: dict[str, re.Pattern[str]]
    asks_of_person: dict[str, re.Pattern[str]]
    trigger: re.Pattern[str] | None


def _compile_question_patterns() -> _QuestionPatterns:
    registered = attributes.all_attributes()

    def compiled(field: str) -> dict[str, re.Pattern[str]]:
        return {a.key: re.compile(getattr(a, field), re.IGNORECASE) for a in registered if getattr(a, field)}

    # A question that contains none of the attributes' question words asks for no attribute (unless it is
    # a yes/no question about a mention, checked separately).
    trigger = None
    if all(a.question_words for a in registered):
        hints = "|".join(re.escape(word) for a in registered for word in a.question_words.split())
        trigger = re.compile(rf"(?<![a-z])(?:{hints})")
    return _QuestionPatterns(compiled("asks"), compiled("asks_of_person"), trigger)


_question_patterns = attributes.cached(_compile_question_patterns)

# Asked as a yes/no predicate: "Is the person overweight?", "Are his eyes blue?", "Is he old or young?"
_YES_NO = re.compile(_START + r"(?:is|are|was|were|does|do|did|can|could|would|has|have)\b", re.IGNORECASE)


def attributes_asked(question: str) -> set[str]:
    """The attributes a question asks for: "How old is the man?" -> {"age"}; "What color is the
    bus?" -> set(). Subject nouns ("What is the man holding?") are not requests."""
    if not question:
        return set()
    return set(_asked_cache()(question))


def _attributes_asked(question: str) -> frozenset[str]:
    patterns = _question_patterns()
    lowered = question.lower()
    asked: set[str] = set()
    if _YES_NO.match(lowered):
        asked |= _predicate_attributes(question)
    if patterns.trigger is not None and patterns.trigger.search(lowered) is None:
        return frozenset(asked)
    has_person = _PERSON_IN_QUESTION.search(lowered) is not None
    for attribute, pattern in patterns.asks.items():
        # No question is about an animal's attributes ("What color are the cat's eyes?", "What gender
        # is the dog?").
        if pattern.search(lowered) is not None and (has_person or not _animal_in(question)):
            asked.add(attribute)
    # Some forms ask for an attribute only when a person is named ("How old is this building?", "How
    # much does the suitcase weigh?", "a car race" do not).
    if has_person:
        for attribute, pattern in patterns.asks_of_person.items():
            if pattern.search(lowered):
                asked.add(attribute)
    return frozenset(asked)


# Questions repeat a lot in VQA-style data; a fresh cache for each state of the registry.
_asked_cache = attributes.cached(lambda: lru_cache(maxsize=1 << 16)(_attributes_asked))


def _animal_in(text: str) -> bool:
    return any(base(w) in ANIMAL_NOUNS for w in lower_words(text))


# "Is the person young or old?", "Is he thin?": a predicate in question order, which the predicate rules
# (subject, then copula, then adjective) only see once the question is put in statement order.
_INVERTED_COPULA = re.compile(
    _START + r"(is|are|was|were)\s+((?:(?:the|this|that|these|those)\s+)?[\w'’-]+)\s+(?=\S)", re.IGNORECASE
)


def _predicate_attributes(question: str) -> set[str]:
    """Attributes of mentions that end the question or sit in an either/or ("... male?", "... old or young?")."""
    asked = set()
    for mention in find_mentions(question):
        if mention.role == "pronoun":
            continue
        # "Is there a man in the picture?" asks whether someone is there, not their gender.
        if mention.role == "noun" and re.search(r"\b(?:there|any)\s+(?:\w+\s+)?$", question[:mention.start], re.IGNORECASE):
            continue
        if _ends_question(question[mention.end:]):
            asked.add(mention.attribute)
    inverted = _INVERTED_COPULA.match(question)
    if inverted:
        statement = f"{inverted.group(2)} {inverted.group(1)} {question[inverted.end():]}"
        for mention in find_mentions(statement):
            if mention.role == "predicate" and _ends_question(statement[mention.end:]):
                asked.add(mention.attribute)
    return asked


def _ends_question(tail: str) -> bool:
    """What follows a term that is asked about: the question mark, an either/or, or "in the picture"."""
    tail = re.sub(r"^(?:['’]s)", "", tail)
    return re.match(r"\s*(?:\?|$|or\b|,\s*or\b|\s+in\s+(?:the|this)\s+(?:image|picture|photo))", tail, re.IGNORECASE) is not None
