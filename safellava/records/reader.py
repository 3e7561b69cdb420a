"""Streaming a LLaVA data file record by record, with where each record lies in the file.

A 1 GB LLaVA file is never held as Python objects. `read_records` yields each record's exact source text
with its byte range and starting line, so callers can index it (training), parse it in worker processes
(audit, clean) or copy it unchanged. Three layouts are read:

- a JSON array of records (LLaVA's own files): streamed element by element; JSON broken mid-array stops
  the reading there with a `ReadFault` (nothing after it can be trusted), as does text after the `]`;
- JSON Lines: one record per line; a line that is not one JSON value is still yielded (its parse fails
  later and it is counted as `invalid_json`), so one bad line never hides the rest of the file;
- concatenated JSON objects (pretty-printed records one after another): recognised when the first line is
  an incomplete object, and streamed like an array without brackets.

A UTF-8 byte order mark is skipped. Bytes that are not UTF-8 are kept (surrogate-escaped) so that such a
record can be reported with its line; `parse_record` turns it into an `invalid_json` problem. An empty file
is a `ReadFault`: a data file without records is always a mistake. Standard library only.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

BOM = b"\xef\xbb\xbf"
_CHUNK_BYTES = 1 << 22  # 4 MiB per read
_MAX_RECORD_CHARS = 64 << 20  # a "record" longer than this means the JSON is broken


class RawRecord(NamedTuple):
    """One record as it stands in its file.

    `index` counts records from 0; `line` is the 1-based line where the record starts; `offset` and
    `length` are its byte range in the file; `text` is that range decoded (surrogate-escaped where the
    bytes are not UTF-8). `value` is the parsed record when the reader was asked to keep what it had to
    parse anyway (JSON arrays, `keep_values=True`), else None. A named tuple: 665K of them are made per
    file, and a frozen dataclass costs several times more to build.
    """

    index: int
    line: int
    offset: int
    length: int
    text: str
    value: Any = None


_new_tuple = tuple.__new__  # a RawRecord without the named tuple's argument handling (one per record)


@dataclass(frozen=True, slots=True)
class ReadFault:
    """The file could not be read past `line`: what was wrong and what to do."""

    line: int
    detail: str


def read_records(
    path: str | Path, *, on_bytes: Callable[[int], None] | None = None, keep_values: bool = False
) -> Iterator[RawRecord | ReadFault]:
    """Every record of `path` in file order; a `ReadFault` (always last) where reading had to stop.

    `on_bytes(n)` is called as bytes are read (for progress bars). `keep_values`: hand on the parsed
    record where reading a JSON array parsed it anyway (callers that parse every record save a second
    parse; callers that pass text to worker processes leave it off and keep less alive).
    """
    path = Path(path)
    layout = detect_layout(path)
    report = on_bytes or (lambda n: None)
    if layout == "empty":
        yield ReadFault(1, f"{path}: the file holds no records; LLaVA data is a JSON array of records or JSON lines")
    elif layout == "array":
        yield from _array_records(_Cursor(path, report, keep_values))
    elif layout == "lines":
        yield from _line_records(path, report)
    elif layout == "objects":
        yield from _object_records(_Cursor(path, report, keep_values))
    else:
        yield ReadFault(1, f"{path}: starts with {layout!r}; LLaVA data is a JSON array of records ([...]) or JSON lines")


def detect_layout(path: str | Path) -> str:
    """'array', 'lines', 'objects' (concatenated multi-line objects), 'empty', or the unexpected first text."""
    with open(path, "rb") as handle:
        head = handle.read(1 << 16)
        while head.lstrip(b" \t\r\n" + BOM) == b"" and len(head) < (1 << 24):
            more = handle.read(1 << 16)
            if not more:
                break
            head += more
    body = head[len(BOM) :] if head.startswith(BOM) else head
    body = body.lstrip(b" \t\r\n")
    if not body:
        return "empty"
    if body[:1] == b"[":
        return "array"
    if body[:1] != b"{":
        return body[:20].decode("utf-8", errors="replace")
    first_line = body.split(b"\n", 1)[0]
    try:
        json.loads(first_line)
    except ValueError as error:
        # An object left open at the end of its first line is a pretty-printed object, not a bad line.
        if isinstance(error, json.JSONDecodeError) and error.pos >= len(first_line.rstrip()) and b"\n" in body:
            return "objects"
    return "lines"


def parse_record(text: str) -> tuple[Any, str | None]:
    """(value, None) for valid JSON text, else (None, why it is not): the one JSON rule of every tool."""
    if not text.isascii() and _has_bad_bytes(text):
        return None, "the record is not valid UTF-8 text"
    try:
        return json.loads(text), None
    except json.JSONDecodeError as error:
        return None, f"not valid JSON ({error.msg} at line {error.lineno} column {error.colno} of the record)"
    except RecursionError:
        return None, "not valid JSON (nested too deeply)"


def _has_bad_bytes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _byte_length(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8", errors="surrogateescape"))


# ----------------------------------------------------------------------------------------------- JSON lines


def _line_records(path: Path, report: Callable[[int], None]) -> Iterator[RawRecord]:
    index = 0
    offset = 0
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            report(len(raw))
            begin, offset = offset, offset + len(raw)
            if number == 1 and raw.startswith(BOM):
                raw, begin = raw[len(BOM) :], begin + len(BOM)
            content = raw.strip()
            if not content:
                continue
            begin += len(raw) - len(raw.lstrip())
            text = content.decode("utf-8", errors="surrogateescape")
            yield _new_tuple(RawRecord, (index, number, begin, len(content), text, None))
            index += 1


# ----------------------------------------------------------------------------------------------- arrays and object streams


def _array_records(cursor: _Cursor) -> Iterator[RawRecord | ReadFault]:
    """Stream a top-level JSON array element by element."""
    cursor.skip_space()
    cursor.pos += 1  # the '[' that detect_layout saw
    cursor.skip_space()
    if cursor.peek() == "]":
        cursor.pos += 1
        fault = cursor.trailing()
        yield fault or ReadFault(1, f"{cursor.path}: the JSON array is empty; it holds no records")
        return
    index = 0
    while True:
        item = cursor.decode_value(index)
        yield item
        if isinstance(item, ReadFault):
            return
        index += 1
        cursor.skip_space()
        separator = cursor.peek()
        cursor.pos += 1
        if separator == "]":
            fault = cursor.trailing()
            if fault:
                yield fault
            return
        if separator != ",":
            found = "the end of the file" if separator == "" else repr(separator)
            yield cursor.fault(cursor.pos - 1, f"expected ',' or ']' after a record, found {found}")
            return
        cursor.skip_space()


def _object_records(cursor: _Cursor) -> Iterator[RawRecord | ReadFault]:
    """Stream JSON objects written one after another (separated by white space only)."""
    index = 0
    while True:
        cursor.skip_space()
        if cursor.peek() == "":
            return
        item = cursor.decode_value(index)
        yield item
        if isinstance(item, ReadFault):
            return
        index += 1


class _Cursor:
    """A growing window of decoded text over a file, with line numbers and character→byte offsets."""

    def __init__(self, path: Path, report: Callable[[int], None], keep_values: bool):
        self.path = path
        self.report = report
        self.keep_values = keep_values
        self.handle = open(path, "rb")
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="surrogateescape")
        self.json = json.JSONDecoder()
        self.buf = ""
        self.pos = 0
        self.eof = False
        self._line = 1  # the line number at buf[_counted]
        self._counted = 0
        self._byte = 0  # the byte offset in the file of buf[_byte_pos]
        self._byte_pos = 0
        first = self.handle.read(len(BOM))
        if first == BOM:
            self._byte = len(BOM)
            self.report(len(BOM))
        else:
            self.handle.seek(0)

    def __del__(self) -> None:
        self.handle.close()

    def more(self) -> bool:
        """Append the next chunk; False at the end of the file."""
        if self.eof:
            return False
        chunk = self.handle.read(_CHUNK_BYTES)
        self.report(len(chunk))
        if not chunk:
            self.eof = True
            self.buf += self.decoder.decode(b"", final=True)
            self.handle.close()
            return False
        self.buf += self.decoder.decode(chunk)
        return True

    def peek(self) -> str:
        while self.pos >= len(self.buf):
            if not self.more():
                return ""
        return self.buf[self.pos]

    def skip_space(self) -> None:
        while True:
            while self.pos < len(self.buf) and self.buf[self.pos] in " \t\r\n":
                self.pos += 1
            if self.pos < len(self.buf) or not self.more():
                return

    def decode_value(self, index: int) -> RawRecord | ReadFault:
        """The JSON value starting at `pos` as a record, reading more of the file as needed."""
        start = self.pos
        while True:
            try:
                value, end = self.json.raw_decode(self.buf, start)
            except json.JSONDecodeError as error:
                if len(self.buf) - start <= _MAX_RECORD_CHARS and self.more():
                    continue
                return self.fault(error.pos, f"invalid JSON in record #{index}: {error.msg}")
            if end == len(self.buf) and self.more():  # a number could go on in the next chunk
                continue
            break
        line = self.line_at(start)
        offset = self.byte_at(start)
        text = self.buf[start:end]
        self.pos = end
        self._compact()
        return _new_tuple(RawRecord, (index, line, offset, _byte_length(text), text, value if self.keep_values else None))

    def line_at(self, pos: int) -> int:
        if pos >= self._counted:
            self._line += self.buf.count("\n", self._counted, pos)
            self._counted = pos
            return self._line
        return self._line - self.buf.count("\n", pos, self._counted)

    def byte_at(self, pos: int) -> int:
        """The byte offset in the file of buf[pos]; positions must be asked for in increasing order."""
        self._byte += _byte_length(self.buf[self._byte_pos : pos])
        self._byte_pos = pos
        return self._byte

    def _compact(self) -> None:
        """Drop consumed text, so memory stays bounded by the largest record plus one chunk."""
        if self.pos > (1 << 20):
            self.line_at(self.pos)
            self.byte_at(self.pos)
            self.buf = self.buf[self.pos :]
            self._counted -= self.pos
            self._byte_pos -= self.pos
            self.pos = 0

    def fault(self, pos: int, message: str) -> ReadFault:
        pos = min(pos, len(self.buf))
        line = self.line_at(pos)
        column = pos - (self.buf.rfind("\n", 0, pos) + 1) + 1
        return ReadFault(
            line, f"{self.path}:{line}:{column}: {message}; records after this point could not be read — fix the file"
        )

    def trailing(self) -> ReadFault | None:
        self.skip_space()
        if self.peek() != "":
            return self.fault(self.pos, "unexpected text after the closing ']'")
        return None
