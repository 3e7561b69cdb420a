"""Tune policy: freezing, LoRA only inside the language model, QLoRA in 4-bit, gradient checkpointing."""

from __future__ import annotations

import torch
from PIL import Image

from safellava.model import apply_tune_policy, build_llava, count_parameters, enable_gradient_checkpointing
from safellava.model import load_model_recipe, quantization_config
from safellava.model.freeze_and_adapt import lora_target_names


def _tiny(language_model: str):
    recipe = load_model_recipe("tiny")
    recipe.tune.language_model = language_model
    recipe.qlora.compute_dtype = "float32"
    model, processor = build_llava(recipe, quantization_config=quantization_config(recipe))
    return recipe, apply_tune_policy(model, recipe), processor


def _step(model, processor) -> float:
    image = Image.new("RGB", (32, 32), (10, 200, 10))
    inputs = processor(images=[image], text=["USER: <image>\nColour? ASSISTANT: Green."], return_tensors="pt")
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    losses = []
    for _ in range(3):
        loss = model(**inputs, labels=inputs.input_ids).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(loss.item())
    return losses


def test_full_policy_freezes_vision_tower_only():
    recipe, model, _ = _tiny("full")
    report = count_parameters(model)
    assert report.parts["vision_tower"].trainable == 0
    for part in ("projector", "language_model", "lm_head"):
        assert report.parts[part].trainable == report.parts[part].params > 0


def test_lora_targets_only_language_model_and_trains_projector(tmp_path):
    recipe, model, processor = _tiny("lora")
    targets = lora_target_names(model)
    assert targets and all(".language_model." in name for name in targets)
    assert not any("vision_tower" in name for name in targets)
    trainable = [name for name, p in model.named_parameters() if p.requires_grad]
    assert any("multi_modal_projector" in name for name in trainable)
    assert not any("vision_tower" in name for name in trainable)
    assert all("lora_" in name or "multi_modal_projector" in name for name in trainable)
    enable_gradient_checkpointing(model)
    model.train()
    losses = _step(model, processor)
    assert losses[-1] < losses[0]
    model.save_pretrained(tmp_path / "adapter")
    from safetensors.torch import load_file

    saved = load_file(tmp_path / "adapter" / "adapter_model.safetensors")
    assert any("lora_A" in key for key in saved)
    assert any("multi_modal_projector" in key for key in saved), "the tuned projector must be saved with the adapter"


def test_qlora_quantizes_language_model_only_and_trains_one_step():
    import bitsandbytes as bnb

    recipe, model, processor = _tiny("qlora")
    base = model.get_base_model()
    layer = base.model.language_model.layers[0].self_attn.q_proj
    assert isinstance(layer.base_layer, bnb.nn.Linear4bit)
    assert not any(isinstance(m, bnb.nn.Linear4bit) for m in base.model.vision_tower.modules())
    assert not any(isinstance(m, bnb.nn.Linear4bit) for m in base.model.multi_modal_projector.modules())
    before = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
    model.train()
    _step(model, processor)
    changed = [n for n, p in model.named_parameters() if p.requires_grad and not torch.equal(p, before[n])]
    assert any("lora_B" in n for n in changed) and any("multi_modal_projector" in n for n in changed)


def test_gradient_checkpointing_with_frozen_embeddings_and_lora_gives_gradients():
    recipe, model, processor = _tiny("lora")
    enable_gradient_checkpointing(model)
    model.train()
    image = Image.new("RGB", (32, 32), (0, 0, 255))
    inputs = processor(images=[image], text=["USER: <image>\nHi ASSISTANT: Blue."], return_tensors="pt")
    model(**inputs, labels=inputs.input_ids).loss.backward()
    # lora_B starts at zero (so lora_A's first gradient is zero by design): check B's gradients.
    grads = [p.grad for n, p in model.named_parameters() if "lora_B" in n]
    assert grads and all(g is not None and g.abs().sum() > 0 for g in grads)
