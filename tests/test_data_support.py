"""Shared helpers for the data tests (no tests here): real tokenizers, tiny images, record files.

The tokenizers are trained once per test process on the synthetic world's corpus with the model
package's offline trainers: a Llama-style SentencePiece (byte fallback, "▁" word starts, BOS/EOS, like
Vicuna's) and a Qwen2-style byte-level BPE with ChatML specials. Both get `<image>` and a pad token the
way a model recipe's tokenizer does, plus the special tokens of every named template, so every template
can be exercised with both kinds.
"""

from __future__ import annotations

import functools
import json
import tempfile
from pathlib import Path

IMAGE_TOKENS_PER_IMAGE = 4  # small, so tests read well; the real figure (576, 729) is only a parameter

EXTRA_SPECIALS = ["<|im_start|>", "<|im_end|>", "<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]

# A Llama-2-style chat template for the SentencePiece tokenizer ("tokenizer" template tests).
LLAMA2_STYLE_CHAT_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}"
    "{% if m['role'] == 'system' %}{{ '<<SYS>> ' + m['content'] + ' <</SYS>> ' }}"
    "{% elif m['role'] == 'user' %}{{ '[INST] ' + m['content'] + ' [/INST]' }}"
    "{% else %}{{ ' ' + m['content'] + eos_token }}{% endif %}{% endfor %}"
)


TOKENIZER_DIRS: dict[str, Path] = {}  # where each was saved, before the extra special tokens were added


@functools.lru_cache(maxsize=1)
def tokenizers() -> dict:
    """{"llama_sp": LlamaTokenizer, "qwen_bpe": byte-level BPE}, trained once per process."""
    from safellava.model.tokenizer_source import add_llava_tokens
    from safellava.model.tokenizers import train_llama_sentencepiece, train_qwen_bpe
    from safellava.synth import tokenizer_corpus

    texts = list(tokenizer_corpus(seed=0))
    root = Path(tempfile.mkdtemp(prefix="safellava-data-tok-"))
    made = {
        "llama_sp": train_llama_sentencepiece(texts, 1000, root / "sp"),
        "qwen_bpe": train_qwen_bpe(texts, 1000, root / "bpe"),
    }
    TOKENIZER_DIRS.update(llama_sp=root / "sp", qwen_bpe=root / "bpe")
    for tokenizer in made.values():
        add_llava_tokens(tokenizer)
        tokenizer.add_special_tokens({"additional_special_tokens": EXTRA_SPECIALS}, replace_extra_special_tokens=False)
    made["llama_sp"].chat_template = LLAMA2_STYLE_CHAT_TEMPLATE
    return made


@functools.lru_cache(maxsize=1)
def image_processor():
    """A 32-px CLIP image processor (Pillow backend), as the `tiny` recipe uses."""
    from safellava.model.processor import build_image_processor

    return build_image_processor("clip", 32)


def write_image(path: Path, size: tuple[int, int] = (40, 24), color: tuple[int, int, int] = (200, 30, 30)) -> Path:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, color).save(path)
    return path


def write_bomb_png(path: Path, side: int = 30_000) -> Path:
    """A tiny PNG whose header declares side × side pixels (a decompression bomb: 900 M pixels by default)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)  # 8-bit RGB
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))
    return path


def write_json(path: Path, records: list, *, jsonl: bool = False) -> Path:
    if jsonl:
        path.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
    else:
        path.write_text(json.dumps(records, indent=1), encoding="utf-8")
    return path


def image_record(record_id: str, image: str, question: str, answer: str) -> dict:
    return {
        "id": record_id,
        "image": image,
        "conversations": [{"from": "human", "value": "<image>\n" + question}, {"from": "gpt", "value": answer}],
    }


def text_record(record_id: str, question: str, answer: str) -> dict:
    return {"id": record_id, "conversations": [{"from": "human", "value": question}, {"from": "gpt", "value": answer}]}
