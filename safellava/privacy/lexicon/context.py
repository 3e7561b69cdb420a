"""Context rules: when a word of the term table is about a person.

Each `Terms` group of the registry names one rule (`CONTEXT_RULES` lists them); every tricky rule says
why it exists. A rule gets the text, the term's span, its table key and default role, and returns the
role the term plays here, (role, new end) when the mention takes in its head noun, or None: not a
mention.
"""

from __future__ import annotations

from typing import Callable

from safellava.attributes import CONTEXT_RULES
from safellava.privacy.lexicon.vocabulary import (
    ADVERBS,
    ANIMAL_NOUNS,
    BODY_NOUNS,
    BREAK_WORDS,
    COPULAS,
    FRAMED_OBJECTS,
    GROUP_NOUNS,
    INDIVIDUAL_NOUNS,
    KEEPING_COMPOUNDS,
    NON_PERSON_AFTER,
    PERSON_NOUNS,
    PREDICATE_FOLLOWERS,
    SUBJECT_WORDS,
    base,
    words,
)
from safellava.privacy.text import Word, words_after, words_before

# Exceptions by the next word: a fixed expression that is not about a person.
_NOT_BEFORE: dict[str, frozenset[str]] = {
    "man": words("made hours hour power"),
    "cowboy": words("hat hats boots boot"),
    "cowboys": words("hat hats boots boot"),
    "cowgirl": words("hat hats boots boot"),
    "guy": words("wire wires rope ropes line lines"),
    "kid": words("goat goats gloves leather"),
    "adult": words("content film films movie movies store entertainment size sized sizes"),
    "adults": words("only"),
    "mother": words("board ship nature earth tongue"),
    "father": words("time christmas"),
    "sister": words("company companies city cities ship ships publication"),
    "lady": words("bug bugs finger fingers slipper slippers"),
    "elder": words("tree trees flower flowers"),
    "youth": words("hostel"),
    "senior": words("year years"),  # "senior years" is its own term
    "male": words("connector plug adapter end port jack socket"),
    "female": words("connector plug adapter end port jack socket"),
}
# Exceptions by the previous word: "groom" as a verb ("to groom a horse").
_NOT_AFTER: dict[str, frozenset[str]] = {
    "groom": words("to will can they we you i neatly well carefully"),
    "grooms": words("she he it"),
    "man": words("to will"),  # "to man the booth"
}
# Possessive plural forms describing a product or a place, not a person ("the men's room").
_POSSESSIVE_NOUNS = words("men women ladies gentlemen man woman boys girls")

# Words after "baby" that make it a thing or an animal's age ("baby stroller", "baby blue").
_BABY_COMPOUNDS = words(
    """stroller strollers carriage carriages pram blue pink shower food foods bottle bottles seat seats
    grand gate monitor clothes toys toy carrots spinach powder oil wipes shark bump formula bib bibs
    wipe teeth tooth crib cribs swing swings"""
)


def possessive_end(text: str, end: int) -> tuple[int, bool]:
    """Skip a possessive ending after `end` ("men's", "ladies'"); returns (new end, was possessive)."""
    if text[end:end + 2] in ("'s", "’s"):
        return end + 2, True
    if text[end:end + 1] in ("'", "’") and not text[end + 1:end + 2].isalpha():
        return end + 1, True
    return end, False


def after_term(text: str, end: int, limit: int = 4) -> list[Word]:
    return words_after(text, possessive_end(text, end)[0], limit)


def animal_near(text: str, start: int, end: int) -> bool:
    """True when the next word, or one of the six before in the clause, is an animal or a doll."""
    after = after_term(text, end, 1)
    if after and not after[0].gap.strip() and after[0].lower in ANIMAL_NOUNS:
        return True
    return any(base(w.lower) in ANIMAL_NOUNS or w.lower == "its" for w in words_before(text, start, 6))


def _head_follows(after: list[Word], heads: frozenset[str], max_between: int = 2) -> Word | None:
    """The head noun the term describes, if one of `heads` follows within `max_between` modifiers."""
    for index, word in enumerate(after[: max_between + 1]):
        if index > 0 and "," in word.gap:
            return None
        stem = base(word.lower)
        if stem in heads:
            return word
        if stem in BREAK_WORDS:
            return None
    return None


def _is_predicate(text: str, start: int, after: list[Word], subjects: frozenset[str] = SUBJECT_WORDS) -> bool:
    """True for "<person> is/looks/appears (to be) (quite) <term>" with nothing but a conjunction,
    preposition or punctuation after the term."""
    if after and after[0].lower not in PREDICATE_FOLLOWERS and "," not in after[0].gap:
        return False
    before = words_before(text, start, 14)
    index = 0
    while index < len(before) and before[index].lower in ADVERBS:
        index += 1
    if index >= len(before) or before[index].lower not in COPULAS:
        return False
    return _subject_is_person(before[index + 1:], subjects)


