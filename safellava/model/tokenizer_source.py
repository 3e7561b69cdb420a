"""Where a recipe's tokenizer comes from: a pretrained one, or a real one trained offline and cached.

Either way the LLaVA special tokens are added here: `<image>` (the placeholder the processor expands)
and a pad token where the tokenizer has none (Llama/Vicuna), as llava-hf does.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Callable

from safellava.model.processor import IMAGE_TOKEN
from safellava.model.recipe import ModelRecipe
from safellava.model.tokenizers import train_llama_sentencepiece, train_qwen_bpe

_TRAINERS = {"sentencepiece_llama": train_llama_sentencepiece, "qwen_bpe": train_qwen_bpe}


def cache_dir() -> Path:
    """Offline tokenizers are cached here ($SAFELLAVA_CACHE, default ~/.cache/safellava)."""
    return Path(os.environ.get("SAFELLAVA_CACHE", Path.home() / ".cache" / "safellava"))


def load_tokenizer(recipe: ModelRecipe):
    """The recipe's tokenizer with `<image>` and a pad token added."""
    from transformers import AutoTokenizer

    spec = recipe.tokenizer
    if spec.train:
        tokenizer = AutoTokenizer.from_pretrained(str(_trained_tokenizer_dir(recipe)))
    else:
        tokenizer = AutoTokenizer.from_pretrained(spec.pretrained or recipe.language.pretrained)
    return add_llava_tokens(tokenizer)


def add_llava_tokens(tokenizer):
    if IMAGE_TOKEN not in tokenizer.get_vocab():
        tokenizer.add_special_tokens({"additional_special_tokens": [IMAGE_TOKEN]})
    if tokenizer.pad_token is None:
        tokenizer.add_special_tokens({"pad_token": "<pad>"})
    tokenizer.padding_side = "right"  # training; generation switches to left padding itself
    return tokenizer


def _synthetic_world_text() -> list[str]:
    from safellava.synth import tokenizer_corpus

    return list(tokenizer_corpus(seed=0))


#: Corpora a recipe's `tokenizer.corpus` may name instead of a text file.
NAMED_CORPORA: dict[str, Callable[[], list[str]]] = {
    "synth": _synthetic_world_text,  # the synthetic world's captions, answers and prompts (seed 0)
}


def corpus_texts(corpus: str) -> list[str]:
    """A named corpus (`NAMED_CORPORA`) or a path to a UTF-8 text file with one text per line."""
    if corpus in NAMED_CORPORA:
        return NAMED_CORPORA[corpus]()
    path = Path(corpus)
    if not path.exists():
        raise FileNotFoundError(
            f"tokenizer corpus {corpus!r} is neither a named corpus ({', '.join(NAMED_CORPORA)}) nor an existing text file"
        )
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _trained_tokenizer_dir(recipe: ModelRecipe) -> Path:
    spec = recipe.tokenizer
    if not spec.corpus:
        raise ValueError(
            f"{recipe.source}: `tokenizer.train: {spec.train}` needs `tokenizer.corpus`, the text to train it on: "
            f"{' or '.join(NAMED_CORPORA)}, or a text file with one text per line"
        )
    texts = corpus_texts(spec.corpus)
    key = hashlib.sha256(json.dumps([spec.train, spec.vocab_size, texts]).encode()).hexdigest()[:16]
    folder = cache_dir() / "tokenizers" / f"{spec.train}-{spec.vocab_size}-{key}"
    if not (folder / "tokenizer_config.json").exists():
        # Train into a temporary sibling and rename, so concurrent ranks never read a half-written folder.
        partial = folder.with_name(folder.name + f".partial-{os.getpid()}")
        _TRAINERS[spec.train](texts, spec.vocab_size, partial)
        try:
            partial.rename(folder)
        except OSError:  # another process finished first; its copy is identical
            import shutil

            shutil.rmtree(partial, ignore_errors=True)
    return folder
