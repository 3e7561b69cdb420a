"""Writing outputs that never lose or fake data.

Every file the project writes goes through `atomic_write`: the content goes to a temporary file in the same
folder (`.<name>.partial-<pid>`) and is renamed over the final path only when it is complete, flushed to
disk. A run that fails, is interrupted (Ctrl-C, SIGTERM: see `terminate_as_interrupt`) or killed leaves no
file at the final path, or the previous one untouched; a killed run's leftover is visibly partial.

`refuse_overwriting_inputs` stops a tool before it opens anything when an output would replace one of its
inputs — through a symbolic link, a hard link or a different spelling of the path.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from safellava.errors import UserError

PARTIAL_MARK = ".partial-"


@contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "w", **open_args: Any) -> Iterator[IO]:
    """Open a temporary file beside `path` for writing; rename it to `path` when the block completes.

    Text mode defaults to UTF-8. On any exception (KeyboardInterrupt and SystemExit included) the temporary
    file is removed and the exception goes on."""
    if "w" not in mode:
        raise ValueError(f"atomic_write writes whole files; mode {mode!r} has no 'w'")
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    temporary = final.with_name(f".{final.name}{PARTIAL_MARK}{os.getpid()}")
    if "b" not in mode:
        open_args.setdefault("encoding", "utf-8")
    try:
        with open(temporary, mode, **open_args) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, final)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write `text` to `path` atomically (UTF-8)."""
    with atomic_write(path) as handle:
        handle.write(text)


def write_json(path: str | os.PathLike, document: Any, *, indent: int | None = 2) -> None:
    """Write `document` as JSON (UTF-8, non-ASCII kept, final newline) atomically."""
    write_text(path, json.dumps(document, indent=indent, ensure_ascii=False) + "\n")


def save_image(image: Any, path: str | os.PathLike) -> None:
    """Save a Pillow image (a chart) atomically, in the format its file name says (e.g. `.png`)."""
    from PIL import Image

    suffix = Path(path).suffix.lower()
    image_format = Image.registered_extensions().get(suffix)
    if image_format is None:
        raise ValueError(f"{path}: no image format for the extension {suffix!r}")
    with atomic_write(path, "wb") as handle:
        image.save(handle, format=image_format)


def refuse_overwriting_inputs(inputs: Iterable[str | os.PathLike], outputs: dict[str, str | os.PathLike | None]) -> None:
    """UserError if an output (`{"--option or role": path}`) is one of the inputs or another output.

    Compares files, not spellings: the same inode (hard links, symbolic links) or the same resolved path."""
    inputs = [Path(p) for p in inputs]
    named = [(label, Path(p)) for label, p in outputs.items() if p is not None]
    for label, out in named:
        for source in inputs:
            if _same_file(out, source):
                raise UserError(
                    f"the output {label} {out} is the input {source}; nothing was written. Write to a new file."
                )
    for position, (label, out) in enumerate(named):
        for other_label, other in named[position + 1 :]:
            if _same_file(out, other):
                raise UserError(f"{label} and {other_label} are the same file ({out}); nothing was written. Give each output its own path.")


def _same_file(a: Path, b: Path) -> bool:
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist yet
        return False


def terminate_as_interrupt() -> None:
    """Make SIGTERM (a job scheduler's stop) and SIGINT behave like Ctrl-C, so `atomic_write` cleans up.

    SIGINT is set too because a process started in the background by a shell inherits it ignored."""

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"stopped by signal {signum}")

    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGINT, interrupt)
