"""What a synthetic image contains: one person (or nobody) on the left and one or two shapes on the right.

A `Scene` is the ground truth of one image. It is sampled from a `random.Random`, drawn by
`safellava.synth.draw`, described by `safellava.synth.language`, and stored in the world manifest, so
tests and evaluations can check answers against it. Values are plain lowercase strings (the manifest
is JSON); the words used in text for them live in `language`.
"""

from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass

# The five PRISM attributes, each with the values the world draws visibly (see docs/synth.md).
AGES = ("child", "young", "old")
GENDERS = ("male", "female")
# Skin tone classes, named with the race words captions use. The world is a toy: a skin tone stands in
# for "race" only because that is how the captions of web-scale data talk about people.
RACES = ("asian", "black", "hispanic", "white")
EYE_COLORS = ("blue", "brown", "green")
WEIGHTS = ("thin", "average", "heavy")
ACTIONS = ("standing", "waving")

SHAPES = ("square", "circle", "triangle")
COLORS = ("red", "orange", "yellow", "green", "blue", "purple")
BACKGROUNDS = ("light grey", "beige", "cream")

# Where an object sits on the right half: one object is centred, two are stacked.
POSITIONS_ONE = ("middle",)
POSITIONS_TWO = ("top", "bottom")

# Pixel jitter (in 64-px units) so images of the same attributes still differ.
MAX_JITTER = 2


@dataclass(frozen=True)
class Person:
    """The person on the left; every field is drawn visibly (see draw.py for how)."""

    age: str
    gender: str
    race: str
    eye_color: str
    weight: str
    action: str
    dx: int = 0  # horizontal jitter, 64-px units


@dataclass(frozen=True)
class SceneObject:
    """A coloured shape on the right half of the image."""

    shape: str
    color: str
    position: str  # "middle" (alone), "top" or "bottom"
    size: int  # side / diameter in 64-px units
    dx: int = 0
    dy: int = 0


@dataclass(frozen=True)
class Scene:
    """Ground truth of one image."""

    person: Person | None
    objects: tuple[SceneObject, ...]
    background: str

    def to_dict(self) -> dict:
        """JSON-ready form stored in world.json."""
        return {
            "person": asdict(self.person) if self.person else None,
            "objects": [asdict(o) for o in self.objects],
            "background": self.background,
        }

    @classmethod
    def from_dict(cls, data: dict) -> Scene:
        person = Person(**data["person"]) if data.get("person") else None
        objects = tuple(SceneObject(**o) for o in data["objects"])
        return cls(person=person, objects=objects, background=data["background"])

    def key(self) -> str:
        """A canonical string: two scenes with the same key draw the same pixels."""
        return json.dumps(self.to_dict(), sort_keys=True)

    def object_with_shape(self, shape: str) -> SceneObject | None:
        return next((o for o in self.objects if o.shape == shape), None)

    def object_at(self, position: str) -> SceneObject | None:
        return next((o for o in self.objects if o.position == position), None)


def sample_person(rng: random.Random) -> Person:
    """Uniform over every attribute so each value is seen equally often."""
    return Person(
        age=rng.choice(AGES),
        gender=rng.choice(GENDERS),
        race=rng.choice(RACES),
        eye_color=rng.choice(EYE_COLORS),
        weight=rng.choice(WEIGHTS),
        action=rng.choice(ACTIONS),
        dx=rng.randint(-MAX_JITTER, MAX_JITTER),
    )


def sample_objects(rng: random.Random) -> tuple[SceneObject, ...]:
    """One or two objects; two objects always differ in shape and colour, so a question naming a
    shape or a colour has exactly one answer."""
    count = rng.choice((1, 2))
    shapes = rng.sample(SHAPES, count)
    colors = rng.sample(COLORS, count)
    positions = POSITIONS_ONE if count == 1 else POSITIONS_TWO
    # Two stacked objects get less room (each has a 28-unit cell) than a single centred one.
    size_range = (22, 26) if count == 1 else (18, 22)
    return tuple(
        SceneObject(
            shape=shape,
            color=color,
            position=position,
            size=rng.randint(*size_range),
            dx=rng.randint(-MAX_JITTER, MAX_JITTER),
            dy=rng.randint(-MAX_JITTER, MAX_JITTER),
        )
        for shape, color, position in zip(shapes, colors, positions)
    )


def sample_scene(rng: random.Random, person_probability: float = 1.0) -> Scene:
    """A random scene; `person_probability` is the chance that a person is drawn (0..1)."""
    has_person = rng.random() < person_probability
    person = sample_person(rng) if has_person else None
    objects = sample_objects(rng)
    return Scene(person=person, objects=objects, background=rng.choice(BACKGROUNDS))
