"""What can be wrong with a LLaVA record, the checks that find it, and the report that counts it.

Every problem carries the record id, the line where the record starts in its file, a `kind` (one of
`PROBLEM_KINDS`) and a detail saying what is wrong. Training and `safellava data check` use the same
checks: `data check` lists everything; training skips a faulty record and counts it (`validation="skip"`)
or stops at the first one (`validation="strict"`). Nothing is dropped without being counted.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from safellava.data import IMAGE_TOKEN
from safellava.data.conversation import (
    ASSISTANT,
    USER,
    ConversationError,
    order_problems,
    parse_turns,
    record_images,
)
from safellava.errors import UserError

# kind -> what it means (shown by `safellava data check` and in docs/data.md)
PROBLEM_KINDS = {
    "invalid_json": "the line or file is not valid JSON",
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
    "too_long": "the rendered sample (image tokens included) exceeds model_max_length",
    "all_targets_truncated": "after truncation to model_max_length no supervised token is left",
}

IMAGE_CHECKS = ("none", "exists", "header", "decode")


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


class DataValidationError(UserError, ValueError):
    """Raised in strict mode at the first problem; the message names the record and what to fix."""

    def __init__(self, problem: Problem):
        super().__init__(
            f"{problem.describe()}\n(strict validation stops at the first problem; run `safellava data check` "
            f"to list them all, fix the data, or train with validation='skip' to skip and count them)"
        )
        self.problem = problem


@dataclass
class ValidationReport:
    """Counts of records seen/kept/dropped and every problem found. Merge reports of several processes."""

    records_seen: int = 0
    records_dropped: int = 0
    records_truncated: int = 0  # kept, but cut to model_max_length (LLaVA behaviour; not a problem)
    problems: list[Problem] = field(default_factory=list)

    @property
    def records_kept(self) -> int:
        return self.records_seen - self.records_dropped

    @property
    def counts(self) -> dict[str, int]:
        """Problems per kind, in the order of PROBLEM_KINDS."""
        counter = Counter(problem.kind for problem in self.problems)
        return {kind: counter[kind] for kind in PROBLEM_KINDS if counter[kind]}

    def add(self, problems: Iterable[Problem], *, dropped: bool = True) -> None:
        """Record the problems of one record; `dropped` counts the record as removed from training."""
        problems = list(problems)
        self.problems.extend(problems)
        if problems and dropped:
            self.records_dropped += 1

    def merge(self, other: ValidationReport) -> ValidationReport:
        return ValidationReport(
            records_seen=self.records_seen + other.records_seen,
            records_dropped=self.records_dropped + other.records_dropped,
            records_truncated=self.records_truncated + other.records_truncated,
            problems=self.problems + other.problems,
        )

    def summary(self) -> str:
        """A few lines for logs: totals, then one line per problem kind."""
        lines = [
            f"{self.records_seen} records: {self.records_kept} kept, {self.records_dropped} dropped, "
            f"{self.records_truncated} truncated to model_max_length"
        ]
        lines += [f"  {kind}: {count}  ({PROBLEM_KINDS[kind]})" for kind, count in self.counts.items()]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "records": self.records_seen,
            "records_kept": self.records_kept,
            "records_dropped": self.records_dropped,
            "records_truncated": self.records_truncated,
            "counts": self.counts,
            "problems": [problem.to_dict() for problem in self.problems],
        }


def structural_problems(record: Any) -> list[tuple[str, str]]:
    """(kind, detail) for everything wrong with a parsed record that needs no files or tokenizer."""
    if not isinstance(record, dict):
        return [("invalid_record", f"a record must be a JSON object, got {type(record).__name__}")]
    found: list[tuple[str, str]] = []
    try:
        images = record_images(record)
    except ConversationError as error:
        found.append((error.kind, error.detail))
        images = None
    try:
        turns = parse_turns(record.get("conversations"))
    except ConversationError as error:
        return found + [(error.kind, error.detail)]
    found += [("roles_not_alternating", detail) for detail in order_problems(turns)]
    for index, turn in enumerate(turns):
        if turn.role == ASSISTANT and not turn.text.strip():
            found.append(("empty_assistant_turn", f"turn {index} (assistant) is empty"))
        if turn.role != USER and IMAGE_TOKEN in turn.text:
            found.append(("image_token_mismatch", f"turn {index} ({turn.role}) contains {IMAGE_TOKEN}; only user turns may"))
    if images is not None:
        placeholders = sum(turn.text.count(IMAGE_TOKEN) for turn in turns if turn.role == USER)
        if placeholders != len(images):
            found.append(
                (
                    "image_token_mismatch",
                    f"{placeholders} {IMAGE_TOKEN} placeholder(s) but {len(images)} image(s); "
                    f"put exactly one {IMAGE_TOKEN} per image in the user turns",
                )
            )
    return found


def resolve_image_path(image_folder: str | Path, relative: str) -> Path:
    """`image_folder/relative`, refusing paths that leave image_folder (`..`, absolute paths, symlinks out)."""
    folder = Path(image_folder).resolve()
    path = (folder / relative).resolve()
    if not path.is_relative_to(folder):
        raise ImagePathEscape(f"image path {relative!r} resolves to {path}, outside image_folder {folder}")
    return path


class ImagePathEscape(ValueError):
    """An image path leaves image_folder."""


def image_file_problem(image_folder: str | Path | None, relative: str, depth: str = "decode") -> tuple[str, str] | None:
    """(kind, detail) if the image cannot be used, else None.

    `depth`: `exists` (stat only), `header` (Pillow reads the header: catches non-images), `decode` (all pixels:
    catches truncated files too), `none` (path checks only).
    """
    if depth not in IMAGE_CHECKS:
        raise ValueError(f"image check depth {depth!r}; choose one of {IMAGE_CHECKS}")
    if image_folder is None:
        return ("missing_image", f"record has image {relative!r} but no image_folder was given")
    try:
        path = resolve_image_path(image_folder, relative)
    except ImagePathEscape as error:
        return ("image_path_escape", str(error))
    if depth == "none":
        return None
    if not path.is_file():
        return ("missing_image", f"{path} does not exist (image {relative!r} under {image_folder})")
    if not os.access(path, os.R_OK):
        return ("unreadable_image", f"{path} is not readable (check its permissions)")
    if depth == "exists":
        return None
    return _decode_problem(path, full=depth == "decode")


def _decode_problem(path: Path, *, full: bool) -> tuple[str, str] | None:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            if full:
                image.load()
    except (UnidentifiedImageError, SyntaxError, ValueError) as error:
        return ("corrupt_image", f"{path} is not a decodable image: {error}")
    except OSError as error:
        # Pillow raises OSError both for I/O failures and for truncated image data.
        kind = "corrupt_image" if "truncated" in str(error).lower() or "image file" in str(error).lower() else "unreadable_image"
        return (kind, f"{path}: {error}")
    return None


def write_problems_jsonl(problems: Iterable[Problem], path: str | Path) -> None:
    """Append problems to a JSON-lines file (one object per problem), e.g. from a data-loader worker."""
    with open(path, "a", encoding="utf-8") as handle:
        for problem in problems:
            handle.write(json.dumps(asdict(problem)) + "\n")


def read_problems_dir(folder: str | Path) -> list[Problem]:
    """Problems appended by every process (`*.jsonl` under `folder`), for one merged report."""
    problems: list[Problem] = []
    for path in sorted(Path(folder).glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                problems.append(Problem(**json.loads(line)))
    return problems
