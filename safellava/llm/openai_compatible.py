"""A chat backend for any OpenAI-compatible `/chat/completions` endpoint, using only the standard library.

Works with OpenAI, Gemini's OpenAI-compatible endpoint, vLLM, llama.cpp server, etc. The API key is read
from an environment variable (never from arguments or files). Transient failures — HTTP 429, 5xx,
timeouts, dropped connections, a reply cut short — are retried with exponential backoff; anything else
(a reply that is not UTF-8 or not JSON, another HTTP error) fails at once. Every failure is a
`ChatBackendError`, so a judge records it against that one item and goes on.

Redirects are never followed: urllib would resend the request, `Authorization` header included, to
whatever host the `Location` names, and the reply from there is not the endpoint's. The key is replaced by
`[redacted]` in every error message and reply text this backend hands back, so a server that echoes it
cannot get it written into judged files or logs.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import socket
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from safellava.llm.backend import ChatBackendError, ChatMessage

#: Base URLs of well-known OpenAI-compatible services (for docs and CLI defaults).
OPENAI_BASE_URL = "https://api.openai.com/v1"
GEMINI_OPENAI_BASE_URL = "https://generativelanguage.googleapis.com/v1beta/openai"

_RETRYABLE_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
REDACTED = "[redacted]"
_SHORTEST_REAL_KEY = 8


class _RefuseRedirects(urllib.request.HTTPRedirectHandler):
    """Returning None makes urllib raise the 3xx as an HTTPError instead of following it."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: D102 (urllib's API)
        return None


