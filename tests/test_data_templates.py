"""Templates: labels by construction, the self-check, prompt/training agreement, for both tokenizer kinds."""

from __future__ import annotations

import pytest
from test_data_support import IMAGE_TOKENS_PER_IMAGE as N
from test_data_support import TOKENIZER_DIRS, tokenizers

from safellava.data.templates import (
    IGNORE_INDEX,
    TEMPLATES,
    TemplateError,
    check_rendered,
    get_template,
    render_conversation,
    render_prompt,
)

CONVERSATION = [
    {"from": "human", "value": "<image>\nWhat colour is the person's shirt?"},
    {"from": "gpt", "value": "The shirt is blue."},
    {"from": "human", "value": "And what shape is beside them?"},
    {"from": "gpt", "value": "A red triangle, about 3 cm wide.\nNothing else."},
]
CAPTION = [{"from": "human", "value": "Describe the image briefly.\n<image>"}, {"from": "gpt", "value": "A person beside a red square."}]
KINDS = ("llama_sp", "qwen_bpe")


def _conversation(template: str) -> list[dict]:
    return CAPTION if template == "plain" else CONVERSATION


def _image_id(tokenizer) -> int:
    return tokenizer.convert_tokens_to_ids("<image>")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("template", sorted(TEMPLATES))
def test_every_template_passes_the_self_check(template, kind):
    tokenizer = tokenizers()[kind]
    turns = _conversation(template)
    sample = render_conversation(template, turns, tokenizer, _image_id(tokenizer), N)
    assert check_rendered(sample, turns, template, tokenizer, _image_id(tokenizer), N) == []
    answers = [turn["value"] for turn in turns if turn["from"] == "gpt"]
    assert sample.num_supervised >= sum(len(tokenizer.encode(a, add_special_tokens=False)) for a in answers)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("template", sorted(TEMPLATES))
def test_generation_prompt_equals_the_training_prefix(template, kind):
    """render_prompt(turns so far) must be exactly the ids training put before each answer's first label."""
    tokenizer = tokenizers()[kind]
    turns = _conversation(template)
    sample = render_conversation(template, turns, tokenizer, _image_id(tokenizer), N)
    starts = [i for i, label in enumerate(sample.labels) if label != IGNORE_INDEX and (i == 0 or sample.labels[i - 1] == IGNORE_INDEX)]
    user_turn_ends = [i + 1 for i, turn in enumerate(turns) if turn["from"] == "human"]
    assert len(starts) == len(user_turn_ends)
    for start, end in zip(starts, user_turn_ends):
        assert render_prompt(template, turns[:end], tokenizer, _image_id(tokenizer), N) == sample.input_ids[:start]


def test_a_corrupted_label_is_caught_by_the_self_check():
    tokenizer = tokenizers()["llama_sp"]
    sample = render_conversation("vicuna_v1", CONVERSATION, tokenizer, _image_id(tokenizer), N)
    first = next(i for i, label in enumerate(sample.labels) if label != IGNORE_INDEX)
    sample.labels[first] = IGNORE_INDEX  # the classic off-by-one: the answer's first token unsupervised
    problems = check_rendered(sample, CONVERSATION, "vicuna_v1", tokenizer, _image_id(tokenizer), N)
    assert problems and "decodes to" in problems[0]


@pytest.mark.parametrize("kind,templates", [("llama_sp", ("vicuna_v1",)), ("qwen_bpe", ("vicuna_v1", "qwen_1_5"))])
def test_segment_boundaries_tokenize_like_the_whole_text(kind, templates):
    """For text-only turns, per-piece tokenization equals tokenizing the rendered string in one go."""
    tokenizer = tokenizers()[kind]
    turns = [dict(turn, value=turn["value"].replace("<image>\n", "")) for turn in CONVERSATION]
    for template in templates:
        sample = render_conversation(template, turns, tokenizer, _image_id(tokenizer), N)
        text = tokenizer.decode(sample.input_ids, skip_special_tokens=False, clean_up_tokenization_spaces=False)
        assert tokenizer(text, add_special_tokens=False)["input_ids"] == sample.input_ids


