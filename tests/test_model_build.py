"""Build → train step → generate → save → reload with plain transformers → identical logits."""

from __future__ import annotations

import json

import torch
from PIL import Image
from transformers import AutoModelForImageTextToText, AutoProcessor

from safellava.model import build_llava, image_token_count, load_llava, load_model_recipe, read_metadata, save_llava

PROMPT = "USER: <image>\nWhat color is the square? ASSISTANT:"


def _inputs(processor, text=PROMPT):
    image = Image.new("RGB", (48, 40), (200, 30, 30))
    return processor(images=[image], text=[text], return_tensors="pt")


def test_tiny_model_has_llava_tokens_and_matching_image_token_count(tiny_llava):
    recipe, model, processor = tiny_llava
    tokenizer = processor.tokenizer
    assert type(tokenizer).__name__ == "LlamaTokenizer"
    assert tokenizer.convert_tokens_to_ids("<image>") == model.config.image_token_id
    assert tokenizer.pad_token == "<pad>" and tokenizer.pad_token_id != tokenizer.unk_token_id
    assert model.config.vision_feature_layer == -2
    assert model.config.vision_feature_select_strategy == "default"
    # 32 px / 8 px patches = 16 patch tokens (+ CLS, dropped by strategy "default").
    assert image_token_count(processor) == model.config.image_seq_length == 16
    inputs = _inputs(processor)
    assert int((inputs.input_ids == model.config.image_token_id).sum()) == 16
    assert model.get_input_embeddings().num_embeddings >= len(tokenizer)


def test_forward_backward_and_generate(tiny_llava):
    _, model, processor = tiny_llava
    inputs = _inputs(processor, PROMPT + " Red.")
    labels = inputs.input_ids.clone()
    labels[labels == model.config.image_token_id] = -100
    model.zero_grad()
    output = model(**inputs, labels=labels)
    assert torch.isfinite(output.loss)
    output.loss.backward()
    assert model.model.multi_modal_projector.linear_1.weight.grad.abs().sum() > 0
    assert model.model.language_model.layers[0].self_attn.q_proj.weight.grad.abs().sum() > 0
    model.zero_grad()
    generated = model.generate(**_inputs(processor), max_new_tokens=4, do_sample=False)
    assert generated.shape[1] == _inputs(processor).input_ids.shape[1] + 4


def test_save_reload_with_plain_transformers_gives_identical_logits(tiny_llava, tmp_path):
    recipe, model, processor = tiny_llava
    save_llava(model, processor, tmp_path / "out")
    reloaded = AutoModelForImageTextToText.from_pretrained(tmp_path / "out")
    reprocessor = AutoProcessor.from_pretrained(tmp_path / "out")
    assert type(reloaded).__name__ == "LlavaForConditionalGeneration"
    model.eval()
    with torch.no_grad():
        original = model(**_inputs(processor)).logits
        again = reloaded(**_inputs(reprocessor)).logits
    assert torch.equal(original, again)
    metadata = read_metadata(tmp_path / "out")
    assert metadata["template"] == "vicuna_v1" and metadata["recipe"]["name"] == "tiny"
    model_again, _ = load_llava(str(tmp_path / "out"))
    assert json.loads(model_again.config.to_json_string())["image_seq_length"] == 16


def test_siglip_qwen2_family_builds_with_chatml_tokenizer(tmp_path):
    """The 0.5B family's shape in miniature: SigLIP (no CLS, strategy full) + Qwen2 + byte-level BPE."""
    recipe = load_model_recipe(
        {
            "name": "tiny-siglip-qwen2",
            "template": "qwen_1_5",
            "vision": {
                "kind": "siglip",
                "config": {"image_size": 32, "patch_size": 8, "hidden_size": 32, "intermediate_size": 64,
                           "num_hidden_layers": 2, "num_attention_heads": 2},
                "feature_layer": -1,
                "select_strategy": "full",
            },
            "language": {
                "kind": "qwen2",
                "config": {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
                           "num_attention_heads": 4, "num_key_value_heads": 2, "tie_word_embeddings": True},
            },
            "tokenizer": {"train": "qwen_bpe", "vocab_size": 600, "corpus": "synth"},
        }
    )
    model, processor = build_llava(recipe)
    assert image_token_count(processor) == model.config.image_seq_length == 16
    assert processor.tokenizer.eos_token == "<|im_end|>" and processor.tokenizer.bos_token is None
    text = "<|im_start|>user\n<image>\nWhat is here?<|im_end|>\n<|im_start|>assistant\n"
    inputs = _inputs(processor, text)
    output = model(**inputs, labels=inputs.input_ids)
    assert torch.isfinite(output.loss)
    save_llava(model, processor, tmp_path / "qwen")
    reloaded = AutoModelForImageTextToText.from_pretrained(tmp_path / "qwen")
    with torch.no_grad():
        assert torch.equal(model.eval()(**inputs).logits, reloaded(**inputs).logits)


def test_linear_projector_starts_as_a_single_linear_map(tmp_path):
    recipe = load_model_recipe("tiny")
    recipe.projector.type = "linear"
    model, _ = build_llava(recipe)
    projector = model.model.multi_modal_projector
    assert model.config.projector_hidden_act == "linear"
    assert torch.equal(projector.linear_2.weight, torch.eye(projector.linear_2.weight.shape[0]))
    features = torch.randn(3, projector.linear_1.in_features)
    with torch.no_grad():
        assert torch.allclose(projector(features), projector.linear_1(features), atol=1e-6)
