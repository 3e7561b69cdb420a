"""The one map from LLaVA's logical parts to module paths (transformers 5 layout).

Everything that selects modules — freezing, LoRA targets, QLoRA skip lists, parameter reports, export —
goes through this file, so a layout change in transformers is fixed in one place. Names are always full
paths: leaf names such as `q_proj` alone would also match the CLIP/SigLIP attention layers.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import nn

# logical part → module path inside LlavaForConditionalGeneration
MODULE_KEYS: dict[str, str] = {
    "vision_tower": "model.vision_tower",
    "projector": "model.multi_modal_projector",
    "language_model": "model.language_model",
    "lm_head": "lm_head",
}
# Parts a QLoRA model keeps in full precision: only the language model's body is quantized to 4 bit.
# The vision tower and projector stay as trained (the projector trains in full next to the adapter),
# and the head, which maps to the vocabulary, would lose too much in 4 bit.
NEVER_QUANTIZED: tuple[str, ...] = (MODULE_KEYS["vision_tower"], MODULE_KEYS["projector"], MODULE_KEYS["lm_head"])


def part_of(parameter_name: str) -> str:
    """Which logical part a parameter (or module) name belongs to; raises for names outside the map.

    Tolerates wrappers that prefix names (peft's `base_model.model.`), so it works on adapted models too.
    """
    for part, path in MODULE_KEYS.items():
        if parameter_name.startswith(path + ".") or parameter_name == path or f".{path}." in parameter_name:
            return part
    raise KeyError(f"{parameter_name!r} is in none of the LLaVA parts {list(MODULE_KEYS)}")


def get_part(model: nn.Module, part: str) -> nn.Module:
    """The module of a logical part, e.g. `get_part(model, "projector")`."""
    return model.get_submodule(MODULE_KEYS[part])


def named_parameters_by_part(model: nn.Module) -> Iterator[tuple[str, str, torch.nn.Parameter]]:
    """(part, name, parameter) for every parameter; a tied parameter is reported once, at its first name."""
    seen: set[int] = set()
    for name, parameter in model.named_parameters(remove_duplicate=False):
        if id(parameter) in seen:
            continue
        seen.add(id(parameter))
        yield part_of(name), name, parameter


def numel(parameter: torch.nn.Parameter) -> int:
    """Element count that stays right under ZeRO-3 (a partitioned parameter's tensor is empty) and for
    4-bit bitsandbytes weights (two values are packed per byte)."""
    if hasattr(parameter, "ds_numel"):
        return int(parameter.ds_numel)
    quant_state = getattr(parameter, "quant_state", None)
    if quant_state is not None and getattr(quant_state, "shape", None) is not None:
        return int(torch.Size(quant_state.shape).numel())
    return parameter.numel()


def language_model_targets(model: nn.Module, leaf_names: list[str]) -> list[str]:
    """Full names of the Linear-like modules inside the language model whose last name is in `leaf_names`."""
    prefix = MODULE_KEYS["language_model"] + "."
    wanted = set(leaf_names)
    targets = [
        name
        for name, module in model.named_modules()
        if name.startswith(prefix) and name.rsplit(".", 1)[-1] in wanted and _is_linear(module)
    ]
    if not targets:
        raise ValueError(
            f"no LoRA target found: none of {sorted(wanted)} names a Linear layer under {prefix!r}; "
            f"check `lora.targets` against the language model's layer names"
        )
    return targets


def _is_linear(module: nn.Module) -> bool:
    # bitsandbytes' Linear4bit subclasses nn.Linear, so QLoRA targets are found the same way.
    return isinstance(module, nn.Linear)
