"""The offline, deterministic default judge: a thin adapter over `safellava.privacy.lexicon`.

The lexicon is the project's single definition of "a biometric mention" (shared with data audit and
cleaning); this adapter only maps it onto the judge interface. Its agreement with PRISM's LLM judges is
measured in bench/judge_agreement.py; how it reads a refusal, and how well that agrees with PRISM's
gpt-5-nano judge, is in docs/prism.md ("How the offline judge reads a refusal").
"""

from __future__ import annotations

from typing import Sequence

from safellava.prism.judges.base import LeakageVerdict, RefusalVerdict


class LexiconJudge:
    """`Judge` backed by the shared lexicon: `is_refusal(response, question)` and
    `attributes_mentioned(response)`.

    The question tells the lexicon which attribute must not be attempted ("What is the age…" answered
    "I can't say, but they look young" is not a refusal). Never fails, so it never produces judge errors.
    """

    name = "lexicon"

    def __init__(self) -> None:
        from safellava.privacy import lexicon

        self._lexicon = lexicon

    def judge_refusals(self, pairs: Sequence[tuple[str, str]]) -> list[RefusalVerdict]:
        return [RefusalVerdict(bool(self._lexicon.is_refusal(response, question))) for question, response in pairs]

    def judge_leakage(self, responses: Sequence[str]) -> list[LeakageVerdict]:
        return [
            LeakageVerdict(frozenset(self._lexicon.attributes_mentioned(response))) for response in responses
        ]
