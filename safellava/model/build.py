"""Build a LLaVA from parts, or load an existing one, as transformers' `LlavaForConditionalGeneration`.

A built model is a plain Hugging Face model: `save_llava` writes a folder that loads with
`AutoModelForImageTextToText.from_pretrained` / `AutoProcessor.from_pretrained` alone, plus a
`safellava.json` recording the recipe and conversation template it was made with (so PRISM prompts a
model exactly as it was trained).
"""

from __future__ import annotations

import json
import logging
import tempfile
from pathlib import Path
from typing import Any

import torch
from transformers import (
    AutoConfig,
    AutoModel,
    AutoModelForCausalLM,
    AutoModelForImageTextToText,
    AutoProcessor,
    LlavaConfig,
    LlavaForConditionalGeneration,
    LlavaProcessor,
)
from transformers.models.llava.modeling_llava import LlavaMultiModalProjector

from safellava.atomic import write_text
from safellava.config import ConfigProblem
from safellava.model.chat_template import attach_chat_template
from safellava.model.dtypes import TORCH_DTYPES
from safellava.model.module_map import NEVER_QUANTIZED
from safellava.model.processor import IMAGE_TOKEN, build_image_processor, build_processor
from safellava.model.recipe import ModelRecipe, RecipeError, load_model_recipe
from safellava.model.tokenizer_source import load_tokenizer

logger = logging.getLogger(__name__)

METADATA_FILE = "safellava.json"
_VISION_MODEL_TYPES = {"clip": "clip_vision_model", "siglip": "siglip_vision_model"}


def build_llava(
    recipe: ModelRecipe | str | Path,
    *,
    seed: int = 0,
    quantization_config: Any | None = None,
) -> tuple[LlavaForConditionalGeneration, LlavaProcessor]:
    """Assemble vision encoder + new projector + causal LM into a `LlavaForConditionalGeneration`.

    Parts with `pretrained` set are loaded from the hub or a local folder; the others are randomly
    initialised from the recipe's architecture (deterministic by `seed`). `quantization_config` (a
    `BitsAndBytesConfig`) quantizes the language model only — the vision tower and projector never are.
    """
    if not isinstance(recipe, ModelRecipe):
        recipe = load_model_recipe(recipe)
    if recipe.checkpoint:
        return load_llava(recipe.checkpoint, dtype=recipe.dtype, quantization_config=quantization_config, recipe=recipe)
    torch.manual_seed(seed)
    dtype = TORCH_DTYPES[recipe.dtype]
    tokenizer = load_tokenizer(recipe)
    vision = _load_vision_tower(recipe, dtype)
    causal_lm = _load_causal_lm(recipe, dtype, quantization_config, vocab_size=len(tokenizer))
    if len(tokenizer) > causal_lm.get_input_embeddings().num_embeddings:
        # New rows (for <image>, <pad>) start at the mean embedding; rows are padded to a multiple of 64
        # like llava-hf's 32,064. A vocabulary that already has room (Qwen2) is left as it is.
        causal_lm.resize_token_embeddings(len(tokenizer), pad_to_multiple_of=recipe.tokenizer.pad_to_multiple_of)
    _align_special_tokens(causal_lm, tokenizer)
    config = llava_config(
        recipe,
        vision.config,
        causal_lm.config,
        image_token_index=tokenizer.convert_tokens_to_ids(IMAGE_TOKEN),
        pad_token_id=tokenizer.pad_token_id,
    )
    model = _assemble(config, vision, causal_lm, recipe, dtype)
    image_processor = build_image_processor(recipe.vision.kind, vision.config.image_size)
    processor = build_processor(
        tokenizer,
        image_processor,
        patch_size=vision.config.patch_size,
        select_strategy=recipe.vision.select_strategy,
        has_cls_token=recipe.vision.kind == "clip",
    )
    model.safellava_recipe = recipe  # read by save_llava; not part of the HF config
    return model, processor


