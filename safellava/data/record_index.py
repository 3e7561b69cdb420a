"""Reading LLaVA records without holding them as Python objects: an offsets index.

The 665K-record instruction mix is about 1 GB of JSON; `json.load` turns it into several GB of Python
objects in every rank and every data-loader worker. Instead each file is read once, streaming, into a
small Arrow IPC file with one row per record: where the record's JSON text lies in the file (byte offset
and length) plus a few small columns (line, id, image paths, word count, structural problems). Ranks
and workers memory-map that index and read a record's bytes with `os.pread` when it is used, then parse
it: the data file lives in the OS page cache, shared, and is never mapped into the process (random reads
through a memory map would pull whole neighbourhoods of the 1 GB file into every process's RSS). Keeping
each record as raw JSON text also sidesteps the mixed shapes of LLaVA records (some have `image`, some
not; ShareGPT turns, lists of images), which a columnar JSON loader would try to unify into one schema.

Sources: a local `.json` (array) or `.jsonl` file, a folder saved with `datasets.save_to_disk`, a file on
the Hugging Face Hub (`hf://datasets/<owner>/<name>/<path>`), or a Hub dataset id (`<owner>/<name>`).
Several sources can be mixed with weights (`MixedRecords`). Files are read by the LLaVA reader every tool
shares (`safellava.records`), so training sees the records and problems that `audit` and `clean` see.
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

from safellava.records import CheckedRecord, ConversationError, ReadFault, check_text, check_value, read_records, record_images

# Bump when the index layout or the structural checks stored in it change: old caches are then rebuilt.
INDEX_VERSION = 3
_BATCH_ROWS = 8192


class RecordFormatError(ValueError):
    """A data file cannot be read as LLaVA records; the message names the file, the line and the fix."""


@dataclass(frozen=True)
class FileFault:
    """A file-level fault (e.g. a JSON array broken mid-file): `line` where reading stopped (0 if unknown)."""

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
    def raw(self, index: int) -> str: ...  # the record's JSON text as in the file
    def record(self, index: int) -> Any: ...  # parsed
    def location(self, index: int) -> RecordLocation: ...
    def structural(self, index: int) -> list[tuple[str, str]]: ...
    @property
    def n_images(self) -> np.ndarray: ...
    @property
    def n_words(self) -> np.ndarray: ...
    @property
    def n_chars(self) -> np.ndarray: ...
    @property
    def n_turns(self) -> np.ndarray: ...
    @property
    def file_faults(self) -> list[FileFault]: ...
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
    if hasattr(item, "path") and hasattr(item, "weight"):  # a run config's `data.files` entry, checked there
        return str(item.path), float(item.weight)
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
        try:
            dataset = datasets.load_dataset(repo, split=split or "train")
        except Exception as error:  # the Hub's errors vary (offline, missing repo, bad split): say what was tried
            raise RecordFormatError(
                f"data source {text!r} is not a local file or folder, and loading it as the Hub dataset {repo!r} "
                f"(split {split or 'train'!r}) failed: {error}"
            ) from error
        return index_hf_dataset(dataset, name=text, cache_dir=cache_dir)
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
    _build_once(index_path, lambda: _file_rows(path), data_file=path)
    return RecordsIndex(index_path, name=str(path))


def index_hf_dataset(dataset: Any, *, name: str, cache_dir: str | Path | None = None) -> RecordsIndex:
    """The index of a `datasets.Dataset` (rows become records; columns that are None are dropped)."""
    fingerprint = getattr(dataset, "_fingerprint", None) or _digest(name)
    index_path = Path(cache_dir or default_cache_dir()) / f"hf-{_digest(f'{name}|{fingerprint}|{INDEX_VERSION}')}.arrow"
    _build_once(index_path, lambda: _dataset_rows(dataset), data_file=None)
    return RecordsIndex(index_path, name=name)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def _build_once(index_path: Path, rows: Any, data_file: Path | None) -> None:
    """Write the index unless it exists; a file lock makes concurrent ranks wait for the first one.

    `data_file` is the file the rows' byte offsets point into; None writes the records' text to a
    sidecar file next to the index (for sources that are not files, e.g. a `datasets` table).
    """
    if index_path.exists():
        return
    from filelock import FileLock

    index_path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(index_path) + ".lock"):
        if index_path.exists():
            return
        partial = index_path.with_name(index_path.name + f".partial-{os.getpid()}")
        if data_file is None:
            sidecar = index_path.with_suffix(".records")
            partial_sidecar = sidecar.with_name(sidecar.name + f".partial-{os.getpid()}")
            _write_index(partial, rows(), data_file=sidecar, sidecar=partial_sidecar)
            partial_sidecar.replace(sidecar)
        else:
            _write_index(partial, rows(), data_file=data_file)
        partial.replace(index_path)


# ----------------------------------------------------------------------------------------------- the index


class RecordColumns:
    """The small per-record columns every record source exposes, kept in `self.columns` (name → array):
    what the sampler, validation and length estimates read without touching a record's text."""

    NAMES = ("n_images", "n_words", "n_chars", "n_turns", "problem_mask")
    columns: dict[str, np.ndarray]

    @property
    def problem_mask(self) -> np.ndarray:
        """True for records with structural problems (found when the index was built)."""
        return self.columns["problem_mask"]

    @property
    def n_images(self) -> np.ndarray:
        """Images per record (-1 when the record is malformed)."""
        return self.columns["n_images"]

    @property
    def n_words(self) -> np.ndarray:
        """Whitespace-separated words over all turns (with n_chars and n_turns: a cheap length estimate)."""
        return self.columns["n_words"]

    @property
    def n_chars(self) -> np.ndarray:
        """Characters over all turns."""
        return self.columns["n_chars"]

    @property
    def n_turns(self) -> np.ndarray:
        """Turns in the conversation (0 when malformed)."""
        return self.columns["n_turns"]


