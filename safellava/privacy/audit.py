"""`safellava audit`: how many records of a LLaVA file mention, or ask for, each biometric attribute.

For every record: does any assistant answer (or caption) leak an attribute (`attributes_mentioned`,
refusal-aware), and does any human question ask for one (`attributes_asked`)? Each record counts at most
once per attribute, like the Safe-LLaVA paper's audit of the 558K captions. Records are read and checked
by the shared LLaVA reader and structural check (`safellava.records`), so the audit lists the same records
and problems as `safellava data check` and training; a record whose turns cannot be read is counted and
listed with its id, line and reason, never skipped silently.

Streaming and multi-process: see `safellava.records.reader` and `parallel.py`.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Iterable, Iterator

from safellava.attributes import ATTRIBUTES
from safellava.privacy.lexicon import attributes_asked, leaked_mentions
from safellava.privacy.parallel import Progress, map_ordered
from safellava.records import ASSISTANT, FILE_ID, IMAGE_TOKEN, USER, Problem, RawRecord, ReadFault, check_text, file_problem, read_records

_BATCH_RECORDS = 2000
_SNIPPET_CHARS = 70


@dataclass
class Unreadable:
    """A record whose turns could not be read, so it was not audited (or cleaned): where and why."""

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
    unreadable: list[Unreadable] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    records_with_problems: int = 0
    answer_examples: dict[str, list[Example]] = field(default_factory=lambda: {a: [] for a in ATTRIBUTES})
    question_examples: dict[str, list[Example]] = field(default_factory=lambda: {a: [] for a in ATTRIBUTES})
    seconds: float = 0.0

    @property
    def file_faults(self) -> list[Problem]:
        """Files that could not be read to their end (records after the fault were not audited)."""
        return [problem for problem in self.problems if problem.id == FILE_ID]

    @property
    def problem_counts(self) -> dict[str, int]:
        """Problems per kind, as `safellava data check` counts them."""
        counts: dict[str, int] = {}
        for problem in self.problems:
            counts[problem.kind] = counts.get(problem.kind, 0) + 1
        return counts

    def complete(self) -> bool:
        """Every record of every file was read and audited."""
        return not self.unreadable and not self.file_faults

    def to_json(self) -> dict:
        """The `--json` document."""
        return {
            "records": self.records,
            "answers": dict(self.answers),
            "questions": dict(self.questions),
            "unreadable": len(self.unreadable),
            "records_with_problems": self.records_with_problems,
            "problems": self.problem_counts,
            "file_faults": [problem.detail for problem in self.file_faults],
        }


@dataclass
class _BatchResult:
    records: int
    answers: dict[str, int]
    questions: dict[str, int]
    unreadable: list[tuple[int, int, str, str]]
    problems: list[tuple[int, str, str, str]]  # (line, id, kind, detail)
    records_with_problems: int
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
    bar = Progress(os.path.getsize(path), f"audit {os.path.basename(path)}", enabled=progress)
    faults: list[ReadFault] = []
    try:
        jobs = ((batch, examples) for batch in _batches(read_records(path), faults))
        for result in map_ordered(_audit_batch_job, jobs, workers):
            report.records += result.records
            for a in ATTRIBUTES:
                report.answers[a] += result.answers[a]
                report.questions[a] += result.questions[a]
                _keep(report.answer_examples[a], result.answer_examples[a], path, a, examples)
                _keep(report.question_examples[a], result.question_examples[a], path, a, examples)
            report.unreadable.extend(Unreadable(path, i, line, rid, why) for i, line, rid, why in result.unreadable)
            report.problems.extend(Problem(rid, line, kind, detail, path) for line, rid, kind, detail in result.problems)
            report.records_with_problems += result.records_with_problems
            bar.advance_to(result.offset, report.records)
    finally:
        bar.close()
    report.problems.extend(file_problem(path, fault.line, fault.detail) for fault in faults)


def _keep(kept: list[Example], found: list[tuple[str, int, str]], path: str, attribute: str, limit: int) -> None:
    for rid, turn, snippet in found:
        if len(kept) >= limit:
            return
        kept.append(Example(path, rid, turn, attribute, snippet))


def _batches(items: Iterator[RawRecord | ReadFault], faults: list[ReadFault]) -> Iterator[list[tuple[int, int, str, int]]]:
    """Batches of (index, line, text, end offset) for the workers; a file fault is kept in `faults`."""
    batch: list[tuple[int, int, str, int]] = []
    for item in items:
        if isinstance(item, ReadFault):
            faults.append(item)
            break
        batch.append((item.index, item.line, item.text, item.offset + item.length))
        if len(batch) >= _BATCH_RECORDS:
            yield batch
            batch = []
    if batch:
        yield batch


def _audit_batch_job(job: tuple[list[tuple[int, int, str, int]], int]) -> _BatchResult:
    batch, examples = job
    return audit_batch(batch, examples)


def audit_batch(batch: list[tuple[int, int, str, int]], examples: int) -> _BatchResult:
    """Audit one batch of (index, line, text, offset) records (runs in a worker process)."""
    result = _BatchResult(
        records=0,
        answers=dict.fromkeys(ATTRIBUTES, 0),
        questions=dict.fromkeys(ATTRIBUTES, 0),
        unreadable=[],
        problems=[],
        records_with_problems=0,
        answer_examples={a: [] for a in ATTRIBUTES},
        question_examples={a: [] for a in ATTRIBUTES},
        offset=batch[-1][3] if batch else 0,
    )
    for index, line, text, _ in batch:
        result.records += 1
        checked = check_text(text, index)
        rid = checked.id
        if checked.problems:
            result.records_with_problems += 1
            result.problems.extend((line, rid, kind, detail) for kind, detail in checked.problems)
        if not checked.readable:
            result.unreadable.append((index, line, rid, checked.reason()))
            continue
        leaked: set[str] = set()
        asked: set[str] = set()
        for turn_number, turn in enumerate(checked.turns):
            speaker, value = turn.role, turn.text
            if speaker == ASSISTANT:
                for mention in leaked_mentions(value):
                    if mention.attribute not in leaked:
                        leaked.add(mention.attribute)
                        found = result.answer_examples[mention.attribute]
                        if len(found) < examples:
                            found.append((rid, turn_number, snippet(value, mention.start, mention.end)))
            elif speaker == USER:
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
        flat = " ".join(text.replace(IMAGE_TOKEN, "").split())
        return flat if len(flat) <= 2 * _SNIPPET_CHARS else flat[: 2 * _SNIPPET_CHARS] + "…"
    lo, hi = max(0, start - _SNIPPET_CHARS), min(len(text), end + _SNIPPET_CHARS)
    piece = text[lo:start] + "**" + text[start:end] + "**" + text[end:hi]
    piece = " ".join(piece.split())
    return ("…" if lo > 0 else "") + piece + ("…" if hi < len(text) else "")


def format_markdown(report: AuditReport, max_listed: int = 50) -> str:
    """The audit as Markdown: a table of counts, examples per attribute, unreadable records, problem counts."""
    names = ", ".join(os.path.basename(f) for f in report.files)
    rate = report.records / report.seconds if report.seconds else 0.0
    lines = [
        f"# Biometric audit: {names}",
        "",
        f"{report.records:,} records ({len(report.unreadable):,} unreadable, not audited; "
        f"{report.records_with_problems:,} with problems) in {report.seconds:.1f} s ({rate:,.0f} records/s).",
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
    for fault in report.file_faults:
        lines += ["", f"**The file could not be read to its end**: {fault.detail}"]
    if report.unreadable:
        lines += ["", f"## Unreadable records ({len(report.unreadable):,}, not audited)", ""]
        for bad in report.unreadable[:max_listed]:
            lines.append(f"- {bad.where()}: {bad.reason}")
        if len(report.unreadable) > max_listed:
            lines.append(f"- … and {len(report.unreadable) - max_listed:,} more")
    if report.problems:
        lines += ["", "## Problems (as `safellava data check` counts them)", ""]
        lines += [f"- {kind}: {count:,}" for kind, count in report.problem_counts.items()]
    return "\n".join(lines) + "\n"


def _pct(count: int, total: int) -> str:
    return f"{100.0 * count / total:.2f}" if total else "0.00"
