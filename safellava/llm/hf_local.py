"""A chat backend running a local instruction-tuned causal LM through transformers (greedy decoding)."""

from __future__ import annotations

from typing import Any, Sequence

from safellava.llm.backend import ChatBackendError, ChatMessage


class HFLocalBackend:
    """`ChatBackend` over a local Hugging Face chat model, prompted with its own chat template.

    Build it from a checkpoint (`HFLocalBackend("Qwen/Qwen2.5-7B-Instruct")`, loaded offline from the
    local cache or a folder) or from objects already in memory (`model=..., tokenizer=...`).
    Decoding is greedy, so a reply is a deterministic function of the conversation.

    Args:
        model_name_or_path: checkpoint folder or hub id; ignored when `model` is given.
        max_new_tokens: reply length limit in tokens (judge replies are a few words).
        device: e.g. "cuda:0" or "cpu"; default: CUDA when available, else CPU.
        dtype: torch dtype name for loading ("auto", "bfloat16", "float32"...).
    """

    def __init__(
        self,
        model_name_or_path: str | None = None,
        *,
        model: Any = None,
        tokenizer: Any = None,
        max_new_tokens: int = 64,
        device: str | None = None,
        dtype: str = "auto",
    ) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if model is None:
            if not model_name_or_path:
                raise ValueError("HFLocalBackend needs a checkpoint path/id or an in-memory model.")
            device = device or ("cuda" if torch.cuda.is_available() else "cpu")
            try:
                tokenizer = AutoTokenizer.from_pretrained(model_name_or_path)
                model = AutoModelForCausalLM.from_pretrained(model_name_or_path, dtype=dtype).to(device)
            except OSError as error:
                raise ChatBackendError(
                    f"cannot load the local judge model {model_name_or_path!r}: {error}. Give a folder "
                    f"or a hub id already in the local cache (runs are offline)."
                ) from None
        elif tokenizer is None:
            raise ValueError("HFLocalBackend(model=...) also needs tokenizer=...")
        if getattr(tokenizer, "chat_template", None) is None:
            raise ChatBackendError(
                f"the tokenizer of {model_name_or_path or type(model).__name__} has no chat template: "
                f"use an instruction-tuned (chat) model."
            )
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.max_new_tokens = max_new_tokens
        self.name = f"hf:{model_name_or_path or getattr(model.config, '_name_or_path', '') or type(model).__name__}"

    def complete(self, messages: list[ChatMessage]) -> str:
        """Reply to one conversation."""
        return self.complete_batch([messages])[0]

    def complete_batch(self, conversations: Sequence[list[ChatMessage]]) -> list[str]:
        """Reply to several conversations in one left-padded greedy `generate` call."""
        import torch

        texts = [
            self.tokenizer.apply_chat_template(list(c), add_generation_prompt=True, tokenize=False)
            for c in conversations
        ]
        previous_side = self.tokenizer.padding_side
        self.tokenizer.padding_side = "left"  # new tokens must start at the same column in every row
        try:
            pad_id = self.tokenizer.pad_token_id
            if pad_id is None:
                pad_id = self.tokenizer.eos_token_id
                self.tokenizer.pad_token = self.tokenizer.eos_token
            batch = self.tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
        finally:
            self.tokenizer.padding_side = previous_side
        batch = batch.to(self.model.device)
        with torch.no_grad():
            output = self.model.generate(
                **batch, max_new_tokens=self.max_new_tokens, do_sample=False, pad_token_id=pad_id
            )
        new_tokens = output[:, batch["input_ids"].shape[1] :]
        return [t.strip() for t in self.tokenizer.batch_decode(new_tokens, skip_special_tokens=True)]
