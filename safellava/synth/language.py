"""Words for scenes: how raw (LLaVA-style) text names a person, pronouns, objects and positions.

Raw data reveals biometric attributes only through the fixed vocabulary in `BIOMETRIC_TERMS`, so a
rule-based cleaner can neutralise it: gender through man/woman/boy/girl/male/female and he/she/him/his/her,
age through child/boy/girl/young/adult/old/elderly/grey hair, race through Asian/Black/Hispanic/white,
eye colour through "<colour> eyes" / "eyes are <colour>", weight through thin/slim/heavy/overweight/
"average build"/"average weight". The word "white" is never used for anything but race, and "heavy" and
"thin" never for objects. Neutral text says "a person", "the person", "they/them/their".
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from safellava import attributes
from safellava.synth.scene import Person, Scene, SceneObject

RACE_WORDS = {"asian": "Asian", "black": "Black", "hispanic": "Hispanic", "white": "white"}
WEIGHT_ADJECTIVES = {"thin": ("thin", "slim"), "heavy": ("heavy", "overweight")}
NUMBER_WORDS = ("zero", "one", "two", "three")

# Every biometric word or phrase the raw synthetic text uses, by attribute (regular expressions,
# matched on word boundaries; race words are case-sensitive because "Black" is capitalised).
BIOMETRIC_TERMS: dict[str, tuple[str, ...]] = {
    "gender": ("man", "woman", "boy", "girl", "male", "female", "he", "she", "him", "his", "her"),
    "age": ("child", "boy", "girl", "young", "adult", "old", "elderly", "grey hair", "twenties"),
    "race": ("Asian", "Black", "Hispanic", "white"),
    "eye_color": (r"(?:blue|brown|green) eyes", r"eyes are (?:blue|brown|green)", r"eye color is (?:blue|brown|green)"),
    "weight": ("thin", "slim", "heavy", "overweight", "average build", "average weight"),
}
_unregistered = set(BIOMETRIC_TERMS) - set(attributes.ATTRIBUTES)
if _unregistered:  # the world's words must be about attributes the rest of the project knows
    raise RuntimeError(f"the synthetic world has words for unregistered attributes {sorted(_unregistered)}")
#: The attributes the world's people show (those it has words for), in the registry's order.
SHOWN_ATTRIBUTES: tuple[str, ...] = tuple(a for a in attributes.ATTRIBUTES if a in BIOMETRIC_TERMS)

_CASE_SENSITIVE = {"race"}
_TERM_PATTERNS = {
    attribute: re.compile(
        r"\b(?:" + "|".join(terms) + r")\b", 0 if attribute in _CASE_SENSITIVE else re.IGNORECASE
    )
    for attribute, terms in BIOMETRIC_TERMS.items()
}


def mentioned_attributes(text: str) -> set[str]:
    """The attributes whose synth vocabulary occurs in `text` (the world's own, exact vocabulary;
    the project-wide detector is `safellava.privacy.lexicon`)."""
    return {attribute for attribute, pattern in _TERM_PATTERNS.items() if pattern.search(text)}


# What value of each attribute a text states, in the world's vocabulary ("a young child" is a child, not
# a young adult; "he" is male). Used to check answers against the ground truth in world.json.
_VALUE_PATTERNS: dict[str, dict[str, re.Pattern]] = {
    "age": {
        "child": re.compile(r"\b(?:child|boy|girl)\b", re.IGNORECASE),
        "young": re.compile(r"\byoung\b(?! child)|\btwenties\b", re.IGNORECASE),
        "old": re.compile(r"\b(?:old|elderly|grey hair)\b", re.IGNORECASE),
    },
    "gender": {
        "male": re.compile(r"\b(?:man|boy|male|he|him|his)\b", re.IGNORECASE),
        "female": re.compile(r"\b(?:woman|girl|female|she|her)\b", re.IGNORECASE),
    },
    "race": {value: re.compile(rf"\b{word}\b") for value, word in RACE_WORDS.items()},
    "eye_color": {
        colour: re.compile(rf"\b{colour} eyes\b|\beyes are {colour}\b|\beye colou?r is {colour}\b", re.IGNORECASE)
        for colour in ("blue", "brown", "green")
    },
    "weight": {
        "thin": re.compile(r"\b(?:thin|slim)\b", re.IGNORECASE),
        "heavy": re.compile(r"\b(?:heavy|overweight)\b", re.IGNORECASE),
        "average": re.compile(r"\baverage (?:build|weight)\b", re.IGNORECASE),
    },
}


def stated_values(attribute: str, text: str) -> set[str]:
    """The values of `attribute` that `text` states (`stated_values("age", "The person is elderly.")` →
    {"old"}); empty when it states none, several when it contradicts itself."""
    return {value for value, pattern in _VALUE_PATTERNS[attribute].items() if pattern.search(text)}


@dataclass(frozen=True)
class RevealPolicy:
    """Probability (0..1) that a piece of raw text reveals each attribute of the person."""

    age: float = 0.0
    gender: float = 0.0
    race: float = 0.0
    eye_color: float = 0.0
    weight: float = 0.0

    def draw(self, rng: random.Random) -> frozenset[str]:
        """The set of attributes one text will reveal."""
        return frozenset(a for a in SHOWN_ATTRIBUTES if rng.random() < getattr(self, a))


NEUTRAL = RevealPolicy()


@dataclass(frozen=True)
class Pronouns:
    """Subject/object/possessive pronouns with the verb forms that agree with them."""

    subject: str
    object: str
    possessive: str
    be: str
    have: str


HE = Pronouns("he", "him", "his", "is", "has")
SHE = Pronouns("she", "her", "her", "is", "has")
THEY = Pronouns("they", "them", "their", "are", "have")


def pronouns(person: Person, reveal: frozenset[str]) -> Pronouns:
    if "gender" not in reveal:
        return THEY
    return HE if person.gender == "male" else SHE


def article(phrase: str) -> str:
    """`phrase` with "a" or "an" in front."""
    return ("an " if phrase[0].lower() in "aeiou" else "a ") + phrase


def capitalize(text: str) -> str:
    return text[:1].upper() + text[1:]


def person_noun(person: Person, reveal: frozenset[str], rng: random.Random) -> str:
    """The noun phrase naming the person, without article, revealing exactly the attributes asked
    (a child named by gender is a boy or a girl, which also reveals age)."""
    noun = _age_gender_noun(person, reveal, rng)
    if "race" in reveal:
        words = noun.split(" ")
        # Race goes right before the noun: "young Asian woman", "Black boy".
        noun = " ".join(words[:-1] + [RACE_WORDS[person.race], words[-1]])
    if "weight" in reveal:
        if person.weight == "average":
            noun += " of average build"
        else:
            noun = rng.choice(WEIGHT_ADJECTIVES[person.weight]) + " " + noun
    if "eye_color" in reveal:
        noun += f" with {person.eye_color} eyes"
    return noun


def _age_gender_noun(person: Person, reveal: frozenset[str], rng: random.Random) -> str:
    male = person.gender == "male"
    if "gender" in reveal:
        if person.age == "child":
            return "boy" if male else "girl"
        base = "man" if male else "woman"
        if "age" not in reveal:
            return base
        return ("young " if person.age == "young" else rng.choice(("old ", "elderly "))) + base
    if "age" in reveal:
        return {"child": "child", "young": "young person", "old": rng.choice(("old person", "elderly person"))}[
            person.age
        ]
    return rng.choice(("person", "person", "individual"))


def action_phrase(person: Person, pronoun: Pronouns) -> str:
    """What the person does, e.g. "waving his hand" or "standing"."""
    if person.action == "waving":
        return f"waving {pronoun.possessive} hand"
    return "standing"


def object_phrase(obj: SceneObject) -> str:
    """e.g. "red circle"."""
    return f"{obj.color} {obj.shape}"


def objects_list(scene: Scene) -> str:
    """e.g. "a red circle and a blue square"."""
    return " and ".join(article(object_phrase(o)) for o in scene.objects)


def number_word(count: int) -> str:
    return NUMBER_WORDS[count]


def plural(shape: str, count: int) -> str:
    return shape if count == 1 else shape + "s"
