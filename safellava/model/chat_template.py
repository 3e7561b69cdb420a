"""A named conversation template written as a Jinja chat template, for a processor to carry.

Tools that prompt a model through its processor's chat template (lmms-eval's `llava_hf`, transformers'
pipelines, vLLM) then prompt a safellava model the way it was trained. The Jinja text is accepted only
when, on a probe question with an image, the processor's own rendering and tokenization give exactly the
token ids of `templates.render_prompt`; otherwise none is offered, rather than one that prompts differently.

Where `render_prompt` differs from tokenizing the whole text is the text right after an image: a
SentencePiece tokenizer marks it as a word start ("▁"), which whole-text tokenization does not do after
a special token. A space after `<image>` in the Jinja text stands for that mark; which of the two spellings
matches a tokenizer is decided by the probe.
"""

from __future__ import annotations

import logging
from typing import Any

from safellava.data.templates import QWEN_SYSTEM, VICUNA_SYSTEM, render_prompt
from safellava.model.processor import image_token_count
from safellava.records import IMAGE_TOKEN

logger = logging.getLogger(__name__)

# The text of a message: a plain string, or typed parts in order (images as the image token plus its
# separator, text as it is). {sep} is filled in per tokenizer.
_CONTENT = (
    "{%- if message['content'] is string -%}{{ message['content'] }}"
    "{%- else -%}{%- for part in message['content'] -%}"
    "{%- if part['type'] == 'image' -%}{{ '" + IMAGE_TOKEN + "{sep}' }}"
    "{%- elif part['type'] == 'text' -%}{{ part['text'] }}{%- endif -%}"
    "{%- endfor -%}{%- endif -%}"
)

_SYSTEM = (
    "{%- if messages[0]['role'] == 'system' -%}{%- set system = messages[0]['content'] -%}"
    "{%- set turns = messages[1:] -%}{%- else -%}{%- set system = {default} -%}{%- set turns = messages -%}{%- endif -%}"
)

# The same layouts as the templates of the same names in `templates.py`. A BOS token is left to the
# processor, which adds it when it tokenizes ({bos}: see `chat_template_for`).
_JINJA = {
    "vicuna_v1": (
        _SYSTEM.replace("{default}", repr(VICUNA_SYSTEM))
        + "{%- if system -%}{{ system + ' ' }}{%- endif -%}"
        "{%- for message in turns -%}"
        "{%- if message['role'] == 'user' -%}{{ 'USER: ' }}" + _CONTENT + "{{ ' ASSISTANT:' }}"
        "{%- else -%}{{ ' ' }}" + _CONTENT + "{{ eos_token }}{%- endif -%}"
        "{%- endfor -%}"
    ),
    "qwen_1_5": (
        _SYSTEM.replace("{default}", repr(QWEN_SYSTEM))
        + "{{ '<|im_start|>system\\n' + system + '<|im_end|>\\n' }}"
        "{%- for message in turns -%}"
        "{{ '<|im_start|>' + message['role'] + '\\n' }}" + _CONTENT + "{{ '<|im_end|>\\n' }}"
        "{%- endfor -%}"
        "{%- if add_generation_prompt -%}{{ '<|im_start|>assistant\\n' }}{%- endif -%}"
    ),
    "llama3": (
        _SYSTEM.replace("{default}", "none")
        + "{{ '{bos}' }}"
        "{%- if system -%}{{ '<|start_header_id|>system<|end_header_id|>\\n\\n' + system + '<|eot_id|>' }}{%- endif -%}"
        "{%- for message in turns -%}"
        "{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' }}" + _CONTENT + "{{ '<|eot_id|>' }}"
        "{%- endfor -%}"
        "{%- if add_generation_prompt -%}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{%- endif -%}"
    ),
}

_PROBE_QUESTION = "What is shown in the picture?\nAnswer"


def chat_template_for(template: str, processor: Any) -> str | None:
    """The Jinja chat template that makes `processor` prompt like `template` (a name of
    `templates.TEMPLATES`), or None when no spelling reproduces `render_prompt`'s ids exactly (or the
    template, like `plain`, is no chat layout)."""
    if template not in _JINJA:
        return None
    for separator in ("\\n", " \\n"):  # Jinja escapes, read inside the template's string literal
        # Llama 3 writes <|begin_of_text|> itself, unless the processor's tokenizer adds it as its BOS.
        for bos in ("", "<|begin_of_text|>") if template == "llama3" else ("",):
            candidate = _JINJA[template].replace("{sep}", separator).replace("{bos}", bos)
            if _prompts_alike(candidate, template, processor):
                return candidate
    return None


def _prompts_alike(jinja: str, template: str, processor: Any) -> bool:
    from PIL import Image

    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": _PROBE_QUESTION}]}]
    tokenizer = processor.tokenizer
    try:
        expected = render_prompt(
            template,
            [{"from": "human", "value": IMAGE_TOKEN + "\n" + _PROBE_QUESTION}],
            tokenizer,
            tokenizer.convert_tokens_to_ids(processor.image_token),
            image_token_count(processor),
        )
        text = processor.apply_chat_template(messages, chat_template=jinja, add_generation_prompt=True, tokenize=False)
        ids = processor(text=[text], images=[Image.new("RGB", (8, 8))], return_tensors="pt")["input_ids"][0].tolist()
    except Exception:  # a template this tokenizer cannot serve (e.g. it lacks <|im_start|>) is not offered
        return False
    return ids == list(expected)


def attach_chat_template(processor: Any, template: str | None) -> bool:
    """Give `processor` the chat template of `template` before it is saved, unless it has one already
    (a hub checkpoint's own). Returns whether one was attached."""
    if not template or getattr(processor, "chat_template", None):
        return False
    jinja = chat_template_for(template, processor)
    if jinja is None:
        logger.info(
            "no chat template reproduces the %r template with this tokenizer; tools that prompt through the "
            "processor's chat template (e.g. lmms-eval's llava_hf) cannot prompt this model as it was trained",
            template,
        )
        return False
    processor.chat_template = jinja
    return True
