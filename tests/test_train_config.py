"""Run configs: overrides, clear errors for unknown keys and bad values, launcher checks."""

from __future__ import annotations

import pytest

from safellava.config import Problems
from safellava.errors import UserError
from safellava.train.config import ConfigError, load_run_config
from safellava.train.entry import main
from safellava.train.preflight import preflight, training_arguments
from safellava.train.run import run
from safellava.train.stages import STAGES


def resolve_training_arguments(stage, config):
    """The stage's training arguments for `config`, which must have no problem."""
    problems = Problems()
    training = training_arguments(stage, config, problems)
    assert not problems, problems.items
    return training


def test_overrides_reach_nested_fields_and_parse_short_floats():
    config = load_run_config("demo", ["training.learning_rate=2e-5", "data.model_max_length=1024", "seed=7"])
    assert config.training["learning_rate"] == 2e-5
    assert config.data.model_max_length == 1024 and config.seed == 7
    assert "training.learning_rate=2e-5" in config.source


@pytest.mark.parametrize(
    "override, message",
    [
        ("trainer.lr=1", r"trainer.lr=1: `trainer` = \{'lr': 1\}: not a known key here \(did you mean 'training'\?\)"),
        ("data.image_dir=x", r"`data\.image_dir` = 'x': not a known key here \(did you mean 'image_folder'\?\)"),
        ("data.validation=lenient", "`data.validation` = 'lenient': expected one of skip, strict"),
        ("data.files=[{path: a.json, weight: -1}]", r"`data\.files\[0\]\.weight` = -1: expected a number > 0"),
        ("learning_rate", "a key=value override"),
        ("training.learning_rate=[1", "valid YAML"),
        ("data.model_max_length.x=1", "`data.model_max_length` = 512: a mapping"),
    ],
)
def test_bad_config_names_the_key(override, message):
    with pytest.raises(ConfigError, match=message):
        load_run_config("demo", [override])


def test_unknown_training_argument_is_named_with_the_close_match():
    config = load_run_config("demo", ["training.learnig_rate=1e-4"])
    with pytest.raises(ConfigError, match=r"`training\.learnig_rate` = 0.0001: .*did you mean 'learning_rate'"):
        preflight("finetune", config)


def test_stage_defaults_are_llava_1_5s_and_config_wins():
    config = load_run_config("demo", ["training.output_dir=/tmp/x"])
    pretrain = resolve_training_arguments(STAGES["pretrain"], load_run_config(None, ["training.output_dir=/tmp/x"]))
    assert pretrain["learning_rate"] == 1e-3 and pretrain["lr_scheduler_type"] == "cosine"
    assert resolve_training_arguments(STAGES["finetune"], config)["learning_rate"] == 1e-3  # demo's own


def test_qlora_with_zero3_is_refused_before_building(small_world, tmp_path):
    config = load_run_config(
        "demo",
        [
            "model={name: q, vision: {kind: clip, config: {image_size: 32, patch_size: 8, hidden_size: 32, "
            "intermediate_size: 64, num_hidden_layers: 1, num_attention_heads: 2}}, language: {kind: llama, "
            "config: {hidden_size: 64, intermediate_size: 128, num_hidden_layers: 1, num_attention_heads: 4}}, "
            "tokenizer: {train: sentencepiece_llama, corpus: synth}, tune: {language_model: qlora}}",
            "training.deepspeed=configs/deepspeed/zero3.json",
            f"training.output_dir={tmp_path}",
        ],
    )
    with pytest.raises(ConfigError, match="QLoRA with ZeRO-3"):
        run("finetune", config)


def test_missing_inputs_give_clear_errors(tmp_path, capsys):
    assert main("finetune", ["--config", "no-such-config"]) == 2
    assert "`--config` = 'no-such-config': a run config: a YAML path or one of" in capsys.readouterr().err
    assert main("finetune", ["--config", "demo", f"init_from={tmp_path / 'missing'}", "data.synth=null",
                             "prism=null", f"training.output_dir={tmp_path}"]) == 2
    assert "init_from" in capsys.readouterr().err
    with pytest.raises(UserError, match="resume_from_checkpoint"):
        from safellava.train.checkpoints import resolve_resume

        resolve_resume(str(tmp_path / "nope"), tmp_path)


def test_every_shipped_run_config_resolves_with_its_model_recipe(monkeypatch):
    from pathlib import Path

    # The GPU recipes ask for bf16, which TrainingArguments refuses on a machine without a bf16 GPU.
    monkeypatch.setattr("transformers.training_args.is_torch_bf16_gpu_available", lambda: True)

    from safellava.model import load_model_recipe
    from safellava.model.summary import recipe_parameter_report

    configs = sorted(Path("configs/recipes").glob("*.yaml"))
    assert len(configs) >= 8
    for path in configs:
        config = load_run_config(str(path))
        stage = next((name for name in ("pretrain", "patch") if name in path.name), "finetune")
        training = resolve_training_arguments(STAGES[stage], config)
        recipe = load_model_recipe(config.model)
        assert training["output_dir"] and config.data.files, path
        assert recipe_parameter_report(recipe).trainable > 0, path


def test_yaml_words_stay_strings_and_short_floats_are_floats():
    config = load_run_config("demo", ["training.save_strategy=no", "training.eval_strategy=no",
                                      "training.weight_decay=1e-2", "training.gradient_checkpointing=true"])
    assert config.training["save_strategy"] == "no" and config.training["eval_strategy"] == "no"
    assert config.training["weight_decay"] == 0.01 and config.training["gradient_checkpointing"] is True


def test_projector_lr_with_a_deepspeed_optimizer_is_refused(tmp_path):
    config = load_run_config("demo", ["training.projector_lr=2e-5", f"training.output_dir={tmp_path}",
                                      "training.deepspeed=configs/deepspeed/zero3_offload.json", "data.synth=null"])
    with pytest.raises(ConfigError, match="projector_lr"):
        run("finetune", config)


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="a CPU machine")
def test_bf16_auto_is_off_for_deepspeed_on_cpu():
    """TrainingArguments refuses bf16 on a CPU without use_cpu, which a DeepSpeed run cannot set."""
    config = load_run_config("demo", ["training.deepspeed=configs/deepspeed/zero3.json"])
    assert resolve_training_arguments(STAGES["finetune"], config)["bf16"] is False
