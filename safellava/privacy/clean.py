"""`safellava clean`: write a Safe-LLaVA-style copy of a LLaVA conversation file.

1. explicit: an answer to a human question that asks for a biometric attribute becomes the refusal
   (`SAFE_LLAVA_REFUSAL` unless told otherwise);
2. implicit: biometric descriptors in answers/captions are rewritten by the rules of `rewrite.py`; an
   answer with nothing but biometrics becomes the refusal;
3. optionally, an LLM rewrites what the rules left, behind the fidelity guard of `fidelity.py`.

Questions are not changed (they are not training targets; Safe-LLaVA keeps them). Ids, images, record
order and the conversation structure are kept, and nothing else in a record is touched: unchanged records
are copied byte for byte, and a changed turn keeps its spelling (`from`/`value` or `role`/`content`).
Records are read and checked by the shared LLaVA reader (`safellava.records`), so every record training
accepts is cleaned. A record whose turns cannot be read is never copied through with its text unread: it
is left out of the output and listed (`dropped`, with line and reason). A file that cannot be read to its
end (JSON broken mid-array) stops the run with no output written. The output and the change log are
written atomically (`safellava.atomic`). Every change goes to the change log (JSONL: id, turn, rule,
before, after, what is left and why). Cleaning a cleaned file changes nothing (the rules only produce
words the lexicon does not flag).
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter, deque
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO, Iterator

from safellava.atomic import atomic_write, refuse_overwriting_inputs
from safellava.attributes import ATTRIBUTES, SAFE_LLAVA_REFUSAL
from safellava.errors import UserError
from safellava.privacy.fidelity import LlmRewrite, guarded_rewrite
from safellava.privacy.lexicon import attributes_asked, leaked_mentions
from safellava.privacy.parallel import Progress, map_ordered
from safellava.privacy.rewrite import neutralize, residual_reason
from safellava.records import (
    ASSISTANT,
    USER,
    CheckedRecord,
    RawRecord,
    ReadFault,
    check_text,
    detect_layout,
    read_records,
    turn_keys,
)
from safellava.records.writer import RecordWriter, output_layout

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
    records_written: int = 0
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
    dropped: list[dict] = field(default_factory=list)  # unreadable records left out: index, line, id, reason
    problems: Counter = field(default_factory=Counter)  # structural problems per kind, as `data check` counts
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
            "records_written": self.records_written,
            "dropped": len(self.dropped),
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
            "dropped_records": self.dropped,
            "problems": dict(self.problems),
            "seconds": round(self.seconds, 2),
            "records_per_second": round(rate, 1),
        }


@dataclass(slots=True)
class _Cleaned:
    """A record the rule-based pass changed, logged, found problems in or could not read (made in a worker)."""

    index: int
    line: int
    id: str
    text: str | None  # new JSON text, or None: copy the source text unchanged
    changes: list[TurnChange]
    pending: list[int]  # answer turns still leaking after the rules (for the LLM pass)
    problems: list[str] = field(default_factory=list)  # kinds of the record's structural problems
    unreadable: str | None = None  # why the turns could not be read: the record is dropped


@dataclass(slots=True)
class _BatchOut:
    """What a worker sends back for one batch: only the records with something to report (most
    records need nothing but their source text, which the main process still has), and counts."""

    cleaned: dict[int, _Cleaned]
    asked: Counter
    leaked_before: Counter


def clean_record(checked: CheckedRecord, index: int, refusal: str) -> tuple[list[TurnChange], list[int], set[str], set[str]]:
    """Clean one readable record (`checked.value`) in place. Returns (changes, answer turns still leaking,
    attributes asked, attributes leaked before cleaning)."""
    rid = checked.id
    changes: list[TurnChange] = []
    pending: list[int] = []
    asked_any: set[str] = set()
    leaked_before: set[str] = set()
    asked: set[str] = set()
    raw_turns = checked.value["conversations"]
    for number, turn in enumerate(checked.turns):
        value = turn.text
        if turn.role == USER:
            asked = attributes_asked(value)
            asked_any |= asked
            continue
        if turn.role != ASSISTANT:
            continue
        leaks = leaked_mentions(value)
        leaked_before |= {m.attribute for m in leaks}
        if asked:
            asked = set()
            if value != refusal:
                _set_text(raw_turns[number], refusal)
                changes.append(TurnChange(rid, index, number, "explicit-refusal", value, refusal))
            continue
        if not leaks:
            continue
        rewrite = neutralize(value, leaks)
        if not rewrite.text.strip():
            _set_text(raw_turns[number], refusal)
            changes.append(TurnChange(rid, index, number, "all-biometric-refusal", value, refusal, rewrite.rules))
            continue
        residual = [
            {"attribute": m.attribute, "term": m.term, "reason": residual_reason(m)} for m in rewrite.residual
        ]
        if rewrite.changed:
            _set_text(raw_turns[number], rewrite.text)
            changes.append(TurnChange(rid, index, number, "implicit-rewrite", value, rewrite.text, rewrite.rules, residual))
        if rewrite.residual:
            pending.append(number)
            if not rewrite.changed:  # log what is left even when the rules could change nothing
                changes.append(TurnChange(rid, index, number, "unchanged-residual", value, value, [], residual))
    return changes, pending, asked_any, leaked_before


def _set_text(raw_turn: dict, text: str) -> None:
    """Replace a turn's text under the key the record spells it with (`value` or `content`)."""
    raw_turn[turn_keys(raw_turn)[1]] = text


