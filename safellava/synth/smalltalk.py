"""Text-only conversations (no image), standing in for the ShareGPT share of LLaVA's mix665k:
greetings, arithmetic, counting and facts about the world's shapes and colours."""

from __future__ import annotations

import random
from collections.abc import Callable

from safellava.synth.scene import COLORS, SHAPES

SIDES = {"square": "A square has four sides of equal length.", "triangle": "A triangle has three sides.",
         "circle": "A circle has no straight sides; it is a single round curve."}
SHAPE_DEFINITIONS = {
    "square": "A square is a flat shape with four equal sides and four right angles.",
    "triangle": "A triangle is a flat shape with three sides and three corners.",
    "circle": "A circle is a round flat shape whose points are all the same distance from its center.",
}
COLOR_MIXES = {
    ("red", "yellow"): "orange",
    ("blue", "yellow"): "green",
    ("red", "blue"): "purple",
}
GREETINGS = (
    ("Hello!", "Hello! How can I help you today?"),
    ("Hi, how are you?", "I'm doing well, thank you for asking. How can I help you?"),
    ("Good morning!", "Good morning! What would you like to talk about?"),
    ("Can you help me with a question?", "Of course. What would you like to know?"),
)
THANKS = (
    ("Thank you!", "You're welcome! Let me know if you need anything else."),
    ("Thanks, that helps.", "I'm glad it helps. Feel free to ask more questions."),
)

Turn = tuple[str, str]


def text_conversation(rng: random.Random) -> list[Turn]:
    """One to four (question, answer) turns of small talk; sometimes opened by a greeting and closed
    with thanks, like a chat log."""
    turns: list[Turn] = []
    if rng.random() < 0.3:
        turns.append(rng.choice(GREETINGS))
    topics: list[Callable[[random.Random], list[Turn]]] = [_arithmetic, _shape_fact, _color_fact, _counting]
    turns += rng.choice(topics)(rng)
    if rng.random() < 0.25:
        turns.append(rng.choice(THANKS))
    return turns


def _arithmetic(rng: random.Random) -> list[Turn]:
    a, b = rng.randint(0, 20), rng.randint(0, 20)
    op = rng.choice(("plus", "minus", "times"))
    if op == "minus" and b > a:
        a, b = b, a
    if op == "times":
        a, b = a % 11, b % 11
    result = {"plus": a + b, "minus": a - b, "times": a * b}[op]
    question = rng.choice((f"What is {a} {op} {b}?", f"Can you compute {a} {op} {b}?", f"How much is {a} {op} {b}?"))
    turns = [(question, f"{a} {op} {b} equals {result}.")]
    if rng.random() < 0.4:
        extra = rng.randint(1, 10)
        turns.append((f"And if you add {extra} more?", f"Then the total is {result + extra}."))
    return turns


def _shape_fact(rng: random.Random) -> list[Turn]:
    shape = rng.choice(SHAPES)
    if rng.random() < 0.5:
        return [(f"How many sides does a {shape} have?", SIDES[shape])]
    return [(rng.choice((f"What is a {shape}?", f"Can you explain what a {shape} is?")), SHAPE_DEFINITIONS[shape])]


def _color_fact(rng: random.Random) -> list[Turn]:
    if rng.random() < 0.5:
        (first, second), mixed = rng.choice(sorted(COLOR_MIXES.items()))
        return [(f"What color do you get if you mix {first} and {second} paint?", f"Mixing {first} and {second} gives {mixed}.")]
    names = rng.sample(COLORS, 3)
    return [(rng.choice(("Name three colors.", "Can you list three colors?")), f"Sure: {names[0]}, {names[1]} and {names[2]}.")]


def _counting(rng: random.Random) -> list[Turn]:
    start = rng.randint(1, 10)
    stop = start + rng.randint(2, 6)
    numbers = ", ".join(str(n) for n in range(start, stop + 1))
    return [(f"Count from {start} to {stop}.", f"{numbers}.")]
