"""LoRA and QLoRA finetuning through `run()`, and `safellava export --merge-lora`."""

from __future__ import annotations

import json

import torch
from PIL import Image
from safetensors.torch import load_file
from transformers import AutoModelForImageTextToText, AutoProcessor

from safellava.cli import main
from safellava.train.run import run
from train_support import tiny_run_config

TINY_LORA = (
    "model={name: tiny-lora, vision: {kind: clip, config: {image_size: 32, patch_size: 8, hidden_size: 32, "
    "intermediate_size: 64, num_hidden_layers: 2, num_attention_heads: 2}}, language: {kind: llama, config: "
    "{hidden_size: 64, intermediate_size: 128, num_hidden_layers: 2, num_attention_heads: 4, "
    "num_key_value_heads: 2}}, tokenizer: {train: sentencepiece_llama, corpus: synth}, tune: {language_model: %s}, "
    "lora: {r: 4, alpha: 8}, qlora: {compute_dtype: float32}}"
)


def _logits(model, processor):
    image = Image.new("RGB", (32, 32), (250, 10, 10))
    inputs = processor(images=[image], text=["USER: <image>\nWhat color? ASSISTANT:"], return_tensors="pt")
    with torch.no_grad():
        return model.eval()(**inputs).logits


def test_lora_finetune_saves_adapter_with_projector_and_exports_merged(small_world, tmp_path):
    out = tmp_path / "lora"
    result = run(
        "finetune",
        tiny_run_config(small_world.root, out, TINY_LORA % "lora", "training.gradient_checkpointing=true",
                        "training.learning_rate=5e-3"),
    )
    assert result.global_step == 4
    adapter = load_file(str(out / "adapter_model.safetensors"))
    assert any("lora_B" in k for k in adapter) and any("multi_modal_projector" in k for k in adapter)
    assert any(v.abs().sum() > 0 for k, v in adapter.items() if "lora_B" in k), "adapter must not be empty"
    assert not any("vision_tower" in k for k in adapter)
    for checkpoint in ("checkpoint-2", "checkpoint-4"):
        saved = load_file(str(out / checkpoint / "adapter_model.safetensors"))
        assert any("multi_modal_projector" in k for k in saved), f"{checkpoint} lacks the trained projector"
    assert json.loads((out / "safellava.json").read_text())["adapter"] is True

    # The adapter loads with transformers + peft, and the merged export gives the same logits.
    adapted = AutoModelForImageTextToText.from_pretrained(out)
    processor = AutoProcessor.from_pretrained(out)
    assert main(["export", str(out), "--merge-lora", "--out", str(tmp_path / "merged")]) == 0
    merged = AutoModelForImageTextToText.from_pretrained(tmp_path / "merged")
    assert not any("lora" in name for name, _ in merged.named_parameters())
    assert torch.allclose(_logits(adapted, processor), _logits(merged, processor), atol=1e-4)


def test_export_refuses_an_adapter_without_merge_flag(small_world, tmp_path, capsys):
    out = tmp_path / "lora"
    run("finetune", tiny_run_config(small_world.root, out, TINY_LORA % "lora", "training.max_steps=1"))
    assert main(["export", str(out), "--out", str(tmp_path / "x")]) == 2
    assert "--merge-lora" in capsys.readouterr().err


def test_qlora_finetune_trains_4bit_model_and_keeps_its_unquantized_base(small_world, tmp_path):
    out = tmp_path / "qlora"
    result = run("finetune", tiny_run_config(small_world.root, out, TINY_LORA % "qlora", "training.max_steps=2"))
    assert result.global_step == 2 and result.train_loss > 0
    base_config = json.loads((out / "base" / "config.json").read_text())
    assert "quantization_config" not in base_config
    adapter_config = json.loads((out / "adapter_config.json").read_text())
    assert adapter_config["base_model_name_or_path"] == str((out / "base").resolve())
