"""Checkpoints that can always be resumed: a completion marker, and resume from the newest complete one.

transformers writes `checkpoint-<step>/` file by file; a job killed mid-save (preemption, time limit)
leaves a folder that looks like a checkpoint but lacks its optimizer or trainer state. After every save,
once all ranks have finished writing, we add the resolved run config and, last, a marker file. Resume
`auto` takes the newest folder with the marker, so a torn save is skipped and the previous one is used.

Old checkpoints are removed (`save_total_limit`) only after the new one is marked complete: Trainer's own
rotation runs before that (LlavaTrainer turns it off), so a kill in between would leave no complete
checkpoint at all. Temporary files of an interrupted run are removed when the next one starts, and a save
that fails for lack of disk space says so, with the folder and the space left.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import re
import shutil
import time
from contextlib import contextmanager
from pathlib import Path

from transformers import TrainerCallback

from safellava.errors import UserError

logger = logging.getLogger(__name__)

MARKER_FILE = "safellava_checkpoint.json"
RUN_CONFIG_FILE = "safellava_run.yaml"
TEMPORARY_SUFFIX = ".tmp"  # files written under this name and then renamed into place
_CHECKPOINT_RE = re.compile(r"^checkpoint-(\d+)$")
# `<name>.partial-<pid>`: files and folders written whole under a temporary name (synthetic data, caches)
_PARTIAL_RE = re.compile(r"\.partial-\d+$")


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
            _write_atomically(folder / MARKER_FILE, json.dumps(marker) + "\n")
            rotate_checkpoints(args.output_dir, args.save_total_limit, keep=state.best_model_checkpoint)
        _barrier()
        return control


def _write_atomically(path: Path, text: str) -> None:
    """A reader (or a resume) sees the whole file or none of it."""
    temporary = path.with_name(path.name + TEMPORARY_SUFFIX)
    temporary.write_text(text)
    os.replace(temporary, path)


def rotate_checkpoints(output_dir: str | Path, limit: int | None, keep: str | None = None) -> list[Path]:
    """Delete the oldest checkpoints beyond `limit` complete ones (None or 0: keep all), never the newest
    complete one nor `keep` (the best so far). A folder whose save never finished and that is older than
    the newest complete checkpoint is removed too: no resume can use it. Returns what was removed."""
    if not limit:
        return []
    folders = checkpoint_folders(output_dir)
    complete = [folder for _, folder in folders if is_complete(folder)]
    if not complete:
        return []
    newest_step = _step(complete[-1])
    kept = {folder.name for folder in complete[-limit:]} | ({Path(keep).name} if keep else set())
    removed = []
    for step, folder in folders:
        if folder.name not in kept and (folder in complete or step < newest_step):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    if removed:
        logger.info("removed old checkpoint(s) %s (save_total_limit=%s)", ", ".join(map(str, removed)), limit)
    return removed


def _step(folder: Path) -> int:
    return int(_CHECKPOINT_RE.match(folder.name).group(1))


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


class DiskFullError(UserError, OSError):
    """A save failed because the file system is full; the message names the folder and the space left."""


def _out_of_space(error: BaseException) -> bool:
    """ENOSPC anywhere in the chain, or the messages torch and safetensors give for a short write."""
    while error is not None:
        if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        text = str(error)
        if "No space left on device" in text or "unexpected pos" in text or "file write failed" in text:
            return True
        error = error.__cause__ or error.__context__
    return False


@contextmanager
def explain_disk_full(folder: str | Path):
    """Turn a save that failed for lack of disk space into a `DiskFullError` that says so."""
    try:
        yield
    except Exception as error:
        if not _out_of_space(error):
            raise
        existing = Path(folder).resolve()
        while not existing.exists() and existing != existing.parent:
            existing = existing.parent
        usage = shutil.disk_usage(existing)
        raise DiskFullError(
            f"saving to {folder} failed: the disk is full ({_gib(usage.free)} free of {_gib(usage.total)} on the file "
            f"system of {existing}); free space or set training.output_dir elsewhere, then resume with "
            f"resume_from_checkpoint=auto (the last complete checkpoint is kept). The error was: {error}"
        ) from error


def _is_temporary(name: str) -> bool:
    return name.endswith(TEMPORARY_SUFFIX) or bool(_PARTIAL_RE.search(name))


def _gib(size: int) -> str:
    return f"{size / 2**30:.2f} GiB"


def remove_stale_temporary_files(output_dir: str | Path) -> list[Path]:
    """Remove what an interrupted run left half-written under `output_dir` (`*.tmp`, `*.partial-<pid>`)
    before this run writes anything; on the main process, while the others wait. Returns what was removed."""
    from safellava.prism.generate import distributed_state

    state = distributed_state()
    removed: list[Path] = []
    if state.is_main_process and Path(output_dir).is_dir():
        for root, folders, files in os.walk(output_dir):
            stale = [Path(root, name) for name in [*files, *folders] if _is_temporary(name)]
            # Trackers' folders hold their own files; what is removed is not walked into.
            folders[:] = [name for name in folders if name not in ("wandb", "runs") and not _is_temporary(name)]
            for path in stale:
                if path.is_dir():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink(missing_ok=True)
            removed.extend(stale)
        if removed:
            logger.warning("removed %d temporary file(s) an interrupted run left: %s", len(removed), ", ".join(map(str, removed)))
    state.wait_for_everyone()
    return removed
