"""Checks of LLaVA records beyond their structure (image files), and the report that counts every problem.

The problem kinds and the structural check live with the record format (`safellava.records`), shared by
every tool. Training and `safellava data check` add the image checks here: `data check` lists everything;
training skips a faulty record and counts it (`validation="skip"`) or stops at the first one
(`validation="strict"`). Nothing is dropped without being counted.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from safellava.data.images import ImageLoadError, check_image
from safellava.errors import UserError
from safellava.records import PROBLEM_KINDS, Problem

IMAGE_CHECKS = ("none", "exists", "header", "decode")


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
    try:
        check_image(path, decode=depth == "decode")
    except ImageLoadError as error:
        return (error.kind, error.detail)
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
