"""Writing LLaVA records back in the layout they were read in, atomically.

`RecordWriter` writes a JSON array (one record per line inside the brackets) or JSON Lines. It writes
through `safellava.atomic.atomic_write`: the file appears at its path only once every record is written
and the writer is closed without an error, so an interrupted or failed run never leaves a well-formed but
incomplete file behind.
"""

from __future__ import annotations

import os
from contextlib import ExitStack
from typing import IO

from safellava.atomic import atomic_write

LAYOUTS = ("array", "lines")


def output_layout(input_layout: str) -> str:
    """The layout a copy of a file is written in: arrays stay arrays, everything else becomes JSON Lines."""
    return "array" if input_layout == "array" else "lines"


class RecordWriter:
    """Use as a context manager; `write(text)` takes one record's JSON text. Non-UTF-8 bytes kept by the
    reader (surrogate-escaped) are written back as they were."""

    def __init__(self, path: str | os.PathLike, layout: str) -> None:
        if layout not in LAYOUTS:
            raise ValueError(f"unknown record layout {layout!r}; choose one of {LAYOUTS}")
        self.path = path
        self.layout = layout
        self.count = 0
        self._stack = ExitStack()
        self._handle: IO[str] | None = None

    def __enter__(self) -> RecordWriter:
        self._handle = self._stack.enter_context(
            atomic_write(self.path, "w", encoding="utf-8", errors="surrogateescape", newline="\n")
        )
        if self.layout == "array":
            self._handle.write("[")
        return self

    def write(self, text: str) -> None:
        if self.layout == "array":
            self._handle.write(",\n" if self.count else "\n")
            self._handle.write(text)
        else:
            self._handle.write(text)
            self._handle.write("\n")
        self.count += 1

    def __exit__(self, kind, error, trace) -> bool:
        if kind is None and self.layout == "array":
            self._handle.write("\n]\n" if self.count else "]\n")
        return self._stack.__exit__(kind, error, trace)
