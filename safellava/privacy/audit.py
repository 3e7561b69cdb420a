"""`safellava audit`: how many records of a LLaVA file mention, or ask for, each biometric attribute.

For every record: does any assistant answer (or caption) leak an attribute (`attributes_mentioned`,
refusal-aware), and does any human question ask for one (`attributes_asked`)? Each record counts at most
once per attribute, like the Safe-LLaVA paper's audit of the 558K captions. Malformed records are counted
and listed with their id and line, never skipped silently.

Streaming and multi-process: see `records.py` and `parallel.py`.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Iterable, Iterator

from safellava.privacy.lexicon import ATTRIBUTES, attributes_asked, leaked_mentions
from safellava.privacy.parallel import Progress, map_ordered
from safellava.privacy.records import (
    ANSWER_SPEAKERS,
    QUESTION_SPEAKERS,
    RawRecord,
    detect_format,
    iter_raw,
    parse_record,
    raw_record_id,
    record_id,
)

_BATCH_RECORDS = 2000
_SNIPPET_CHARS = 70


@dataclass
class Malformed:
    """A record that could not be audited (or cleaned): where it is and what is wrong."""

    file: str
    index: int
    line: int | None
    id: str
    reason: str

    def where(self) -> str:
        place = f"line {self.line}" if self.line is not None else f"record #{self.index}"
        return f"{os.path.basename(self.file)} {place} (id {self.id})"


@dataclass
class Example:
    """One finding shown in the report: the record, the turn and the text around the term."""

    file: str
    id: str
    turn: int
    attribute: str
    snippet: str


@dataclass
class AuditReport:
    """Counts of records per attribute; `answers` leak it, `questions` ask for it."""

    files: list[str] = field(default_factory=list)
    records: int = 0
    answers: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ATTRIBUTES, 0))
    questions: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ATTRIBUTES, 0))
    malformed: list[Malformed] = field(default_factory=list)
    answer_examples: dict[str, list[Example]] = field(default_factory=lambda: {a: [] for a in ATTRIBUTES})
    question_examples: dict[str, list[Example]] = field(default_factory=lambda: {a: [] for a in ATTRIBUTES})
    seconds: float = 0.0

    def to_json(self) -> dict:
        """The `--json` document: {"records", "answers", "questions", "malformed"}."""
        return {
            "records": self.records,
            "answers": dict(self.answers),
            "questions": dict(self.questions),
            "malformed": len(self.malformed),
        }


@dataclass
class _BatchResult:
    records: int
    answers: dict[str, int]
    questions: dict[str, int]
    malformed: list[tuple[int, int | None, str, str]]
    answer_examples: dict[str, list[tuple[str, int, str]]]
    question_examples: dict[str, list[tuple[str, int, str]]]
    offset: int


def audit_files(
    paths: Iterable[str], *, examples: int = 3, workers: int = 1, progress: bool = True
) -> AuditReport:
    """Audit LLaVA JSON/JSONL files; `examples` findings per attribute are kept for the report."""
    report = AuditReport(files=[str(p) for p in paths])
    started = time.perf_counter()
    for path in report.files:
        _audit_one(path, report, examples, workers, progress)
    report.seconds = time.perf_counter() - started
    return report


def _audit_one(path: str, report: AuditReport, examples: int, workers: int, progress: bool) -> None:
    fmt = detect_format(path)
    bar = Progress(os.path.getsize(path), f"audit {os.path.basename(path)}", enabled=progress)
    try:
        jobs = ((batch, examples) for batch in _batches(iter_raw(path, fmt)))
        for result in map_ordered(_audit_batch_job, jobs, workers):
            report.records += result.records
            for a in ATTRIBUTES:
                report.answers[a] += result.answers[a]
                report.questions[a] += result.questions[a]
                _keep(report.answer_examples[a], result.answer_examples[a], path, a, examples)
                _keep(report.question_examples[a], result.question_examples[a], path, a, examples)
            report.malformed.extend(Malformed(path, i, line, rid, why) for i, line, rid, why in result.malformed)
            bar.advance_to(result.offset, report.records)
    finally:
        bar.close()


def _keep(kept: list[Example], found: list[tuple[str, int, str]], path: str, attribute: str, limit: int) -> None:
    for rid, turn, snippet in found:
        if len(kept) >= limit:
            return
        kept.append(Example(path, rid, turn, attribute, snippet))


def _batches(items: Iterator[RawRecord | str]) -> Iterator[list[tuple[int, int | None, str, int]]]:
    batch: list[tuple[int, int | None, str, int]] = []
    for item in items:
        if isinstance(item, str):
            continue  # a blank JSONL line is not a record
        batch.append((item.index, item.line, item.text, item.offset))
        if len(batch) >= _BATCH_RECORDS:
            yield batch
            batch = []
    if batch:
        yield batch


def _audit_batch_job(job: tuple[list[tuple[int, int | None, str, int]], int]) -> _BatchResult:
    batch, examples = job
    return audit_batch(batch, examples)


def audit_batch(batch: list[tuple[int, int | None, str, int]], examples: int) -> _BatchResult:
    """Audit one batch of (index, line, text, offset) records (runs in a worker process)."""
    result = _BatchResult(
        records=0,
        answers=dict.fromkeys(ATTRIBUTES, 0),
        questions=dict.fromkeys(ATTRIBUTES, 0),
        malformed=[],
        answer_examples={a: [] for a in ATTRIBUTES},
        question_examples={a: [] for a in ATTRIBUTES},
        offset=batch[-1][3] if batch else 0,
    )
    for index, line, text, _ in batch:
        result.records += 1
        record, problem = parse_record(text)
        if record is None:
            result.malformed.append((index, line, raw_record_id(text, index), problem or "unreadable"))
            continue
        rid = record_id(record, index)
        leaked: set[str] = set()
        asked: set[str] = set()
        for turn_number, turn in enumerate(record["conversations"]):
            speaker, value = turn["from"], turn["value"]
            if speaker in ANSWER_SPEAKERS:
                for mention in leaked_mentions(value):
                    if mention.attribute not in leaked:
                        leaked.add(mention.attribute)
                        found = result.answer_examples[mention.attribute]
                        if len(found) < examples:
                            found.append((rid, turn_number, snippet(value, mention.start, mention.end)))
            elif speaker in QUESTION_SPEAKERS:
                for attribute in attributes_asked(value) - asked:
                    asked.add(attribute)
                    found = result.question_examples[attribute]
                    if len(found) < examples:
                        found.append((rid, turn_number, snippet(value, 0, 0)))
        for a in leaked:
            result.answers[a] += 1
        for a in asked:
            result.questions[a] += 1
    return result


def snippet(text: str, start: int, end: int) -> str:
    """The text around [start, end) on one line, with the span in **bold** (whole text if no span)."""
    if start == end:
        flat = " ".join(text.replace("<image>", "").split())
        return flat if len(flat) <= 2 * _SNIPPET_CHARS else flat[: 2 * _SNIPPET_CHARS] + "…"
    lo, hi = max(0, start - _SNIPPET_CHARS), min(len(text), end + _SNIPPET_CHARS)
    piece = text[lo:start] + "**" + text[start:end] + "**" + text[end:hi]
    piece = " ".join(piece.split())
    return ("…" if lo > 0 else "") + piece + ("…" if hi < len(text) else "")


def format_markdown(report: AuditReport, max_malformed: int = 50) -> str:
    """The audit as Markdown: a table of counts, examples per attribute, and malformed records."""
    names = ", ".join(os.path.basename(f) for f in report.files)
    rate = report.records / report.seconds if report.seconds else 0.0
    lines = [
        f"# Biometric audit: {names}",
        "",
        f"{report.records:,} records ({len(report.malformed):,} malformed) in {report.seconds:.1f} s "
        f"({rate:,.0f} records/s).",
        "",
        "| attribute | answers mentioning it | % of records | questions asking for it | % of records |",
        "|---|---:|---:|---:|---:|",
    ]
    for a in ATTRIBUTES:
        lines.append(
            f"| {a} | {report.answers[a]:,} | {_pct(report.answers[a], report.records)} | "
            f"{report.questions[a]:,} | {_pct(report.questions[a], report.records)} |"
        )
    shown = [a for a in ATTRIBUTES if report.answer_examples[a] or report.question_examples[a]]
    if shown:
        lines += ["", "## Examples"]
        for a in shown:
            lines += ["", f"### {a}"]
            for ex in report.answer_examples[a]:
                lines.append(f"- answer, id {ex.id}, turn {ex.turn}: {ex.snippet}")
            for ex in report.question_examples[a]:
                lines.append(f"- question, id {ex.id}, turn {ex.turn}: {ex.snippet}")
    if report.malformed:
        lines += ["", f"## Malformed records ({len(report.malformed):,}, not audited)", ""]
        for bad in report.malformed[:max_malformed]:
            lines.append(f"- {bad.where()}: {bad.reason}")
        if len(report.malformed) > max_malformed:
            lines.append(f"- … and {len(report.malformed) - max_malformed:,} more")
    return "\n".join(lines) + "\n"


def _pct(count: int, total: int) -> str:
    return f"{100.0 * count / total:.2f}" if total else "0.00"
