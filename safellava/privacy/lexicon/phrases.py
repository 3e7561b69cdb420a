"""Phrase rules: mentions built around a number ("27 years old", "80 kg", "in his thirties", "aged 30")
or a body part a colour is said of ("blue eyes", "her eyes are green", "fair skin", "gray hair").

These words are not terms: each anchors a rule that reads the words around it. The rules state PRISM's
built-in attributes (age, race, eye colour, weight); the eye colours are the registry's.
"""

from __future__ import annotations

import re
from typing import Callable

from safellava import attributes
from safellava.privacy.lexicon.context import animal_near
from safellava.privacy.lexicon.terms import Mention
from safellava.privacy.lexicon.vocabulary import (
    ADVERBS,
    BREAK_WORDS,
    COPULAS,
    PREDICATE_FOLLOWERS,
    SUBJECT_WORDS,
    base,
    lower_words,
    words,
)
from safellava.privacy.text import Word, words_after, words_before

_DECADE_WORDS = ("twenties", "thirties", "forties", "fifties", "sixties", "seventies", "eighties", "nineties", "teens")
_DECADE = r"(?:[1-9]0['’]?s|" + "|".join(_DECADE_WORDS) + ")"
# Before a decade: "in his (late) thirties", "(in their) early 20s".
_DECADE_BEFORE = re.compile(r"(?:\bin\s+(?P<owner>his|her|their|one's)\s+)?(?P<mod>\b(?:early|mid|late)[\s-]*)?$", re.IGNORECASE)
# After one: "... or early 30s", "... to 40s".
_DECADE_MORE = re.compile(rf"\s*(?:or|to|-|and)\s*(?:(?:early|mid|late)[\s-]*)?{_DECADE}\b", re.IGNORECASE)
# Numbers that state an age or a weight: "27 years old", "a 5-year-old", "30 years of age", "80 kg",
# "180 pounds", "20s" (a decade; see the decade rule), and "aged 30", "age 12", "age of 30".
NUMBER = (
    r"(?P<age_number>\d{1,3}\s*(?:-\s*)?(?:years?|yrs?)(?:\s*-\s*|\s+)old\b|\d{1,3}\s+years\s+of\s+age\b)"
    r"|(?P<weight_number>\d{2,3}(?:\.\d+)?\s*(?:-\s*)?(?:kg|kgs|kilograms?|kilos?|lbs?|pounds?)\b)"
    r"|(?P<decade>[1-9]0['’]?s\b)"
    r"|(?P<aged>age(?:d|\s+of)?\s+(?:about\s+|around\s+|approximately\s+)?\d{1,3}\b)"
)
# The body parts a colour is said of: rule name -> (the attribute the colour states there, the nouns
# naming the part, other forms of them). The nouns are what the rewriter keeps when it can only drop
# the colour ("her blue eyes sparkle" -> "their eyes sparkle").
_BODY_PARTS = {
    "eyes": ("eye_color", "eye eyes iris", "eyed irises"),
    "skin": ("race", "skin complexion", "skinned complexions"),
    "hair": ("age", "hair", "haired"),
}
#: noun naming a body part -> the attribute a colour said of it states ("eyes" -> "eye_color").
BODY_PART_NOUNS: dict[str, str] = {
    noun: attribute for attribute, nouns, _ in _BODY_PARTS.values() for noun in nouns.split()
}
#: Words that anchor a phrase rule rather than being terms themselves -> the rule's name.
ANCHORS: dict[str, str] = {
    **{word: rule for rule, (_, nouns, forms) in _BODY_PARTS.items() for word in f"{nouns} {forms}".split()},
    **dict.fromkeys(_DECADE_WORDS, "decade"),
}

# The registry's eye colours, and their tinted shades.
EYE_COLOURS = frozenset(attributes.get("eye_color").values) | words("golden bluish greenish brownish grayish greyish")
_COLOUR_SUFFIXES = words("colored coloured tinted hued toned")
_EYE_FILLERS = words("a an of to be striking piercing deep bright vivid soft pale light shade rich warm")
SKIN_TONES = words(
    "fair light lighter pale paler dark darker olive tan tanned brown black white medium deep ebony ivory "
    "porcelain caramel swarthy bronzed"
)


