"""Streaming reading and writing of LLaVA conversation files (a JSON array or JSON Lines).

A 1 GB LLaVA JSON file is never held as Python objects: `iter_raw` yields each record's exact source
text, found with `json.JSONDecoder.raw_decode` over buffered chunks (JSON) or line by line (JSONL).
Workers parse the text themselves, and unchanged records are written back byte for byte.
Standard library only.
"""

from __future__ import annotations

import codecs
import json
import os
from dataclasses import dataclass
from typing import IO, Iterator

from safellava.errors import UserError

# Speakers of a LLaVA conversation: questions come from the first group, answers from the second.
QUESTION_SPEAKERS = frozenset(("human", "user"))
ANSWER_SPEAKERS = frozenset(("gpt", "assistant", "model"))
OTHER_SPEAKERS = frozenset(("system",))

_CHUNK_BYTES = 1 << 22  # 4 MiB reads
_MAX_RECORD_CHARS = 64 << 20  # a "record" longer than this means the JSON is broken


class RecordFileError(UserError, ValueError):
    """A conversation file cannot be read at all (not JSON/JSONL, broken JSON array)."""


@dataclass(frozen=True, slots=True)
class RawRecord:
    """One record's exact source text. `index` counts records from 0; `line` is the 1-based line in a
    JSONL file (None for a JSON array); `offset` is how many bytes of the file were read so far."""

    index: int
    line: int | None
    text: str
    offset: int


def detect_format(path: str) -> str:
    """ "json" for a JSON array, "jsonl" for JSON Lines, from the first non-blank character."""
    with open(path, "rb") as handle:
        head = handle.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
        while not head:
            more = handle.read(4096)
            if not more:
                raise RecordFileError(f"{path}: the file is empty; expected a LLaVA JSON list or JSON Lines.")
            head = more.lstrip(b" \t\r\n")
    if head[:1] == b"[":
        return "json"
    if head[:1] == b"{":
        return "jsonl"
    raise RecordFileError(
        f"{path}: starts with {head[:20]!r}; expected a LLaVA JSON list ('[') or JSON Lines ('{{' per line)."
    )


def iter_raw(path: str, fmt: str | None = None) -> Iterator[RawRecord | str]:
    """Yield each record of `path` as a `RawRecord`; for JSONL, blank lines are yielded as the
    string "" so that a writer can keep them."""
    fmt = fmt or detect_format(path)
    if fmt == "jsonl":
        yield from _iter_jsonl(path)
    else:
        yield from _iter_json_array(path)


def _iter_jsonl(path: str) -> Iterator[RawRecord | str]:
    index = 0
    offset = 0
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            offset += len(raw)
            # surrogateescape: bytes that are not UTF-8 survive a round trip through the writer
            text = raw.decode("utf-8", errors="surrogateescape").rstrip("\r\n")
            if not text.strip():
                yield ""
                continue
            yield RawRecord(index, number, text, offset)
            index += 1


def _iter_json_array(path: str) -> Iterator[RawRecord]:
    decoder = json.JSONDecoder()
    utf8 = codecs.getincrementaldecoder("utf-8")(errors="surrogateescape")
    with open(path, "rb") as handle:
        offset = 0
        buffer = ""
        eof = False

        def read_more() -> bool:
            nonlocal buffer, offset, eof
            if eof:
                return False
            chunk = handle.read(_CHUNK_BYTES)
            offset += len(chunk)
            if not chunk:
                eof = True
                buffer += utf8.decode(b"", final=True)
                return False
            buffer += utf8.decode(chunk)
            return True

        pos = _expect_open_bracket(path, read_more, lambda: buffer)
        index = 0
        while True:
            pos = _skip_space(buffer, pos)
            while pos >= len(buffer) and read_more():
                pos = _skip_space(buffer, pos)
            if pos >= len(buffer):
                raise RecordFileError(f"{path}: the JSON list is not closed with ']' (truncated file?).")
            char = buffer[pos]
            if char == "]":
                return
            if char == "," and index > 0:
                pos += 1
                continue
            while True:
                try:
                    _, end = decoder.raw_decode(buffer, pos)
                    break
                except json.JSONDecodeError as error:
                    if len(buffer) - pos > _MAX_RECORD_CHARS or not read_more():
                        raise RecordFileError(
                            f"{path}: invalid JSON in record #{index} (character {error.pos - pos} of the record): "
                            f"{error.msg}. Fix the file (or convert it to JSON Lines, where a bad line is skipped and reported)."
                        ) from None
            yield RawRecord(index, None, buffer[pos:end], offset)
            index += 1
            pos = end
            if pos > (1 << 20):  # drop what has been consumed, so the buffer stays small
                buffer = buffer[pos:]
                pos = 0


