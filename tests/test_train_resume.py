"""Resume: an interrupted run finishes with the same weights as an uninterrupted one; a torn save is skipped."""

from __future__ import annotations

import errno
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from safellava.train.checkpoints import MARKER_FILE, DiskFullError, newest_complete_checkpoint, remove_stale_temporary_files
from safellava.train.checkpoints import resolve_resume, rotate_checkpoints
from safellava.errors import UserError
from safellava.train.run import run
from train_support import StopAfter, same_weights, saved_weights, tiny_run_config


def test_stopped_and_resumed_run_ends_with_identical_weights(small_world, tmp_path):
    world = small_world.root
    run("finetune", tiny_run_config(world, tmp_path / "straight", "training.max_steps=6", "training.save_steps=3"))
    interrupted = tmp_path / "interrupted"
    config = tiny_run_config(world, interrupted, "training.max_steps=6", "training.save_steps=3")
    run("finetune", config, callbacks=[StopAfter(3)])
    assert newest_complete_checkpoint(interrupted).name == "checkpoint-3"
    resumed = tiny_run_config(world, interrupted, "training.max_steps=6", "training.save_steps=3",
                              "resume_from_checkpoint=auto")
    result = run("finetune", resumed)
    assert result.global_step == 6
    assert same_weights(saved_weights(tmp_path / "straight"), saved_weights(interrupted))


KILL_DURING_SAVE = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    from transformers import Trainer
    from safellava.train.run import run
    sys.path.insert(0, {tests!r})
    from train_support import tiny_run_config

    original = Trainer._save_optimizer_and_scheduler

    def die_on_second_save(self, output_dir):
        if self.state.global_step == 4:
            os._exit(9)  # killed mid-save: weights written, optimizer and trainer state not
        return original(self, output_dir)

    Trainer._save_optimizer_and_scheduler = die_on_second_save
    run("finetune", tiny_run_config(Path({world!r}), Path({out!r}), "training.max_steps=6"))
    """
)


def test_kill_during_save_leaves_previous_checkpoint_and_resume_uses_it(small_world, tmp_path):
    world, out = small_world.root, tmp_path / "run"
    script = KILL_DURING_SAVE.format(tests=str(Path(__file__).parent), world=str(world), out=str(out))
    process = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert process.returncode == 9, process.stderr[-2000:]
    torn = out / "checkpoint-4"
    assert torn.is_dir() and not (torn / MARKER_FILE).exists()
    assert resolve_resume("auto", out).endswith("checkpoint-2")
    with pytest.raises(UserError, match="incomplete"):
        resolve_resume(str(torn), out)
    result = run("finetune", tiny_run_config(world, out, "training.max_steps=6", "resume_from_checkpoint=auto"))
    assert result.global_step == 6
    run("finetune", tiny_run_config(world, tmp_path / "straight", "training.max_steps=6"))
    assert same_weights(saved_weights(tmp_path / "straight"), saved_weights(out))


KILL_BEFORE_MARKER = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    import safellava.train.checkpoints as checkpoints
    from safellava.train.run import run
    sys.path.insert(0, {tests!r})
    from train_support import tiny_run_config

    original = checkpoints._write_atomically

    def die_before_marking_step_4(path, text):
        if path.parent.name == "checkpoint-4" and path.name == checkpoints.MARKER_FILE:
            os._exit(9)  # killed after the new checkpoint's files, before its completion marker
        return original(path, text)

    checkpoints._write_atomically = die_before_marking_step_4
    run("finetune", tiny_run_config(Path({world!r}), Path({out!r}), "training.max_steps=6", "training.save_total_limit=1"))
    """
)


def test_save_total_limit_1_keeps_the_last_complete_checkpoint_until_the_new_one_is_marked(small_world, tmp_path):
    world, out = small_world.root, tmp_path / "run"
    script = KILL_BEFORE_MARKER.format(tests=str(Path(__file__).parent), world=str(world), out=str(out))
    process = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert process.returncode == 9, process.stderr[-2000:]
    # Trainer's own rotation would have deleted checkpoint-2 while checkpoint-4 was still unmarked.
    assert (out / "checkpoint-2" / MARKER_FILE).exists()
    assert not (out / "checkpoint-4" / MARKER_FILE).exists()
    assert resolve_resume("auto", out).endswith("checkpoint-2")
    result = run("finetune", tiny_run_config(world, out, "training.max_steps=6", "training.save_total_limit=1",
                                             "resume_from_checkpoint=auto"))
    assert result.global_step == 6
    assert sorted(p.name for p in out.glob("checkpoint-*")) == ["checkpoint-6"]  # rotated once each was marked


def _checkpoint(root: Path, step: int, complete: bool) -> Path:
    folder = root / f"checkpoint-{step}"
    folder.mkdir(parents=True)
    (folder / "trainer_state.json").write_text("{}")
    if complete:
        (folder / MARKER_FILE).write_text("{}")
    return folder


def test_rotation_counts_complete_checkpoints_and_keeps_the_best(tmp_path):
    for step, complete in ((1, True), (2, False), (3, True), (4, True), (5, True), (6, False)):
        _checkpoint(tmp_path, step, complete)
    removed = rotate_checkpoints(tmp_path, 2, keep=str(tmp_path / "checkpoint-1"))
    # Kept: the best (1), the two newest complete (4, 5), and the torn 6 that is newer than them (a save
    # in progress); removed: the complete 3 beyond the limit and the torn 2 no resume can use.
    assert sorted(p.name for p in removed) == ["checkpoint-2", "checkpoint-3"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint-1", "checkpoint-4", "checkpoint-5", "checkpoint-6"]
    assert rotate_checkpoints(tmp_path, None) == [] and rotate_checkpoints(tmp_path, 0) == []


def test_stale_temporary_files_are_removed_on_the_next_start(tmp_path):
    stale = [tmp_path / "prism" / "epoch-1" / "answers" / "t.jsonl.tmp", tmp_path / "checkpoint-2" / f"{MARKER_FILE}.tmp",
             tmp_path / "data" / "finetune.safe.json.partial-4242"]
    kept = [tmp_path / "prism" / "epoch-1" / "answers" / "t.jsonl", tmp_path / "wandb" / "run-1" / "files.tmp"]
    for path in stale + kept:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")
    (tmp_path / "tokenizer.partial-77").mkdir()  # a half-written folder
    removed = remove_stale_temporary_files(tmp_path)
    assert sorted(removed) == sorted(stale + [tmp_path / "tokenizer.partial-77"])
    assert all(path.exists() for path in kept) and not any(path.exists() for path in stale)


@pytest.mark.parametrize(
    "failure",
    [OSError(errno.ENOSPC, "No space left on device"),
     RuntimeError("[enforce fail at inline_container.cc:664] . unexpected pos 1536 vs 1450")],
)
def test_a_full_disk_during_a_save_says_so_with_the_path_and_free_space(small_world, tmp_path, monkeypatch, failure):
    from transformers import Trainer

    def disk_full(self, output_dir):
        raise failure

    monkeypatch.setattr(Trainer, "_save_optimizer_and_scheduler", disk_full)
    out = tmp_path / "run"
    with pytest.raises(DiskFullError) as caught:
        run("finetune", tiny_run_config(small_world.root, out, "training.max_steps=2"))
    message = str(caught.value)
    assert f"saving to {out} failed: the disk is full (" in message and " GiB free of " in message
    assert "resume_from_checkpoint=auto" in message and str(failure) in message
    assert isinstance(caught.value, UserError)  # the entry points print it without a traceback, exit 2