_OPENER = urllib.request.build_opener(_RefuseRedirects)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry transient failures.

    Delays are in seconds: attempt k (0-based) waits `min(max_delay, initial_delay * multiplier**k)`,
    scaled by a random factor in [1 - jitter, 1] so concurrent workers do not retry in lockstep.
    A server's `Retry-After` header, when present, is honoured up to `max_delay`.
    """

    max_attempts: int = 6
    initial_delay: float = 1.0
    multiplier: float = 2.0
    max_delay: float = 60.0
    jitter: float = 0.25

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        if retry_after is not None:
            return min(self.max_delay, max(0.0, retry_after))
        base = min(self.max_delay, self.initial_delay * self.multiplier**attempt)
        return base * (1.0 - self.jitter * random.random())


class OpenAICompatibleBackend:
    """`ChatBackend` over HTTP(S) to `{base_url}/chat/completions`.

    Args:
        model: model name sent in the request, e.g. "gpt-5-nano" or "gemini-2.0-flash".
        base_url: endpoint root, e.g. "https://api.openai.com/v1" or "http://127.0.0.1:8000/v1".
        api_key_env: name of the environment variable holding the key; None or "" sends no key
            (local servers such as vLLM without `--api-key`).
        temperature: sent only when not None (gpt-5 models accept only their default).
        timeout: seconds to wait for one HTTP response.
        retry: the `RetryPolicy` for transient failures.
        extra_body: extra JSON fields merged into every request (e.g. {"reasoning_effort": "low"}).
    """

    def __init__(
        self,
        model: str,
        *,
        base_url: str = OPENAI_BASE_URL,
        api_key_env: str | None = "OPENAI_API_KEY",
        temperature: float | None = None,
        timeout: float = 60.0,
        retry: RetryPolicy | None = None,
        extra_body: dict[str, Any] | None = None,
    ) -> None:
        if not model:
            raise ValueError("OpenAICompatibleBackend needs a model name (e.g. 'gpt-5-nano').")
        self.model = model
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.temperature = temperature
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.extra_body = dict(extra_body or {})
        self.name = f"openai-compatible:{model}@{base_url.rstrip('/')}"
        self._api_key: str | None = None
        if api_key_env:
            key = os.environ.get(api_key_env)
            if not key:
                raise ChatBackendError(
                    f"environment variable {api_key_env} is not set: export the API key for {base_url} "
                    f"there (or name another variable; use an empty name for servers without a key)."
                )
            self._api_key = key

    def complete(self, messages: list[ChatMessage]) -> str:
        """Send one chat request and return the reply text (retrying transient failures)."""
        body: dict[str, Any] = {"model": self.model, "messages": list(messages)}
        if self.temperature is not None:
            body["temperature"] = self.temperature
        body.update(self.extra_body)
        payload = json.dumps(body).encode("utf-8")
        try:
            return self.redact(self._complete(payload))
        except ChatBackendError as error:
            raise ChatBackendError(self.redact(str(error)), retryable=error.retryable, status=error.status) from None

    def redact(self, text: str) -> str:
        """`text` with the API key replaced, wherever a server may have echoed it. (A "key" of a few
        characters, as test servers take, is left alone: replacing it would garble ordinary words.)"""
        if self._api_key and len(self._api_key) >= _SHORTEST_REAL_KEY:
            return text.replace(self._api_key, REDACTED)
        return text

    def _complete(self, payload: bytes) -> str:
        last_error: ChatBackendError | None = None
        for attempt in range(self.retry.max_attempts):
            try:
                return _reply_text(self._post(payload))
            except _TransientError as error:
                last_error = ChatBackendError(str(error), retryable=True, status=error.status)
                if attempt + 1 < self.retry.max_attempts:
                    time.sleep(self.retry.delay(attempt, error.retry_after))
        assert last_error is not None
        raise ChatBackendError(
            f"{self.url}: gave up after {self.retry.max_attempts} attempts; last error: {last_error}",
            retryable=True,
            status=last_error.status,
        )

    def _post(self, payload: bytes) -> dict[str, Any]:
        headers = {"Content-Type": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        request = urllib.request.Request(self.url, data=payload, headers=headers, method="POST")
        try:
            with _OPENER.open(request, timeout=self.timeout) as response:
                raw = response.read()
        except urllib.error.HTTPError as error:
            detail = _error_detail(error)
            if 300 <= error.code < 400:
                raise ChatBackendError(
                    f"{self.url}: HTTP {error.code} redirect to {error.headers.get('Location')!r}, not followed (the "
                    f"API key would go along and the reply would not be the endpoint's); set base_url to the final address",
                    retryable=False, status=error.code,
                ) from None
            if error.code in _RETRYABLE_STATUS:
                raise _TransientError(
                    f"HTTP {error.code}: {detail}", error.code, _retry_after(error.headers)
                ) from None
            raise ChatBackendError(
                f"{self.url}: HTTP {error.code}: {detail}", retryable=False, status=error.code
            ) from None
        except (TimeoutError, socket.timeout) as error:
            raise _TransientError(f"timed out after {self.timeout} s ({error})") from None
        except urllib.error.URLError as error:
            # Connection refused/reset and timeouts during connect arrive wrapped in URLError.
            raise _TransientError(f"connection failed: {error.reason}") from None
        except (ConnectionError, OSError) as error:
            raise _TransientError(f"connection failed: {error}") from None
        except http.client.IncompleteRead as error:
            raise _TransientError(f"reply cut short: {len(error.partial)} bytes read, more expected") from None
        except http.client.HTTPException as error:
            raise _TransientError(f"broken HTTP reply: {type(error).__name__}: {error}") from None
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            raise ChatBackendError(
                f"{self.url}: reply is not UTF-8 text (byte {error.start}): {raw[:200]!r}", retryable=False
            ) from None
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            raise ChatBackendError(f"{self.url}: reply is not JSON: {text[:200]!r}", retryable=False) from None


class _TransientError(Exception):
    def __init__(self, message: str, status: int | None = None, retry_after: float | None = None):
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


def _reply_text(reply: dict[str, Any]) -> str:
    """The assistant text of a chat-completions reply; `ChatBackendError` when there is none."""
    try:
        choice = reply["choices"][0]
        content = choice["message"].get("content")
    except (KeyError, IndexError, TypeError, AttributeError):
        raise ChatBackendError(f"reply has no choices[0].message: {json.dumps(reply)[:300]}") from None
    if isinstance(content, list):  # some servers return content parts
        content = "".join(part.get("text", "") for part in content if isinstance(part, dict))
    if not isinstance(content, str) or not content.strip():
        reason = choice.get("finish_reason") if isinstance(choice, dict) else None
        raise ChatBackendError(f"reply has empty content (finish_reason={reason!r})")
    return content


def _retry_after(headers: Any) -> float | None:
    value = headers.get("Retry-After") if headers is not None else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff


def _error_detail(error: urllib.error.HTTPError) -> str:
    try:
        text = error.read().decode("utf-8", "replace")
    except Exception:  # the body is best-effort context only
        text = ""
    return (text or error.reason or "").strip()[:300]
