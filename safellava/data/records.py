"""Reading LLaVA records without holding them as Python objects: a memory-mapped Arrow index.

The 665K-record instruction mix is about 1 GB of JSON; `json.load` turns it into several GB of Python
objects in every rank and every data-loader worker. Instead each file is read once, streaming, into an
Arrow IPC file with one row per record: the record's raw JSON text plus a few small columns (line, id,
number of images, word count, structural problems). Ranks and workers memory-map that file: pages are
shared through the OS page cache and a record is parsed only when it is used. Storing raw JSON text also
sidesteps the mixed shapes of LLaVA records (some have `image`, some not; ShareGPT turns, lists of
images), which a columnar JSON loader would try to unify into one schema.

Sources: a local `.json` (array) or `.jsonl` file, a folder saved with `datasets.save_to_disk`, a file on
the Hugging Face Hub (`hf://datasets/<owner>/<name>/<path>`), or a Hub dataset id (`<owner>/<name>`).
Several sources can be mixed with weights (`MixedRecords`).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from safellava.data.conversation import ConversationError, record_images
from safellava.data.validate import structural_problems

# Bump when the index layout or the structural checks stored in it change: old caches are then rebuilt.
INDEX_VERSION = 1
_BATCH_ROWS = 8192
_CHUNK_CHARS = 1 << 22  # characters read per step when streaming a JSON array


class RecordFormatError(ValueError):
    """A data file cannot be read as LLaVA records; the message names the file, the line and the fix."""


@dataclass(frozen=True)
class FatalError:
    """A file-level error (e.g. a JSON array broken mid-file): `line` where reading stopped (0 if unknown)."""

    source: str
    line: int
    detail: str


@dataclass(frozen=True)
class RecordLocation:
    """Where a record comes from: file (or dataset) name, 1-based start line (0 if not a file), id."""

    source: str
    line: int
    id: str


class RecordSource(Protocol):
    """What the dataset and `data check` need from a collection of records (an index or a mix)."""

    def __len__(self) -> int: ...
    def raw(self, index: int) -> str: ...
    def record(self, index: int) -> Any: ...
    def location(self, index: int) -> RecordLocation: ...
    def structural(self, index: int) -> list[tuple[str, str]]: ...
    @property
    def n_images(self) -> np.ndarray: ...
    @property
    def n_words(self) -> np.ndarray: ...
    @property
    def fatal_errors(self) -> list[FatalError]: ...
    def image_paths(self, index: int) -> list[str]: ...
    @property
    def problem_mask(self) -> np.ndarray: ...


# ----------------------------------------------------------------------------------------------- reading


def open_records(spec: Any, *, cache_dir: str | Path | None = None, seed: int = 0) -> RecordSource:
    """Open one source or a weighted mix.

    `spec` is a path / Hub reference (str or Path), a dict `{"path": ..., "weight": 0.5}`, or a list of
    those (mixed). Weights multiply how often a source's records appear (2 = twice, 0.25 = a seeded quarter).
    """
    if isinstance(spec, (list, tuple)):
        parts = [_spec_with_weight(item) for item in spec]
        return MixedRecords([(open_source(path, cache_dir=cache_dir), weight) for path, weight in parts], seed=seed)
    path, weight = _spec_with_weight(spec)
    source = open_source(path, cache_dir=cache_dir)
    return source if weight == 1.0 else MixedRecords([(source, weight)], seed=seed)


def _spec_with_weight(item: Any) -> tuple[str, float]:
    if isinstance(item, dict):
        unknown = set(item) - {"path", "weight"}
        if "path" not in item or unknown:
            raise RecordFormatError(f"a data source is {{'path': ..., 'weight': ...}}; got keys {sorted(item)}")
        weight = float(item.get("weight", 1.0))
        if weight <= 0 or not math.isfinite(weight):
            raise RecordFormatError(f"data source {item['path']}: weight must be positive, got {weight}")
        return str(item["path"]), weight
    return str(item), 1.0


def open_source(spec: str | Path, *, cache_dir: str | Path | None = None) -> RecordsIndex:
    """One source, indexed (once; later calls reuse the cached index)."""
    text = str(spec)
    path = Path(text).expanduser()
    if path.is_file():
        return index_file(path, cache_dir=cache_dir)
    if path.is_dir():
        import datasets

        return index_hf_dataset(datasets.load_from_disk(str(path)), name=str(path), cache_dir=cache_dir)
    if text.startswith("hf://datasets/"):
        return index_file(_download_hub_file(text), cache_dir=cache_dir)
    if _looks_like_hub_id(text):
        import datasets

        repo, _, split = text.partition(":")
        return index_hf_dataset(datasets.load_dataset(repo, split=split or "train"), name=text, cache_dir=cache_dir)
    raise RecordFormatError(
        f"data source {text!r} is not an existing file or folder, an hf://datasets/<owner>/<name>/<file> path, "
        f"or a Hub dataset id <owner>/<name>[:split]"
    )


def _looks_like_hub_id(text: str) -> bool:
    repo = text.partition(":")[0]
    return repo.count("/") == 1 and not repo.startswith((".", "/", "~")) and not Path(repo).suffix


def _download_hub_file(url: str) -> Path:
    from huggingface_hub import hf_hub_download

    parts = url.removeprefix("hf://datasets/").split("/", 2)
    if len(parts) < 3:
        raise RecordFormatError(f"{url}: expected hf://datasets/<owner>/<name>/<path inside the repo>")
    return Path(hf_hub_download(repo_id=f"{parts[0]}/{parts[1]}", filename=parts[2], repo_type="dataset"))


def default_cache_dir() -> Path:
    """$SAFELLAVA_CACHE/records (default ~/.cache/safellava/records)."""
    return Path(os.environ.get("SAFELLAVA_CACHE", Path.home() / ".cache" / "safellava")) / "records"


def index_file(path: str | Path, *, cache_dir: str | Path | None = None) -> RecordsIndex:
    """The index of a local JSON/JSONL file, built on first use and cached by path, size and mtime."""
    path = Path(path).resolve()
    stat = path.stat()
    key = _digest(f"{path}|{stat.st_size}|{stat.st_mtime_ns}|{INDEX_VERSION}")
    index_path = Path(cache_dir or default_cache_dir()) / f"{path.stem}-{key}.arrow"
    _build_once(index_path, lambda: _file_rows(path))
    return RecordsIndex(index_path, name=str(path))


def index_hf_dataset(dataset: Any, *, name: str, cache_dir: str | Path | None = None) -> RecordsIndex:
    """The index of a `datasets.Dataset` (rows become records; columns that are None are dropped)."""
    fingerprint = getattr(dataset, "_fingerprint", None) or _digest(name)
    index_path = Path(cache_dir or default_cache_dir()) / f"hf-{_digest(f'{name}|{fingerprint}|{INDEX_VERSION}')}.arrow"
    _build_once(index_path, lambda: _dataset_rows(dataset))
    return RecordsIndex(index_path, name=name)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def _build_once(index_path: Path, rows: Any) -> None:
    """Write the index unless it exists; a file lock makes concurrent ranks wait for the first one."""
    if index_path.exists():
        return
    from filelock import FileLock

    index_path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(index_path) + ".lock"):
        if index_path.exists():
            return
        partial = index_path.with_name(index_path.name + f".partial-{os.getpid()}")
        _write_index(partial, rows())
        partial.replace(index_path)


# ----------------------------------------------------------------------------------------------- the index


class RecordsIndex:
    """The records of one source, memory-mapped; a record is parsed from its raw JSON when accessed."""

    def __init__(self, index_path: str | Path, *, name: str):
        import pyarrow as pa

        self.name = name
        self.index_path = Path(index_path)
        reader = pa.ipc.open_file(pa.memory_map(str(self.index_path), "r"))
        self._table = reader.read_all()
        metadata = reader.schema.metadata or {}
        self._fatal = [FatalError(name, line, detail) for line, detail in json.loads(metadata.get(b"fatal_errors", b"[]"))]
        self._raw = self._table.column("json").chunks
        self._images = self._table.column("images").chunks
        self._ids = self._table.column("id").chunks
        self._problems = self._table.column("problems").chunks
        self._starts = np.cumsum([0] + [len(chunk) for chunk in self._raw])
        self._lines = self._table.column("line").to_numpy()
        self._n_images = self._table.column("n_images").to_numpy()
        self._n_words = self._table.column("n_words").to_numpy()
        self._problem_mask = self._table.column("problems").is_valid().to_numpy(zero_copy_only=False)

    def __len__(self) -> int:
        return int(self._starts[-1])

    def __repr__(self) -> str:
        return f"RecordsIndex({self.name!r}, {len(self)} records)"

    def _locate(self, index: int) -> tuple[int, int]:
        if not 0 <= index < len(self):
            raise IndexError(f"record {index} out of range for {self.name} ({len(self)} records)")
        chunk = int(np.searchsorted(self._starts, index, side="right")) - 1
        return chunk, index - int(self._starts[chunk])

    def raw(self, index: int) -> str:
        chunk, row = self._locate(index)
        return self._raw[chunk][row].as_py()

    def record(self, index: int) -> Any:
        """The parsed record; raises RecordFormatError for a row that held invalid JSON."""
        text = self.raw(index)
        try:
            return json.loads(text)
        except json.JSONDecodeError as error:
            where = self.location(index)
            raise RecordFormatError(f"{self.name}:{where.line}: invalid JSON ({error})") from None

    def location(self, index: int) -> RecordLocation:
        chunk, row = self._locate(index)
        return RecordLocation(self.name, int(self._lines[index]), self._ids[chunk][row].as_py())

    def structural(self, index: int) -> list[tuple[str, str]]:
        """(kind, detail) problems found when the index was built (no files or tokenizer needed)."""
        chunk, row = self._locate(index)
        text = self._problems[chunk][row].as_py()
        return [tuple(item) for item in json.loads(text)] if text else []

    def image_paths(self, index: int) -> list[str]:
        """The record's image paths (relative to image_folder), read from the index without parsing."""
        chunk, row = self._locate(index)
        text = self._images[chunk][row].as_py()
        return text.split("\n") if text else []

    @property
    def problem_mask(self) -> np.ndarray:
        """True for records with structural problems (found when the index was built)."""
        return self._problem_mask

    @property
    def n_images(self) -> np.ndarray:
        """Images per record (-1 when the record is malformed)."""
        return self._n_images

    @property
    def n_words(self) -> np.ndarray:
        """Whitespace-separated words over all turns: a cheap length estimate."""
        return self._n_words

    @property
    def fatal_errors(self) -> list[FatalError]:
        """File-level errors (e.g. a JSON array broken mid-file: records after it could not be read)."""
        return list(self._fatal)


