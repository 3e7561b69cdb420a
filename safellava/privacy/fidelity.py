"""LLM rewriting for what the rules cannot do, guarded for semantic fidelity.

Any chat backend works: an object with `complete(messages: list[dict]) -> str` (see `safellava.llm`).
A rewrite is accepted only when
1. it leaks nothing (no refusal-aware lexicon hit), and
2. it keeps the original's non-biometric content words — objects, colours of things, counts,
   actions, places — at least at `threshold` (share of the original's content words still present).
Otherwise the rule-based version is kept. Standard library only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from safellava import attributes
from safellava.attributes.builtin import PRISM_ATTRIBUTES
from safellava.privacy.lexicon import PERSON_NOUNS, leaked_mentions
from safellava.privacy.rewrite import neutral_nouns

REWRITE_SYSTEM_PROMPT = (
    "You edit image descriptions and answers so that they reveal nothing about any person's age, gender, "
    "race or ethnicity, eye colour, or body weight and build. Replace gendered or age-marked words with "
    "neutral ones (person, people, individual, child -> person), use they/them/their for people, and "
    "delete descriptors such as young, elderly, Asian, blue-eyed, slim or muscular, and sentences that "
    "only state such attributes. Keep every other detail exactly as it is: objects, colours of things, "
    "numbers and counts, actions, positions, text in the image, and the writing style. Reply with the "
    "edited text only, nothing else."
)

_PRISM_KEYS = frozenset(a.key for a in PRISM_ATTRIBUTES)

_WORD = re.compile(r"[A-Za-z0-9]+(?:['’][A-Za-z]+)?")
# Function words and person words do not count as content: the rewrite may change them freely.
_STOPWORDS = frozenset(
    """a an the and or but of in on at to for with by from as is are was were be been being has have had
    do does did this that these those it its they them their theirs themselves he she him his her hers
    himself herself i we you my our your who whom whose which what there here also very quite some any
    each both all into onto over under while than then so such can could may might would should will
    appears appear seems seem looks look like person people individual individuals someone""".split()
)
_person_words = attributes.cached(
    lambda: PERSON_NOUNS
    | frozenset(neutral_nouns())
    | frozenset(w for value in neutral_nouns().values() for w in value.split())
)


def rewrite_system_prompt() -> str:
    """`REWRITE_SYSTEM_PROMPT`, naming also the registered attributes beyond PRISM's five."""
    extra = [a.name for a in attributes.all_attributes() if a.key not in _PRISM_KEYS]
    if not extra:
        return REWRITE_SYSTEM_PROMPT
    return REWRITE_SYSTEM_PROMPT + f" Treat {', '.join(extra)} the same way."


def _stem(word: str) -> str:
    """A crude stem so that "balls"/"ball" and "holding"/"holds" are one word."""
    for suffix in ("ing", "es", "s", "ed"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def content_words(text: str) -> set[str]:
    """Stems of the non-biometric content words of `text` (mentions, person words and function
    words removed)."""
    spans = [(m.start, m.end) for m in leaked_mentions(text)]
    words = set()
    person_words = _person_words()
    for match in _WORD.finditer(text):
        if any(lo <= match.start() < hi for lo, hi in spans):
            continue
        word = match.group().lower()
        if word in _STOPWORDS or word in person_words:
            continue
        words.add(_stem(word))
    return words


def retention(original: str, rewritten: str) -> float:
    """Share (0–1) of the original's content words that the rewrite still contains."""
    wanted = content_words(original)
    if not wanted:
        return 1.0
    kept = {_stem(m.group().lower()) for m in _WORD.finditer(rewritten)}
    return len(wanted & kept) / len(wanted)


@dataclass(frozen=True)
class LlmRewrite:
    """The outcome of one guarded LLM rewrite. `text` is what to use: the LLM's text when accepted,
    else the fallback. `verdict`: "accepted", "rejected-fidelity", "rejected-leak", "rejected-empty"
    or "error"; `retention` is measured on the LLM's text (None on error)."""

    text: str
    verdict: str
    retention: float | None
    detail: str = ""

    @property
    def accepted(self) -> bool:
        return self.verdict == "accepted"


def guarded_rewrite(original: str, fallback: str, backend: object, threshold: float = 0.9) -> LlmRewrite:
    """Ask `backend` to neutralise `original`; keep its answer only if it passes the guard."""
    messages = [
        {"role": "system", "content": rewrite_system_prompt()},
        {"role": "user", "content": original},
    ]
    try:
        reply = backend.complete(messages)  # type: ignore[attr-defined]
    except Exception as error:  # a backend failure must not stop a 665K-record job: count it
        return LlmRewrite(fallback, "error", None, f"{type(error).__name__}: {error}")
    candidate = _strip_wrapping(reply or "")
    if not candidate.strip() or len(candidate) > 2 * len(original) + 200:
        return LlmRewrite(fallback, "rejected-empty", 0.0, "empty or runaway reply")
    kept = retention(original, candidate)
    if leaked_mentions(candidate):
        left = ", ".join(sorted({m.term for m in leaked_mentions(candidate)}))
        return LlmRewrite(fallback, "rejected-leak", kept, f"still mentions: {left}")
    if kept < threshold:
        lost = sorted(content_words(original) - {_stem(m.group().lower()) for m in _WORD.finditer(candidate)})
        return LlmRewrite(fallback, "rejected-fidelity", kept, "dropped: " + ", ".join(lost[:12]))
    return LlmRewrite(candidate, "accepted", kept)


def _strip_wrapping(reply: str) -> str:
    """Remove quotes or a code fence a chat model may wrap its answer in."""
    text = reply.strip()
    if text.startswith("```") and text.endswith("```"):
        text = text.strip("`").split("\n", 1)[-1].strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        text = text[1:-1].strip()
    return text