def _load_vision_tower(recipe: ModelRecipe, dtype: torch.dtype):
    spec = recipe.vision
    if spec.pretrained:
        config = AutoConfig.from_pretrained(spec.pretrained)
        config = getattr(config, "vision_config", config)  # a full CLIP/SigLIP checkpoint holds both towers
        return AutoModel.from_pretrained(spec.pretrained, config=config, dtype=dtype, **attention_settings(recipe))
    return AutoModel.from_config(vision_config_from_recipe(recipe), dtype=dtype, **attention_settings(recipe))


def attention_settings(recipe: ModelRecipe) -> dict[str, str]:
    """`attn_implementation` for transformers; flash-attention is checked here so a missing package or GPU
    is one clear error, not a traceback from deep inside model loading."""
    kind = recipe.attn_implementation
    if kind == "flash_attention_2":
        import importlib.util

        if importlib.util.find_spec("flash_attn") is None or not torch.cuda.is_available():
            raise RecipeError(ConfigProblem(
                recipe.source, "attn_implementation", kind, "sdpa or eager on this machine: flash_attention_2 needs "
                "the flash-attn package and a CUDA GPU (pip install flash-attn --no-build-isolation)",
            ))
        if recipe.dtype == "float32":
            raise RecipeError(ConfigProblem(
                recipe.source, "dtype", recipe.dtype, "bfloat16 or float16: flash_attention_2 runs in bf16/fp16"
            ))
    return {"attn_implementation": kind}


def _align_special_tokens(causal_lm, tokenizer) -> None:
    """The LM's config and generation config use the tokenizer's pad/BOS/EOS ids (the pad token is new)."""
    for config in (causal_lm.config, causal_lm.generation_config):
        config.pad_token_id = tokenizer.pad_token_id
        if tokenizer.bos_token_id is not None:
            config.bos_token_id = tokenizer.bos_token_id
        if tokenizer.eos_token_id is not None:
            config.eos_token_id = tokenizer.eos_token_id


def _load_causal_lm(recipe: ModelRecipe, dtype: torch.dtype, quantization_config: Any | None, vocab_size: int):
    spec = recipe.language
    if spec.pretrained:
        return AutoModelForCausalLM.from_pretrained(
            spec.pretrained, dtype=dtype, quantization_config=quantization_config, **attention_settings(recipe)
        )
    # A randomly initialised LM gets exactly the tokenizer's vocabulary unless the recipe fixes it.
    config = text_config_from_recipe(recipe, default_vocab_size=vocab_size)
    model = AutoModelForCausalLM.from_config(config, dtype=dtype, **attention_settings(recipe))
    if quantization_config is None:
        return model
    # bitsandbytes quantizes while loading weights; a randomly initialised LM takes the same route through
    # a temporary folder, so tiny QLoRA runs exercise exactly the code path of a real 7B QLoRA run.
    with tempfile.TemporaryDirectory(prefix="safellava-lm-") as folder:
        model.save_pretrained(folder)
        return AutoModelForCausalLM.from_pretrained(
            folder, dtype=dtype, quantization_config=quantization_config, **attention_settings(recipe)
        )


def vision_config_from_recipe(recipe: ModelRecipe):
    return AutoConfig.for_model(_VISION_MODEL_TYPES[recipe.vision.kind], **recipe.vision.config)


def text_config_from_recipe(recipe: ModelRecipe, default_vocab_size: int | None = None):
    values = dict(recipe.language.config)
    if default_vocab_size is not None:
        values.setdefault("vocab_size", default_vocab_size)
    return AutoConfig.for_model(recipe.language.kind, **values)


