"""Reading PRISM's JSON Lines files (task files, answer files): one JSON value per line, blank lines
skipped, every unparseable line an error that names `path:line`."""

from __future__ import annotations

import json
import os
from typing import Iterator


def json_lines(
    path: str | os.PathLike, error: type[Exception], *, tolerate_torn_tail: bool = False
) -> Iterator[tuple[int, str, object]]:
    """(line number, "path:line", value) for each non-blank line of `path`.

    error: raised (with the place and the parser's message) for a line that is not valid JSON.
    tolerate_torn_tail: an unparseable LAST line (a write cut short) ends the file instead.
    """
    with open(path, encoding="utf-8") as handle:
        lines = handle.read().split("\n")
    last = max((i for i, line in enumerate(lines) if line.strip()), default=-1)
    for index, line in enumerate(lines):
        if not line.strip():
            continue
        where = f"{path}:{index + 1}"
        try:
            value = json.loads(line)
        except json.JSONDecodeError as failure:
            if tolerate_torn_tail and index == last:
                return
            raise error(f"{where}: not valid JSON ({failure.msg}).") from None
        yield index + 1, where, value