def _subject_is_person(before: list[Word], subjects: frozenset[str] = SUBJECT_WORDS) -> bool:
    """Scanning back from a verb: is the nearest person-or-animal word a person (not a possessor)?"""
    for word in before[:12]:
        if word.lower in ("it", "this", "that", "there"):
            return False
        stem = base(word.lower)
        if stem in ANIMAL_NOUNS:
            return False
        if stem in subjects and stem == word.lower:
            return True
    return False


_RuleResult = str | tuple[str, int] | None
_Rule = Callable[[str, int, int, str, str], _RuleResult]


def _rule_always(text: str, start: int, end: int, key: str, role: str) -> str | None:
    return role


def _rule_noun(text: str, start: int, end: int, key: str, role: str) -> str | None:
    after = after_term(text, end, 1)
    if text[start - 1:start] == "-":  # "Pac-Man", "Spider-Man": a character's name
        return None
    if after and not after[0].gap.strip(" -"):
        nxt = after[0].lower
        possessive = possessive_end(text, end)[1]
        # "a mother duck", "a male lion" (but "the man's dog" is about the man).
        if nxt in _NOT_BEFORE.get(key, ()) or (nxt in ANIMAL_NOUNS and not possessive):
            return None
        # "the men's room", "women's clothing": a place or a product line.
        if key in _POSSESSIVE_NOUNS and possessive and nxt in NON_PERSON_AFTER:
            return None
    before = words_before(text, start, 1)
    if before and before[0].lower in _NOT_AFTER.get(key, ()):
        return None
    return role


def _rule_not_animal(text: str, start: int, end: int, key: str, role: str) -> str | None:
    if animal_near(text, start, end):
        return None
    return _rule_noun(text, start, end, key, role)


def _rule_baby(text: str, start: int, end: int, key: str, role: str) -> str | None:
    after = after_term(text, end, 1)
    if after and not after[0].gap.strip(" "):
        nxt = after[0].lower
        if nxt in ("boy", "boys", "girl", "girls"):
            return role
        if nxt in ANIMAL_NOUNS or nxt in _BABY_COMPOUNDS:
            return None
    if after and after[0].gap == "-":  # "baby-faced", "baby-sitter"
        return None
    return role


def _person_mod(heads: frozenset[str], predicate: bool, subjects: frozenset[str] = SUBJECT_WORDS) -> _Rule:
    """Rule factory: the word counts when it describes one of `heads` (attributive) or, if
    `predicate`, when it is said of a person ("the man looks young")."""

    def rule(text: str, start: int, end: int, key: str, role: str) -> _RuleResult:
        after = after_term(text, end, 4)
        if after and after[0].gap == "-":
            if after[0].lower not in KEEPING_COMPOUNDS:
                return None
            after = after[1:]
        found = _head_follows(after, heads)
        if found is not None:
            head = base(found.lower)
            if head == "frame" and _frames_an_object(text, start):
                return None
            if head in _SPAN_HEADS:  # "a slender build", "of Asian descent": the phrase includes its head
                return ("phrase", found.end)
            return "modifier"
        if predicate and _is_predicate(text, start, after, subjects):
            return "predicate"
        return None

    return rule


def _frames_an_object(text: str, start: int) -> bool:
    return any(w.lower in FRAMED_OBJECTS for w in words_before(text, start, 8))


def _rule_person_strict(text: str, start: int, end: int, key: str, role: str) -> str | None:
    """Colour words: immediately before a person noun ("a black man", "white people"), or said of a
    person named right before the verb ("he appears to be white", "the person is Black")."""
    after = after_term(text, end, 1)
    if after and after[0].gap == " " and base(after[0].lower) in INDIVIDUAL_NOUNS | GROUP_NOUNS:
        return role
    if _colour_said_of_a_person(text, start, after):
        return "predicate"
    return None


# Who a colour word may be said of. Not "it" or a subject further back ("a man holding a cup which is
# white" is about the cup), and "they" only with a verb of appearance: objects are "they" too.
_COLOUR_SUBJECTS = PERSON_NOUNS | words("he she")


