"""Real tokenizers trained offline, for tiny models that must behave like the big ones.

`train_llama_sentencepiece` makes a SentencePiece BPE model with byte fallback and <unk>/<s>/</s> at ids
0/1/2 — the same kind of tokenizer (and transformers class) as Llama-2/Vicuna — so the Vicuna template
path is exercised with the same "▁" word-boundary behaviour as a real 7B run. `train_qwen_bpe` makes a
byte-level BPE with ChatML special tokens, like Qwen2's. Both train in seconds on the synthetic corpus.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

CHATML_SPECIALS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")

_CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{% if loop.first and message['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' }}{% endif %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def train_llama_sentencepiece(texts: Iterable[str], vocab_size: int, out_dir: str | Path):
    """Train a Llama-style SentencePiece tokenizer on `texts` and return it as a `LlamaTokenizer`.

    The folder `out_dir` then holds `tokenizer.model` plus the transformers files, and loads with
    `AutoTokenizer.from_pretrained(out_dir)`. `vocab_size` counts the 256 byte pieces.
    """
    import sentencepiece as spm
    from transformers import LlamaTokenizer

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(list(texts)),
        model_prefix=str(out_dir / "tokenizer"),
        vocab_size=vocab_size,
        model_type="bpe",
        byte_fallback=True,
        character_coverage=1.0,
        unk_id=0,
        bos_id=1,
        eos_id=2,
        pad_id=-1,
        hard_vocab_limit=False,  # a small corpus may support fewer pieces than asked for
        split_digits=True,
        num_threads=1,  # deterministic piece order
        minloglevel=2,
    )
    (out_dir / "tokenizer.vocab").unlink(missing_ok=True)
    # Llama/Vicuna prepend <s> and do not append </s>; templates add </s> where a turn ends.
    tokenizer = LlamaTokenizer.from_pretrained(str(out_dir), add_bos_token=True, add_eos_token=False, legacy=False)
    tokenizer.save_pretrained(str(out_dir))
    return tokenizer


def train_qwen_bpe(texts: Iterable[str], vocab_size: int, out_dir: str | Path):
    """Train a Qwen2-style byte-level BPE tokenizer with ChatML specials; returns a fast tokenizer.

    Like Qwen2 it adds no BOS, uses `<|endoftext|>` for padding and `<|im_end|>` to end a turn, and ships a
    ChatML chat template.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(CHATML_SPECIALS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    backend.train_from_iterator(list(texts), trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=["<|im_start|>", "<|im_end|>"],
        chat_template=_CHATML_TEMPLATE,
    )
    tokenizer.save_pretrained(str(out_dir))
    return tokenizer
