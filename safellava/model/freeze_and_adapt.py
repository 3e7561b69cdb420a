"""Apply a recipe's tune policy (`tune_policy.py`) to a built LLaVA: freeze, fully train, or adapt with
LoRA / QLoRA; the 4-bit config a QLoRA model is built with; gradient checkpointing that works with frozen
parts.

LoRA targets are resolved to full module names inside the language model (never CLIP/SigLIP attention,
whose layers share leaf names like `q_proj`). Parts trained in full next to an adapter (typically the
projector) are peft `modules_to_save`, so they are trained, checkpointed and saved with the adapter.
"""

from __future__ import annotations

import logging

import torch
from torch import nn

from safellava.model.dtypes import TORCH_DTYPES
from safellava.model.module_map import MODULE_KEYS, NEVER_QUANTIZED, get_part, language_model_targets
from safellava.model.recipe import ModelRecipe
from safellava.model.tune_policy import TunePolicy

logger = logging.getLogger(__name__)


def quantization_config(recipe: ModelRecipe):
    """The 4-bit NF4 `BitsAndBytesConfig` for a QLoRA recipe, or None when the recipe does not quantize."""
    if not recipe.tune.quantized:
        return None
    from transformers import BitsAndBytesConfig

    spec = recipe.qlora
    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type=spec.quant_type,
        bnb_4bit_use_double_quant=spec.double_quant,
        bnb_4bit_compute_dtype=TORCH_DTYPES[spec.compute_dtype],
        llm_int8_skip_modules=list(NEVER_QUANTIZED),
    )


def apply_tune_policy(model: nn.Module, recipe: ModelRecipe, policy: TunePolicy | None = None) -> nn.Module:
    """Set `requires_grad` per part and wrap with peft when the language model is (Q)LoRA-adapted.

    Returns the model to train: the same object, or a `PeftModel` around it. `policy` overrides the
    recipe's own (a training stage may freeze more, e.g. stage 1 trains the projector only).
    """
    policy = policy or recipe.tune
    policy.check_against(recipe.source)
    for part in MODULE_KEYS:
        get_part(model, part).requires_grad_(policy.mode(part) == "full")
    if not policy.uses_lora:
        return model
    if policy.quantized:
        _prepare_quantized(model)
    return _wrap_lora(model, recipe, policy)


def _prepare_quantized(model: nn.Module) -> None:
    """What peft's `prepare_model_for_kbit_training` does, minus its cast of every float parameter to fp32
    (that would silently upcast the vision tower and projector of a bf16 model)."""
    quantized = getattr(model, "is_loaded_in_4bit", False) or any(
        getattr(p, "quant_state", None) is not None for p in model.parameters()
    )
    if not quantized:
        raise ValueError(
            "tune.language_model is `qlora` but the model is not 4-bit: build or load it with "
            "`quantization_config(recipe)` (train/ does this for you)"
        )
    for part in ("vision_tower", "projector"):
        for parameter in get_part(model, part).parameters():
            if parameter.dtype == torch.float16:
                parameter.data = parameter.data.to(torch.float32)  # fp16 masters underflow in training


def _wrap_lora(model: nn.Module, recipe: ModelRecipe, policy: TunePolicy) -> nn.Module:
    from peft import LoraConfig, get_peft_model

    targets = language_model_targets(model, recipe.lora.targets)
    trained_in_full = [MODULE_KEYS[part] for part in MODULE_KEYS if policy.mode(part) == "full"]
    config = LoraConfig(
        r=recipe.lora.r,
        lora_alpha=recipe.lora.alpha,
        lora_dropout=recipe.lora.dropout,
        target_modules=targets,
        modules_to_save=trained_in_full or None,
        task_type=None,  # LLaVA is not a plain causal LM; keep peft's generic wrapper
    )
    logger.info("LoRA on %d language-model modules; trained in full beside it: %s", len(targets), trained_in_full)
    return get_peft_model(model, config)


def enable_gradient_checkpointing(model: nn.Module) -> None:
    """Non-reentrant checkpointing plus input grads: with frozen embeddings and LoRA, reentrant
    checkpointing would see no input requiring grad and silently produce no gradients."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    base.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
    base.enable_input_require_grads()


def lora_target_names(model: nn.Module) -> list[str]:
    """Full names of the modules carrying LoRA adapters in a peft-wrapped model (for checks and reports)."""
    return sorted(name for name, module in model.named_modules() if hasattr(module, "lora_A"))