class RecordsIndex(RecordColumns):
    """The records of one source: a memory-mapped table of small columns; a record's JSON text is read from
    the data file by byte offset (`os.pread`) and parsed when accessed. Picklable (reopens on unpickling),
    so spawned data-loader workers get their own handles."""

    def __init__(self, index_path: str | Path, *, name: str):
        self.name = name
        self.index_path = Path(index_path)
        self._open()

    def _open(self) -> None:
        import pyarrow as pa

        reader = pa.ipc.open_file(pa.memory_map(str(self.index_path), "r"))
        table = reader.read_all()
        metadata = reader.schema.metadata or {}
        self._faults = [FileFault(self.name, line, detail) for line, detail in json.loads(metadata.get(b"fatal_errors", b"[]"))]
        self.data_file = Path(metadata[b"data_file"].decode())
        self._data_stat = json.loads(metadata[b"data_stat"])
        self._fd: int | None = None
        self._fd_pid: int | None = None
        self._images = table.column("images").chunks
        self._ids = table.column("id").chunks
        self._problems = table.column("problems").chunks
        self._starts = np.cumsum([0] + [len(chunk) for chunk in self._ids])
        self._offsets = table.column("offset").to_numpy()
        self._lengths = table.column("length").to_numpy()
        self._lines = table.column("line").to_numpy()
        self.columns = {name: table.column(name).to_numpy() for name in ("n_images", "n_words", "n_chars", "n_turns")}
        self.columns["problem_mask"] = table.column("problems").is_valid().to_numpy(zero_copy_only=False)

    def __getstate__(self) -> dict:
        return {"name": self.name, "index_path": self.index_path}

    def __setstate__(self, state: dict) -> None:
        self.name = state["name"]
        self.index_path = state["index_path"]
        self._open()

    def __del__(self) -> None:
        if getattr(self, "_fd", None) is not None and self._fd_pid == os.getpid():
            os.close(self._fd)

    def __len__(self) -> int:
        return int(self._starts[-1])

    def __repr__(self) -> str:
        return f"RecordsIndex({self.name!r}, {len(self)} records)"

    def _locate(self, index: int) -> tuple[int, int]:
        if not 0 <= index < len(self):
            raise IndexError(f"record {index} out of range for {self.name} ({len(self)} records)")
        chunk = int(np.searchsorted(self._starts, index, side="right")) - 1
        return chunk, index - int(self._starts[chunk])

    def _descriptor(self) -> int:
        """A file descriptor of the data file, opened once per process (after a fork too)."""
        if self._fd is None or self._fd_pid != os.getpid():
            stat = self.data_file.stat()
            if [stat.st_size, stat.st_mtime_ns] != self._data_stat:
                raise RecordFormatError(
                    f"{self.data_file} changed after it was indexed ({self.index_path}); open it again to re-index"
                )
            self._fd, self._fd_pid = os.open(self.data_file, os.O_RDONLY), os.getpid()
        return self._fd

    def raw(self, index: int) -> str:
        """The record's JSON text exactly as in the file."""
        if not 0 <= index < len(self):
            raise IndexError(f"record {index} out of range for {self.name} ({len(self)} records)")
        data = os.pread(self._descriptor(), int(self._lengths[index]), int(self._offsets[index]))
        return data.decode("utf-8", errors="replace")

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
    def file_faults(self) -> list[FileFault]:
        """File-level errors (e.g. a JSON array broken mid-file: records after it could not be read)."""
        return list(self._faults)


