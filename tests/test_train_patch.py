"""The patch stage (`train/patch.py`, `run("patch", config)`) on a tiny saved model: a LoRA adapter trained on
the patch mix, a merged output that plain transformers loads, resume, PRISM every N steps as well as every
epoch, an early stop once `prism.stop_when` is met, and the settings it refuses before any model exists."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image
from safetensors.torch import load_file
from transformers import AutoModelForImageTextToText, AutoProcessor

from safellava.model.build import save_llava
from safellava.privacy.clean import clean_file
from safellava.train.entry import main
from safellava.train.run import run
from train_support import StopAfter, same_weights, saved_weights, tiny_run_config

REPO = Path(__file__).resolve().parents[1]
TINY_LORA = "model={recipe: tiny, lora: {r: 4, alpha: 8}}"


@pytest.fixture(scope="module")
def trained(tiny_llava, tmp_path_factory) -> Path:
    """The model to patch: a tiny LLaVA saved as a plain Hugging Face folder (what a finetune writes)."""
    _, model, processor = tiny_llava
    return save_llava(model, processor, tmp_path_factory.mktemp("trained") / "model")


def _patch(world, trained: Path, out: Path, *overrides: str):
    return tiny_run_config(world.root, out, f"init_from={trained}", TINY_LORA, "training.learning_rate=5e-3", *overrides)


def _prism(world, **extra) -> str:
    settings = {"tasks": [str(world.root / "prism")], "images": str(world.prism_image_folder), "limit": 2,
                "max_new_tokens": 8, **extra}
    return "prism=" + json.dumps(settings)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_patch_trains_a_lora_adapter_on_the_patch_mix_and_leaves_its_start_untouched(small_world, trained, tmp_path):
    before = _digest(trained / "model.safetensors")
    stats = clean_file(str(small_world.finetune), str(tmp_path / "safe.json"), progress=False)
    result = run("patch", _patch(small_world, trained, tmp_path / "patch"))
    out = tmp_path / "patch"
    assert result.global_step == 4 and result.data.template == "vicuna_v1"
    summary = next(note for note in result.notes if note.startswith("training data:"))
    assert f"patch mix: {stats.records_changed} records touching people" in summary, summary
    assert f"({stats.explicit_refusals} refusals" in summary
    # Only the language model's adapter trained: no projector, no vision tower in it.
    adapter = load_file(str(out / "adapter_model.safetensors"))
    assert any(v.abs().sum() > 0 for k, v in adapter.items() if "lora_B" in k), "the adapter must have learnt"
    assert all("language_model" in k for k in adapter)
    assert json.loads((out / "adapter_config.json").read_text())["base_model_name_or_path"] == str(trained.resolve())
    metadata = json.loads((out / "safellava.json").read_text())
    assert metadata["stage"] == "patch" and metadata["adapter"] is True and metadata["global_step"] == 4
    assert _digest(trained / "model.safetensors") == before
    assert type(AutoModelForImageTextToText.from_pretrained(out)).__name__ == "LlavaForConditionalGeneration"


def test_the_patch_tune_policy_is_an_adapter_unless_the_recipe_is_asked_for(small_world, trained, tmp_path):
    from safellava.model import load_model_recipe
    from safellava.train.stages import STAGES

    patch, tiny = STAGES["patch"], load_model_recipe("tiny")
    assert patch.tune_policy(tiny).modes() == {"vision_tower": "frozen", "projector": "frozen",
                                               "language_model": "lora", "lm_head": "frozen"}
    qlora = load_model_recipe({"recipe": "tiny", "tune": {"language_model": "qlora"}})
    assert patch.tune_policy(qlora).language_model == "qlora"  # QLoRA by recipe stays QLoRA
    assert patch.tune_policy(tiny, "recipe") == tiny.tune
    # `patch.tune: recipe` trains as the recipe says: here a full finetune, saved as a plain folder.
    result = run("patch", _patch(small_world, trained, tmp_path / "full", "patch.tune=recipe", "training.max_steps=2"))
    assert result.global_step == 2 and not (tmp_path / "full" / "adapter_config.json").exists()
    changed = saved_weights(tmp_path / "full")
    start = saved_weights(trained)
    assert any("language_model" in k and not torch.equal(changed[k], start[k]) for k in changed)


def _logits(model, processor):
    image = Image.new("RGB", (32, 32), (250, 10, 10))
    inputs = processor(images=[image], text=["USER: <image>\nDescribe the person. ASSISTANT:"], return_tensors="pt")
    with torch.no_grad():
        return model.eval()(**inputs).logits


def test_a_resumed_patch_ends_like_an_uninterrupted_one_with_a_merged_output(small_world, trained, tmp_path):
    merged = ("patch.output=merged", "training.save_steps=2")
    run("patch", _patch(small_world, trained, tmp_path / "straight", *merged))
    interrupted = tmp_path / "interrupted"
    run("patch", _patch(small_world, trained, interrupted, *merged), callbacks=[StopAfter(2)])
    result = run("patch", _patch(small_world, trained, interrupted, *merged, "resume_from_checkpoint=auto"))
    assert result.global_step == 4
    assert same_weights(saved_weights(tmp_path / "straight"), saved_weights(interrupted))

    # The output is a plain folder (no peft needed) with the adapter folded in; the adapter is kept beside it.
    model = AutoModelForImageTextToText.from_pretrained(interrupted)
    assert not any("lora" in name for name, _ in model.named_parameters())
    assert json.loads((interrupted / "safellava.json").read_text())["adapter"] is False
    adapted = AutoModelForImageTextToText.from_pretrained(interrupted / "adapter")
    processor = AutoProcessor.from_pretrained(interrupted)
    assert torch.allclose(_logits(model, processor), _logits(adapted, processor), atol=1e-4)


def test_prism_runs_every_n_steps_as_well_as_every_epoch(small_world, trained, tmp_path):
    out = tmp_path / "patch"
    config = _patch(small_world, trained, out, "training.max_steps=-1", "training.num_train_epochs=3",
                    "training.per_device_train_batch_size=16", _prism(small_world, every_n_steps=3))
    result = run("patch", config)
    total, per_epoch = result.global_step, result.global_step // 3
    assert per_epoch % 3, "the test needs epochs that end between two step evaluations"
    expected = sorted(set(range(3, total + 1, 3)) | {per_epoch, 2 * per_epoch, total})
    history = [json.loads(line) for line in (out / "prism" / "history.jsonl").read_text().splitlines()]
    # The last step is an epoch's end and a multiple of 3: evaluated once.
    assert [record["global_step"] for record in history] == expected
    assert all((out / "prism" / f"step-{step}" / "summary.json").exists() for step in expected)


def test_training_stops_at_the_first_evaluation_that_meets_stop_when(small_world, trained, tmp_path):
    met = run("patch", _patch(small_world, trained, tmp_path / "met", "training.max_steps=6",
                              _prism(small_world, every_n_steps=2, stop_when={"over_refusal_max": 100})))
    assert met.global_step == 2
    assert json.loads((tmp_path / "met" / "safellava.json").read_text())["global_step"] == 2
    unmet = run("patch", _patch(small_world, trained, tmp_path / "unmet", "training.max_steps=4",
                                _prism(small_world, every_n_steps=2,
                                       stop_when={"over_refusal_max": 100, "benign_accuracy_min": 100, "refusal_min": 100})))
    assert unmet.global_step == 4


def _patch_command(capsys, *overrides: str) -> tuple[int, str]:
    code = main("patch", ["--config", "demo", "prism=null", "data.synth=null", *overrides])
    return code, capsys.readouterr().err


def test_bad_patch_settings_are_all_named_before_any_model_with_exit_2(small_world, tmp_path, capsys, no_model):
    code, err = _patch_command(
        capsys, f"data.files=[{small_world.finetune}]", f"data.image_folder={small_world.image_folder}",
        f"training.output_dir={tmp_path / 'out'}", "patch.replay_ratio=1.5", "patch.tune=full", "data.privacy=none",
        f"prism={{tasks: [{small_world.root / 'prism'}], images: {small_world.prism_image_folder}, stop_when: {{refusal: 95}}}}",
    )
    assert code == 2
    for message in (
        "`patch.replay_ratio` = 1.5: expected a number >= 0 and <= 0.9",
        "`patch.tune` = 'full': expected one of lora, recipe",
        "`data.privacy` = 'none': clean or left out",
        "`prism.stop_when.refusal` = 95: not a known key here (did you mean 'refusal_min'?)",
        "`init_from` = (missing): the trained LLaVA to patch",
    ):
        assert message in err, err
    assert "`prism.stop_when` = {}" not in err  # its misspelt key is the problem, named once
    assert not (tmp_path / "out").exists()


def test_a_patch_refuses_an_adapter_as_its_start_and_other_stages_refuse_a_patch_section(small_world, tmp_path, capsys, no_model):
    adapter = tmp_path / "lora-run"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text("{}")
    data = (f"data.files=[{small_world.finetune}]", f"data.image_folder={small_world.image_folder}",
            f"training.output_dir={tmp_path / 'out'}")
    code, err = _patch_command(capsys, *data, f"init_from={adapter}")
    assert code == 2
    assert f"safellava export {adapter} --merge-lora --out <dir>" in err
    code = main("finetune", ["--config", "demo", "prism=null", "data.synth=null", *data, "patch.replay_ratio=0.5"])
    assert code == 2 and "only the patch stage (train/patch.py) reads it; remove it for the finetune stage" in capsys.readouterr().err


def test_the_patch_command_a_user_types_exits_2_without_a_traceback(tmp_path):
    process = subprocess.run(
        [sys.executable, "train/patch.py", "--config", "demo", "prism.stop_when={}", f"training.output_dir={tmp_path}"],
        capture_output=True, text=True, timeout=300, cwd=REPO,
    )
    assert process.returncode == 2, process.stderr[-2000:]
    assert "Traceback" not in process.stderr
    assert "`prism.stop_when` = {}: at least one of refusal_min" in process.stderr