def clean_batch(job: tuple[list[tuple[int, int, str]], str]) -> _BatchOut:
    """The rule-based pass over one batch of (index, line, text) records (runs in a worker process)."""
    batch, refusal = job
    out = _BatchOut({}, Counter(), Counter())
    for index, line, text in batch:
        checked = check_text(text, index)
        kinds = [kind for kind, _ in checked.problems]
        if not checked.readable:
            out.cleaned[index] = _Cleaned(index, line, checked.id, None, [], [], kinds, checked.reason())
            continue
        changes, pending, asked, leaked = clean_record(checked, index, refusal)
        out.asked.update(asked)
        out.leaked_before.update(leaked)
        if changes or kinds:
            new_text = json.dumps(checked.value, ensure_ascii=False) if any(c.before != c.after for c in changes) else None
            out.cleaned[index] = _Cleaned(index, line, checked.id, new_text, changes, pending, kinds)
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
    what the rules leave, or None. Returns the statistics (also written by the CLI with --stats).

    Raises UserError, leaving nothing at `dst` or `changes_path`, when an output is the input or the input
    cannot be read to its end."""
    refuse_overwriting_inputs([src], {"output": dst, "--changes": changes_path})
    if not refusal.strip():
        raise UserError("clean: the refusal text is empty; give a sentence with --refusal.")
    if leaked_mentions(refusal):
        raise UserError(f"clean: the refusal text itself mentions a biometric attribute: {refusal!r}.")
    layout = output_layout(detect_layout(src))
    stats = CleanStats(input=src, output=dst, format=layout, refusal=refusal)
    llm_pass = _LlmPass(llm, fidelity_threshold, llm_concurrency) if llm is not None else None
    started = time.perf_counter()
    bar = Progress(os.path.getsize(src), f"clean {os.path.basename(src)}", enabled=progress)
    # Batches go to the workers in order and come back in order; the sources wait here meanwhile,
    # so unchanged records are written from their original text without a round trip.
    submitted: deque[list[RawRecord]] = deque()

    def jobs() -> Iterator[tuple[list[tuple[int, int, str]], str]]:
        for entries in _batches(read_records(src)):
            submitted.append(entries)
            yield [(e.index, e.line, e.text) for e in entries], refusal

    try:
        with RecordWriter(dst, layout) as writer, _change_log(changes_path) as log:
            for out in map_ordered(clean_batch, jobs(), workers):
                entries = submitted.popleft()
                stats.questions_asking.update(out.asked)
                stats.answers_leaking_before.update(out.leaked_before)
                for entry in entries:
                    stats.records += 1
                    cleaned = out.cleaned.get(entry.index)
                    if cleaned is None:  # nothing to change or report
                        writer.write(entry.text)
                        continue
                    if cleaned.unreadable is None and llm_pass is not None and cleaned.pending:
                        llm_pass.apply(cleaned, entry.text)
                    if _account(stats, cleaned):
                        writer.write(cleaned.text if cleaned.text is not None else entry.text)
                    if log is not None:
                        for change in cleaned.changes:
                            log.write(json.dumps(change.to_json(), ensure_ascii=False) + "\n")
                bar.advance_to(entries[-1].offset + entries[-1].length, stats.records)
            stats.records_written = writer.count
    finally:
        bar.close()
    stats.seconds = time.perf_counter() - started
    if llm_pass is not None:
        stats.llm = llm_pass.summary()
    return stats


def _batches(items: Iterator[RawRecord | ReadFault]) -> Iterator[list[RawRecord]]:
    """Batches of records; a file that cannot be read to its end stops the run (nothing is written)."""
    batch: list[RawRecord] = []
    for item in items:
        if isinstance(item, ReadFault):
            raise UserError(f"clean: {item.detail}. Nothing was written: a partial copy would look complete.")
        batch.append(item)
        if len(batch) >= _BATCH_RECORDS:
            yield batch
            batch = []
    if batch:
        yield batch


@contextmanager
def _change_log(path: str | None) -> Iterator[IO[str] | None]:
    if path is None:
        yield None
        return
    with atomic_write(path) as handle:
        yield handle


def _account(stats: CleanStats, cleaned: _Cleaned) -> bool:
    """Count what happened to one record; False when it is dropped (its turns could not be read)."""
    stats.problems.update(cleaned.problems)
    if cleaned.unreadable is not None:
        stats.dropped.append({"index": cleaned.index, "line": cleaned.line, "id": cleaned.id, "reason": cleaned.unreadable})
        return False
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
    return True


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
            _set_text(record["conversations"][turn], outcome.text)
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