class MixedRecords(RecordColumns):
    """Several sources mixed with weights: weight 2 repeats a source twice, 0.3 keeps a seeded 30 %."""

    def __init__(self, parts: Sequence[tuple[RecordSource, float]], *, seed: int = 0):
        rng = np.random.default_rng(seed)
        chosen = [(source, _weighted_rows(len(source), weight, rng)) for source, weight in parts]
        self._take(chosen, " + ".join(f"{getattr(source, 'name', source)}×{weight:g}" for source, weight in parts))

    @classmethod
    def of_rows(cls, parts: Sequence[tuple[RecordSource, np.ndarray]], *, name: str) -> "MixedRecords":
        """A mix of chosen rows of each source, in the order given (e.g. a patch mix: some rows of one
        source and a sample of its other rows)."""
        mix = cls.__new__(cls)
        mix._take([(source, np.asarray(rows, dtype=np.int64)) for source, rows in parts], name)
        return mix

    def _take(self, chosen: Sequence[tuple[RecordSource, np.ndarray]], label: str) -> None:
        self.parts = [source for source, _ in chosen]
        self.name = label
        sources, rows = [], []
        for number, (_, picked) in enumerate(chosen):
            sources.append(np.full(len(picked), number, dtype=np.int32))
            rows.append(picked)
        self._source = np.concatenate(sources) if sources else np.zeros(0, np.int32)
        self._row = np.concatenate(rows) if rows else np.zeros(0, np.int64)
        self.columns = {
            name: np.concatenate([getattr(part, name)[chosen] for part, chosen in zip(self.parts, rows)])
            if rows else np.zeros(0, bool if name == "problem_mask" else np.int64)
            for name in self.NAMES
        }

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
    def file_faults(self) -> list[FileFault]:
        return [error for part in self.parts for error in part.file_faults]


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
    """One record while indexing: where its text lies in the data file (bytes) and its check.

    `offset` None means the text is not in a file yet (a `datasets` row): the writer appends `raw` to a
    sidecar file."""

    line: int
    offset: int | None
    length: int
    checked: CheckedRecord
    raw: str | None = None


_COLUMNS = ("offset", "length", "line", "id", "n_images", "n_words", "n_chars", "n_turns", "problems", "images")


def _write_index(path: Path, rows: Iterable[_Row | ReadFault], *, data_file: Path, sidecar: Path | None = None) -> None:
    """Write the index table of `rows`; with `sidecar`, also write the rows' text there (data_file's future name)."""
    import pyarrow as pa

    schema = pa.schema(
        [
            ("offset", pa.int64()),
            ("length", pa.int64()),
            ("line", pa.int64()),
            ("id", pa.string()),
            ("n_images", pa.int16()),
            ("n_words", pa.int32()),
            ("n_chars", pa.int64()),
            ("n_turns", pa.int32()),
            ("problems", pa.string()),
            ("images", pa.string()),
        ]
    )
    fatal: list[tuple[int, str]] = []
    columns: dict[str, list] = {name: [] for name in _COLUMNS}
    batches = []
    sink = open(sidecar, "wb") if sidecar is not None else None
    try:
        for row in rows:
            if isinstance(row, ReadFault):
                fatal.append((row.line, row.detail))
                continue
            if row.offset is None:
                data = row.raw.encode("utf-8")
                row.offset, row.length = sink.tell(), len(data)
                sink.write(data + b"\n")
            for name, value in zip(_COLUMNS, _columns_of(row)):
                columns[name].append(value)
            if len(columns["offset"]) == _BATCH_ROWS:
                batches.append(pa.record_batch([columns[n] for n in _COLUMNS], schema=schema))
                columns = {name: [] for name in _COLUMNS}
    finally:
        if sink is not None:
            sink.close()
    batches.append(pa.record_batch([columns[n] for n in _COLUMNS], schema=schema))
    stat = (sidecar or data_file).stat()
    schema = schema.with_metadata(
        {
            "fatal_errors": json.dumps(fatal),
            "index_version": str(INDEX_VERSION),
            "data_file": str(data_file),
            "data_stat": json.dumps([stat.st_size, stat.st_mtime_ns]),
        }
    )
    with pa.OSFile(str(path), "wb") as out, pa.ipc.new_file(out, schema) as writer:
        for batch in batches:
            writer.write_batch(batch.replace_schema_metadata(schema.metadata))


def _columns_of(row: _Row) -> tuple:
    """The values of `_COLUMNS` for one row."""
    checked = row.checked
    problems = json.dumps(checked.problems) if checked.problems else None
    n_images, images = -1, None
    if isinstance(checked.value, dict):
        try:
            paths = record_images(checked.value)
            n_images, images = len(paths), "\n".join(paths) or None
        except ConversationError:
            pass
    turns = checked.turns or []
    n_words = sum(len(turn.text.split()) for turn in turns)
    n_chars = sum(len(turn.text) for turn in turns)
    return row.offset, row.length, row.line, checked.id, n_images, n_words, n_chars, len(turns), problems, images


def _file_rows(path: Path) -> Iterator[_Row | ReadFault]:
    """The rows of a local file, read by the one LLaVA reader every tool shares."""
    from tqdm import tqdm

    with tqdm(
        total=path.stat().st_size, unit="B", unit_scale=True, desc=f"indexing {path.name}", leave=False, disable=None
    ) as progress:
        for item in read_records(path, on_bytes=progress.update, keep_values=True):
            if isinstance(item, ReadFault):
                yield item
                continue
            checked = check_text(item.text, item.index) if item.value is None else check_value(item.value, item.index)
            yield _Row(item.line, item.offset, item.length, checked)


def _dataset_rows(dataset: Any) -> Iterator[_Row]:
    from tqdm import tqdm

    for position, row in enumerate(tqdm(dataset, desc="indexing dataset", leave=False, disable=None)):
        record = {key: value for key, value in dict(row).items() if value is not None}
        yield _Row(0, None, 0, check_value(record, position), raw=json.dumps(record, ensure_ascii=False))
