"""Free-text descriptions of a scene: short BLIP-style captions (stage 1) and detailed multi-sentence
descriptions (stage 2), in the raw style of LLaVA data (the person named by gender and age, sometimes
by race, eye colour or weight).

How often each attribute is revealed is a `RevealPolicy`; the defaults follow the order measured in
LLaVA's captions (gender >> age >> race > eye colour ~ weight) at rates high enough for a tiny model to
pick the habit up. `NEUTRAL` gives the "a person / they" form.
"""

from __future__ import annotations

import random

from safellava.synth.language import (
    RACE_WORDS,
    WEIGHT_ADJECTIVES,
    Pronouns,
    RevealPolicy,
    action_phrase,
    article,
    capitalize,
    object_phrase,
    objects_list,
    person_noun,
    pronouns,
)
from safellava.synth.scene import Person, Scene

CAPTION_POLICY = RevealPolicy(age=0.40, gender=0.75, race=0.10, eye_color=0.04, weight=0.04)
DESCRIPTION_POLICY = RevealPolicy(age=0.60, gender=0.90, race=0.15, eye_color=0.12, weight=0.12)
CLOSING_PROBABILITY = 0.3  # a content-free last sentence about the background

# Stage-1 instructions: a request for a brief description, as in LLaVA's 558K pretraining file.
CAPTION_INSTRUCTIONS = (
    "Describe the image concisely.",
    "Give a short description of the image.",
    "Write a brief caption for this picture.",
    "Summarize the visual content of the image.",
    "Provide a short caption for the photo.",
    "What does this image show in a few words?",
    "Share a concise interpretation of the image.",
    "Offer a short summary of the picture.",
)

# Stage-2 prompts for a detailed description (or for the activity / the people in it).
DETAIL_PROMPTS = (
    "Describe the image in detail.",
    "Explain this image in detail.",
    "Give a detailed description of the picture.",
    "What do you see in this image? Describe it thoroughly.",
    "Provide a thorough description of the scene.",
    "Walk me through the details of this image.",
    "Describe everyone in the image.",
    "Describe the person in the picture in detail.",
    "Who is in the picture? Describe them.",
    "What is happening in this image?",
    "What activity is shown in the picture? Explain the scene.",
    "What is going on in this scene? Give a detailed explanation.",
)

# A one-sentence caption requested during stage 2 (a small share of records, as in mix665k).
SHORT_CAPTION_PROMPTS = (
    "Provide a one-sentence caption for the image.",
    "Write a short caption for this picture.",
)


def caption(scene: Scene, rng: random.Random, policy: RevealPolicy = CAPTION_POLICY) -> str:
    """A short lowercase caption without a final period, e.g. "an old man waving next to a red circle"."""
    objects = objects_list(scene)
    if scene.person is None:
        templates = (
            f"{objects} on a {scene.background} background",
            f"{objects} on the right of an empty scene",
            f"simple drawing of {objects}",
        )
        return rng.choice(templates)
    person = scene.person
    reveal = policy.draw(rng)
    who = article(person_noun(person, reveal, rng))
    verb = "waving" if person.action == "waving" else "standing"
    templates = (
        f"{who} {verb} next to {objects}",
        f"{who} {verb} beside {objects}",
        f"{objects} beside {who}",
        f"drawing of {who} and {objects}",
        f"{who} {verb} on the left, {objects} on the right",
    )
    return rng.choice(templates)


def describe(scene: Scene, rng: random.Random, policy: RevealPolicy = DESCRIPTION_POLICY) -> str:
    """A detailed description of three to six sentences."""
    if scene.person is None:
        return _describe_empty_scene(scene, rng)
    person = scene.person
    reveal = policy.draw(rng)
    # Race, eye colour and weight go either into the noun phrase or into their own sentence.
    # sorted(): iterating a frozenset follows string hashes, which differ per process (PYTHONHASHSEED).
    in_noun = frozenset(a for a in sorted(reveal) if a in ("age", "gender") or rng.random() < 0.5)
    pron = pronouns(person, reveal)
    who = article(person_noun(person, in_noun, rng))
    doing = action_phrase(person, pron)
    openers = (
        f"The image shows {who} {doing} on the left side.",
        f"In this picture, {who} is {doing} on the left.",
        f"{capitalize(who)} is {doing} on the left side of the image.",
        f"The picture features {who} {doing} on the left side of the frame.",
    )
    sentences = [rng.choice(openers)]
    sentences += _attribute_sentences(person, reveal, in_noun, pron, rng)
    sentences.append(_objects_sentence(scene, pron, rng))
    if rng.random() < CLOSING_PROBABILITY:
        sentences.append(_closing_sentence(scene, rng))
    return " ".join(sentences)


def _attribute_sentences(
    person: Person, reveal: frozenset[str], in_noun: frozenset[str], pron: Pronouns, rng: random.Random
) -> list[str]:
    subject = capitalize(pron.subject)
    sentences = []
    if "age" in reveal and rng.random() < 0.5:
        sentences.append(
            {
                "child": f"{subject} {pron.be} a small child.",
                "young": f"{subject} {pron.be} a young adult, probably in {pron.possessive} twenties.",
                "old": f"{subject} {pron.have} grey hair and {pron.be} holding a walking cane.",
            }[person.age]
        )
    if "race" in reveal and "race" not in in_noun:
        appears = "appear" if pron.be == "are" else "appears"
        sentences.append(f"{subject} {appears} to be {RACE_WORDS[person.race]}.")
    if "eye_color" in reveal and "eye_color" not in in_noun:
        sentences.append(f"{subject} {pron.have} {person.eye_color} eyes.")
    if "weight" in reveal and "weight" not in in_noun:
        if person.weight == "average":
            sentences.append(f"{subject} {pron.have} an average build.")
        else:
            sentences.append(f"{subject} {pron.be} {rng.choice(WEIGHT_ADJECTIVES[person.weight])}.")
    return sentences


def _objects_sentence(scene: Scene, pron: Pronouns, rng: random.Random) -> str:
    if len(scene.objects) == 1:
        thing = article(object_phrase(scene.objects[0]))
        templates = (
            f"To the right of {pron.object}, there is {thing}.",
            f"On the right side of the image, there is {thing}.",
            f"{capitalize(thing)} is placed on the right.",
        )
    else:
        top, bottom = (article(object_phrase(scene.object_at(p))) for p in ("top", "bottom"))
        templates = (
            f"On the right side, there is {top} at the top and {bottom} at the bottom.",
            f"Next to {pron.object}, {top} sits above {bottom}.",
            f"Two shapes are on the right: {top} above {bottom}.",
        )
    return rng.choice(templates)


def _closing_sentence(scene: Scene, rng: random.Random) -> str:
    return rng.choice(
        (
            f"The background is plain {scene.background}.",
            f"The scene is simple, with a plain {scene.background} background.",
            "A darker strip of ground runs along the bottom of the image.",
        )
    )


def _describe_empty_scene(scene: Scene, rng: random.Random) -> str:
    if len(scene.objects) == 1:
        where = f"{capitalize(article(object_phrase(scene.objects[0])))} is in the middle of the right side."
    else:
        top, bottom = (article(object_phrase(scene.object_at(p))) for p in ("top", "bottom"))
        where = f"{capitalize(top)} is at the top right, and {bottom} is below it."
    sentences = [
        f"The image shows {objects_list(scene)} on a plain {scene.background} background.",
        where,
        "There is no one in the picture; the left side is empty.",
    ]
    if rng.random() < CLOSING_PROBABILITY:
        sentences.append(_closing_sentence(scene, rng))
    return " ".join(sentences)
