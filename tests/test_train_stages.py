"""Stage 1 → stage 2 on the tiny recipe, through `run()` exactly as the entry points call it."""

from __future__ import annotations

import json
import os

import torch
import yaml
from transformers import AutoModelForImageTextToText

from safellava.model.projector_file import PROJECTOR_FILE
from safellava.train.checkpoints import MARKER_FILE, RUN_CONFIG_FILE
from safellava.train.run import run
from train_support import saved_weights, tiny_run_config


def test_pretrain_trains_only_the_projector_then_finetune_continues_from_it(small_world, tmp_path):
    world = small_world.root
    pretrain = run("pretrain", tiny_run_config(world, tmp_path / "pre", stage="pretrain"))
    assert pretrain.global_step == 4 and pretrain.data.template == "plain"
    assert (tmp_path / "pre" / PROJECTOR_FILE).exists()
    metadata = json.loads((tmp_path / "pre" / "safellava.json").read_text())
    assert metadata["stage"] == "pretrain" and metadata["template"] == "plain"

    # Only the projector changed between the first checkpoint and the final model.
    first, final = saved_weights(tmp_path / "pre" / "checkpoint-2"), saved_weights(tmp_path / "pre")
    changed = {k for k in final if not torch.equal(first[k], final[k])}
    assert changed and all("multi_modal_projector" in k for k in changed)

    finetune = run("finetune", tiny_run_config(world, tmp_path / "ft", f"init_from={tmp_path / 'pre'}"))
    assert finetune.data.template == "vicuna_v1"
    losses = [entry["loss"] for entry in finetune.log_history if "loss" in entry]
    assert len(losses) == 4 and all(loss > 0 for loss in losses)
    assert any("tokens_per_second" in entry for entry in finetune.log_history)
    tuned = saved_weights(tmp_path / "ft")
    assert any("language_model" in k and not torch.equal(tuned[k], final[k]) for k in tuned)

    # Every checkpoint carries the resolved config and a completion marker; the output loads with transformers.
    for folder in [tmp_path / "ft" / "checkpoint-2", tmp_path / "ft" / "checkpoint-4", tmp_path / "ft"]:
        resolved = yaml.safe_load((folder / RUN_CONFIG_FILE).read_text())
        assert resolved["stage"] == "finetune" and resolved["init_from"] == str(tmp_path / "pre")
    assert (tmp_path / "ft" / "checkpoint-4" / MARKER_FILE).exists()
    assert type(AutoModelForImageTextToText.from_pretrained(tmp_path / "ft")).__name__ == "LlavaForConditionalGeneration"


def test_finetune_from_a_projector_file_loads_those_weights(small_world, tmp_path):
    world = small_world.root
    run("pretrain", tiny_run_config(world, tmp_path / "pre", "training.max_steps=2", stage="pretrain"))
    config = tiny_run_config(
        world, tmp_path / "ft", f"init_from={tmp_path / 'pre' / PROJECTOR_FILE}", "training.max_steps=2",
        "training.save_steps=1",
    )
    run("finetune", config)
    projector = {k: v for k, v in saved_weights(tmp_path / "pre").items() if "multi_modal_projector" in k}
    # checkpoint-1 is after one step: the projector started from the file, so it moved only a little.
    start = saved_weights(tmp_path / "ft" / "checkpoint-1")
    for key, value in projector.items():
        assert (start[key] - value).abs().max() < 0.05


def test_separate_projector_learning_rate(small_world, tmp_path):
    from transformers import TrainerCallback

    seen = {}

    class GroupSpy(TrainerCallback):
        def on_step_end(self, args, state, control, optimizer=None, **kwargs):
            seen["lrs"] = sorted({group["lr"] for group in optimizer.param_groups})

    config = tiny_run_config(small_world.root, tmp_path / "ft", "training.projector_lr=2e-5", "training.max_steps=1",
                             "training.lr_scheduler_type=constant", "training.warmup_steps=0")
    run("finetune", config, callbacks=[GroupSpy()])
    assert seen["lrs"] == [2e-5, 1e-3]


def test_images_that_fail_to_decode_in_workers_are_counted_in_the_run_summary(small_world, tmp_path):
    import shutil

    world = tmp_path / "world"
    shutil.copytree(small_world.root, world)
    records = json.loads((world / "finetune.json").read_text())
    victim = next(r for r in records if "image" in r)
    (world / "images" / victim["image"]).write_bytes(b"\x89PNG\r\n\x1a\n truncated")  # exists, will not decode
    result = run("finetune", tiny_run_config(world, tmp_path / "run", "training.max_steps=-1",
                                             "training.num_train_epochs=1", "training.dataloader_num_workers=1"))
    summary = next(note for note in result.notes if note.startswith("training data:"))
    assert "unreadable_image" in summary or "corrupt_image" in summary, summary
    assert list((tmp_path / "run" / "data_problems").glob("problems-*.jsonl"))


def test_training_on_the_original_files_with_privacy_clean(small_world, tmp_path, monkeypatch):
    """`data.privacy: clean` trains on the raw world, cleaned as records load, and says what it changed;
    `data.max_image_pixels` sets the decompression-bomb limit for the run and its data-loader workers."""
    from safellava.data.images import DEFAULT_MAX_IMAGE_PIXELS, max_image_pixels, set_max_image_pixels
    from safellava.privacy.clean import clean_file

    stats = clean_file(str(small_world.root / "finetune.json"), str(tmp_path / "safe.json"), progress=False)
    monkeypatch.setenv("SAFELLAVA_MAX_IMAGE_PIXELS", "0")  # restored after the test
    try:
        result = run("finetune", tiny_run_config(small_world.root, tmp_path / "run", "data.privacy=clean",
                                                 "data.max_image_pixels=100000"))
        assert max_image_pixels() == 100000 and os.environ["SAFELLAVA_MAX_IMAGE_PIXELS"] == "100000"
    finally:
        set_max_image_pixels(DEFAULT_MAX_IMAGE_PIXELS)
    summary = next(note for note in result.notes if note.startswith("training data:"))
    assert f"cleaned on the fly (data.privacy: clean): {stats.records_changed} records" in summary, summary
    assert f"{stats.explicit_refusals} refusals" in summary
