"""Reading PRISM's JSON Lines files (task files, answer files): one JSON value per line, blank lines
skipped, every line that is not UTF-8 or not JSON an error that names `path:line`."""

from __future__ import annotations

import json
import os
from typing import Iterator


def json_lines(
    path: str | os.PathLike, error: type[Exception], *, tolerate_torn_tail: bool = False
) -> Iterator[tuple[int, str, object]]:
    """(line number, "path:line", value) for each non-blank line of `path`.

    error: raised (with the place and what is wrong) for a line that is not UTF-8 text or not valid JSON.
    tolerate_torn_tail: an unparseable LAST line (a write cut short, even inside a character) ends the
    file instead.
    """
    with open(path, "rb") as handle:
        lines = handle.read().split(b"\n")
    last = max((i for i, line in enumerate(lines) if line.strip()), default=-1)
    for index, raw in enumerate(lines):
        if not raw.strip():
            continue
        where = f"{path}:{index + 1}"
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as failure:
            if tolerate_torn_tail and index == last:
                return
            raise error(
                f"{where}: not UTF-8 text (byte {failure.start + 1} of the line is {raw[failure.start]:#04x}); "
                f"save the file as UTF-8"
            ) from None
        try:
            value = json.loads(line)
        except json.JSONDecodeError as failure:
            if tolerate_torn_tail and index == last:
                return
            raise error(f"{where}: not valid JSON ({failure.msg}).") from None
        yield index + 1, where, value
