"""`tokenizer_corpus`: text covering the whole vocabulary of the synthetic world, for training the tiny
tokenizers of test and demo models (a few hundred to two thousand tokens).

It holds the raw texts (captions, descriptions, questions and answers), their neutral "a person / they"
forms and the words a cleaner substitutes, the Safe-LLaVA refusal, PRISM's prompts, the benign
questions, small talk, numbers, and the chat-template scaffolding ("USER:", "ASSISTANT:", the Vicuna and
ChatML system prompts). "<image>" is left out: tokenizers add it as a special token.
"""

from __future__ import annotations

import random
import re

from safellava.attributes import SAFE_LLAVA_REFUSAL
from safellava.records import IMAGE_TOKEN
from safellava.synth import prism_tasks
from safellava.synth.descriptions import (
    CAPTION_INSTRUCTIONS,
    DETAIL_PROMPTS,
    SHORT_CAPTION_PROMPTS,
    caption,
    describe,
)
from safellava.synth.language import BIOMETRIC_TERMS, NEUTRAL, NUMBER_WORDS, RACE_WORDS, WEIGHT_ADJECTIVES
from safellava.synth.questions import BIOMETRIC_QUESTIONS, SHORT_ANSWER_SUFFIX, person_question
from safellava.synth.scene import (
    ACTIONS,
    BACKGROUNDS,
    COLORS,
    EYE_COLORS,
    SHAPES,
    sample_scene,
)
from safellava.synth.smalltalk import text_conversation
from safellava.synth.training_records import finetune_record, pretrain_record

VICUNA_SYSTEM_PROMPT = (
    "A chat between a curious user and an artificial intelligence assistant. "
    "The assistant gives helpful, detailed, and polite answers to the user's questions."
)
CHATML_SYSTEM_PROMPT = "You are a helpful assistant."
CORPUS_SCENES = 600  # enough draws that every template and value appears many times
MAX_NUMBER = 120  # arithmetic in the small talk stays below this


def tokenizer_corpus(seed: int = 0) -> list[str]:
    """Lines of text covering the world's vocabulary, deterministic for `seed`.

    Sampled texts keep their repeats, so a BPE or unigram trainer sees words and phrases as often as
    training data will use them; the Safe-LLaVA refusal appears once per biometric question asked,
    as often as it will in cleaned data."""
    lines: list[str] = []
    lines += _scaffolding()
    lines += _fixed_prompts()
    lines += _vocabulary_lines()
    lines += _sampled_texts(seed)
    return [line for line in lines if line]


def _scaffolding() -> list[str]:
    return [
        VICUNA_SYSTEM_PROMPT,
        CHATML_SYSTEM_PROMPT,
        "USER:",
        "ASSISTANT:",
        "system user assistant",
        f"{VICUNA_SYSTEM_PROMPT} USER: Hello! ASSISTANT: Hello! How can I help you today?",
        f"{CHATML_SYSTEM_PROMPT} user: What color is the circle? assistant: The circle is red.",
    ]


def _fixed_prompts() -> list[str]:
    lines = [SAFE_LLAVA_REFUSAL, SHORT_ANSWER_SUFFIX]
    for category in prism_tasks.CATEGORIES:
        lines += [prism_tasks.soft_refusal_prompt(category), prism_tasks.hard_refusal_prompt(category)]
    lines += list(prism_tasks.IMPLICIT_PROMPTS)
    lines += list(CAPTION_INSTRUCTIONS) + list(DETAIL_PROMPTS) + list(SHORT_CAPTION_PROMPTS)
    for questions in BIOMETRIC_QUESTIONS.values():
        lines += list(questions)
    return lines


def _vocabulary_lines() -> list[str]:
    """Every value word and the neutral words a cleaner puts in place of biometric ones."""
    # The plain-word terms (the eye-colour patterns are regular expressions, covered by the line above).
    biometric_words = [t for terms in BIOMETRIC_TERMS.values() for t in terms if re.fullmatch(r"[A-Za-z ]+", t)]
    return [
        " ".join(COLORS),
        " ".join(SHAPES) + " " + " ".join(s + "s" for s in SHAPES),
        " ".join(BACKGROUNDS),
        " ".join(ACTIONS),
        " ".join(f"{c} eyes" for c in EYE_COLORS),
        " ".join(RACE_WORDS.values()),
        " ".join(w for words in WEIGHT_ADJECTIVES.values() for w in words),
        " ".join(biometric_words),
        " ".join(NUMBER_WORDS),
        " ".join(str(n) for n in range(MAX_NUMBER + 1)),
        "the person, a person, the individual, someone, people, they are, they have, them, their, themselves",
        "The person is standing. They are waving their hand. The individual is on the left side of the image.",
        "top bottom left right middle above below next to beside",
    ]


def _sampled_texts(seed: int) -> list[str]:
    """Raw and neutral texts of records built exactly as `generate_world` builds them."""
    lines: list[str] = []
    for index in range(CORPUS_SCENES):
        rng = random.Random(f"safellava-synth-corpus/{seed}/{index}")
        scene = sample_scene(rng, person_probability=0.9)
        built = [finetune_record("corpus", "corpus.png", scene, rng) for _ in range(2)]
        records = [pretrain_record("corpus", "corpus.png", scene, rng)] + [b.record for b in built]
        for record in records:
            lines += [turn["value"].replace(IMAGE_TOKEN, "").strip() for turn in record["conversations"]]
        # What cleaned data says instead of each biometric answer.
        lines += [SAFE_LLAVA_REFUSAL] * sum(len(b.asked) for b in built)
        # Neutral forms, as a cleaner would leave them.
        lines.append(caption(scene, rng, NEUTRAL))
        lines.append(describe(scene, rng, NEUTRAL))
        qa = person_question(scene, rng, frozenset())
        lines += [qa.question, qa.long]
        if scene.person is not None:
            for question in prism_tasks.benign_questions(scene, 5, rng):
                lines.append(f"{question.text}\nAnswer")
        lines += [text for turn in text_conversation(rng) for text in turn]
    return lines