class MixedRecords:
    """Several sources mixed with weights: weight 2 repeats a source twice, 0.3 keeps a seeded 30 %."""

    def __init__(self, parts: Sequence[tuple[RecordSource, float]], *, seed: int = 0):
        self.parts = [source for source, _ in parts]
        self.name = " + ".join(f"{getattr(source, 'name', source)}×{weight:g}" for source, weight in parts)
        rng = np.random.default_rng(seed)
        sources, rows = [], []
        for number, (source, weight) in enumerate(parts):
            chosen = _weighted_rows(len(source), weight, rng)
            sources.append(np.full(len(chosen), number, dtype=np.int32))
            rows.append(chosen)
        self._source = np.concatenate(sources) if sources else np.zeros(0, np.int32)
        self._row = np.concatenate(rows) if rows else np.zeros(0, np.int64)
        self._n_images = np.concatenate([p.n_images[r] for p, r in zip(self.parts, rows)]) if rows else np.zeros(0)
        self._n_words = np.concatenate([p.n_words[r] for p, r in zip(self.parts, rows)]) if rows else np.zeros(0)
        self._problem_mask = (
            np.concatenate([p.problem_mask[r] for p, r in zip(self.parts, rows)]) if rows else np.zeros(0, bool)
        )

    def __len__(self) -> int:
        return len(self._row)

    def __repr__(self) -> str:
        return f"MixedRecords({self.name!r}, {len(self)} records)"

    def _part(self, index: int) -> tuple[RecordSource, int]:
        return self.parts[self._source[index]], int(self._row[index])

    def raw(self, index: int) -> str:
        source, row = self._part(index)
        return source.raw(row)

    def record(self, index: int) -> Any:
        source, row = self._part(index)
        return source.record(row)

    def location(self, index: int) -> RecordLocation:
        source, row = self._part(index)
        return source.location(row)

    def structural(self, index: int) -> list[tuple[str, str]]:
        source, row = self._part(index)
        return source.structural(row)

    def image_paths(self, index: int) -> list[str]:
        source, row = self._part(index)
        return source.image_paths(row)

    @property
    def problem_mask(self) -> np.ndarray:
        return self._problem_mask

    @property
    def n_images(self) -> np.ndarray:
        return self._n_images

    @property
    def n_words(self) -> np.ndarray:
        return self._n_words

    @property
    def fatal_errors(self) -> list[FatalError]:
        return [error for part in self.parts for error in part.fatal_errors]


