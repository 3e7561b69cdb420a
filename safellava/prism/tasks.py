"""PRISM task files: reading questions, telling tasks apart, and finding their images.

A task file is JSONL, one question per line:
`{"question_id": "Age/small_00001.jpg", "image": "Age/small_00001.jpg", "text": "...", "category": "Age"}`
(benign control questions add `"answers": ["red", ...]`). The task is read from the file name
(`*refusal_soft*`, `*refusal_hard*`, `*implicit_leakage*`, `*benign*`). Implicit-leakage files reuse one
question_id for the three prompts of an image, so a question is identified by (question_id, text).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

from safellava import attributes
from safellava.errors import UserError
from safellava.prism.json_lines import json_lines

#: The PRISM tasks plus the benign control set that PRISM lacks.
TASKS = ("refusal_soft", "refusal_hard", "implicit_leakage", "benign")
REFUSAL_TASKS = ("refusal_soft", "refusal_hard")


class TaskFileError(UserError, ValueError):
    """A task file is malformed; the message names the file, line and key."""


@dataclass(frozen=True)
class Question:
    """One PRISM question. `line` is 1-based within `source`."""

    question_id: str
    image: str
    text: str
    category: str
    task: str
    source: str = ""
    line: int = 0
    answers: tuple[str, ...] = ()
    kind: str = ""  # benign questions: the kind of question ("color", "count"…), optional in the task file

    @property
    def key(self) -> tuple[str, str]:
        """Unique identity within a task: implicit files repeat a question_id with three prompts."""
        return (self.question_id, self.text)

    @property
    def attribute(self) -> str | None:
        """The attribute asked about (refusal tasks), e.g. "eye_color"; None for implicit/benign."""
        attribute = attributes.for_category(self.category)
        return attribute.key if attribute is not None else None


@dataclass
class TaskSet:
    """Questions grouped by task, remembering which file each came from (answers mirror files)."""

    files: dict[Path, list[Question]] = field(default_factory=dict)
    #: files found in a folder whose name names no task (listed so nothing is skipped silently)
    skipped_files: list[Path] = field(default_factory=list)

    def by_task(self) -> dict[str, list[Question]]:
        grouped: dict[str, list[Question]] = {}
        for questions in self.files.values():
            for question in questions:
                grouped.setdefault(question.task, []).append(question)
        return grouped

    def task_of(self, path: Path) -> str:
        return self.files[path][0].task


def attribute_categories() -> str:
    """The categories a refusal question may have, for messages: "Age, Gender, Race, Eye_Color, Weight"."""
    return ", ".join(a.category for a in attributes.all_attributes())


def task_from_name(name: str) -> str | None:
    """The task a file name stands for (`small_PRISM_refusal_soft.jsonl` → "refusal_soft"), or None."""
    found = [task for task in TASKS if task in Path(name).name]
    if len(found) > 1:
        raise TaskFileError(f"{name}: the name matches several tasks {found}; pass the task explicitly.")
    return found[0] if found else None


def load_tasks(paths: Iterable[str | os.PathLike], task: str | None = None) -> TaskSet:
    """Read task files and folders of task files.

    Args:
        paths: JSONL files, or folders whose `*.jsonl` files are read when their name names a task.
        task: force this task for every file (otherwise it comes from each file name).
    Raises:
        TaskFileError: unreadable or malformed file, unknown task, duplicate question.
    """
    if task is not None and task not in TASKS:
        raise TaskFileError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}.")
    task_set = TaskSet()
    for raw_path in paths:
        path = Path(raw_path)
        if path.is_dir():
            for file in sorted(path.glob("*.jsonl")):
                file_task = task or task_from_name(file.name)
                if file_task is None:
                    task_set.skipped_files.append(file)
                else:
                    task_set.files[file] = read_task_file(file, file_task)
        elif path.is_file():
            file_task = task or task_from_name(path.name)
            if file_task is None:
                raise TaskFileError(
                    f"{path}: cannot tell the task from the file name; it should contain one of "
                    f"{', '.join(TASKS)}, or pass the task explicitly."
                )
            task_set.files[path] = read_task_file(path, file_task)
        else:
            raise TaskFileError(f"{path}: no such task file or folder.")
    if not task_set.files:
        raise TaskFileError(
            f"no PRISM task files found in {[str(p) for p in paths]} (expected names containing "
            f"{', '.join(TASKS)})."
        )
    _check_unique_keys(task_set)
    return task_set


def read_task_file(path: Path, task: str) -> list[Question]:
    """Parse one task file; every malformed line is an error naming `path:line` and the key."""
    questions = []
    for number, where, record in json_lines(path, TaskFileError):
        if not isinstance(record, dict):
            raise TaskFileError(f"{where}: expected a JSON object per line.")
        questions.append(_question(record, task, where, str(path), number))
    if not questions:
        raise TaskFileError(f"{path}: the file has no questions.")
    return questions


def _question(record: dict, task: str, where: str, source: str, number: int) -> Question:
    for key in ("question_id", "image", "text"):
        if not isinstance(record.get(key), str) or not record[key]:
            raise TaskFileError(f"{where}: missing or empty string field {key!r}.")
    category = record.get("category") or record["question_id"].split("/", 1)[0]
    if task in REFUSAL_TASKS and attributes.for_category(category) is None:
        raise TaskFileError(
            f"{where}: category {category!r} is not a PRISM attribute ({attribute_categories()}); "
            f"a refusal question must ask about one."
        )
    answers: tuple[str, ...] = ()
    if task == "benign":
        raw = record.get("answers")
        if not isinstance(raw, list) or not raw or not all(isinstance(a, str) and a for a in raw):
            raise TaskFileError(f"{where}: a benign question needs 'answers', a non-empty list of strings.")
        answers = tuple(raw)
    kind = record.get("kind", "")
    if not isinstance(kind, str):
        raise TaskFileError(f"{where}: 'kind' must be a string (the kind of benign question), not {kind!r}.")
    return Question(
        question_id=record["question_id"],
        image=record["image"],
        text=record["text"],
        category=category,
        task=task,
        source=source,
        line=number,
        answers=answers,
        kind=kind,
    )


def _check_unique_keys(task_set: TaskSet) -> None:
    for task, questions in task_set.by_task().items():
        seen: dict[tuple[str, str], Question] = {}
        for question in questions:
            first = seen.setdefault(question.key, question)
            if first is not question:
                raise TaskFileError(
                    f"{question.source}:{question.line}: question {question.question_id!r} with the same "
                    f"text already appears at {first.source}:{first.line} ({task}); remove the duplicate."
                )


class ImageLocator:
    """Finds a question's image under one root: `root/image`, then `root/<basename>`, then any file
    with that basename below the root (PRISM locates images by basename only)."""

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise FileNotFoundError(f"image folder {self.root} does not exist.")
        self._index: dict[str, list[Path]] | None = None

    def find(self, image: str) -> Path | None:
        for candidate in (self.root / image, self.root / Path(image).name):
            if candidate.is_file():
                return candidate
        matches = self._basename_index().get(Path(image).name, [])
        if len(matches) > 1:
            shown = ", ".join(str(m) for m in matches[:3])
            raise FileNotFoundError(
                f"image {image!r} is ambiguous: several files named {Path(image).name!r} under "
                f"{self.root} ({shown}); point the image root at one set."
            )
        return matches[0] if matches else None

    def resolve_all(self, questions: Sequence[Question]) -> dict[str, Path]:
        """Map every distinct `image` field to a file whose header reads as an image within the pixel limit;
        raise listing the missing and unusable ones, before any question is answered."""
        found: dict[str, Path] = {}
        missing: dict[str, Question] = {}  # by basename: one missing file can serve many questions
        for question in questions:
            if question.image in found or Path(question.image).name in missing:
                continue
            path = self.find(question.image)
            if path is None:
                missing[Path(question.image).name] = question
            else:
                found[question.image] = path
        if missing:
            shown = "; ".join(f"{q.image} ({q.source}:{q.line})" for q in list(missing.values())[:5])
            raise FileNotFoundError(
                f"{len(missing)} image file(s) not found under {self.root}, e.g. {shown}. Images are found by "
                f"basename anywhere under the image root; check --images."
            )
        _check_headers(found)
        return found

    def _basename_index(self) -> dict[str, list[Path]]:
        if self._index is None:
            index: dict[str, list[Path]] = {}
            for directory, _, names in os.walk(self.root):
                for name in names:
                    index.setdefault(name, []).append(Path(directory) / name)
            self._index = index
        return self._index


def sample_tasks(task_set: TaskSet, limit: int, seed: int = 0) -> TaskSet:
    """Keep at most `limit` questions per task, drawn uniformly with `seed` (same seed, same subset).

    The kept questions stay in file order, so a rerun with the same limit and seed resumes cleanly.
    """
    if limit <= 0:
        raise ValueError(f"limit must be positive, got {limit}.")
    import random

    kept_keys: set[tuple[str, str, str]] = set()
    for task, questions in sorted(task_set.by_task().items()):
        chosen = questions if len(questions) <= limit else random.Random(f"{seed}:{task}").sample(questions, limit)
        kept_keys.update((task, *q.key) for q in chosen)
    sampled = TaskSet(skipped_files=list(task_set.skipped_files))
    for path, questions in task_set.files.items():
        kept = [q for q in questions if (q.task, *q.key) in kept_keys]
        if kept:
            sampled.files[path] = kept
    return sampled


class UnusableImagesError(UserError):
    """Images of PRISM questions exist but cannot be used (not an image, broken, a decompression bomb)."""


def _check_headers(found: dict[str, Path]) -> None:
    from safellava.data.images import ImageLoadError, check_image

    problems = []
    for path in sorted(set(found.values())):  # several questions share an image
        try:
            check_image(path, decode=False)
        except ImageLoadError as error:
            problems.append(f"{error.kind}: {error.detail}")
    if problems:
        shown = "\n  ".join(problems[:10]) + (f"\n  … and {len(problems) - 10} more" if len(problems) > 10 else "")
        raise UnusableImagesError(
            f"{len(problems)} image file(s) of the PRISM questions cannot be used; nothing was generated:\n  {shown}"
        )
