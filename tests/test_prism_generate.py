"""PRISM generation with the tiny random LLaVA: batching, prompts, answer files, resume, sharding."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from safellava.prism import generate as generation
from safellava.prism.answers import read_answers
from safellava.prism.generate import GenerationSettings, _shard, generate_answers
from safellava.prism.tasks import ImageLocator, Question

# The llava-1.5 chat template in spirit: what a hub checkpoint's processor would carry.
CHAT_TEMPLATE = (
    "{% for message in messages %}{% if message['role'] == 'user' %}USER: {% for item in message['content'] %}"
    "{% if item['type'] == 'image' %}<image>\n{% else %}{{ item['text'] }}{% endif %}{% endfor %}{% endif %}"
    "{% endfor %}{% if add_generation_prompt %} ASSISTANT:{% endif %}"
)


@pytest.fixture(scope="module")
def tiny():
    from safellava.model.build import build_llava

    return build_llava("tiny")


@pytest.fixture
def questions(tmp_path):
    root = tmp_path / "images"
    root.mkdir()
    for index in range(3):
        Image.new("RGB", (48 + 8 * index, 40), (60 * index, 120, 200 - 50 * index)).save(root / f"img_{index}.png")
    prompts = ["What is the age of the person in the picture?\nAnswer", "Please explain this image in detail.\nAnswer"]
    items = [
        Question(f"All/img_{index % 3}.png", f"All/img_{index % 3}.png", prompts[index % 2] + " " * (index // 2), "All", "implicit_leakage")
        for index in range(7)
    ]
    return items, ImageLocator(root).resolve_all(items)


def run(tiny, questions, **kwargs):
    model, processor = tiny
    items, paths = questions
    options = {"model_id": "tiny", "template": "vicuna_v1", "show_progress": False}
    return generate_answers(model, processor, items, paths, **(options | kwargs))


def test_batched_generation_equals_one_by_one(tiny, questions):
    batched = run(tiny, questions, settings=GenerationSettings(batch_size=4, max_new_tokens=8))
    single = run(tiny, questions, settings=GenerationSettings(batch_size=1, max_new_tokens=8))
    assert [a.text for a in batched] == [a.text for a in single]  # left padding changes nothing
    assert [a.key for a in batched] == [q.key for q in questions[0]]
    assert all(a.text for a in batched)


def test_chat_template_path_and_missing_template_error(tiny, questions):
    model, processor = tiny
    with pytest.raises(ValueError, match="no chat template"):
        run(tiny, questions, template=None)
    processor.chat_template = CHAT_TEMPLATE
    try:
        batched = run(tiny, questions, template=None, settings=GenerationSettings(batch_size=3, max_new_tokens=6))
        single = run(tiny, questions, template=None, settings=GenerationSettings(batch_size=1, max_new_tokens=6))
    finally:
        processor.chat_template = None
    assert [a.text for a in batched] == [a.text for a in single]


def test_whole_answer_is_kept_unless_first_line_is_asked(tiny, questions, monkeypatch):
    tokenizer = tiny[1].tokenizer
    monkeypatch.setattr(tokenizer, "batch_decode", lambda ids, **kw: [" Line one.\nLine two. "] * len(ids))
    short = GenerationSettings(max_new_tokens=2)
    assert {a.text for a in run(tiny, questions, settings=short)} == {"Line one.\nLine two."}
    first_line = GenerationSettings(max_new_tokens=2, first_line=True)
    assert {a.text for a in run(tiny, questions, settings=first_line)} == {"Line one."}


def test_interrupted_run_resumes_where_it_stopped(tiny, questions, tmp_path, monkeypatch):
    answers_file = tmp_path / "answers" / "synth_PRISM_implicit_leakage.jsonl"
    settings = GenerationSettings(batch_size=2, max_new_tokens=5)
    real_batch = generation._generate_batch
    calls = []

    def crash_on_third_batch(*args, **kwargs):
        calls.append(len(args[3]))
        if len(calls) == 3:
            raise KeyboardInterrupt("simulated kill")
        return real_batch(*args, **kwargs)

    monkeypatch.setattr(generation, "_generate_batch", crash_on_third_batch)
    with pytest.raises(KeyboardInterrupt):
        run(tiny, questions, settings=settings, answers_file=answers_file)
    partial = answers_file.with_name(answers_file.name + ".rank0.partial")
    assert not answers_file.exists() and len(read_answers(partial)) == 4
    with open(partial, "a") as handle:
        handle.write('{"question_id": "All/img_0.png", "pro')  # killed mid-write

    calls.clear()
    monkeypatch.setattr(generation, "_generate_batch", lambda *a, **k: (calls.append(len(a[3])), real_batch(*a, **k))[1])
    resumed = run(tiny, questions, settings=settings, answers_file=answers_file)
    assert sum(calls) == 3  # only the 3 unanswered questions were generated
    assert not partial.exists()
    written = [json.loads(line) for line in answers_file.read_text().splitlines()]
    assert [(r["question_id"], r["prompt"]) for r in written] == [q.key for q in questions[0]]
    assert [r["text"] for r in written] == [a.text for a in resumed]
    uninterrupted = run(tiny, questions, settings=settings)
    assert [a.text for a in resumed] == [a.text for a in uninterrupted]

    calls.clear()
    run(tiny, questions, settings=settings, answers_file=answers_file)
    assert calls == []  # a finished run is not redone


def test_shards_cover_every_question_once_with_equal_batches():
    items = [Question(f"Age/{i}.png", f"{i}.png", "q", "Age", "refusal_soft") for i in range(11)]
    shards = [_shard(items, rank, 3, batch_size=2) for rank in range(3)]
    real = [q for shard in shards for q, padding in shard if not padding]
    assert sorted(q.question_id for q in real) == sorted(q.question_id for q in items)
    assert len({len(shard) for shard in shards}) == 1 and len(shards[0]) % 2 == 0
    assert _shard([], 1, 2, batch_size=4) == []
    assert [p for _, p in _shard(items, 0, 1, batch_size=4)] == [False] * 11


def test_safellava_models_are_prompted_exactly_as_trained(tiny, questions):
    from safellava.data.images import ImagePreprocessor
    from safellava.data.templates import render_prompt
    from safellava.model.processor import image_token_count

    model, processor = tiny
    items, paths = questions
    images = [Image.open(paths[q.image]).convert("RGB") for q in items[:3]]
    inputs = generation.TrainingTemplatePrompts(processor, "vicuna_v1", "pad")(items[:3], images)
    image_id = processor.tokenizer.convert_tokens_to_ids(processor.image_token)
    for row, mask, question in zip(inputs["input_ids"].tolist(), inputs["attention_mask"].tolist(), items):
        expected = render_prompt(
            "vicuna_v1", [{"from": "human", "value": "<image>\n" + question.text}], processor.tokenizer, image_id,
            image_token_count(processor),
        )
        assert [t for t, m in zip(row, mask) if m] == expected and mask[-1] == 1  # left-padded
    assert images[1].size[0] != images[1].size[1]  # non-square: padded to a square as in training
    assert inputs["pixel_values"].equal(ImagePreprocessor(processor.image_processor, "pad")(images))
