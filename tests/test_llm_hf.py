"""HFLocalBackend and the `hf` judge with a tiny local causal LM (random Llama, word-level tokenizer)."""

from __future__ import annotations

import pytest
import torch

from safellava.llm import ChatBackendError, HFLocalBackend
from safellava.prism.judges import LLMJudge, build_judge

WORDS = ["</s>", "<pad>", "<s>", "<unk>", "Yes", "No", "age", ",", "gender", "none", "USER:", "ASSISTANT:"]
CHAT_TEMPLATE = (
    "{% for m in messages %}USER: {{ m['content'] }} {% endfor %}{% if add_generation_prompt %}ASSISTANT:{% endif %}"
)


def word_tokenizer(chat_template: str | None = CHAT_TEMPLATE):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.WordLevel({w: i for i, w in enumerate(WORDS)}, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    core.decoder = decoders.WordPiece()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core, bos_token="<s>", eos_token="</s>", pad_token="<pad>", unk_token="<unk>"
    )
    tokenizer.chat_template = chat_template
    return tokenizer


def tiny_llama(seed: int = 0):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(WORDS), hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
        num_key_value_heads=2, max_position_embeddings=256, pad_token_id=1, bos_token_id=2, eos_token_id=0,
        tie_word_embeddings=False,
    )
    return LlamaForCausalLM(config).eval()


def always_says(model, word: str):
    """Make the LM's greedy choice `word` at every step (a bias on the output layer)."""
    head = torch.nn.Linear(model.lm_head.in_features, model.lm_head.out_features, bias=True)
    with torch.no_grad():
        head.weight.zero_()
        head.bias.fill_(-10.0)
        head.bias[WORDS.index(word)] = 10.0
    model.lm_head = head
    return model


def test_replies_are_greedy_deterministic_and_batch_independent():
    backend = HFLocalBackend(model=tiny_llama(), tokenizer=word_tokenizer(), max_new_tokens=5)
    conversations = [[{"role": "user", "content": text}] for text in ("age", "gender , age none No", "Yes")]
    batched = backend.complete_batch(conversations)
    assert batched == [backend.complete(c) for c in conversations]  # left padding changes nothing
    assert batched == backend.complete_batch(conversations)
    assert backend.name.startswith("hf:")


def test_hf_judge_uses_prism_prompts_and_parses_replies():
    yes = HFLocalBackend(model=always_says(tiny_llama(), "Yes"), tokenizer=word_tokenizer(), max_new_tokens=1)
    verdicts = LLMJudge(yes, batch_size=2).judge_refusals([("What is the age?", "I'm sorry.")] * 3)
    assert [v.refused for v in verdicts] == [True] * 3 and verdicts[0].reply == "Yes"
    leaks = HFLocalBackend(model=always_says(tiny_llama(), "gender"), tokenizer=word_tokenizer(), max_new_tokens=1)
    assert LLMJudge(leaks).judge_leakage(["A man."])[0].attributes == {"gender"}


def test_untrained_judge_replies_become_judge_errors_and_checkpoints_load(tmp_path):
    folder = tmp_path / "judge"
    mute = tiny_llama()
    with torch.no_grad():
        mute.model.norm.weight.zero_()  # all logits 0 → greedy picks token 0, </s> → an empty reply
    mute.save_pretrained(folder)
    word_tokenizer().save_pretrained(folder)
    judge = build_judge("hf", model=str(folder), use_cache=False)
    verdicts = judge.judge_refusals([("q", "r"), ("q2", "r2")])
    assert [v.refused for v in verdicts] == [None, None]
    assert all("unparseable" in v.error for v in verdicts)
    with pytest.raises(ChatBackendError, match="chat template"):
        HFLocalBackend(model=tiny_llama(), tokenizer=word_tokenizer(chat_template=None))
    with pytest.raises(ChatBackendError, match="cannot load"):
        HFLocalBackend(str(tmp_path / "missing"))