def _person_in_sentence(text: str, start: int, end: int) -> bool:
    """A person noun or pronoun within the sentence around [start, end)."""
    lo = max(text.rfind(".", 0, start), text.rfind("\n", 0, start)) + 1
    hi_candidates = [i for i in (text.find(".", end), text.find("\n", end)) if i != -1]
    hi = min(hi_candidates) if hi_candidates else len(text)
    return any(base(w) in SUBJECT_WORDS or w in ("his", "her") for w in lower_words(text[lo:hi]))


def _colour_before(text: str, start: int, colours: frozenset[str], limit: int) -> Word | None:
    """The colour word just before `start` ("blue eyes", "light-colored eyes", "dark-skinned")."""
    before = words_before(text, start, limit + 1, stop_at_comma=True)
    for index, word in enumerate(before[:limit]):
        if word.lower in colours:
            return word
        if word.lower in _COLOUR_SUFFIXES:
            continue
        if word.lower in BREAK_WORDS:
            return None
        if index >= 1:
            return None
    return None


def _colour_after(text: str, end: int, colours: frozenset[str], extra_fillers: frozenset[str]) -> Word | None:
    """A colour said of the eyes/skin after a copula: "eyes are a striking green", "skin tone is fair"."""
    after = words_after(text, end, 8, stop_at_comma=True)
    index = 0
    while index < len(after) and after[index].lower in extra_fillers:
        index += 1
    if index >= len(after) or after[index].lower not in COPULAS:
        return None
    for word in after[index + 1:index + 6]:
        if word.lower in colours:
            return word
        if word.lower not in _EYE_FILLERS and word.lower not in ADVERBS:
            return None
    return None


_COLOUR_NOUNS = words("color colour colors colours hue hues tint tints shade shades iris irises tone")
# Words that may stand between the eyes and the colour said of them ("the eyes are a striking shade of
# green", "eyes, which appear to be light brown or hazel", "are large and expressive, with a warm
# brown color").
_EYE_FORWARD_FILLERS = (
    _EYE_FILLERS | ADVERBS | _COLOUR_NOUNS
    | words("which that itself themselves or and either mix combination mostly mainly predominantly hint")
)
_EYE_SHAPES = words("large big small wide open round almond almond-shaped expressive prominent bright clear")


def _eye_mentions(text: str, start: int, end: int) -> list[Mention]:
    """Eye colour: a colour word before the eyes/iris ("blue eyes", "light-colored eyes",
    "a dark brown iris", "the blue color of the eyes") or said of them after a verb ("the eyes are a
    striking green", "eyes with a warm brown color")."""
    colour = _colour_before(text, start, EYE_COLOURS, 3) or _colour_of_eyes(text, start)
    if colour is not None:
        found = Mention("eye_color", text[colour.start:end].lower(), colour.start, end, "explicit")
    else:
        colour = _colour_said_of(text, end)
        if colour is None:
            return []
        found = Mention("eye_color", text[start:colour.end].lower(), start, colour.end, "explicit")
    return [] if animal_near(text, found.start, found.end) else [found]


def _colour_of_eyes(text: str, start: int) -> Word | None:
    """ "the bright blue color of the eyes" """
    before = words_before(text, start, 5, stop_at_comma=True)
    low = [w.lower for w in before]
    if len(low) >= 4 and low[0] in ("the", "their", "his", "her") and low[1] == "of" and low[2] in _COLOUR_NOUNS:
        if low[3] in EYE_COLOURS:
            return before[3]
    return None


