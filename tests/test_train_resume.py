"""Resume: an interrupted run finishes with the same weights as an uninterrupted one; a torn save is skipped."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from transformers import TrainerCallback

from safellava.train.checkpoints import MARKER_FILE, newest_complete_checkpoint, resolve_resume
from safellava.errors import UserError
from safellava.train.run import run
from train_support import same_weights, saved_weights, tiny_run_config


class StopAfter(TrainerCallback):
    def __init__(self, step: int):
        self.step = step

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step >= self.step:
            control.should_save = True
            control.should_training_stop = True
        return control


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
    script = KILL_DURING_SAVE.format(tests=str(__import__("pathlib").Path(__file__).parent), world=str(world), out=str(out))
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
