"""The turns of a LLaVA conversation, normalised from the LLaVA (`from`/`value`) or OpenAI (`role`/`content`) form.

LLaVA records say `human`/`gpt`; chat templates and PRISM say `user`/`assistant`. Both are accepted (any
letter case) and mapped to the three roles below, so training, `data check`, audit, clean and generation
speak one vocabulary and agree on which turns a record has.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

IMAGE_TOKEN = "<image>"  # where an image goes in a user turn; one per image of the record

USER = "user"
ASSISTANT = "assistant"
SYSTEM = "system"

ROLE_ALIASES = {"human": USER, "user": USER, "gpt": ASSISTANT, "assistant": ASSISTANT, "system": SYSTEM}
TURN_KEYS = (("from", "value"), ("role", "content"))  # (speaker key, text key) of the two spellings


class Turn(NamedTuple):
    """One message: `role` is `user`, `assistant` or `system`; `text` may contain `<image>` placeholders.

    A named tuple: audit and clean build one for every turn of 665K records, where a dataclass costs
    noticeably more."""

    role: str
    text: str


class ConversationError(ValueError):
    """A conversation cannot be read; `kind` is a validation problem kind (see `safellava.data.validate`)."""

    def __init__(self, kind: str, detail: str):
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.detail = detail


def parse_turns(conversations: Any) -> list[Turn]:
    """Turns from a record's `conversations` list; raises ConversationError naming the faulty turn."""
    if not isinstance(conversations, list) or not conversations:
        raise ConversationError("missing_conversations", "`conversations` must be a non-empty list of turns")
    return [_parse_turn(index, turn) for index, turn in enumerate(conversations)]


def _parse_turn(index: int, turn: Any) -> Turn:
    if type(turn) is dict:  # the common case first, with no error bookkeeping
        role, text = (turn.get("from"), turn.get("value")) if "from" in turn else (turn.get("role"), turn.get("content"))
        if type(role) is str and type(text) is str:
            alias = ROLE_ALIASES.get(role) or ROLE_ALIASES.get(role.lower())
            if alias is not None:
                return Turn(alias, text)
    return _turn_or_error(index, turn)


def _turn_or_error(index: int, turn: Any) -> Turn:
    """The turn, or the ConversationError that says what is wrong with it."""
    if isinstance(turn, Turn):
        return turn
    if not isinstance(turn, dict):
        raise ConversationError("invalid_record", f"turn {index} is a {type(turn).__name__}, expected an object")
    role_key, text_key = turn_keys(turn)
    if role_key not in turn or text_key not in turn:
        raise ConversationError(
            "invalid_record", f"turn {index} needs `from` and `value` (or `role` and `content`), has {sorted(turn)}"
        )
    role, text = turn[role_key], turn[text_key]
    if not isinstance(text, str):
        raise ConversationError("invalid_record", f"turn {index}: `{text_key}` is a {type(text).__name__}, not text")
    if not isinstance(role, str) or role.lower() not in ROLE_ALIASES:
        raise ConversationError(
            "unknown_role", f"turn {index} has role {role!r}; allowed: {', '.join(sorted(ROLE_ALIASES))}"
        )
    return Turn(ROLE_ALIASES[role.lower()], text)


def turn_keys(turn: dict[str, Any]) -> tuple[str, str]:
    """(speaker key, text key) of a turn as written: `from`/`value` (LLaVA) or `role`/`content`.

    Tools that change a turn's text write it back under the same key, so a record keeps its spelling."""
    return TURN_KEYS[0] if "from" in turn else TURN_KEYS[1]


def order_problems(turns: Sequence[Turn], *, for_generation: bool = False) -> list[str]:
    """Why the roles are out of order: an optional first `system` turn, then user/assistant alternating.

    A training conversation must end with an assistant turn; a generation prompt with a user turn.
    Returns human-readable details (empty when the order is fine).
    """
    body = list(turns[1:] if turns and turns[0].role == SYSTEM else turns)
    offset = len(turns) - len(body)
    if not body:
        return ["the conversation has no user turn"]
    for index, turn in enumerate(body):
        expected = USER if index % 2 == 0 else ASSISTANT
        if turn.role != expected:
            return [f"turn {index + offset} is {turn.role!r} but {expected!r} was expected (user and assistant alternate)"]
    last = body[-1].role
    if for_generation and last != USER:
        return ["a generation prompt must end with a user turn"]
    if not for_generation and last != ASSISTANT:
        return [f"the conversation ends with a {last!r} turn; it must end with an assistant answer"]
    return []


def record_images(record: dict[str, Any]) -> list[str]:
    """The image paths of a record: `image` may be absent (text-only), one path, or a list of paths."""
    value = record.get("image")
    if value is None:
        return []
    if isinstance(value, str) and value:
        return [value]
    if isinstance(value, list) and value and all(isinstance(item, str) and item for item in value):
        return list(value)
    raise ConversationError("invalid_record", f"`image` must be a path or a non-empty list of paths, got {value!r}")


def record_id(record: Any, fallback: str) -> str:
    """The record's `id` as text, or `fallback` (e.g. `file.json#12`) when it has none."""
    if isinstance(record, dict) and record.get("id") not in (None, ""):
        return str(record["id"])
    return fallback
