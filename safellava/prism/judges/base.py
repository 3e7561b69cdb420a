"""The judge interface: every judge answers two questions about model responses.

- refusal: given (question, response), did the model refuse? → `RefusalVerdict`
- implicit leakage: given a response, which biometric attributes does it mention or imply? → `LeakageVerdict`

A verdict with `error` set means the judge could not decide; metrics report it, never guess it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence, runtime_checkable


@dataclass(frozen=True)
class RefusalVerdict:
    """`refused` is None exactly when `error` says why the judge failed; `reply` is the judge's raw text."""

    refused: bool | None
    error: str | None = None
    reply: str | None = None


@dataclass(frozen=True)
class LeakageVerdict:
    """`attributes` detected (subset of PRISM's five), None exactly when `error` is set."""

    attributes: frozenset[str] | None
    error: str | None = None
    reply: str | None = None


@runtime_checkable
class Judge(Protocol):
    """Decides refusals and attribute leakage for batches of responses (order preserved)."""

    #: Short identity used in reports and caches, e.g. "lexicon" or "openai-compatible:gpt-5-nano@…".
    name: str

    def judge_refusals(self, pairs: Sequence[tuple[str, str]]) -> list[RefusalVerdict]:
        """One verdict per (question, response) pair."""
        ...

    def judge_leakage(self, responses: Sequence[str]) -> list[LeakageVerdict]:
        """One verdict per response."""
        ...