def _weighted_rows(size: int, weight: float, rng: np.random.Generator) -> np.ndarray:
    whole = int(weight)
    extra = int(round((weight - whole) * size))
    rows = [np.arange(size, dtype=np.int64)] * whole
    if extra:
        rows.append(np.sort(rng.choice(size, size=extra, replace=False)).astype(np.int64))
    return np.concatenate(rows) if rows else np.zeros(0, np.int64)


# ----------------------------------------------------------------------------------------------- building


@dataclass
class _Row:
    line: int
    raw: str
    value: Any = None
    error: str | None = None  # invalid JSON: the decoder's message


class _FatalError(Exception):
    """Marks the end of a stream that could not be read further, at `line`."""

    def __init__(self, line: int, detail: str):
        super().__init__(detail)
        self.line = line


def _write_index(path: Path, rows: Iterable[_Row | _FatalError]) -> None:
    import pyarrow as pa

    schema = pa.schema(
        [
            ("json", pa.large_string()),
            ("line", pa.int64()),
            ("id", pa.string()),
            ("n_images", pa.int16()),
            ("n_words", pa.int32()),
            ("problems", pa.string()),
            ("images", pa.string()),
        ]
    )
    fatal: list[tuple[int, str]] = []
    columns: dict[str, list] = {name: [] for name in schema.names}
    batches = []
    for row in rows:
        if isinstance(row, _FatalError):
            fatal.append((row.line, str(row)))
            continue
        for name, value in zip(schema.names, _columns_of(row, len(batches) * _BATCH_ROWS + len(columns["json"]))):
            columns[name].append(value)
        if len(columns["json"]) == _BATCH_ROWS:
            batches.append(pa.record_batch([columns[n] for n in schema.names], schema=schema))
            columns = {name: [] for name in schema.names}
    batches.append(pa.record_batch([columns[n] for n in schema.names], schema=schema))
    schema = schema.with_metadata({"fatal_errors": json.dumps(fatal), "index_version": str(INDEX_VERSION)})
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, schema) as writer:
        for batch in batches:
            writer.write_batch(batch.replace_schema_metadata(schema.metadata))


