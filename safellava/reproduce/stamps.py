"""Reuse of finished steps: a stamp records what a step was made from; equal stamps mean equal work."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Sequence

from safellava.atomic import write_text

STAMP_FILE = "reproduce_stamp.json"
SECONDS_FILE = "reproduce_seconds.json"  # the wall time of the job that trained a stage (kept apart from the stamp)


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def stage_stamp(argv: Sequence[str], inputs: Sequence[Path], parent_stamp: dict[str, Any] | None) -> dict[str, Any]:
    """What a finished step was made from: its command line, the bytes of its input files (data, recipes)
    and the stamp of the model it started from. Equal stamps mean the step would redo the same work."""
    return {
        "argv": list(argv[1:]),  # the interpreter path may differ between environments
        "inputs": {str(path): file_digest(path) for path in inputs},
        "parent": parent_stamp,
    }


def read_stamp(folder: Path) -> dict[str, Any] | None:
    path = folder / STAMP_FILE
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        return None


def write_stamp(folder: Path, stamp: dict[str, Any]) -> None:
    write_text(folder / STAMP_FILE, json.dumps(stamp, indent=1, sort_keys=True) + "\n")


def finished_model(folder: Path) -> bool:
    """A final model folder written by `run()` (it saves safellava.json last, after the weights)."""
    return (folder / "config.json").is_file() and (folder / "safellava.json").is_file()



def write_seconds(folder: Path, seconds: float) -> None:
    write_text(folder / SECONDS_FILE, json.dumps({"seconds": seconds}) + "\n")


def read_seconds(folder: Path) -> float | None:
    """How long the job that trained this folder's model ran (also when this run reuses it); None if unknown."""
    path = folder / SECONDS_FILE
    return json.loads(path.read_text(encoding="utf-8")).get("seconds") if path.is_file() else None


def trained_steps(folder: Path) -> int | None:
    """The optimizer steps a final model was trained for (`safellava.json`'s global_step); None if unknown."""
    path = folder / "safellava.json"
    return json.loads(path.read_text(encoding="utf-8")).get("global_step") if path.is_file() else None
