"""What can be wrong with a LLaVA record, and the one structural check every tool runs.

Every problem carries the record id, the line where the record starts in its file, a `kind` (one of
`PROBLEM_KINDS`) and a detail saying what is wrong. `check_text` is the structural check (no files, no
tokenizer): training's index, `safellava data check`, `audit` and `clean` all call it, so one file gives the
same problems in every tool. A record is *readable* when its turns can be read (a JSON object whose
`conversations` is a list of turns with a known role and text); audit and clean work on every readable
record and never pass an unreadable one through.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from safellava.records.conversation import (
    ASSISTANT,
    IMAGE_TOKEN,
    ROLE_ALIASES,
    SYSTEM,
    USER,
    ConversationError,
    Turn,
    order_problems,
    parse_turns,
    record_id,
    record_images,
)
from safellava.records.reader import parse_record

# kind -> what it means (shown by `safellava data check` and in docs/data.md)
PROBLEM_KINDS = {
    "invalid_json": "the line or file is not valid JSON (or not UTF-8)",
    "invalid_record": "the record is not an object, or a turn / the `image` field has the wrong shape",
    "missing_conversations": "`conversations` is missing, empty or not a list",
    "unknown_role": "a turn's role is not human/gpt/user/assistant/system",
    "roles_not_alternating": "turns do not alternate user/assistant, or do not end with an answer",
    "empty_assistant_turn": "an assistant turn is empty (nothing to learn from)",
    "image_token_mismatch": "the number of <image> placeholders differs from the number of images",
    "image_path_escape": "an image path points outside image_folder",
    "missing_image": "an image file does not exist",
    "unreadable_image": "an image file exists but cannot be read",
    "corrupt_image": "an image file cannot be decoded",
    "image_too_large": "an image declares more pixels than the decompression-bomb limit (max_image_pixels)",
    "too_long": "the rendered sample (image tokens included) exceeds model_max_length",
    "all_targets_truncated": "after truncation to model_max_length no supervised token is left",
}


@dataclass(frozen=True)
class Problem:
    """One problem of one record. `line` is 1-based (where the record starts), None when unknown."""

    id: str
    line: int | None
    kind: str
    detail: str
    source: str = ""

    def __post_init__(self) -> None:
        if self.kind not in PROBLEM_KINDS:
            raise ValueError(f"unknown problem kind {self.kind!r}; known: {sorted(PROBLEM_KINDS)}")

    def describe(self) -> str:
        where = f"{self.source}:{self.line}" if self.source else f"line {self.line}"
        return f"{where} id={self.id} {self.kind}: {self.detail}"

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "line": self.line, "kind": self.kind, "detail": self.detail}


FILE_ID = "<file>"  # the id of a problem about a whole file (e.g. JSON broken mid-array)


def file_problem(source: str, line: int, detail: str) -> Problem:
    """A fault that stopped the reading of a file, as a problem: records after it were not read."""
    return Problem(FILE_ID, line, "invalid_json", detail, source)


@dataclass
class CheckedRecord:
    """A record's text read and checked: `value` is the parsed JSON (None if invalid), `turns` its
    conversation (None when unreadable), `problems` the (kind, detail) pairs found."""

    id: str
    value: Any
    turns: list[Turn] | None
    problems: list[tuple[str, str]]

    @property
    def readable(self) -> bool:
        return self.turns is not None

    def reason(self) -> str:
        """What is wrong, in one line (for lists of dropped or malformed records)."""
        return "; ".join(f"{kind}: {detail}" for kind, detail in self.problems)


def check_text(text: str, index: int) -> CheckedRecord:
    """Parse and check one record's JSON text; `index` names a record without an id (`#<index>`)."""
    value, error = parse_record(text)
    if error is not None:
        return CheckedRecord(f"#{index}", None, None, [("invalid_json", error)])
    return check_value(value, index)


def check_value(value: Any, index: int) -> CheckedRecord:
    """Check an already parsed record."""
    rid = record_id(value, f"#{index}")
    turns = _turns_of_a_sound_record(value)
    if turns is not None:
        return CheckedRecord(rid, value, turns, [])
    return _check_thoroughly(value, rid)


def _turns_of_a_sound_record(value: Any) -> list[Turn] | None:
    """The turns of a record with no structural problem, found in one pass; None as soon as anything is
    off, and `_check_thoroughly` then says what. Audit and clean check every record of 665K: this pass
    costs a third of the thorough one, and a test holds the two to the same verdicts."""
    if type(value) is not dict:
        return None
    conversations, image = value.get("conversations"), value.get("image")
    if type(conversations) is not list or not conversations:
        return None
    if image is None:
        images = 0
    elif type(image) is str and image:
        images = 1
    else:
        return None  # lists of images and bad shapes: the thorough check
    turns: list[Turn] = []
    expected, placeholders = USER, 0
    for position, turn in enumerate(conversations):
        if type(turn) is not dict:
            return None
        role, text = (turn.get("from"), turn.get("value")) if "from" in turn else (turn.get("role"), turn.get("content"))
        if type(role) is not str or type(text) is not str:
            return None
        role = _ROLE_OF(role) or _ROLE_OF(role.lower())
        if role != expected and not (role == SYSTEM and position == 0):
            return None
        if role == USER:
            placeholders += text.count(IMAGE_TOKEN)
            expected = ASSISTANT
        elif role == ASSISTANT:
            if not text or text.isspace() or IMAGE_TOKEN in text:
                return None
            expected = USER
        elif IMAGE_TOKEN in text:  # a system turn
            return None
        turns.append(_new_tuple(Turn, (role, text)))
    if expected != USER or turns[-1].role != ASSISTANT or placeholders != images:
        return None
    return turns


_ROLE_OF = ROLE_ALIASES.get
_new_tuple = tuple.__new__  # builds a Turn without the named tuple's argument handling


def _check_thoroughly(value: Any, rid: str) -> CheckedRecord:
    """Every structural problem of a record, each with what is wrong."""
    if not isinstance(value, dict):
        return CheckedRecord(rid, value, None, [("invalid_record", f"a record must be a JSON object, got {type(value).__name__}")])
    found: list[tuple[str, str]] = []
    try:
        images: list[str] | None = record_images(value)
    except ConversationError as error:
        found.append((error.kind, error.detail))
        images = None
    try:
        turns = parse_turns(value.get("conversations"))
    except ConversationError as error:
        return CheckedRecord(rid, value, None, found + [(error.kind, error.detail)])
    found += [("roles_not_alternating", detail) for detail in order_problems(turns)]
    found += _turn_problems(turns, images)
    return CheckedRecord(rid, value, turns, found)


def structural_problems(record: Any) -> list[tuple[str, str]]:
    """(kind, detail) for everything wrong with a parsed record that needs no files or tokenizer."""
    return check_value(record, 0).problems


def _turn_problems(turns: list[Turn], images: list[str] | None) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    placeholders = 0
    for index, (role, text) in enumerate(turns):
        if role == USER:
            placeholders += text.count(IMAGE_TOKEN)
            continue
        if role == ASSISTANT and (not text or text.isspace()):
            found.append(("empty_assistant_turn", f"turn {index} (assistant) is empty"))
        if IMAGE_TOKEN in text:
            found.append(("image_token_mismatch", f"turn {index} ({role}) contains {IMAGE_TOKEN}; only user turns may"))
    if images is not None:
        if placeholders != len(images):
            found.append(
                (
                    "image_token_mismatch",
                    f"{placeholders} {IMAGE_TOKEN} placeholder(s) but {len(images)} image(s); "
                    f"put exactly one {IMAGE_TOKEN} per image in the user turns",
                )
            )
    return found