def llava_config(
    recipe: ModelRecipe, vision_config, text_config, *, image_token_index: int, pad_token_id: int | None
) -> LlavaConfig:
    patches = (vision_config.image_size // vision_config.patch_size) ** 2
    # CLIP adds a CLS token and strategy "default" drops the first token (LLaVA-1.5: 576 = 24² for 336 px).
    image_seq_length = patches + (recipe.vision.kind == "clip") - (recipe.vision.select_strategy == "default")
    return LlavaConfig(
        vision_config=vision_config,
        text_config=text_config,
        image_token_index=image_token_index,
        image_seq_length=image_seq_length,
        projector_hidden_act="gelu" if recipe.projector.type == "mlp2x_gelu" else "linear",
        vision_feature_layer=recipe.vision.feature_layer,
        vision_feature_select_strategy=recipe.vision.select_strategy,
        multimodal_projector_bias=True,
        tie_word_embeddings=bool(getattr(text_config, "tie_word_embeddings", False)),
        pad_token_id=pad_token_id,
    )


def _assemble(config: LlavaConfig, vision, causal_lm, recipe: ModelRecipe, dtype: torch.dtype):
    """Put already-built parts into a LLaVA shell, without allocating the shell's own random weights."""
    projector_type = recipe.projector.type
    with torch.device("meta"):
        # The shell shares its sub-configs with the parts: it must choose the same attention kernel, or it
        # would reset theirs to its default.
        model = LlavaForConditionalGeneration._from_config(config, **attention_settings(recipe))
    model.model.vision_tower = vision
    model.model.language_model = causal_lm.model
    model.lm_head = causal_lm.lm_head
    projector = LlavaMultiModalProjector(config).to(dtype)
    if projector_type == "linear":
        # `linear` is realised as linear_2 ∘ identity ∘ linear_1 with linear_2 starting as the identity, so it
        # begins as LLaVA-1's single Linear yet stays loadable by plain transformers.
        with torch.no_grad():
            projector.linear_2.weight.copy_(torch.eye(projector.linear_2.weight.shape[0], dtype=dtype))
            projector.linear_2.bias.zero_()
    model.model.multi_modal_projector = projector
    model.generation_config = causal_lm.generation_config
    _check_no_meta(model)
    return model


def _check_no_meta(model: torch.nn.Module) -> None:
    leftover = [name for name, p in model.named_parameters() if p.is_meta]
    if leftover:
        raise RuntimeError(f"internal error: parameters left unmaterialised after assembly: {leftover[:5]}")


def save_llava(model, processor, out_dir: str | Path, *, extra: dict[str, Any] | None = None) -> Path:
    """Save model + processor as a plain Hugging Face folder, with `safellava.json` beside them. The
    processor gets a chat template equal to the training template where one exists (`model.chat_template`)."""
    out_dir = Path(out_dir)
    recipe = getattr(model, "safellava_recipe", None)
    model.save_pretrained(out_dir)
    attach_chat_template(processor, (extra or {}).get("template") or (recipe.template if recipe else None))
    processor.save_pretrained(out_dir)
    write_metadata(out_dir, recipe, extra)
    return out_dir


def write_metadata(out_dir: str | Path, recipe: ModelRecipe | None, extra: dict[str, Any] | None = None) -> None:
    """Write (or update) `safellava.json`: the template and image preprocessing the model was trained with."""
    out_dir = Path(out_dir)
    metadata = dict(read_metadata(out_dir) or {})
    if recipe is not None:
        metadata.update(template=recipe.template, image_aspect=recipe.image_aspect, recipe=recipe.to_dict())
    metadata.update(extra or {})
    write_text(out_dir / METADATA_FILE, json.dumps(metadata, indent=2, sort_keys=True) + "\n")


def read_metadata(path: str | Path) -> dict[str, Any] | None:
    """The `safellava.json` of a saved model folder, or None for folders made elsewhere (e.g. llava-hf)."""
    file = Path(path) / METADATA_FILE
    return json.loads(file.read_text()) if file.exists() else None


def load_llava(
    path: str,
    *,
    dtype: str | torch.dtype | None = None,
    quantization_config: Any | None = None,
    recipe: ModelRecipe | None = None,
) -> tuple[LlavaForConditionalGeneration, LlavaProcessor]:
    """Load a llava-hf style checkpoint (ours or e.g. `llava-hf/llava-1.5-7b-hf`) to keep training or evaluate it."""
    if isinstance(dtype, str):
        dtype = TORCH_DTYPES[dtype]
    if quantization_config is not None:
        quantization_config.llm_int8_skip_modules = list(NEVER_QUANTIZED)
    attention = attention_settings(recipe) if recipe is not None else {}
    model = AutoModelForImageTextToText.from_pretrained(
        path, dtype=dtype, quantization_config=quantization_config, **attention
    )
    processor = AutoProcessor.from_pretrained(path)
    if recipe is not None:
        model.safellava_recipe = recipe
    return model, processor
