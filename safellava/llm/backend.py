"""The chat-backend interface shared by every LLM user in safellava (PRISM judges, LLM rewriting)."""

from __future__ import annotations

from typing import Protocol, TypedDict, runtime_checkable

from safellava.errors import UserError


class ChatMessage(TypedDict):
    """One chat turn in the OpenAI format: role is "system", "user" or "assistant"."""

    role: str
    content: str


class ChatBackendError(UserError, RuntimeError):
    """A chat request failed for good (after any retries): bad reply, HTTP error, timeout, missing key.

    `retryable` tells whether the last failure was transient (rate limit, server error, timeout) so a
    caller can tell "the service is down" from "the request is wrong".
    """

    def __init__(self, message: str, *, retryable: bool = False, status: int | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.status = status


@runtime_checkable
class ChatBackend(Protocol):
    """Anything that answers a chat conversation with one assistant message."""

    #: Identifies the backend and its model in caches and reports, e.g. "openai:gpt-5-nano".
    name: str

    def complete(self, messages: list[ChatMessage]) -> str:
        """Return the assistant's reply text; raise `ChatBackendError` when no reply can be had."""
        ...