def _columns_of(row: _Row, position: int) -> tuple:
    """(json, line, id, n_images, n_words, problems, images) of one row."""
    fallback_id = f"#{position}"
    if row.error is not None:
        return row.raw, row.line, fallback_id, -1, 0, json.dumps([("invalid_json", row.error)]), None
    record = row.value
    problems = structural_problems(record)
    record_id = fallback_id
    n_images, n_words, images = -1, 0, None
    if isinstance(record, dict):
        if record.get("id") not in (None, ""):
            record_id = str(record["id"])
        try:
            paths = record_images(record)
            n_images, images = len(paths), "\n".join(paths) or None
        except ConversationError:
            pass
        n_words = _count_words(record.get("conversations"))
    return row.raw, row.line, record_id, n_images, n_words, json.dumps(problems) if problems else None, images


def _count_words(conversations: Any) -> int:
    if not isinstance(conversations, list):
        return 0
    total = 0
    for turn in conversations:
        if isinstance(turn, dict):
            text = turn.get("value", turn.get("content"))
            if isinstance(text, str):
                total += len(text.split())
    return total


def _file_rows(path: Path) -> Iterator[_Row | _FatalError]:
    from tqdm import tqdm

    with open(path, encoding="utf-8") as handle, tqdm(
        total=path.stat().st_size, unit="B", unit_scale=True, desc=f"indexing {path.name}", leave=False, disable=None
    ) as progress:
        first = _first_char(handle)
        handle.seek(0)
        if first == "[":
            yield from _json_array_rows(handle, path, progress)
        elif first == "{" or first == "":
            yield from _jsonl_rows(handle, path, progress)
        else:
            yield _FatalError(1, f"{path}: starts with {first!r}; LLaVA data is a JSON array of records or JSON lines")


def _first_char(handle) -> str:
    while True:
        char = handle.read(1)
        if not char or not char.isspace():
            return char


