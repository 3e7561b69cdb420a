"""Trackers: wandb without credentials logs offline and says how to sync; tensorboard writes event files."""

from __future__ import annotations

from safellava.train.run import run
from train_support import tiny_run_config


def test_wandb_without_credentials_logs_offline_and_says_where(small_world, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.delenv("WANDB_DIR", raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    monkeypatch.setenv("WANDB_SILENT", "true")
    out = tmp_path / "run"
    result = run("finetune", tiny_run_config(small_world.root, out, "training.report_to=wandb", "training.max_steps=2"))
    runs = list((out / "wandb").glob("offline-run-*"))
    assert len(runs) == 1 and any(runs[0].glob("*.wandb"))
    note = next(line for line in result.notes if line.startswith("wandb logged offline"))
    assert f"wandb sync {runs[0]}" in note and "no credentials" in note
    assert "wandb sync" in capsys.readouterr().out


def test_tensorboard_writes_event_files(small_world, tmp_path, monkeypatch):
    monkeypatch.setenv("TENSORBOARD_LOGGING_DIR", str(tmp_path / "tb"))  # transformers 5's way to place them
    run("finetune", tiny_run_config(small_world.root, tmp_path / "run", "training.report_to=tensorboard",
                                    "training.max_steps=2"))
    assert list((tmp_path / "tb").rglob("events.out.tfevents.*"))


def test_resolving_a_config_has_no_side_effects_and_wandb_settings_are_per_run(small_world, tmp_path, monkeypatch):
    import os

    from safellava.train.config import load_run_config
    from safellava.train.preflight import preflight

    monkeypatch.delenv("WANDB_DIR", raising=False)
    monkeypatch.setenv("WANDB_SILENT", "true")
    config = load_run_config("demo", [f"training.output_dir={tmp_path / 'not-created'}"])
    preflight("finetune", config)  # the whole check, TrainingArguments' own included
    assert not (tmp_path / "not-created").exists() and "WANDB_DIR" not in os.environ
    for name in ("first", "second"):
        run("finetune", tiny_run_config(small_world.root, tmp_path / name, "training.report_to=wandb",
                                        "training.max_steps=1"))
        assert list((tmp_path / name / "wandb").glob("offline-run-*")), f"{name}: wandb files went elsewhere"
    assert "WANDB_DIR" not in os.environ
