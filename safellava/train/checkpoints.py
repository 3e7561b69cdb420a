"""Checkpoints that can always be resumed: a completion marker, and resume from the newest complete one.

transformers writes `checkpoint-<step>/` file by file; a job killed mid-save (preemption, time limit)
leaves a folder that looks like a checkpoint but lacks its optimizer or trainer state. After every save,
once all ranks have finished writing, we add the resolved run config and, last, a marker file. Resume
`auto` takes the newest folder with the marker, so a torn save is skipped and the previous one is used.
"""

from __future__ import annotations

import json
import logging
import re
import time
from pathlib import Path

from transformers import TrainerCallback

from safellava.errors import UserError

logger = logging.getLogger(__name__)

MARKER_FILE = "safellava_checkpoint.json"
RUN_CONFIG_FILE = "safellava_run.yaml"
_CHECKPOINT_RE = re.compile(r"^checkpoint-(\d+)$")


class CheckpointCompletionCallback(TrainerCallback):
    """Writes the resolved run config and then the completion marker into each checkpoint."""

    def __init__(self, resolved_config_yaml: str):
        self.resolved_config_yaml = resolved_config_yaml

    def on_save(self, args, state, control, **kwargs):
        _barrier()  # every rank has written its shards (DeepSpeed saves one per rank)
        if state.is_world_process_zero:
            folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
            (folder / RUN_CONFIG_FILE).write_text(self.resolved_config_yaml)
            marker = {"complete": True, "global_step": state.global_step, "epoch": state.epoch, "time": time.time()}
            (folder / MARKER_FILE).write_text(json.dumps(marker) + "\n")
        _barrier()
        return control


def _barrier() -> None:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def checkpoint_folders(output_dir: str | Path) -> list[tuple[int, Path]]:
    """(step, folder) of every `checkpoint-<step>` folder, oldest first, complete or not."""
    root = Path(output_dir)
    if not root.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in root.iterdir() if p.is_dir() and (m := _CHECKPOINT_RE.match(p.name))]
    return sorted(found)


def is_complete(folder: Path) -> bool:
    return (folder / MARKER_FILE).exists() and (folder / "trainer_state.json").exists()


def newest_complete_checkpoint(output_dir: str | Path) -> Path | None:
    """The newest checkpoint whose save finished; torn ones are logged and skipped."""
    for step, folder in reversed(checkpoint_folders(output_dir)):
        if is_complete(folder):
            return folder
        logger.warning("skipping %s: its save did not finish (no %s)", folder, MARKER_FILE)
    return None


def resolve_resume(value: str | None, output_dir: str | Path) -> str | None:
    """The checkpoint to resume from for `resume_from_checkpoint: auto | <path> | null`."""
    if value is None:
        return None
    if value == "auto":
        folder = newest_complete_checkpoint(output_dir)
        return str(folder) if folder else None
    folder = Path(value)
    if not folder.is_dir():
        raise UserError(f"resume_from_checkpoint: {value} is not a folder; use `auto` or a checkpoint-<step> folder")
    if not is_complete(folder):
        raise UserError(
            f"resume_from_checkpoint: {value} is incomplete (its save was interrupted: no {MARKER_FILE} or "
            f"trainer_state.json); use an earlier checkpoint or `auto`"
        )
    return str(folder)
