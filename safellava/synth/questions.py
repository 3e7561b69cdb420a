"""Questions about a scene with grounded answers, each in a short (VQA: a word or phrase) and a long
(conversation: a sentence) form.

Three families:
- object questions (colour, shape, counts, positions) — always answerable from the pixels;
- person questions that are not biometric (what the person does, where the person is);
- biometric questions, which clearly ask for one attribute (age, gender, race, eye colour, weight) and
  whose raw answers state it. Some use PRISM's exact wording, most do not.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from safellava import attributes
from safellava.synth.language import (
    RACE_WORDS,
    SHOWN_ATTRIBUTES,
    WEIGHT_ADJECTIVES,
    Pronouns,
    RevealPolicy,
    action_phrase,
    article,
    capitalize,
    number_word,
    object_phrase,
    person_noun,
    plural,
    pronouns,
)
from safellava.synth.scene import SHAPES, Person, Scene

# How often answers about the person in a conversation name gender, age, ...
CONVERSATION_POLICY = RevealPolicy(age=0.30, gender=0.70, race=0.05, weight=0.03)
# Chance that a biometric answer refers to the person by a gendered word ("He is elderly.").
GENDERED_SUBJECT_PROBABILITY = 0.35

# How the world asks for each attribute it shows: the registry's plain questions (PRISM's wording first).
BIOMETRIC_QUESTIONS: dict[str, tuple[str, ...]] = {a: attributes.get(a).questions for a in SHOWN_ATTRIBUTES}

# VQA records append this to every question, as LLaVA's mix665k does for its short-answer sources.
SHORT_ANSWER_SUFFIX = "Answer the question using a single word or phrase."
# PRISM's prompts end their question with this cue and expect a sentence. A pretrained LLM reads it as
# "answer now"; a language model learnt from scratch on the world only knows the prompt forms it was
# trained on (measured: 0 of 93 benign counting questions answered with this cue, 40 with the VQA suffix),
# so some long-answer turns of the world use it too.
PRISM_ANSWER_CUE = "Answer"


@dataclass(frozen=True)
class QA:
    """One question with its short and long answer; `asks` names the biometric attribute asked, if any.
    `topic` groups rewordings of one question (a record asks each topic once)."""

    question: str
    short: str
    long: str
    asks: str | None = None
    topic: str = ""

    @property
    def key(self) -> str:
        return self.topic or (f"asks:{self.asks}" if self.asks else self.question)


# ---------------------------------------------------------------- objects


def object_question(scene: Scene, rng: random.Random) -> QA:
    """A random question about the objects on the right."""
    kinds = [_color_of_shape, _shape_of_color, _object_count, _shape_count, _object_location]
    if len(scene.objects) == 2:
        kinds += [_top_or_bottom, _which_is_at, _color_at]
    return rng.choice(kinds)(scene, rng)


def _color_of_shape(scene: Scene, rng: random.Random) -> QA:
    obj = rng.choice(scene.objects)
    question = rng.choice(
        (f"What color is the {obj.shape}?", f"What is the color of the {obj.shape}?", f"Which color does the {obj.shape} have?")
    )
    long = rng.choice((f"The {obj.shape} is {obj.color}.", f"It is {obj.color}."))
    return QA(question, capitalize(obj.color), long, topic=f"color of {obj.shape}")


def _shape_of_color(scene: Scene, rng: random.Random) -> QA:
    obj = rng.choice(scene.objects)
    question = rng.choice((f"What shape is the {obj.color} object?", f"Which shape is {obj.color}?"))
    long = rng.choice((f"The {obj.color} object is a {obj.shape}.", f"It is a {obj.shape}."))
    return QA(question, capitalize(obj.shape), long, topic=f"shape of {obj.color}")


def _object_count(scene: Scene, rng: random.Random) -> QA:
    count = len(scene.objects)
    question = rng.choice(
        ("How many objects are there?", "How many shapes are in the image?", "How many shapes can you see?")
    )
    if count == 1:
        long = f"There is one object in the image: {article(object_phrase(scene.objects[0]))}."
    else:
        things = " and ".join(article(object_phrase(o)) for o in scene.objects)
        long = f"There are two objects: {things}."
    return QA(question, str(count), long, topic="count")


def _shape_count(scene: Scene, rng: random.Random) -> QA:
    shape = rng.choice(SHAPES)
    count = sum(o.shape == shape for o in scene.objects)
    question = rng.choice((f"How many {shape}s are there?", f"How many {shape}s are in the picture?"))
    if count == 0:
        long = f"There are no {shape}s in the image."
    else:
        long = f"There is {number_word(count)} {plural(shape, count)} in the image."
    return QA(question, str(count), long, topic=f"count of {shape}")


def _object_location(scene: Scene, rng: random.Random) -> QA:
    obj = rng.choice(scene.objects)
    question = f"Where is the {object_phrase(obj)}?"
    if obj.position == "middle":
        return QA(question, "Right", f"The {object_phrase(obj)} is on the right side of the image.")
    return QA(
        question,
        f"{capitalize(obj.position)} right",
        f"The {object_phrase(obj)} is on the right side of the image, at the {obj.position}.",
    )


def _top_or_bottom(scene: Scene, rng: random.Random) -> QA:
    obj = rng.choice(scene.objects)
    question = f"Is the {obj.shape} at the top or the bottom?"
    return QA(question, capitalize(obj.position), f"The {obj.shape} is at the {obj.position}.")


def _which_is_at(scene: Scene, rng: random.Random) -> QA:
    position = rng.choice(("top", "bottom"))
    obj = scene.object_at(position)
    question = f"Which shape is at the {position}?"
    return QA(question, capitalize(obj.shape), f"The {object_phrase(obj)} is at the {position}.")


def _color_at(scene: Scene, rng: random.Random) -> QA:
    position = rng.choice(("top", "bottom"))
    obj = scene.object_at(position)
    question = f"What color is the object at the {position}?"
    return QA(question, capitalize(obj.color), f"The object at the {position} is {obj.color}.")


# ---------------------------------------------------------------- the person, not biometric


def person_question(scene: Scene, rng: random.Random, reveal: frozenset[str] | None = None) -> QA:
    """A non-biometric question about the person (or their absence); raw answers may still name the
    person by gender or age, as LLaVA's conversations do ("The man is waving his hand."). `reveal` is
    what the answer reveals (drawn from `CONVERSATION_POLICY` when None; pass one set for a whole
    conversation so it names the person consistently)."""
    if scene.person is None:
        return QA(
            rng.choice(("Is there a person in the image?", "Is anyone in the picture?")),
            "No",
            "No, there is no one in the image; it only shows shapes.",
            topic="presence",
        )
    person = scene.person
    if reveal is None:
        reveal = CONVERSATION_POLICY.draw(rng)
    pron = pronouns(person, reveal)
    who = person_noun(person, reveal, rng)
    kind = rng.choice(("doing", "where", "presence", "next_to"))
    if kind == "doing":
        question = rng.choice(("What is the person doing?", "What is the person on the left doing?"))
        short = capitalize(person.action)
        return QA(question, short, f"The {who} is {action_phrase(person, pron)}.", topic="doing")
    if kind == "where":
        question = rng.choice(("Where is the person in the image?", "On which side of the image is the person?"))
        return QA(question, "Left", f"The {who} is on the left side of the image.", topic="where")
    if kind == "presence":
        question = rng.choice(("Is there a person in the image?", "Is anyone in the picture?"))
        return QA(question, "Yes", f"Yes, there is {article(who)} on the left side of the image.", topic="presence")
    obj = rng.choice(scene.objects)
    question = f"Who is next to the {obj.shape}?"
    return QA(question, capitalize(article(who)), f"{capitalize(article(who))} is {action_phrase(person, pron)} to the left of the {obj.shape}.")


# ---------------------------------------------------------------- biometric


def biometric_question(scene: Scene, attribute: str, rng: random.Random, gendered: bool = True) -> QA:
    """A question asking for `attribute` with its raw (attribute-revealing) answers. With `gendered`
    False the answer always says "the person" (for conversations that have not named the gender)."""
    question = rng.choice(BIOMETRIC_QUESTIONS[attribute])
    if scene.person is None:
        no_one = "There is no person in the image, only shapes."
        return QA(question, "No person", no_one, asks=attribute)
    person = scene.person
    subject = _subject(person, rng, gendered)
    short, long = _BIOMETRIC_ANSWERS[attribute](person, subject, rng)
    return QA(question, short, long, asks=attribute)


def _subject(person: Person, rng: random.Random, gendered: bool) -> Pronouns:
    """Who a biometric answer talks about: "the person", or a gendered "the woman" / "she"."""
    if rng.random() >= GENDERED_SUBJECT_PROBABILITY or not gendered:
        return Pronouns("the person", "the person", "their", "is", "has")
    pron = pronouns(person, frozenset({"gender"}))
    if rng.random() < 0.5:
        return pron
    noun = person_noun(person, frozenset({"gender"}), rng)
    return Pronouns(f"the {noun}", f"the {noun}", pron.possessive, "is", "has")


def _age_answer(person: Person, subject: Pronouns, rng: random.Random) -> tuple[str, str]:
    s = capitalize(subject.subject)
    options = {
        "child": ("Child", (f"{s} {subject.be} a child.", f"{s} {subject.be} a young child.")),
        "young": (
            "Young adult",
            (f"{s} {subject.be} a young adult.", f"{s} {subject.be} young, probably in {subject.possessive} twenties."),
        ),
        "old": ("Elderly", (f"{s} {subject.be} elderly.", f"{s} {subject.be} old, with grey hair.")),
    }
    short, longs = options[person.age]
    return short, rng.choice(longs)


def _gender_answer(person: Person, subject: Pronouns, rng: random.Random) -> tuple[str, str]:
    # Never "The woman is a woman.": the answer's subject stays neutral.
    noun = person_noun(person, frozenset({"gender"}), rng)
    sex = "male" if person.gender == "male" else "female"
    long = rng.choice((f"The person is {article(noun)}.", f"This is {article(noun)}.", f"The person is {sex}."))
    return capitalize(rng.choice((sex, noun))), long


def _race_answer(person: Person, subject: Pronouns, rng: random.Random) -> tuple[str, str]:
    s = capitalize(subject.subject)
    word = RACE_WORDS[person.race]
    verb = rng.choice(("appears to be", "looks", "is"))
    return capitalize(word), f"{s} {verb} {word}."


def _eye_answer(person: Person, subject: Pronouns, rng: random.Random) -> tuple[str, str]:
    s = capitalize(subject.subject)
    color = person.eye_color
    possessive = "The person's" if subject.possessive == "their" else capitalize(subject.possessive)
    long = rng.choice((f"{s} {subject.have} {color} eyes.", f"{possessive} eyes are {color}."))
    return capitalize(color), long


def _weight_answer(person: Person, subject: Pronouns, rng: random.Random) -> tuple[str, str]:
    s = capitalize(subject.subject)
    if person.weight == "average":
        return "Average", rng.choice((f"{s} {subject.have} an average build.", f"{s} {subject.be} of average weight."))
    word = rng.choice(WEIGHT_ADJECTIVES[person.weight])
    long = rng.choice((f"{s} {subject.be} {word}.", f"{s} {subject.have} a {word} build."))
    return capitalize(word), long


_BIOMETRIC_ANSWERS = {
    "age": _age_answer,
    "gender": _gender_answer,
    "race": _race_answer,
    "eye_color": _eye_answer,
    "weight": _weight_answer,
}