def _jsonl_rows(handle, path: Path, progress) -> Iterator[_Row | _FatalError]:
    for number, line in enumerate(handle, start=1):
        progress.update(len(line))
        text = line.strip()
        if not text:
            continue
        try:
            yield _Row(number, text, json.loads(text))
        except json.JSONDecodeError as error:
            if number == 1 and path.suffix == ".json":
                yield _FatalError(
                    1,
                    f"{path}:1: starts with '{{' but line 1 is not a complete JSON object ({error}); LLaVA data is "
                    f"a JSON array of records ([...]) or JSON lines (one record per line)"
                )
                return
            yield _Row(number, text, error=f"line {number} is not valid JSON: {error}")


def _json_array_rows(handle, path: Path, progress) -> Iterator[_Row | _FatalError]:
    """Stream a top-level JSON array record by record, keeping each record's exact source text."""
    decoder = json.JSONDecoder()
    cursor = _Cursor(handle, progress)
    cursor.skip_space()
    cursor.expect("[")
    cursor.skip_space()
    if cursor.peek() == "]":
        cursor.pos += 1
        yield from cursor.trailing(path)
        return
    while True:
        cursor.skip_space()
        start = cursor.pos
        line = cursor.line_at(start)
        while True:
            try:
                value, end = decoder.raw_decode(cursor.buf, start)
            except json.JSONDecodeError as error:
                if cursor.more():
                    continue
                yield _array_error(path, cursor, error.pos, f"invalid JSON: {error.msg}")
                return
            if end == len(cursor.buf) and cursor.more():  # a number could continue in the next chunk
                continue
            break
        yield _Row(line, cursor.buf[start:end], value)
        cursor.pos = end
        cursor.skip_space()
        separator = cursor.peek()
        cursor.pos += 1
        if separator == "]":
            yield from cursor.trailing(path)
            return
        if separator != ",":
            yield _array_error(path, cursor, cursor.pos - 1, f"expected ',' or ']' after a record, found {separator!r}")
            return
        cursor.compact()


def _array_error(path: Path, cursor: _Cursor, pos: int, message: str) -> _FatalError:
    line = cursor.line_at(min(pos, len(cursor.buf)))
    column = pos - (cursor.buf.rfind("\n", 0, pos) + 1) + 1
    return _FatalError(line, f"{path}:{line}:{column}: {message}; records after this point could not be read — fix the file")


class _Cursor:
    """A growing window over a text file with line counting, for streaming a JSON array."""

    def __init__(self, handle, progress):
        self.handle = handle
        self.progress = progress
        self.buf = ""
        self.pos = 0
        self.eof = False
        self._line = 1  # line number at _counted
        self._counted = 0
        self.more()

    def more(self) -> bool:
        """Append the next chunk; False at end of file."""
        if self.eof:
            return False
        chunk = self.handle.read(_CHUNK_CHARS)
        if not chunk:
            self.eof = True
            return False
        self.progress.update(len(chunk.encode("utf-8")) if not chunk.isascii() else len(chunk))
        self.buf += chunk
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

    def expect(self, char: str) -> None:
        if self.peek() != char:
            raise RecordFormatError(f"expected {char!r} at the start of a JSON array")
        self.pos += 1

    def line_at(self, pos: int) -> int:
        if pos >= self._counted:
            self._line += self.buf.count("\n", self._counted, pos)
            self._counted = pos
            return self._line
        return self._line - self.buf.count("\n", pos, self._counted)

    def compact(self) -> None:
        """Drop consumed text so memory stays bounded by the largest record plus one chunk."""
        if self.pos > _CHUNK_CHARS:
            self.line_at(self.pos)
            self.buf = self.buf[self.pos :]
            self._counted -= self.pos
            self.pos = 0

    def trailing(self, path: Path) -> Iterator[_FatalError]:
        self.skip_space()
        if self.peek() != "":
            yield _array_error(path, self, self.pos, "unexpected text after the closing ']'")


def _dataset_rows(dataset: Any) -> Iterator[_Row]:
    from tqdm import tqdm

    for position, row in enumerate(tqdm(dataset, desc="indexing dataset", leave=False, disable=None)):
        record = {key: value for key, value in dict(row).items() if value is not None}
        yield _Row(0, json.dumps(record, ensure_ascii=False), record)