def test_vicuna_layout_with_the_sentencepiece_tokenizer():
    tokenizer = tokenizers()["llama_sp"]
    sample = render_conversation("vicuna_v1", CONVERSATION[:2], tokenizer, _image_id(tokenizer), N)
    assert sample.input_ids[0] == tokenizer.bos_token_id and sample.labels[0] == IGNORE_INDEX
    assert sample.input_ids[-1] == tokenizer.eos_token_id and sample.labels[-1] == tokenizer.eos_token_id
    text = tokenizer.decode(sample.input_ids, skip_special_tokens=False)
    assert text.startswith("<s> A chat between a curious user and an artificial intelligence assistant.")
    # The piece after an image starts a new SentencePiece word, hence the "▁" (shown as a space) before "\n",
    # exactly as LLaVA's own <image> splitting does; it is the same in training and generation.
    assert " USER: <image><image><image><image> \nWhat colour" in text
    assert text.endswith("? ASSISTANT: The shirt is blue.</s>")
    supervised = [i for i, label in enumerate(sample.labels) if label != IGNORE_INDEX]
    assert tokenizer.decode(sample.input_ids[supervised[0] : supervised[-1] + 1]) == "The shirt is blue.</s>"


def test_qwen_template_equals_the_tokenizers_own_chatml_template():
    """The Qwen-style tokenizer ships a ChatML chat template: `tokenizer` and `qwen_1_5` must agree."""
    tokenizer = tokenizers()["qwen_bpe"]
    named = render_conversation("qwen_1_5", CONVERSATION, tokenizer, _image_id(tokenizer), N)
    own = render_conversation("tokenizer", CONVERSATION, tokenizer, _image_id(tokenizer), N)
    assert named.input_ids == own.input_ids and named.labels == own.labels
    assert tokenizer.decode(named.input_ids).startswith("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n")


def test_plain_drops_the_instruction_and_supervises_caption_and_newline():
    tokenizer = tokenizers()["llama_sp"]
    sample = render_conversation("plain", CAPTION, tokenizer, _image_id(tokenizer), N)
    caption_ids = tokenizer.encode("A person beside a red square.\n", add_special_tokens=False)
    assert sample.input_ids == [tokenizer.bos_token_id] + [_image_id(tokenizer)] * N + caption_ids
    assert sample.labels == [IGNORE_INDEX] * (N + 1) + caption_ids
    assert render_prompt("plain", CAPTION[:1], tokenizer, _image_id(tokenizer), N) == sample.input_ids[: N + 1]


def test_image_tokens_are_inserted_by_id_once_per_placeholder():
    tokenizer = tokenizers()["qwen_bpe"]
    turns = [{"from": "human", "value": "<image> left, <image> right: same?"}, {"from": "gpt", "value": "No."}]
    sample = render_conversation("qwen_1_5", turns, tokenizer, _image_id(tokenizer), 7)
    assert len(sample.image_starts) == 2
    for start in sample.image_starts:
        assert sample.input_ids[start : start + 7] == [_image_id(tokenizer)] * 7
    assert sample.input_ids.count(_image_id(tokenizer)) == 14


def test_a_system_turn_replaces_the_default_system_prompt():
    tokenizer = tokenizers()["qwen_bpe"]
    turns = [{"role": "system", "content": "Answer briefly."}, *CONVERSATION[:2]]
    text = tokenizer.decode(render_conversation("qwen_1_5", turns, tokenizer, _image_id(tokenizer), N).input_ids)
    assert text.startswith("<|im_start|>system\nAnswer briefly.<|im_end|>") and "helpful assistant" not in text
    override = get_template("vicuna_v1", system="Be terse.")
    assert tokenizers()["llama_sp"].decode(render_prompt(override, CONVERSATION[:1], tokenizers()["llama_sp"], 9, 1)).startswith("<s> Be terse. USER:")


def test_clear_errors_for_unusable_templates_and_conversations():
    tokenizer = tokenizers()["qwen_bpe"]
    with pytest.raises(TemplateError, match="unknown conversation template 'vicuna'.*plain"):
        get_template("vicuna")
    with pytest.raises(TemplateError, match="must end with an assistant answer"):
        render_conversation("qwen_1_5", CONVERSATION[:1], tokenizer, _image_id(tokenizer), N)
    with pytest.raises(TemplateError, match="must end with a user turn"):
        render_prompt("qwen_1_5", CONVERSATION[:2], tokenizer, _image_id(tokenizer), N)
    from transformers import AutoTokenizer

    bare = AutoTokenizer.from_pretrained(TOKENIZER_DIRS["qwen_bpe"])  # without the extra Llama-3 specials
    with pytest.raises(TemplateError, match="needs the special token '<\\|begin_of_text\\|>'"):
        render_conversation("llama3", CONVERSATION, bare, 0, N)
    bare.chat_template = None
    with pytest.raises(TemplateError, match="needs tokenizer.chat_template"):
        render_conversation("tokenizer", CONVERSATION, bare, 0, N)
