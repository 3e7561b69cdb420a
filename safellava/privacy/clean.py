"""`safellava clean`: write a Safe-LLaVA-style copy of a LLaVA conversation file.

1. explicit: an answer to a human question that asks for a biometric attribute becomes the refusal
   (`SAFE_LLAVA_REFUSAL` unless told otherwise);
2. implicit: biometric descriptors in answers/captions are rewritten by the rules of `rewrite.py`; an
   answer with nothing but biometrics becomes the refusal;
3. optionally, an LLM rewrites what the rules left, behind the fidelity guard of `fidelity.py`.

Questions are not changed (they are not training targets; Safe-LLaVA keeps them). Ids, images, record
order and count and the conversation structure are kept, and nothing else in a record is touched:
unchanged records are copied byte for byte, malformed ones too (and counted). Every change goes to the
change log (JSONL: id, turn, rule, before, after, what is left and why). Cleaning a cleaned file changes
nothing (the rules only produce words the lexicon does not flag).
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter, deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import IO, Iterator

from safellava.errors import UserError
from safellava.privacy.fidelity import LlmRewrite, guarded_rewrite
from safellava.privacy.lexicon import ATTRIBUTES, SAFE_LLAVA_REFUSAL, attributes_asked, leaked_mentions
from safellava.privacy.parallel import Progress, map_ordered
from safellava.privacy.records import (
    ANSWER_SPEAKERS,
    QUESTION_SPEAKERS,
    RawRecord,
    RecordWriter,
    detect_format,
    iter_raw,
    parse_record,
    raw_record_id,
    record_id,
)
from safellava.privacy.rewrite import neutralize, residual_reason

_BATCH_RECORDS = 1000
_KEPT_EXAMPLES = 50


@dataclass(slots=True)
class TurnChange:
    """One changed answer, as written to the change log."""

    id: str
    index: int
    turn: int
    rule: str  # explicit-refusal | implicit-rewrite | all-biometric-refusal | llm-rewrite
    before: str
    after: str
    rules: list[str] = field(default_factory=list)
    residual: list[dict] = field(default_factory=list)
    llm: dict | None = None

    def to_json(self) -> dict:
        out = {"id": self.id, "index": self.index, "turn": self.turn, "rule": self.rule,
               "before": self.before, "after": self.after}
        if self.rules:
            out["rules"] = self.rules
        if self.residual:
            out["residual"] = self.residual
        if self.llm:
            out["llm"] = self.llm
        return out


@dataclass
class CleanStats:
    """What `clean_file` did; `to_json()` is the `--stats` document."""

    input: str = ""
    output: str = ""
    format: str = ""
    refusal: str = SAFE_LLAVA_REFUSAL
    records: int = 0
    malformed: int = 0
    records_changed: int = 0
    turns_changed: int = 0
    explicit_refusals: int = 0
    implicit_rewrites: int = 0
    all_biometric_refusals: int = 0
    questions_asking: Counter = field(default_factory=Counter)
    answers_leaking_before: Counter = field(default_factory=Counter)
    rules: Counter = field(default_factory=Counter)
    residual_records: Counter = field(default_factory=Counter)
    residual_turns: int = 0
    residual_examples: list[dict] = field(default_factory=list)
    malformed_records: list[dict] = field(default_factory=list)
    llm: dict = field(default_factory=dict)
    seconds: float = 0.0

    def to_json(self) -> dict:
        rate = self.records / self.seconds if self.seconds else 0.0
        return {
            "input": self.input,
            "output": self.output,
            "format": self.format,
            "refusal": self.refusal,
            "records": self.records,
            "malformed": self.malformed,
            "records_changed": self.records_changed,
            "turns_changed": self.turns_changed,
            "explicit_refusals": self.explicit_refusals,
            "implicit_rewrites": self.implicit_rewrites,
            "all_biometric_refusals": self.all_biometric_refusals,
            "questions_asking": {a: self.questions_asking[a] for a in ATTRIBUTES},
            "answers_leaking_before": {a: self.answers_leaking_before[a] for a in ATTRIBUTES},
            "rules": dict(sorted(self.rules.items())),
            "residual": {
                "turns": self.residual_turns,
                "records": {a: self.residual_records[a] for a in ATTRIBUTES},
                "examples": self.residual_examples,
            },
            "llm": self.llm or None,
            "malformed_records": self.malformed_records,
            "seconds": round(self.seconds, 2),
            "records_per_second": round(rate, 1),
        }


@dataclass(slots=True)
class _Cleaned:
    """A record the rule-based pass changed, logged or found malformed (made in a worker process)."""

    index: int
    line: int | None
    id: str
    text: str | None  # new JSON text, or None: copy the source text unchanged
    changes: list[TurnChange]
    pending: list[int]  # answer turns still leaking after the rules (for the LLM pass)
    malformed: str | None = None


@dataclass(slots=True)
class _BatchOut:
    """What a worker sends back for one batch: only the records with something to report (most
    records need nothing but their source text, which the main process still has), and counts."""

    cleaned: dict[int, _Cleaned]
    asked: Counter
    leaked_before: Counter


def clean_record(record: dict, index: int, refusal: str) -> tuple[list[TurnChange], list[int], set[str], set[str]]:
    """Clean one parsed record in place. Returns (changes, answer turns still leaking, attributes
    asked, attributes leaked before cleaning)."""
    rid = record_id(record, index)
    changes: list[TurnChange] = []
    pending: list[int] = []
    asked_any: set[str] = set()
    leaked_before: set[str] = set()
    asked: set[str] = set()
    for number, turn in enumerate(record["conversations"]):
        speaker, value = turn["from"], turn["value"]
        if speaker in QUESTION_SPEAKERS:
            asked = attributes_asked(value)
            asked_any |= asked
            continue
        if speaker not in ANSWER_SPEAKERS:
            continue
        leaks = leaked_mentions(value)
        leaked_before |= {m.attribute for m in leaks}
        if asked:
            asked = set()
            if value != refusal:
                turn["value"] = refusal
                changes.append(TurnChange(rid, index, number, "explicit-refusal", value, refusal))
            continue
        if not leaks:
            continue
        rewrite = neutralize(value, leaks)
        if not rewrite.text.strip():
            turn["value"] = refusal
            changes.append(TurnChange(rid, index, number, "all-biometric-refusal", value, refusal, rewrite.rules))
            continue
        residual = [
            {"attribute": m.attribute, "term": m.term, "reason": residual_reason(m)} for m in rewrite.residual
        ]
        if rewrite.changed:
            turn["value"] = rewrite.text
            changes.append(TurnChange(rid, index, number, "implicit-rewrite", value, rewrite.text, rewrite.rules, residual))
        if rewrite.residual:
            pending.append(number)
            if not rewrite.changed:  # log what is left even when the rules could change nothing
                changes.append(TurnChange(rid, index, number, "unchanged-residual", value, value, [], residual))
    return changes, pending, asked_any, leaked_before


def clean_batch(job: tuple[list[tuple[int, int | None, str]], str]) -> _BatchOut:
    """The rule-based pass over one batch of (index, line, text) records (runs in a worker process)."""
    batch, refusal = job
    out = _BatchOut({}, Counter(), Counter())
    for index, line, text in batch:
        record, problem = parse_record(text)
        if record is None:
            out.cleaned[index] = _Cleaned(index, line, raw_record_id(text, index), None, [], [], problem)
            continue
        changes, pending, asked, leaked = clean_record(record, index, refusal)
        out.asked.update(asked)
        out.leaked_before.update(leaked)
        if changes:
            new_text = json.dumps(record, ensure_ascii=False) if any(c.before != c.after for c in changes) else None
            out.cleaned[index] = _Cleaned(index, line, record_id(record, index), new_text, changes, pending)
    return out


def clean_file(
    src: str,
    dst: str,
    *,
    refusal: str = SAFE_LLAVA_REFUSAL,
    changes_path: str | None = None,
    llm: object | None = None,
    fidelity_threshold: float = 0.9,
    llm_concurrency: int = 4,
    workers: int = 1,
    progress: bool = True,
) -> CleanStats:
    """Clean `src` into `dst` (same format). `llm`: a chat backend (`complete(messages) -> str`) for
    what the rules leave, or None. Returns the statistics (also written by the CLI with --stats)."""
    if os.path.abspath(src) == os.path.abspath(dst):
        raise UserError(f"clean: the output {dst} is the input file; write to a new file.")
    if not refusal.strip():
        raise UserError("clean: the refusal text is empty; give a sentence with --refusal.")
    if leaked_mentions(refusal):
        raise UserError(f"clean: the refusal text itself mentions a biometric attribute: {refusal!r}.")
    fmt = detect_format(src)
    stats = CleanStats(input=src, output=dst, format=fmt, refusal=refusal)
    llm_pass = _LlmPass(llm, fidelity_threshold, llm_concurrency) if llm is not None else None
    started = time.perf_counter()
    bar = Progress(os.path.getsize(src), f"clean {os.path.basename(src)}", enabled=progress)
    log: IO[str] | None = open(changes_path, "w", encoding="utf-8") if changes_path else None
    # Batches go to the workers in order and come back in order; the sources wait here meanwhile,
    # so unchanged records are written from their original text without a round trip.
    submitted: deque[list[RawRecord | str]] = deque()

    def jobs() -> Iterator[tuple[list[tuple[int, int | None, str]], str]]:
        for entries in _batches(iter_raw(src, fmt)):
            submitted.append(entries)
            yield [(e.index, e.line, e.text) for e in entries if isinstance(e, RawRecord)], refusal

    try:
        with RecordWriter(dst, fmt) as writer:
            for out in map_ordered(clean_batch, jobs(), workers):
                entries = submitted.popleft()
                stats.questions_asking.update(out.asked)
                stats.answers_leaking_before.update(out.leaked_before)
                last_offset = 0
                for entry in entries:
                    if not isinstance(entry, RawRecord):
                        writer.write_blank()
                        continue
                    last_offset = entry.offset
                    cleaned = out.cleaned.get(entry.index)
                    if cleaned is None:  # nothing to change or report
                        stats.records += 1
                        writer.write(entry.text)
                        continue
                    if llm_pass is not None and cleaned.pending:
                        llm_pass.apply(cleaned, entry.text)
                    _account(stats, cleaned)
                    writer.write(cleaned.text if cleaned.text is not None else entry.text)
                    if log is not None:
                        for change in cleaned.changes:
                            log.write(json.dumps(change.to_json(), ensure_ascii=False) + "\n")
                bar.advance_to(last_offset, stats.records)
    finally:
        bar.close()
        if log is not None:
            log.close()
    stats.seconds = time.perf_counter() - started
    if llm_pass is not None:
        stats.llm = llm_pass.summary()
    return stats


def _batches(items: Iterator[RawRecord | str]) -> Iterator[list[RawRecord | str]]:
    batch: list[RawRecord | str] = []
    records = 0
    for item in items:
        batch.append(item)
        if isinstance(item, RawRecord):
            records += 1
            if records >= _BATCH_RECORDS:
                yield batch
                batch, records = [], 0
    if batch:
        yield batch


def _account(stats: CleanStats, cleaned: _Cleaned) -> None:
    stats.records += 1
    if cleaned.malformed is not None:
        stats.malformed += 1
        stats.malformed_records.append(
            {"index": cleaned.index, "line": cleaned.line, "id": cleaned.id, "reason": cleaned.malformed}
        )
        return
    real = [c for c in cleaned.changes if c.before != c.after]
    if real:
        stats.records_changed += 1
        stats.turns_changed += len(real)
    residual_attributes: set[str] = set()
    for change in cleaned.changes:
        if change.rule == "explicit-refusal":
            stats.explicit_refusals += 1
        elif change.rule == "all-biometric-refusal":
            stats.all_biometric_refusals += 1
        elif change.rule in ("implicit-rewrite", "llm-rewrite"):
            stats.implicit_rewrites += 1
        stats.rules.update(change.rules)
        if change.residual:
            stats.residual_turns += 1
            residual_attributes |= {r["attribute"] for r in change.residual}
            if len(stats.residual_examples) < _KEPT_EXAMPLES:
                stats.residual_examples.append(
                    {"id": change.id, "turn": change.turn, "text": change.after, "left": change.residual}
                )
    stats.residual_records.update(residual_attributes)


class _LlmPass:
    """Guarded LLM rewriting of the answers the rules left leaking, in the main process (a local model
    is loaded once; remote calls run `concurrency` at a time)."""

    def __init__(self, backend: object, threshold: float, concurrency: int) -> None:
        self.backend = backend
        self.threshold = threshold
        self.concurrency = max(1, concurrency)
        self.verdicts: Counter = Counter()
        self.retention: dict[str, list[float]] = {"accepted": [], "rejected": []}

    def apply(self, cleaned: _Cleaned, source: str) -> None:
        """Rewrite the turns of `cleaned` that still leak; accepted rewrites replace them."""
        by_turn = {c.turn: c for c in cleaned.changes}
        jobs = [(turn, by_turn[turn].before, by_turn[turn].after) for turn in cleaned.pending]
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(jobs))) as pool:
            outcomes = list(pool.map(lambda job: guarded_rewrite(job[1], job[2], self.backend, self.threshold), jobs))
        record = None
        for (turn, _, _), outcome in zip(jobs, outcomes):
            self._count(outcome)
            change = by_turn[turn]
            change.llm = {"verdict": outcome.verdict, "retention": _round(outcome.retention), "detail": outcome.detail}
            if not outcome.accepted:
                continue
            if record is None:
                record = json.loads(cleaned.text if cleaned.text is not None else source)
            record["conversations"][turn]["value"] = outcome.text
            change.rule, change.after, change.residual = "llm-rewrite", outcome.text, []
        if record is not None:
            cleaned.text = json.dumps(record, ensure_ascii=False)
        cleaned.pending = [t for t in cleaned.pending if by_turn[t].rule != "llm-rewrite"]

    def _count(self, outcome: LlmRewrite) -> None:
        self.verdicts[outcome.verdict] += 1
        if outcome.retention is not None:
            self.retention["accepted" if outcome.accepted else "rejected"].append(outcome.retention)

    def summary(self) -> dict:
        def mean(values: list[float]) -> float | None:
            return round(sum(values) / len(values), 4) if values else None

        return {
            "backend": getattr(self.backend, "name", type(self.backend).__name__),
            "calls": sum(self.verdicts.values()),
            "verdicts": dict(self.verdicts),
            "fidelity_threshold": self.threshold,
            "mean_retention_accepted": mean(self.retention["accepted"]),
            "mean_retention_rejected": mean(self.retention["rejected"]),
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)