def _colour_said_of_a_person(text: str, start: int, after: list[Word]) -> bool:
    if after and after[0].lower not in PREDICATE_FOLLOWERS and "," not in after[0].gap:
        return False
    before = words_before(text, start, 6)
    index, copula = 0, False
    while index < len(before) and (before[index].lower in ADVERBS | COPULAS or before[index].lower == "to"):
        copula = copula or before[index].lower in COPULAS
        index += 1
    if not copula or index >= len(before):
        return False
    subject = before[index].lower
    if subject == "they":  # "they appear to be white" is said of people; "they are white" may be cups
        return any(w.lower in _PERCEPTION_VERBS for w in before[:index])
    return subject in _COLOUR_SUBJECTS and base(subject) == subject


_PERCEPTION_VERBS = words("appear appears appeared look looks looked seem seems seemed")


def _rule_race_strong(text: str, start: int, end: int, key: str, role: str) -> str | None:
    after = after_term(text, end, 1)
    if after and after[0].gap == "-" and after[0].lower not in KEEPING_COMPOUNDS:
        return None  # "Native American-style attire"
    if after and not after[0].gap.strip(" ") and after[0].lower in NON_PERSON_AFTER - _ETHNIC_DRESS:
        return None  # "Hispanic cuisine"
    return role


def _rule_of_weight(text: str, start: int, end: int, key: str, role: str) -> str | None:
    """"of average weight": said of someone; "the average weight of …" is a measurement of things."""
    before = words_before(text, start, 1)
    return role if before and before[0].lower == "of" else None


def _rule_build_noun(text: str, start: int, end: int, key: str, role: str) -> str | None:
    """"build" as a noun about a body: after an adjective that follows a determiner or "of"
    ("a muscular build", "of similar build"), never the verb ("to build a fort")."""
    before = words_before(text, start, 3)
    if not before or before[0].lower in BREAK_WORDS or before[0].lower in ("to", "will", "can", "they", "we"):
        return None
    if any(w.lower in ("a", "an", "of", "his", "her", "their", "with") for w in before[1:]):
        return role
    return None


# Adjectives that make muscles a statement about the body ("well-defined muscles", "bulging biceps").
_MUSCLE_DESCRIPTORS = words(
    "defined well-defined prominent large big bulging toned strong developed well-developed chiseled chiselled "
    "sculpted ripped muscular powerful massive impressive noticeable"
)


def _rule_described_muscles(text: str, start: int, end: int, key: str, role: str) -> str | None:
    before = words_before(text, start, 2, stop_at_comma=True)
    if animal_near(text, start, end):
        return None
    if any(w.lower in _MUSCLE_DESCRIPTORS for w in before):
        return role
    if key == "muscle" and after_term(text, end, 1) and after_term(text, end, 1)[0].lower in ("definition", "tone", "mass"):
        return role  # "muscle definition"
    return None


_AGE_HEADS = PERSON_NOUNS | words("face faces features appearance age")
# Heads that belong to the mention: deleting "slender" from "a slender build" would leave "a build".
_SPAN_HEADS = BODY_NOUNS | words(
    "face faces features appearance age descent origin origins heritage ancestry ethnicity background"
)
_WEIGHT_HEADS = INDIVIDUAL_NOUNS | BODY_NOUNS
_RACE_HEADS = PERSON_NOUNS | words("descent origin origins heritage ancestry ethnicity background features appearance")
# Traditional dress of a people, worn by the person described, implies their ethnicity ("a woman in
# traditional Mexican attire"); both PRISM judges flag it. Food, art and places do not.
_ETHNIC_DRESS = words(
    "attire dress dresses clothing clothes outfit outfits garment garments costume costumes garb robe robes "
    "headdress apparel"
)

RULES: dict[str, _Rule] = {
    "always": _rule_always,
    "noun": _rule_noun,
    "not_animal": _rule_not_animal,
    "baby": _rule_baby,
    "person_mod_age": _person_mod(_AGE_HEADS, predicate=True),
    # A weight word may be said of a body as well as of a person ("the child's body is visibly thin").
    "person_mod_weight": _person_mod(_WEIGHT_HEADS, predicate=True, subjects=SUBJECT_WORDS | BODY_NOUNS),
    "described_muscles": _rule_described_muscles,
    "person_mod_race": _person_mod(_RACE_HEADS | _ETHNIC_DRESS, predicate=True),
    "body_only": _person_mod(BODY_NOUNS, predicate=False),
    # "an average build", "a medium physique"; not "an average shape" or "a medium body of water".
    "build_only": _person_mod(words("build builds physique"), predicate=False),
    "person_strict": _rule_person_strict,
    "race_strong": _rule_race_strong,
    "build_noun": _rule_build_noun,
    "of_weight": _rule_of_weight,
}
if set(RULES) != set(CONTEXT_RULES):  # the registry accepts exactly the rules implemented here
    raise RuntimeError(f"context rules differ from the registry's list by {sorted(set(RULES) ^ set(CONTEXT_RULES))}")

