"""The PRISM epoch hook on real (tiny) training runs: reports, tracker keys, isolation, equality, best model."""

from __future__ import annotations

import json
import socket

import pytest
from transformers import TrainerCallback

from safellava.train.run import run
from train_support import same_weights, saved_weights, tiny_run_config

KEYS = [
    "prism/refusal_soft/overall", "prism/refusal_hard/overall", "prism/protection/gender",
    "prism/protection_macro", "prism/protection_sentence", "prism/over_refusal", "prism/benign_accuracy",
    "prism/judge_errors", "prism/seconds",
]


class TrackerSpy(TrainerCallback):
    """A tracker the test can read: every log line with the step it was logged at."""

    def __init__(self):
        self.lines = []

    def on_log(self, args, state, control, logs=None, **kwargs):
        self.lines.append((state.global_step, dict(logs or {})))


def _prism(world, **extra) -> str:
    settings = {"tasks": [str(world.root / "prism")], "images": str(world.prism_image_folder), "limit": 6,
                "max_new_tokens": 12, **extra}
    return "prism=" + json.dumps(settings)


def _epochs(world, out, *overrides):
    return tiny_run_config(world.root, out, "training.max_steps=-1", "training.num_train_epochs=2",
                           "training.save_strategy=epoch", *overrides)


def test_two_epochs_write_two_reports_and_log_prism_keys_at_the_epoch_steps(small_world, tmp_path):
    spy = TrackerSpy()
    result = run("finetune", _epochs(small_world, tmp_path / "run", _prism(small_world)), callbacks=[spy])
    prism_lines = [(step, logs) for step, logs in spy.lines if "prism/seconds" in logs]
    assert len(prism_lines) == 2
    steps_per_epoch = result.global_step // 2
    assert [step for step, _ in prism_lines] == [steps_per_epoch, 2 * steps_per_epoch]
    for _, logs in prism_lines:
        assert set(KEYS) <= set(logs), set(KEYS) - set(logs)
        assert all(0.0 <= logs[k] <= 100.0 for k in KEYS if k not in ("prism/seconds", "prism/judge_errors"))
    prism_dir = tmp_path / "run" / "prism"
    for epoch in (1, 2):
        summary = json.loads((prism_dir / f"epoch-{epoch}" / "summary.json").read_text())
        assert {"refusal_soft", "refusal_hard", "implicit_leakage", "benign"} <= set(summary)
        assert (prism_dir / f"epoch-{epoch}" / "answers").is_dir()
    history = [json.loads(line) for line in (prism_dir / "history.jsonl").read_text().splitlines()]
    assert [round(h["epoch"]) for h in history] == [1, 2]
    assert (prism_dir / "history.png").stat().st_size > 1000
    assert (prism_dir / "history_attributes.png").stat().st_size > 1000
    assert all(0 <= h["prism/benign_blind_rate"] <= 100 for h in history)


def test_hook_leaves_the_trained_weights_unchanged(small_world, tmp_path):
    run("finetune", _epochs(small_world, tmp_path / "plain"))
    run("finetune", _epochs(small_world, tmp_path / "hooked", _prism(small_world)))
    assert same_weights(saved_weights(tmp_path / "plain"), saved_weights(tmp_path / "hooked"))


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_unreachable_judge_is_logged_and_counted_and_training_continues(small_world, tmp_path, monkeypatch):
    monkeypatch.setenv("SAFELLAVA_TEST_KEY", "x")
    options = {"model": "judge", "base_url": f"http://127.0.0.1:{_closed_port()}/v1", "api_key_env": "SAFELLAVA_TEST_KEY",
               "max_attempts": 1, "timeout": 2, "use_cache": False}
    spy = TrackerSpy()
    result = run("finetune", _epochs(small_world, tmp_path / "run", _prism(small_world, judge="openai", judge_options=options)),
                 callbacks=[spy])
    prism_lines = [logs for _, logs in spy.lines if "prism/failures" in logs]
    assert [logs["prism/failures"] for logs in prism_lines] == [1.0, 2.0]
    assert all(logs["prism/judge_errors"] > 0 for logs in prism_lines)
    assert result.global_step > 0 and (tmp_path / "run" / "model.safetensors").exists()


def test_strict_hook_stops_training_on_failure(small_world, tmp_path, monkeypatch):
    monkeypatch.setenv("SAFELLAVA_TEST_KEY", "x")
    options = {"model": "judge", "base_url": f"http://127.0.0.1:{_closed_port()}/v1", "api_key_env": "SAFELLAVA_TEST_KEY",
               "max_attempts": 1, "timeout": 2, "use_cache": False}
    config = _epochs(small_world, tmp_path / "run", _prism(small_world, judge="openai", judge_options=options, strict=True))
    with pytest.raises(RuntimeError, match="prism.strict"):
        run("finetune", config)


def test_best_checkpoint_by_a_prism_figure_and_every_n_epochs(small_world, tmp_path):
    spy = TrackerSpy()
    config = _epochs(
        small_world, tmp_path / "run", _prism(small_world, every_n_epochs=2), "training.eval_strategy=epoch",
        "training.metric_for_best_model=prism/protection_macro", "training.greater_is_better=true",
        "training.load_best_model_at_end=true",
    )
    from safellava.train.config import load_run_config  # noqa: F401 — config built above

    result = run("finetune", config, callbacks=[spy])
    evaluated = [step for step, logs in spy.lines if "prism/seconds" in logs]
    assert evaluated == [result.global_step], "every_n_epochs=2 evaluates after epoch 2 only"
    state = json.loads((tmp_path / "run" / f"checkpoint-{result.global_step}" / "trainer_state.json").read_text())
    assert state["best_metric"] is not None and state["best_model_checkpoint"].endswith(f"checkpoint-{result.global_step}")


def test_wandb_gets_a_table_of_sample_responses_with_judge_labels(small_world, tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    out = tmp_path / "run"
    run("finetune", tiny_run_config(small_world.root, out, "training.report_to=wandb", "training.max_steps=2",
                                    _prism(small_world, every_n_steps=2, limit=3)))
    tables = list((out / "wandb").glob("offline-run-*/files/media/table/prism/samples_*.table.json"))
    assert len(tables) == 1
    table = json.loads(tables[0].read_text())
    assert table["columns"] == ["task", "question_id", "prompt", "response", "judgement"]
    tasks = {row[0] for row in table["data"]}
    assert {"refusal_soft", "implicit_leakage", "benign"} <= tasks
    assert all(json.loads(row[4]) for row in table["data"])  # every row carries its judge labels
    # The chart's two panels as line plots a user can pin, and the chart itself.
    media = out / "wandb"
    privacy = list(media.glob("offline-run-*/files/media/table/prism/privacy_table_*.table.json"))
    utility = list(media.glob("offline-run-*/files/media/table/prism/utility_table_*.table.json"))
    assert len(privacy) == 1 and len(utility) == 1
    lines = {row[1] for row in json.loads(utility[0].read_text())["data"]}
    assert {"benign questions answered right", "a model blind to the image", "benign questions refused"} <= lines
    assert list(media.glob("offline-run-*/files/media/images/prism/history_*.png"))
