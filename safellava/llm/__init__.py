"""Chat backends: one small interface (`ChatBackend.complete(messages) -> str`) over remote
OpenAI-compatible endpoints and local Hugging Face models.

Used by the PRISM LLM judges and by `safellava clean` for LLM rewriting. Importing this package is cheap:
`HFLocalBackend` imports torch/transformers only when it is built.
"""

from __future__ import annotations

from safellava.llm.backend import ChatBackend, ChatBackendError, ChatMessage
from safellava.llm.openai_compatible import OpenAICompatibleBackend, RetryPolicy

__all__ = [
    "ChatBackend",
    "ChatBackendError",
    "ChatMessage",
    "HFLocalBackend",
    "OpenAICompatibleBackend",
    "RetryPolicy",
]


def __getattr__(name: str):
    # Lazy so that `import safellava.llm` never pulls in torch.
    if name == "HFLocalBackend":
        from safellava.llm.hf_local import HFLocalBackend

        return HFLocalBackend
    raise AttributeError(f"module 'safellava.llm' has no attribute {name!r}")
