"""Every bad setting stops a training run with exit code 2 and one clear message, before any model is built.

Each test is one reproduction a new user ran into: the message must name where the value came from (the file
or the command-line override), the key, the value and what is allowed.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from safellava.train.entry import main


def train(capsys, *overrides: str, config: str = "demo") -> tuple[int, str]:
    """`train/finetune.py --config CONFIG overrides...` in this process: (exit code, stderr)."""
    code = main("finetune", ["--config", config, *overrides])
    return code, capsys.readouterr().err


@pytest.mark.parametrize(
    "override, message",
    [
        ("training.learning_rate=abc", "`training.learning_rate` = 'abc': expected a number"),
        ("training.learning_rate=-1", "`training.learning_rate` = -1: expected a number > 0"),
        ("training.per_device_train_batch_size=0", "`training.per_device_train_batch_size` = 0: expected an integer >= 1"),
        ("training.warmup_steps=-5", "`training.warmup_steps` = -5: expected a number >= 0"),
        ("data.model_max_length=abc", "`data.model_max_length` = 'abc': expected an integer"),
        ("seed=abc", "`seed` = 'abc': expected an integer"),
        ("training.num_train_epochs=-1", "`training.num_train_epochs` = -1: expected a number >= 0 (0 = a dry run"),
        ("training.lr_scheduler_type=cosin", "`training.lr_scheduler_type` = 'cosin': expected one of 'linear', 'cosine'"),
        ("training.load_best_model_at_end=true",
         "`training.load_best_model_at_end` = True: rejected by transformers.TrainingArguments: --load_best_model_at_end"),
    ],
)
def test_bad_value_stops_the_run_before_the_model_with_exit_2(capsys, tmp_path, no_model, override, message):
    started = time.monotonic()
    code, err = train(capsys, override, f"training.output_dir={tmp_path}")
    assert code == 2
    assert f"train/finetune.py: error: command-line override {override}: {message}" in err
    assert time.monotonic() - started < 30
    assert not any(tmp_path.iterdir())  # nothing was started, nothing written


def test_every_problem_is_reported_at_once(capsys, tmp_path, no_model):
    code, err = train(capsys, "training.learning_rate=abc", "seed=abc", "data.model_max_length=abc",
                      "training.per_device_train_batch_size=0", f"training.output_dir={tmp_path}")
    assert code == 2
    assert "4 configuration problems:" in err
    for key in ("training.learning_rate", "seed", "data.model_max_length", "training.per_device_train_batch_size"):
        assert f"`{key}` = " in err


def test_misspelt_template_in_a_model_recipe_names_the_recipe_file(capsys, tmp_path, no_model):
    recipe = yaml.safe_load(Path("configs/models/tiny.yaml").read_text())
    recipe["template"] = "vicuna_v2"
    path = tmp_path / "my-model.yaml"
    path.write_text(yaml.safe_dump(recipe))
    code, err = train(capsys, f"model={path}", f"training.output_dir={tmp_path / 'out'}")
    assert code == 2
    assert f"{path}: `template` = 'vicuna_v2': expected one of llama3, plain, qwen_1_5, tokenizer, vicuna_v1 (did you mean 'vicuna_v1'?)" in err


def test_misspelt_template_in_a_recipe_extension_names_the_override(capsys, tmp_path, no_model):
    override = "model={recipe: tiny, template: vicuna}"
    code, err = train(capsys, override, f"training.output_dir={tmp_path}")
    assert code == 2 and f"command-line override {override}: `model.template` = 'vicuna'" in err


def test_a_bad_value_in_the_file_names_the_file(capsys, tmp_path, no_model):
    config = yaml.safe_load(Path("configs/recipes/demo.yaml").read_text())
    config["training"].update(learning_rate=-0.5, output_dir=str(tmp_path / "out"))
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(config))
    code, err = train(capsys, config=str(path))
    assert code == 2 and f"{path}: `training.learning_rate` = -0.5: expected a number > 0" in err


def _data_only(tmp_path: Path, data_file: Path, *extra: str) -> list[str]:
    return [f"data.files=[{data_file}]", f"data.image_folder={tmp_path}", "data.synth=null", "prism=null",
            f"training.output_dir={tmp_path / 'out'}", *extra]


@pytest.mark.parametrize("content", ["", "  \n", "[]", "[\n  ]\n"])
def test_empty_data_file_stops_the_run(capsys, tmp_path, no_model, content):
    empty = tmp_path / "empty.json"
    empty.write_text(content)
    code, err = train(capsys, *_data_only(tmp_path, empty))
    assert code == 2
    assert f"`data.files[0]` = '{empty}': a LLaVA JSON/JSONL file with at least one record; the " in err


def test_missing_data_file_stops_the_run(capsys, tmp_path, no_model):
    missing = tmp_path / "nope.json"
    code, err = train(capsys, *_data_only(tmp_path, missing))
    assert code == 2 and f"`data.files[0]` = '{missing}': an existing LLaVA .json/.jsonl file" in err


def test_missing_image_folder_and_prism_files_are_named(capsys, tmp_path, no_model):
    data = tmp_path / "data.json"
    data.write_text(json.dumps([{"id": "a", "conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "yo"}]}]))
    code, err = train(capsys, f"data.files=[{data}]", f"data.image_folder={tmp_path / 'no-images'}", "data.synth=null",
                      f"training.output_dir={tmp_path / 'out'}")
    assert code == 2
    assert "`data.image_folder`" in err and "`prism.tasks[0]` = 'runs/demo/data/prism'" in err and "`prism.images`" in err


def test_strict_validation_failure_stops_the_run_before_the_model(capsys, tmp_path, no_model):
    records = [
        {"id": "good", "conversations": [{"from": "human", "value": "hello"}, {"from": "gpt", "value": "hi"}]},
        {"id": "no-picture", "image": "missing.png",
         "conversations": [{"from": "human", "value": "<image>\nWhat is this?"}, {"from": "gpt", "value": "A cat."}]},
    ]
    data = tmp_path / "data.json"
    data.write_text(json.dumps(records))
    code, err = train(capsys, *_data_only(tmp_path, data, "data.validation=strict", "model=tiny"))
    assert code == 2
    assert "no-picture" in err and "missing_image" in err and "strict validation stops at the first problem" in err


def test_unknown_data_synth_key_is_named(capsys, tmp_path, no_model):
    code, err = train(capsys, "data.synth.n_train_image=10", f"training.output_dir={tmp_path}")
    assert code == 2 and "`data.synth.n_train_image` = 10: not a known key here (did you mean 'n_train_images'?)" in err


def test_the_command_a_user_types_exits_2_without_a_traceback(tmp_path):
    process = subprocess.run(
        [sys.executable, "train/finetune.py", "training.learning_rate=abc", "training.warmup_steps=-5",
         f"training.output_dir={tmp_path}"],
        capture_output=True, text=True, timeout=300,
    )
    assert process.returncode == 2, process.stderr[-2000:]
    assert "Traceback" not in process.stderr
    assert "2 configuration problems:" in process.stderr
    assert "command-line override training.learning_rate=abc: `training.learning_rate` = 'abc'" in process.stderr
