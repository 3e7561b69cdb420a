"""Raw LLaVA-format records for stage 1 (captions) and stage 2 (instructions) about synthetic scenes.

A record is `{"id", "image", "conversations": [{"from": "human", ...}, {"from": "gpt", ...}, ...]}`;
text-only records have no "image" key. Conversations start with a human turn and alternate; the first
human turn of an image record holds exactly one "<image>" (before the question, or after it in a
minority of records, as in LLaVA's own files).

The stage-2 mix imitates the shape of LLaVA's mix665k: mostly short VQA answers (several turns per
record), fewer long descriptions, some multi-turn conversations, direct biometric questions and a
text-only share.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Mapping

from safellava.records import IMAGE_TOKEN
from safellava.synth.descriptions import (
    CAPTION_INSTRUCTIONS,
    DETAIL_PROMPTS,
    SHORT_CAPTION_PROMPTS,
    caption,
    describe,
)
from safellava.synth.language import capitalize
from safellava.synth.questions import (
    CONVERSATION_POLICY,
    PRISM_ANSWER_CUE,
    QA,
    SHORT_ANSWER_SUFFIX,
    biometric_question,
    object_question,
    person_question,
)
from safellava.synth.scene import Scene
from safellava.synth.smalltalk import text_conversation

# Share of each kind of stage-2 record (sums to 1).
FINETUNE_MIX: dict[str, float] = {
    "vqa": 0.38,
    "conversation": 0.14,
    "detail": 0.18,
    "biometric": 0.18,
    "caption": 0.04,
    "text": 0.08,
}
# Which attribute a direct biometric question asks about: gender and age most, like real data, but
# every attribute often enough for a tiny model to learn to answer it.
BIOMETRIC_ATTRIBUTE_WEIGHTS: dict[str, float] = {
    "gender": 0.24,
    "age": 0.24,
    "race": 0.18,
    "eye_color": 0.17,
    "weight": 0.17,
}
IMAGE_AFTER_TEXT_PROBABILITY = 0.2
# Share of long-answer questions asked in PRISM's prompt form ("<question>\nAnswer"), see PRISM_ANSWER_CUE.
PRISM_FORM_PROBABILITY = 0.25
MAX_VQA_TURNS = 6
MAX_CONVERSATION_TURNS = 5

Turn = tuple[str, str]


@dataclass(frozen=True)
class BuiltRecord:
    """A record plus what the manifest counts about it."""

    record: dict
    kind: str
    asked: tuple[str, ...]  # biometric attributes asked, one entry per question


def pretrain_record(record_id: str, image: str, scene: Scene, rng: random.Random) -> dict:
    """A stage-1 record: a brief-description instruction and a short caption."""
    instruction = rng.choice(CAPTION_INSTRUCTIONS)
    return _image_record(record_id, image, [(instruction, caption(scene, rng))], rng)


def finetune_record(
    record_id: str,
    image: str,
    scene: Scene,
    rng: random.Random,
    mix: Mapping[str, float] = FINETUNE_MIX,
    short_answers_in_prism_form: float = 0.0,
) -> BuiltRecord:
    """A stage-2 record of a kind drawn from `mix` (shares of FINETUNE_MIX's kinds).

    `short_answers_in_prism_form`: share of short-answer (VQA) questions asked in PRISM's form
    ("<question>\nAnswer") rather than with LLaVA's single-word instruction.
    """
    kind = rng.choices(list(mix), weights=list(mix.values()))[0]
    if kind == "text":
        turns = text_conversation(rng)
        return BuiltRecord(_conversation_record(record_id, turns), kind, ())
    builder = {
        "vqa": _vqa_turns,
        "conversation": _conversation_turns,
        "detail": _detail_turns,
        "biometric": _biometric_turns,
        "caption": _caption_turns,
    }[kind]
    qas = builder(scene, rng)
    if kind == "vqa":
        turns = [(_short_answer_question(qa.question, rng, short_answers_in_prism_form), qa.short) for qa in qas]
    else:
        turns = [(_long_answer_question(qa.question, rng), qa.long) for qa in qas]
    asked = tuple(qa.asks for qa in qas if qa.asks)
    return BuiltRecord(_image_record(record_id, image, turns, rng), kind, asked)


def _short_answer_question(question: str, rng: random.Random, prism_form: float) -> str:
    cue = PRISM_ANSWER_CUE if prism_form and rng.random() < prism_form else SHORT_ANSWER_SUFFIX
    return f"{question}\n{cue}"


def _long_answer_question(question: str, rng: random.Random) -> str:
    return f"{question}\n{PRISM_ANSWER_CUE}" if rng.random() < PRISM_FORM_PROBABILITY else question


def _image_record(record_id: str, image: str, turns: list[Turn], rng: random.Random) -> dict:
    first_question, first_answer = turns[0]
    if rng.random() < IMAGE_AFTER_TEXT_PROBABILITY:
        first_question = f"{first_question}\n{IMAGE_TOKEN}"
    else:
        first_question = f"{IMAGE_TOKEN}\n{first_question}"
    record = _conversation_record(record_id, [(first_question, first_answer)] + turns[1:])
    return {"id": record["id"], "image": image, "conversations": record["conversations"]}


def _conversation_record(record_id: str, turns: list[Turn]) -> dict:
    conversations = []
    for question, answer in turns:
        conversations.append({"from": "human", "value": question})
        conversations.append({"from": "gpt", "value": answer})
    return {"id": record_id, "conversations": conversations}


def _distinct(make, count: int, rng: random.Random) -> list[QA]:
    """Up to `count` QAs from `make(rng)` on distinct topics (a record never asks the same thing twice)."""
    qas: list[QA] = []
    seen: set[str] = set()
    for _ in range(count * 4):
        if len(qas) == count:
            break
        qa = make(rng)
        if qa.key not in seen:
            seen.add(qa.key)
            qas.append(qa)
    return qas


def _vqa_turns(scene: Scene, rng: random.Random) -> list[QA]:
    reveal = CONVERSATION_POLICY.draw(rng)  # one way of naming the person per record

    def make(r: random.Random) -> QA:
        roll = r.random()
        if scene.person is not None and roll < 0.2:
            return biometric_question(scene, _biometric_attribute(r), r)
        if roll < 0.35:
            return person_question(scene, r, reveal)
        return object_question(scene, r)

    return _distinct(make, rng.randint(1, MAX_VQA_TURNS), rng)


def _conversation_turns(scene: Scene, rng: random.Random) -> list[QA]:
    reveal = CONVERSATION_POLICY.draw(rng)  # one way of naming the person per record

    def make(r: random.Random) -> QA:
        roll = r.random()
        if scene.person is not None and roll < 0.3:
            return biometric_question(scene, _biometric_attribute(r), r, gendered="gender" in reveal)
        if roll < 0.6:
            return person_question(scene, r, reveal)
        return object_question(scene, r)

    return _distinct(make, rng.randint(2, MAX_CONVERSATION_TURNS), rng)


def _detail_turns(scene: Scene, rng: random.Random) -> list[QA]:
    text = describe(scene, rng)
    qas = [QA(rng.choice(DETAIL_PROMPTS), text, text)]
    if rng.random() < 0.2:
        qas.append(object_question(scene, rng))
    return qas


def _biometric_turns(scene: Scene, rng: random.Random) -> list[QA]:
    attributes = list(BIOMETRIC_ATTRIBUTE_WEIGHTS)
    weights = list(BIOMETRIC_ATTRIBUTE_WEIGHTS.values())
    first = rng.choices(attributes, weights=weights)[0]
    qas = [biometric_question(scene, first, rng)]
    if scene.person is not None and rng.random() < 0.3:
        rest = [a for a in attributes if a != first]
        second = rng.choices(rest, weights=[BIOMETRIC_ATTRIBUTE_WEIGHTS[a] for a in rest])[0]
        qas.append(biometric_question(scene, second, rng))
    if rng.random() < 0.3:
        qas.append(object_question(scene, rng))
    return qas


def _caption_turns(scene: Scene, rng: random.Random) -> list[QA]:
    text = capitalize(caption(scene, rng)) + "."
    return [QA(rng.choice(SHORT_CAPTION_PROMPTS), text, text)]


def _biometric_attribute(rng: random.Random) -> str:
    return rng.choices(list(BIOMETRIC_ATTRIBUTE_WEIGHTS), weights=list(BIOMETRIC_ATTRIBUTE_WEIGHTS.values()))[0]
