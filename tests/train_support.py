"""Helpers for the training tests: a small synthetic world and tiny run configs."""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import load_file
from transformers import TrainerCallback

from safellava.train.config import RunConfig, load_run_config


def tiny_run_config(world: Path, output_dir: Path, *overrides: str, stage: str = "finetune") -> RunConfig:
    """A run of a few steps of the tiny recipe on the synthetic world, with no tracker and no workers."""
    data_file = world / ("pretrain.json" if stage == "pretrain" else "finetune.json")
    return load_run_config(
        None,
        [
            "model=tiny",
            f"data.files=[{data_file}]",
            f"data.image_folder={world / 'images'}",
            "data.model_max_length=256",
            f"training.output_dir={output_dir}",
            "training.max_steps=4",
            "training.per_device_train_batch_size=4",
            "training.save_steps=2",
            "training.logging_steps=1",
            "training.report_to=none",
            "training.learning_rate=1e-3",
            "training.dataloader_num_workers=0",
            "training.bf16=false",
            *overrides,
        ],
    )


def saved_weights(folder: Path) -> dict[str, torch.Tensor]:
    return load_file(str(folder / "model.safetensors"))


def same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor], prefix: str = "") -> bool:
    keys = [k for k in a if k.startswith(prefix)]
    return bool(keys) and set(a) == set(b) and all(torch.equal(a[k], b[k]) for k in keys)


class StopAfter(TrainerCallback):
    """Saves and stops a run after `step` optimizer steps, as an interrupted job would have left it."""

    def __init__(self, step: int):
        self.step = step

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step >= self.step:
            control.should_save = True
            control.should_training_stop = True
        return control