def _expect_open_bracket(path: str, read_more, get_buffer) -> int:
    while True:
        buffer = get_buffer()
        pos = _skip_space(buffer, 0)
        if pos < len(buffer):
            if buffer[pos] != "[":
                raise RecordFileError(f"{path}: expected a JSON list starting with '['.")
            return pos + 1
        if not read_more():
            raise RecordFileError(f"{path}: the file is empty.")


def _skip_space(buffer: str, pos: int) -> int:
    length = len(buffer)
    while pos < length and buffer[pos] in " \t\r\n\ufeff":
        pos += 1
    return pos


def parse_record(text: str) -> tuple[dict | None, str | None]:
    """Parse one record's text; returns (record, None) or (None, what is wrong with it)."""
    try:
        record = json.loads(text)
    except json.JSONDecodeError as error:
        return None, f"not valid JSON ({error.msg} at column {error.colno})"
    problem = check_record(record)
    return (record, None) if problem is None else (None, problem)


def check_record(record: object) -> str | None:
    """What makes `record` unusable as a LLaVA conversation record, or None if it is fine."""
    if not isinstance(record, dict):
        return f"a record must be a JSON object, not {type(record).__name__}"
    turns = record.get("conversations")
    if turns is None:
        return "no 'conversations' key"
    if not isinstance(turns, list):
        return f"'conversations' must be a list, not {type(turns).__name__}"
    if not turns:
        return "'conversations' is empty"
    for number, turn in enumerate(turns):
        if not isinstance(turn, dict):
            return f"turn {number} is a {type(turn).__name__}, not an object"
        speaker = turn.get("from")
        if not isinstance(speaker, str):
            return f"turn {number} has no string 'from'"
        if speaker not in QUESTION_SPEAKERS | ANSWER_SPEAKERS | OTHER_SPEAKERS:
            return f"turn {number} has an unknown speaker {speaker!r} (expected human/gpt)"
        if not isinstance(turn.get("value"), str):
            return f"turn {number} has no string 'value'"
    return None


def record_id(record: object, index: int) -> str:
    """The record's 'id' as text, or '#<index>' when it has none."""
    if isinstance(record, dict) and record.get("id") is not None:
        return str(record["id"])
    return f"#{index}"


def raw_record_id(text: str, index: int) -> str:
    """Best-effort id of a record that failed to parse (for reports)."""
    try:
        return record_id(json.loads(text), index)
    except (json.JSONDecodeError, RecursionError):
        return f"#{index}"


class RecordWriter:
    """Write records in the format they were read: a JSON list (one record per line inside the
    brackets) or JSON Lines. Use as a context manager; `write(text)` takes a record's JSON text."""

    def __init__(self, path: str, fmt: str) -> None:
        if fmt not in ("json", "jsonl"):
            raise ValueError(f"unknown record format {fmt!r}")
        self.path = path
        self.fmt = fmt
        self._handle: IO[str] | None = None
        self._count = 0

    def __enter__(self) -> "RecordWriter":
        folder = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(folder, exist_ok=True)
        self._handle = open(self.path, "w", encoding="utf-8", errors="surrogateescape", newline="\n")
        if self.fmt == "json":
            self._handle.write("[")
        return self

    def write(self, text: str) -> None:
        assert self._handle is not None
        if self.fmt == "json":
            self._handle.write(",\n" if self._count else "\n")
            self._handle.write(text)
        else:
            self._handle.write(text)
            self._handle.write("\n")
        self._count += 1

    def write_blank(self) -> None:
        """Keep a blank line of a JSONL input (nothing is written for a JSON list)."""
        assert self._handle is not None
        if self.fmt == "jsonl":
            self._handle.write("\n")

    def __exit__(self, *exc: object) -> None:
        assert self._handle is not None
        if self.fmt == "json":
            self._handle.write("\n]\n" if self._count else "]\n")
        self._handle.close()
