"""Recipes: clear errors for bad input; the 7B summary matches llava-hf/llava-1.5-7b-hf offline."""

from __future__ import annotations

import json

import pytest
import yaml

from safellava.cli import main
from safellava.model.recipe import RecipeError, load_model_recipe
from safellava.model.summary import recipe_parameter_report


def _write(tmp_path, data) -> str:
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


def _tiny_dict():
    with open("configs/models/tiny.yaml") as handle:
        return yaml.safe_load(handle)


def test_unknown_key_is_named(tmp_path):
    data = _tiny_dict()
    data["vision"]["feature_layers"] = -2
    with pytest.raises(RecipeError, match=r"vision\.feature_layers"):
        load_model_recipe(_write(tmp_path, data))


def test_missing_required_field_is_named(tmp_path):
    data = _tiny_dict()
    del data["language"]
    with pytest.raises(RecipeError, match=r"`language` = \(missing\): required: a mapping with keys kind, pretrained"):
        load_model_recipe(_write(tmp_path, data))


@pytest.mark.parametrize(
    "tune, message",
    [
        ({"vision_tower": "lora"}, "adapts the language model only"),
        ({"projector": "qlora"}, "adapts the language model only"),
        ({"vision_tower": "frozen", "projector": "frozen", "language_model": "frozen"}, "nothing would train"),
        ({"language_model": "qlora", "lm_head": "full"}, "lm_head: frozen"),
        ({"language_model": "half"}, "expected one of frozen, full, lora, qlora"),
        ({"text_model": "full"}, r"`tune.text_model` = 'full': not a known key here; known keys: vision_tower, projector"),
    ],
)
def test_contradictory_or_empty_policy_fails_fast(tmp_path, tune, message):
    data = _tiny_dict()
    data["tune"] = tune
    with pytest.raises(RecipeError, match=message):
        load_model_recipe(_write(tmp_path, data))


def test_bad_choice_lists_the_allowed_values(tmp_path):
    data = _tiny_dict()
    data["projector"] = {"type": "mlp3x_gelu"}
    with pytest.raises(RecipeError, match=r"projector\.type.*mlp2x_gelu"):
        load_model_recipe(_write(tmp_path, data))


def test_llava_7b_summary_matches_llava_hf_offline():
    report = recipe_parameter_report(load_model_recipe("configs/models/llava-1.5-7b.yaml"))
    assert abs(report.total - 7.06e9) / 7.06e9 < 0.005
    assert report.parts["vision_tower"].trainable == 0
    # Projector 1024→4096→4096 with biases.
    assert report.parts["projector"].params == 1024 * 4096 + 4096 + 4096 * 4096 + 4096
    # Vocabulary 32,000 + <image> + <pad>, padded to 32,064 rows.
    assert report.parts["lm_head"].params == 32064 * 4096


def test_summary_cli_json(capsys):
    assert main(["model", "summary", "configs/models/llava-1.5-7b.yaml", "--json", "--gpus", "8"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert set(summary["modules"]) == {"vision_tower", "projector", "language_model", "lm_head"}
    assert summary["modules"]["projector"]["trainable"] == summary["modules"]["projector"]["params"]
    assert summary["total_params"] == sum(m["params"] for m in summary["modules"].values())
    assert 0 < summary["memory"]["zero3_gib_per_gpu"] < summary["memory"]["zero2_gib_per_gpu"]


def test_summary_cli_lora_override_counts_adapter_parameters(capsys):
    assert main(["model", "summary", "llava-1.5-7b", "--tune", "language_model=lora", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    # r=128 LoRA on all seven projections of 32 Vicuna-7B layers.
    per_layer = 128 * ((4096 + 4096) * 4 + (4096 + 11008) * 3)
    assert summary["modules"]["language_model"]["trainable"] == 32 * per_layer


def test_cli_reports_bad_recipe_without_traceback(capsys):
    assert main(["model", "summary", "no-such-recipe"]) == 2
    assert "command line: `model` = 'no-such-recipe': a model recipe: a YAML path or one of" in capsys.readouterr().err


def test_attention_kernel_is_applied_and_flash_attention_is_checked_up_front():
    from safellava.model import build_llava

    recipe = load_model_recipe("tiny")
    recipe.attn_implementation = "eager"
    model, _ = build_llava(recipe)
    assert model.model.language_model.config._attn_implementation == "eager"
    assert model.model.vision_tower.config._attn_implementation == "eager"
    recipe.attn_implementation = "flash_attention_2"
    with pytest.raises(RecipeError, match="flash-attn"):
        build_llava(recipe)
    with pytest.raises(RecipeError, match="attn_implementation"):
        load_model_recipe({**_tiny_dict(), "attn_implementation": "flash3"})


def test_recipes_are_read_in_the_run_configs_yaml_dialect(tmp_path):
    """`1e-5` is a number and `no` a word, in a model recipe as in a run config (one dialect)."""
    data = _tiny_dict()
    text = yaml.safe_dump(data).replace("language:\n", "language:\n  pretrained: no\n", 1)
    path = tmp_path / "recipe.yaml"
    path.write_text(text.replace("max_position_embeddings: 512", "max_position_embeddings: 512\n    rms_norm_eps: 1e-5"))
    recipe = load_model_recipe(str(path))
    assert recipe.language.config["rms_norm_eps"] == 1e-5 and recipe.language.pretrained == "no"


def test_every_problem_of_a_recipe_is_reported_at_once(tmp_path):
    data = _tiny_dict()
    data.update(template="vicuna", dtype="fp32", attn_implementation="flash3")
    data["lora"]["r"] = 0
    data["vision"]["kind"] = "clipp"
    with pytest.raises(RecipeError) as caught:
        load_model_recipe(_write(tmp_path, data))
    message = str(caught.value)
    assert message.startswith("5 configuration problems:")
    for part in ("`template` = 'vicuna'", "`dtype` = 'fp32'", "`attn_implementation` = 'flash3'",
                 "`lora.r` = 0: expected an integer >= 1", "`vision.kind` = 'clipp': expected one of clip, siglip"):
        assert part in message
