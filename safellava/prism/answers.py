"""PRISM answer files: `{"question_id", "prompt", "text", "answer_id", "model_id", "metadata": {}}` per line.

Generation appends answers as it goes, so an interrupted run keeps what it finished and a rerun skips
those questions. Published PRISM result files that carry the reply under `response` instead of `text`
are read too.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from safellava.atomic import atomic_write
from safellava.errors import UserError
from safellava.prism.json_lines import json_lines
from safellava.prism.tasks import Question


class AnswerFileError(UserError, ValueError):
    """An answer file is malformed; the message names the file, line and key."""


@dataclass(frozen=True)
class Answer:
    """One model answer; `prompt` is the question text, `text` the model's reply."""

    question_id: str
    prompt: str
    text: str
    model_id: str = ""
    answer_id: str = ""
    source: str = ""
    line: int = 0

    @property
    def key(self) -> tuple[str, str]:
        return (self.question_id, self.prompt)

    def to_record(self) -> dict:
        return {
            "question_id": self.question_id,
            "prompt": self.prompt,
            "text": self.text,
            "answer_id": self.answer_id,
            "model_id": self.model_id,
            "metadata": {},
        }


def make_answer(question: Question, text: str, model_id: str) -> Answer:
    """An answer to `question` with a deterministic id (same model + question → same id)."""
    digest = hashlib.sha1(f"{model_id}\0{question.question_id}\0{question.text}".encode()).hexdigest()
    return Answer(question.question_id, question.text, text, model_id, digest[:22])


def read_answers(path: str | os.PathLike, *, tolerate_torn_tail: bool = False) -> list[Answer]:
    """Read an answer file.

    Args:
        tolerate_torn_tail: accept an unparseable LAST line (a run killed mid-write) and drop it;
            used only when resuming our own files. Any other bad line is an `AnswerFileError`.
    """
    path = Path(path)
    # A torn last line is an interrupted write, redone on resume.
    lines = json_lines(path, AnswerFileError, tolerate_torn_tail=tolerate_torn_tail)
    return [_answer(record, where, str(path), number) for number, where, record in lines]


def _answer(record: object, where: str, source: str, line: int) -> Answer:
    if not isinstance(record, dict):
        raise AnswerFileError(f"{where}: expected a JSON object per line.")
    text = record.get("text", record.get("response"))
    if not isinstance(text, str):
        raise AnswerFileError(f"{where}: no reply: expected a string field 'text' (or 'response').")
    if not isinstance(record.get("question_id"), str):
        raise AnswerFileError(f"{where}: missing string field 'question_id'.")
    prompt = record.get("prompt")
    if not isinstance(prompt, str):
        raise AnswerFileError(f"{where}: missing string field 'prompt' (the question text).")
    return Answer(
        question_id=record["question_id"],
        prompt=prompt,
        text=text,
        model_id=str(record.get("model_id", "")),
        answer_id=str(record.get("answer_id", "")),
        source=source,
        line=line,
    )


def append_answers(path: str | os.PathLike, answers: Iterable[Answer]) -> None:
    """Append answers and flush them to disk, so a crash loses at most the batch being written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as handle:
        for answer in answers:
            handle.write(json.dumps(answer.to_record(), ensure_ascii=False) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def write_answers(path: str | os.PathLike, answers: Sequence[Answer]) -> None:
    """Write a whole answer file atomically (temp file + rename)."""
    with atomic_write(path) as handle:
        for answer in answers:
            handle.write(json.dumps(answer.to_record(), ensure_ascii=False) + "\n")
