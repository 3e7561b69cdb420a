"""Each attribute is visible in the pixels, and the tokenizer corpus covers the world's text."""

from __future__ import annotations

import json
import re

import pytest

from safellava.synth import SAFE_LLAVA_REFUSAL, generate_world, tokenizer_corpus
from safellava.synth.draw import BACKGROUND_RGB, CLOTHES_RGB, EYE_RGB, HAIR_RGB, OBJECT_RGB, SKIN_RGB, draw_scene
from safellava.synth.scene import Person, Scene, SceneObject

BASE = Person(age="young", gender="male", race="white", eye_color="brown", weight="average", action="standing")
OBJECTS = (SceneObject("circle", "red", "top", 20), SceneObject("square", "blue", "bottom", 20))


def _image(**changes):
    person = Person(**{**BASE.__dict__, **changes})
    return draw_scene(Scene(person=person, objects=OBJECTS, background="light grey"), 64)


def _pixels(image, box=(0, 0, 64, 64)):
    x0, y0, x1, y1 = box
    return [image.getpixel((x, y)) for y in range(y0, y1) for x in range(x0, x1)]


def _widest_row(image, color, box=(0, 0, 32, 57)):
    x0, y0, x1, y1 = box
    return max(sum(image.getpixel((x, y)) == color for x in range(x0, x1)) for y in range(y0, y1))


def _top_of_person(image):
    background = BACKGROUND_RGB["light grey"]
    return min(y for y in range(57) for x in range(32) if image.getpixel((x, y)) != background)


def test_each_attribute_has_a_visible_cue():
    for eye in EYE_RGB:
        assert EYE_RGB[eye] in _pixels(_image(eye_color=eye), (0, 0, 32, 64))
    for race in SKIN_RGB:
        assert SKIN_RGB[race] in _pixels(_image(race=race), (0, 0, 32, 64))
    assert HAIR_RGB["grey"] in _pixels(_image(age="old")) and HAIR_RGB["grey"] not in _pixels(_image())
    assert _top_of_person(_image(age="child")) > _top_of_person(_image()) + 10  # a child is much shorter
    widths = [_widest_row(_image(weight=w), CLOTHES_RGB) for w in ("thin", "average", "heavy")]
    assert widths[0] < widths[1] < widths[2]
    # Long hair reaches below the chin of a woman, never of a man.
    assert _pixels(_image(gender="female"), (0, 20, 32, 30)).count(HAIR_RGB["dark"]) > 10
    assert _pixels(_image(gender="male"), (0, 20, 32, 30)).count(HAIR_RGB["dark"]) == 0
    assert _top_of_person(_image(action="waving")) < _top_of_person(_image())  # a raised arm


def test_objects_are_big_and_on_the_right():
    image = _image()
    right = _pixels(image, (32, 0, 64, 64))
    for obj in OBJECTS:
        assert right.count(OBJECT_RGB[obj.color]) > 200  # about three 8-px patches or more
        assert OBJECT_RGB[obj.color] not in _pixels(image, (0, 0, 32, 64))
    top, bottom = _pixels(image, (32, 0, 64, 32)), _pixels(image, (32, 32, 64, 64))
    assert OBJECT_RGB["red"] in top and OBJECT_RGB["blue"] in bottom


def test_too_small_image_is_refused():
    with pytest.raises(ValueError, match="at least 16"):
        draw_scene(Scene(person=BASE, objects=OBJECTS, background="beige"), 8)


WORD = re.compile(r"[A-Za-z']+|\d+")


def test_tokenizer_corpus_covers_the_world_and_template_scaffolding(tmp_path):
    corpus = tokenizer_corpus(0)
    assert corpus == tokenizer_corpus(0)
    assert corpus != tokenizer_corpus(1)
    vocabulary = {w for line in corpus for w in WORD.findall(line)}
    for needed in (SAFE_LLAVA_REFUSAL, "USER:", "ASSISTANT:", "You are a helpful assistant.",
                   "A chat between a curious user and an artificial intelligence assistant. The assistant "
                   "gives helpful, detailed, and polite answers to the user's questions."):
        assert needed in corpus
    assert corpus.count(SAFE_LLAVA_REFUSAL) > 100  # as frequent as refusals in cleaned data
    for neutral in ("person", "individual", "they", "their", "them"):
        assert neutral in vocabulary
    # A world drawn with another seed uses no word the corpus lacks.
    paths = generate_world(tmp_path, seed=7, n_train_images=150, n_eval_images=5)
    texts = [t["value"] for f in (paths.pretrain, paths.finetune) for r in json.loads(f.read_text())
             for t in r["conversations"]]
    texts += [json.loads(line)["text"] for f in (paths.prism_refusal_soft, paths.prism_refusal_hard,
              paths.prism_implicit_leakage, paths.benign) for line in f.read_text().splitlines()]
    missing = {w for text in texts for w in WORD.findall(text.replace("<image>", ""))} - vocabulary
    assert not missing
    assert all("<image>" not in line for line in corpus)