def _colour_said_of(text: str, end: int) -> Word | None:
    """The colour a verb (or "with") attributes to the eyes just read; None if other content intervenes."""
    after = words_after(text, end, 12)
    saw_verb = False
    for index, word in enumerate(after):
        if word.lower in EYE_COLOURS:
            if not saw_verb:
                return None
            nxt = after[index + 1] if index + 1 < len(after) else None
            if nxt is not None and nxt.lower in EYE_COLOURS and not nxt.gap.strip(" -"):
                continue  # "light blue", "golden-brown": the colour goes on
            if nxt is None or nxt.gap.strip(" "):
                return word
            if nxt.lower in _COLOUR_NOUNS:
                return nxt
            # "eyes with dark circles", "eyes with blue eyeliner": the colour is another thing's.
            return word if nxt.lower in words("or and in with that which") else None
        if word.lower in COPULAS or word.lower in ("with", "have", "has", "having"):
            saw_verb = True
        elif word.lower in _EYE_FORWARD_FILLERS or (saw_verb and word.lower in _EYE_SHAPES):
            continue
        else:
            return None
    return None


def _skin_mentions(text: str, start: int, end: int) -> list[Mention]:
    if animal_near(text, start, end):
        return []
    colour = _colour_before(text, start, SKIN_TONES, 2)
    if colour is not None:
        stop = end
        after = words_after(text, end, 1)
        if after and after[0].lower == "tone" and not after[0].gap.strip():
            stop = after[0].end
        return [Mention("race", text[colour.start:stop].lower(), colour.start, stop, "implicit")]
    colour = _colour_after(text, end, SKIN_TONES, words("tone tones color colour"))
    if colour is not None:
        return [Mention("race", text[start:colour.end].lower(), start, colour.end, "implicit")]
    return []


_GRAY_HAIR = words("gray grey silver white graying greying grayish greyish silvery")


def _hair_mentions(text: str, start: int, end: int) -> list[Mention]:
    """Gray or white hair implies an older person (both PRISM judges flag it)."""
    before = words_before(text, start, 3, stop_at_comma=True)
    if not before or (before[0].lower not in _GRAY_HAIR and before[0].lower != "pepper") or animal_near(text, start, end):
        return []
    if before[0].lower in _GRAY_HAIR or (before[0].lower == "pepper" and len(before) > 2 and before[2].lower == "salt"):
        first = before[2] if before[0].lower == "pepper" else before[0]
        return [Mention("age", text[first.start:end].lower(), first.start, end, "implicit")]
    return []


def _decade_mentions(text: str, start: int, end: int) -> list[Mention]:
    """ "in his thirties", "in their late 20s or early 30s", "(a man in his) early 40s"."""
    before = _DECADE_BEFORE.search(text, max(0, start - 40), start)
    if before is None or not (before.group("owner") or before.group("mod")):
        return []
    more = _DECADE_MORE.match(text, end)
    first, last = before.start() if before.group() else start, more.end() if more else end
    if not before.group("owner") and not _person_in_sentence(text, start, end):
        return []  # "the late 80s" is a period of time unless a person is being described
    # ("his"/"her" in "in his thirties" is found as a pronoun on its own.)
    return [Mention("age", text[first:last].lower(), first, last, "explicit")]


def _aged_mentions(text: str, start: int, end: int) -> list[Mention]:
    if not _person_in_sentence(text, start, end):
        return []
    return [Mention("age", text[start:end].lower(), start, end, "explicit")]


def _number_mentions(attribute: str) -> Callable[[str, int, int], list[Mention]]:
    def rule(text: str, start: int, end: int) -> list[Mention]:
        if attribute == "weight":
            after = words_after(text, end, 1)
            # "a 20 kg bag": the number describes an object.
            if after and (after[0].gap == "-" or (after[0].gap == " " and after[0].lower not in PREDICATE_FOLLOWERS)):
                return []
        if not _person_in_sentence(text, start, end):
            return []
        return [Mention(attribute, text[start:end].lower(), start, end, "explicit")]

    return rule


#: Phrase rule name (an anchor's rule, or a number pattern's group in `NUMBER`) -> the rule.
PHRASE_RULES: dict[str, Callable[[str, int, int], list[Mention]]] = {
    "decade": _decade_mentions,
    "age_number": _number_mentions("age"),
    "weight_number": _number_mentions("weight"),
    "aged": _aged_mentions,
    "eyes": _eye_mentions,
    "skin": _skin_mentions,
    "hair": _hair_mentions,
}

