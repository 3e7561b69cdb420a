"""Parameter counts per LLaVA part and GPU-memory estimates, for a live model or offline from a recipe.

Offline summaries build the model on PyTorch's meta device from the recipe's architecture: no weights are
downloaded or allocated, so `safellava model summary configs/models/llava-1.5-7b.yaml` runs anywhere.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from safellava.model.module_map import MODULE_KEYS, language_model_targets, named_parameters_by_part, numel
from safellava.model.recipe import ModelRecipe

GIB = 1024**3
# Bytes per parameter in mixed-precision (bf16) training with Adam, as in the ZeRO paper's accounting:
WEIGHT_BYTES = 2  # bf16 weights
GRAD_BYTES = 2  # bf16 gradients of trainable parameters
OPTIMIZER_BYTES = 12  # fp32 master copy + two Adam moments of trainable parameters
NF4_WEIGHT_BYTES = 0.5 + 0.0625  # 4-bit weights plus (double-quantized) block scales, per parameter


@dataclass
class PartCount:
    params: int = 0
    trainable: int = 0


@dataclass
class ParameterReport:
    parts: dict[str, PartCount] = field(default_factory=lambda: {part: PartCount() for part in MODULE_KEYS})

    @property
    def total(self) -> int:
        return sum(p.params for p in self.parts.values())

    @property
    def trainable(self) -> int:
        return sum(p.trainable for p in self.parts.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "total_params": self.total,
            "trainable_params": self.trainable,
            "modules": {part: {"params": c.params, "trainable": c.trainable} for part, c in self.parts.items()},
        }

    def table(self) -> str:
        """A fixed-width table: one row per part, then the total."""
        rows = [f"{'module':<16}{'params':>16}{'trainable':>16}{'% trainable':>13}"]
        for part, count in [*self.parts.items(), ("total", PartCount(self.total, self.trainable))]:
            share = 100.0 * count.trainable / count.params if count.params else 0.0
            rows.append(f"{part:<16}{count.params:>16,}{count.trainable:>16,}{share:>12.2f}%")
        return "\n".join(rows)


def count_parameters(model: nn.Module) -> ParameterReport:
    """Parameters and trainable parameters per part of a (possibly peft-wrapped, ZeRO-3-partitioned) model."""
    report = ParameterReport()
    for part, name, parameter in named_parameters_by_part(model):
        if ".original_module." in name:
            continue  # peft keeps a frozen copy of each modules_to_save part; count the trained one only
        count = numel(parameter)
        report.parts[part].params += count
        if parameter.requires_grad:
            report.parts[part].trainable += count
    return report


def meta_llava(recipe: ModelRecipe) -> nn.Module:
    """The recipe's LLaVA on the meta device (shapes only), with the vocabulary it will have once built."""
    from transformers import LlavaForConditionalGeneration

    from safellava.model.build import llava_config, text_config_from_recipe, vision_config_from_recipe

    text_config = text_config_from_recipe(recipe)
    text_config.vocab_size = _embedding_rows(recipe, text_config.vocab_size)
    config = llava_config(
        recipe, vision_config_from_recipe(recipe), text_config, image_token_index=0, pad_token_id=None
    )
    with torch.device("meta"):
        return LlavaForConditionalGeneration(config)


def _embedding_rows(recipe: ModelRecipe, vocab_size: int) -> int:
    """Rows of the embedding after `<image>` (and `<pad>` for Llama/Mistral tokenizers) are added."""
    added = 1 + (recipe.language.kind in ("llama", "mistral"))
    needed = (recipe.tokenizer.base_size or vocab_size) + added
    if needed <= vocab_size:
        return vocab_size
    multiple = recipe.tokenizer.pad_to_multiple_of or 1
    return math.ceil(needed / multiple) * multiple


def recipe_parameter_report(recipe: ModelRecipe) -> ParameterReport:
    """Parameter counts the recipe's model will have, and how many its tune policy trains."""
    model = meta_llava(recipe)
    report = ParameterReport()
    for part, _name, parameter in named_parameters_by_part(model):
        report.parts[part].params += parameter.numel()
    for part, count in report.parts.items():
        if recipe.tune.mode(part) == "full":
            count.trainable = count.params
    if recipe.tune.uses_lora:
        report.parts["language_model"].trainable = _lora_parameter_count(model, recipe)
    return report


def _lora_parameter_count(model: nn.Module, recipe: ModelRecipe) -> int:
    total = 0
    for name in language_model_targets(model, recipe.lora.targets):
        layer = model.get_submodule(name)
        total += recipe.lora.r * (layer.in_features + layer.out_features)
    return total


def memory_estimate(recipe: ModelRecipe, report: ParameterReport, gpus: int) -> dict[str, float]:
    """GiB per GPU of model states (weights, gradients, optimizer) under ZeRO-2 and ZeRO-3.

    Activations, buffers and fragmentation are not included: they depend on batch size, sequence length
    and gradient checkpointing. ZeRO-2 partitions gradients and optimizer states across `gpus`; ZeRO-3 also
    partitions the weights.
    """
    weights = 0.0
    for part, count in report.parts.items():
        quantized = part == "language_model" and recipe.tune.quantized
        weights += count.params * (NF4_WEIGHT_BYTES if quantized else WEIGHT_BYTES)
    weights += report.trainable * WEIGHT_BYTES if recipe.tune.uses_lora else 0.0  # adapters held in bf16
    per_trainable = GRAD_BYTES + OPTIMIZER_BYTES
    zero2 = weights + per_trainable * report.trainable / gpus
    zero3 = (weights + per_trainable * report.trainable) / gpus
    return {"gpus": gpus, "zero2_gib_per_gpu": round(zero2 / GIB, 2), "zero3_gib_per_gpu": round(zero3 / GIB, 2)}
